"""Integer requantization of one accumulator, as ``codesign.quant.intref.requantize`` defines it.

``out = clamp(((acc * M + 2**(shift - 1)) >> shift) + zero_point, qmin, qmax)`` with ``M`` an
unsigned multiplier below ``2**31``, ``1 <= shift <= 62``, ``>>`` an arithmetic (flooring) shift
and ``[qmin, qmax]`` the signed range of ``out_bits``. Purely combinational.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from codesign.hw.dsp import check_dsp, ecp5_multiply

from codesign.accel.config import MAX_REQUANT_STAGES, REQUANT_STAGES
from codesign.errors import SpecError

__all__ = [
    "Requantizer",
    "PipelinedRequantizer",
    "REQUANT_LATENCY",
    "REQUANT_STEPS",
    "registered_steps",
    "MULT_BITS",
    "SHIFT_BITS",
]

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


REQUANT_LATENCY = REQUANT_STAGES
"""Register stages of `PipelinedRequantizer` by default (its ``out`` follows ``acc`` by this
many enabled cycles); `REQUANT_STEPS` is the most it can have."""

REQUANT_STEPS = (
    "operands",
    "partial products",
    "two sums of two",
    "product and rounding term",
    "rounded",
    "shifted",
    "zero point",
)
"""The requantizer's steps, in order; a register can follow each one."""

_REGISTER_PRIORITY = (6, 1, 3, 5, 0, 2, 4)
"""Which steps are followed by a register, best first: ``stages`` registers follow the first
``stages`` of these (the last step first, so one stage is the combinational requantizer with a
register behind it; then the DSPs' outputs, then the long adds, then the DSPs' inputs)."""


def registered_steps(stages: int) -> frozenset[int]:
    """The steps (indices into `REQUANT_STEPS`) followed by a register for ``stages``."""
    if isinstance(stages, bool) or not isinstance(stages, int):
        raise SpecError(f"requant_stages must be an integer, not {stages!r}")
    if not 0 <= stages <= MAX_REQUANT_STAGES:
        raise SpecError(f"requant_stages must be 0..{MAX_REQUANT_STAGES}, not {stages}")
    return frozenset(_REGISTER_PRIORITY[:stages])


class PipelinedRequantizer(wiring.Component):
    """The requantizer of `Requantizer` in ``stages`` register stages (0..7, default
    `REQUANT_LATENCY`), for the clock an FPGA reaches (the combinational one is a 32x31
    multiply, a 64-bit add, a barrel shift and a clamp in one cycle). The steps
    (`REQUANT_STEPS`): the operands (a register at the DSPs' inputs: on a large array the DSPs
    are far from the logic that feeds them); the four 16-bit partial products of ``acc * M``
    (one DSP each, no adder behind it); two sums of two; their sum and the rounding term; the
    rounded sum; the shift; the zero point, whose step keeps only the low ``out_bits`` of
    ``shifted + zero_point`` and the two saturation flags, ``shifted > qmax - zero_point`` and
    ``shifted < qmin - zero_point`` (compares against constants of the layer, in parallel with
    an ``out_bits`` add), so the clamp behind it is a multiplexer. A register follows the steps
    `registered_steps` picks, each advancing when ``en`` is high; the clamp follows the last
    step combinationally (the accelerator registers ``out``). ``mult`` and ``shift`` travel with
    their accumulator, so a new column tile's parameters never meet an old tile's sums.
    ``dsp="ecp5"``: the four partial products are ``MULT18X18D`` cells whose input registers
    are the operands' register and whose output registers are the products'
    (`codesign.hw.dsp.ecp5_multiply`; needs those two registers, ``stages >= 5``).

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

    def __init__(
        self,
        *,
        acc_bits: int,
        out_bits: int,
        zp_bits: int = 32,
        stages: int = REQUANT_LATENCY,
        dsp: str = "inferred",
    ) -> None:
        self._acc_bits = acc_bits
        self._out_bits = out_bits
        self._registered = registered_steps(stages)
        self.stages = stages
        self.dsp = check_dsp(dsp)
        if dsp == "ecp5" and not {0, 1} <= self._registered:
            raise SpecError(
                f"dsp 'ecp5' needs requant_stages >= {_REGISTER_PRIORITY.index(0) + 1} (the "
                f"DSPs' input and output registers are two of the stages), not {stages}"
            )
        super().__init__({"en": In(1), **_ports(acc_bits, out_bits, zp_bits)})

    def elaborate(self, platform):
        m = Module()
        acc_bits = self._acc_bits
        zero_point = self.zero_point

        out_bits = self._out_bits
        qmin, qmax = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
        # the saturation bounds of `shifted`: registered (the zero point is held while values
        # are in flight, set long before the first one) unless the requantizer has no clock
        bound_hi = Signal(signed(len(zero_point) + 2), name="bound_hi")
        bound_lo = Signal(signed(len(zero_point) + 2), name="bound_lo")
        bounds = [bound_hi.eq(qmax - zero_point), bound_lo.eq(qmin - zero_point)]
        if self._registered:
            m.d.sync += bounds
        else:
            m.d.comb += bounds

        def factors(v):  # four products of at most 17 x 16 bits: one DSP each
            acc_lo, acc_hi = v["acc"][:16], v["acc"][16:].as_signed()
            m_lo, m_hi = v["mult"][:16], v["mult"][16:]
            return {
                "p_ll": (acc_lo, m_lo, unsigned(32)),
                "p_lh": (acc_lo, m_hi, unsigned(31)),
                "p_hl": (acc_hi, m_lo, signed(acc_bits + 1)),
                "p_hh": (acc_hi, m_hi, signed(acc_bits)),
            }

        def products(v):
            return {key: (a * b, shape) for key, (a, b, shape) in factors(v).items()}

        width = acc_bits + MULT_BITS
        steps = [
            lambda v: {
                "acc": (v["acc"], signed(acc_bits)),
                "mult": (v["mult"], unsigned(MULT_BITS)),
            },
            products,
            lambda v: {
                "low": (v["p_ll"] + (v["p_lh"] << 16), signed(width + 1)),
                "high": ((v["p_hl"] << 16) + (v["p_hh"] << 32), signed(width + 1)),
            },
            lambda v: {
                "product": (v["low"] + v["high"], signed(width + 1)),
                "half": (_half(v["shift"]), unsigned(64)),
            },
            lambda v: {"rounded": (v["product"] + v["half"].as_signed(), signed(width + 2))},
            lambda v: {"shifted": (v["rounded"] >> v["shift"], signed(width + 2))},
            lambda v: {
                "value": ((v["shifted"] + zero_point)[:out_bits], signed(out_bits)),
                "high": (v["shifted"] > bound_hi, unsigned(1)),
                "low": (v["shifted"] < bound_lo, unsigned(1)),
            },
        ]
        last_shift_use = 5  # the shift step; the rounding term (step 3) reads it too
        values = {"acc": self.acc, "mult": self.mult, "shift": self.shift}
        in_dsp = {"acc", "mult"} if self.dsp == "ecp5" else set()  # registers inside the DSPs
        for i, step in enumerate(steps):
            if in_dsp and i == 1:  # the partial products: MULT18X18D cells, registers inside
                dsp_inputs = factors(values)
            out = step(values)
            if i < last_shift_use:
                out["shift"] = (values["shift"], unsigned(SHIFT_BITS))
            values = {key: Signal(shape, name=f"{key}{i}") for key, (_, shape) in out.items()}
            if in_dsp and i == 1:
                for key, (a, b, _) in dsp_inputs.items():
                    ecp5_multiply(
                        m, f"dsp_{key}", a, b, values[key], a_ce=self.en, b_ce=self.en, p_ce=self.en
                    )
                out = {"shift": out["shift"]}
            assigns = [values[key].eq(expr) for key, (expr, _) in out.items() if key not in (
                in_dsp if i == 0 else ())]
            if i in self._registered:
                with m.If(self.en):
                    m.d.sync += assigns
            else:
                m.d.comb += assigns
            if in_dsp and i == 0:  # the operands' register is the DSPs' input registers
                m.d.comb += [values[key].eq(out[key][0]) for key in in_dsp]
        m.d.comb += self.out.eq(
            Mux(values["high"], qmax, Mux(values["low"], qmin, values["value"]))
        )
        return m
