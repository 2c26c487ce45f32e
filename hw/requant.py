"""Integer requantization of one accumulator, as ``codesign.quant.intref.requantize`` defines it.

``out = clamp(((acc * M + 2**(shift - 1)) >> shift) + zero_point, qmin, qmax)`` with ``M`` an
unsigned multiplier below ``2**31``, ``1 <= shift <= 62``, ``>>`` an arithmetic (flooring) shift
and ``[qmin, qmax]`` the signed range of ``out_bits``. Purely combinational.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Requantizer", "PipelinedRequantizer", "REQUANT_LATENCY", "MULT_BITS", "SHIFT_BITS"]

MULT_BITS = 31
"""Width of the unsigned multiplier ``M`` (``codesign.quant.intref.MULTIPLIER_BITS``)."""

SHIFT_BITS = 6
"""Width of the shift (``1..62``)."""


def _clamp(value, bits: int):
    """``value`` saturated to the signed range of ``bits``."""
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return Mux(value > qmax, qmax, Mux(value < qmin, qmin, value))


class Requantizer(wiring.Component):
    """Combinational requantizer of one ``acc_bits`` accumulator to ``out_bits``.

    Parameters
    ----------
    acc_bits : int
        Signed accumulator width.
    out_bits : int
        Signed output width.
    zp_bits : int
        Signed width of the output zero point.

    Members
    -------
    acc : In(signed(acc_bits))
    mult : In(unsigned(31))
    shift : In(unsigned(6))
        ``1..62`` (0 behaves as no rounding term and no shift).
    zero_point : In(signed(zp_bits))
    out : Out(signed(out_bits))
    """

    def __init__(self, *, acc_bits: int, out_bits: int, zp_bits: int = 32) -> None:
        self._out_bits = out_bits
        super().__init__(
            {
                "acc": In(signed(acc_bits)),
                "mult": In(unsigned(MULT_BITS)),
                "shift": In(unsigned(SHIFT_BITS)),
                "zero_point": In(signed(zp_bits)),
                "out": Out(signed(out_bits)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        product = self.acc * self.mult  # signed, acc_bits + 31 bits
        half = Mux(self.shift == 0, 0, Const(1, unsigned(64)) << (self.shift - 1)[:SHIFT_BITS])
        rounded = (product + half.as_signed()) >> self.shift
        m.d.comb += self.out.eq(_clamp(rounded + self.zero_point, self._out_bits))
        return m


REQUANT_LATENCY = 4
"""Register stages of `PipelinedRequantizer` (its ``out`` follows ``acc`` by this many enabled
cycles)."""


class PipelinedRequantizer(wiring.Component):
    """The requantizer of `Requantizer` in `REQUANT_LATENCY` register stages, for the clock an
    FPGA reaches (the combinational one is a 32x31 multiply, a 64-bit add, a barrel shift and a
    clamp in one cycle). Stages, each advancing when ``en`` is high: the two partial products
    ``acc * M[15:0]`` and ``acc * M[30:16]``; their sum and the rounding term; the rounded sum;
    the shift. The zero point and the clamp follow the last stage combinationally (the
    accelerator registers ``out``). ``mult`` and ``shift`` travel with their accumulator, so a
    new column tile's parameters never meet an old tile's sums.

    Members
    -------
    en : In(1)
    acc : In(signed(acc_bits))
    mult : In(unsigned(31))
    shift : In(unsigned(6))
    zero_point : In(signed(zp_bits))
        Held constant while values are in flight.
    out : Out(signed(out_bits))
    """

    def __init__(self, *, acc_bits: int, out_bits: int, zp_bits: int = 32) -> None:
        self._acc_bits = acc_bits
        self._out_bits = out_bits
        super().__init__(
            {
                "en": In(1),
                "acc": In(signed(acc_bits)),
                "mult": In(unsigned(MULT_BITS)),
                "shift": In(unsigned(SHIFT_BITS)),
                "zero_point": In(signed(zp_bits)),
                "out": Out(signed(out_bits)),
            }
        )

    def elaborate(self, platform):
        from amaranth.hdl import Signal

        m = Module()
        width = self._acc_bits + MULT_BITS
        lo = Signal(signed(self._acc_bits + 17))
        hi = Signal(signed(self._acc_bits + 16))
        shift1, shift2, shift3 = (Signal(unsigned(SHIFT_BITS)) for _ in range(3))
        product = Signal(signed(width + 1))
        half = Signal(unsigned(64))
        rounded = Signal(signed(width + 2))
        shifted = Signal(signed(width + 2))
        with m.If(self.en):
            m.d.sync += [
                lo.eq(self.acc * self.mult[:16]),
                hi.eq(self.acc * self.mult[16:]),
                shift1.eq(self.shift),
                product.eq(lo + (hi << 16)),
                half.eq(Mux(shift1 == 0, 0, Const(1, unsigned(64)) << (shift1 - 1)[:SHIFT_BITS])),
                shift2.eq(shift1),
                rounded.eq(product + half.as_signed()),
                shift3.eq(shift2),
                shifted.eq(rounded >> shift3),
            ]
        m.d.comb += self.out.eq(_clamp(shifted + self.zero_point, self._out_bits))
        return m
