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


def _ports(acc_bits: int, out_bits: int, zp_bits: int) -> dict:
    return {
        "acc": In(signed(acc_bits)),
        "mult": In(unsigned(MULT_BITS)),
        "shift": In(unsigned(SHIFT_BITS)),
        "zero_point": In(signed(zp_bits)),
        "out": Out(signed(out_bits)),
    }


def _half(shift):
    """The rounding term ``2**(shift - 1)`` (0 for ``shift == 0``)."""
    return Mux(shift == 0, 0, Const(1, unsigned(64)) << (shift - 1)[:SHIFT_BITS])


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
        super().__init__(_ports(acc_bits, out_bits, zp_bits))

    def elaborate(self, platform):
        m = Module()
        product = self.acc * self.mult  # signed, acc_bits + 31 bits
        half = _half(self.shift)
        rounded = (product + half.as_signed()) >> self.shift
        m.d.comb += self.out.eq(_clamp(rounded + self.zero_point, self._out_bits))
        return m


REQUANT_LATENCY = 6
"""Register stages of `PipelinedRequantizer` (its ``out`` follows ``acc`` by this many enabled
cycles)."""


class PipelinedRequantizer(wiring.Component):
    """The requantizer of `Requantizer` in `REQUANT_LATENCY` register stages, for the clock an
    FPGA reaches (the combinational one is a 32x31 multiply, a 64-bit add, a barrel shift and a
    clamp in one cycle). Stages, each advancing when ``en`` is high: the four 16-bit partial
    products of ``acc * M`` (one DSP each, no adder behind it); two sums of two; their sum and
    the rounding term; the rounded sum; the shift; the zero point added. The clamp follows the
    last stage combinationally (the accelerator registers ``out``). ``mult`` and ``shift``
    travel with their accumulator, so a new column tile's parameters never meet an old tile's
    sums.

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
        super().__init__({"en": In(1), **_ports(acc_bits, out_bits, zp_bits)})

    def elaborate(self, platform):
        from amaranth.hdl import Signal

        m = Module()
        width = self._acc_bits + MULT_BITS
        acc_lo, acc_hi = self.acc[:16], self.acc[16:].as_signed()
        m_lo, m_hi = self.mult[:16], self.mult[16:]
        # four products of at most 17 x 16 bits: one DSP each, no adder behind it
        p_ll = Signal(unsigned(32))
        p_lh = Signal(unsigned(31))
        p_hl = Signal(signed(self._acc_bits + 1))
        p_hh = Signal(signed(self._acc_bits))
        low, high = Signal(signed(width + 1)), Signal(signed(width + 1))
        shifts = [Signal(unsigned(SHIFT_BITS), name=f"shift{i}") for i in range(1, 5)]
        product = Signal(signed(width + 1))
        half = Signal(unsigned(64))
        rounded = Signal(signed(width + 2))
        shifted = Signal(signed(width + 2))
        value = Signal(signed(width + 3))
        with m.If(self.en):
            m.d.sync += [
                p_ll.eq(acc_lo * m_lo),
                p_lh.eq(acc_lo * m_hi),
                p_hl.eq(acc_hi * m_lo),
                p_hh.eq(acc_hi * m_hi),
                shifts[0].eq(self.shift),
                low.eq(p_ll + (p_lh << 16)),
                high.eq((p_hl << 16) + (p_hh << 32)),
                shifts[1].eq(shifts[0]),
                product.eq(low + high),
                half.eq(_half(shifts[1])),
                shifts[2].eq(shifts[1]),
                rounded.eq(product + half.as_signed()),
                shifts[3].eq(shifts[2]),
                shifted.eq(rounded >> shifts[3]),
                value.eq(shifted + self.zero_point),
            ]
        m.d.comb += self.out.eq(_clamp(value, self._out_bits))
        return m
