"""Technology tables: energy and area of MACs and memories, with their sources.

Figures are 45 nm, 0.9 V, from M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014, p. 10-14 (the table every accelerator paper quotes):

=====================  ==========  ===========
operation              energy pJ   area um^2
=====================  ==========  ===========
8-bit integer add      0.03        36
32-bit integer add     0.1         137
8-bit integer multiply 0.2         282
32-bit integer multiply 3.1        3495
64-bit read, 8 KB SRAM   10        --
64-bit read, 32 KB SRAM  20        --
64-bit read, 1 MB SRAM  100        --
64-bit DRAM access     1300-2600   --
=====================  ==========  ===========

Scaling between the cited points is a power law through them (so the cited points are reproduced
exactly): a multiplier's energy and area grow with the product of its operand widths, an adder's
with its width, an SRAM access with the capacity (exponent fitted on 8 KB and 1 MB; 32 KB is then
within 4 % of the cited 20 pJ) and linearly with the word width.

Relative costs of Eyeriss (Y.-H. Chen, J. Emer, V. Sze, "Eyeriss: a spatial architecture for
energy-efficient dataflow for convolutional neural networks", ISCA 2016, Fig. 1): register file
1x, inter-PE array 2x, global buffer 6x, DRAM 200x of a MAC, in ``EYERISS_RELATIVE``.

SRAM area uses the 0.346 um^2 6T bit cell of Intel's 45 nm process (K. Mistry et al., IEDM 2007)
at 70 % array efficiency; flip-flop storage uses the 4.522 um^2 ``DFF_X1`` cell of the NanGate
45 nm Open Cell Library, and a multiplier's zero-operand gate (`operand_gate_area_um2`) its
``MUX2_X1`` (1.862 um^2), ``OR2_X1`` (1.064 um^2) and ``DFF_X1`` cells. These are first-order
figures for comparing design points, not sign-off numbers; FPGA presets are calibrated against
Yosys by the synthesis flow.
"""

from __future__ import annotations

import math

from codesign.errors import SpecError

__all__ = [
    "HOROWITZ_45NM",
    "EYERISS_RELATIVE",
    "DRAM_ENERGY_PJ_PER_64B",
    "multiply_energy_pj",
    "add_energy_pj",
    "mac_energy_pj",
    "mac_area_um2",
    "sram_access_energy_pj",
    "sram_area_um2",
    "register_area_um2",
    "operand_gate_area_um2",
    "dram_access_energy_pj",
    "vector_op_energy_pj",
    "vector_lane_area_um2",
]

HOROWITZ_45NM: dict[str, float] = {
    "add8_pj": 0.03,
    "add32_pj": 0.1,
    "mul8_pj": 0.2,
    "mul32_pj": 3.1,
    "add8_um2": 36.0,
    "add32_um2": 137.0,
    "mul8_um2": 282.0,
    "mul32_um2": 3495.0,
    "sram8kb_read64_pj": 10.0,
    "sram32kb_read64_pj": 20.0,
    "sram1mb_read64_pj": 100.0,
    "dram_read64_min_pj": 1300.0,
    "dram_read64_max_pj": 2600.0,
}
"""Horowitz, ISSCC 2014, 45 nm (see the module docstring)."""

EYERISS_RELATIVE: dict[str, float] = {
    "mac": 1.0,
    "rf": 1.0,
    "array": 2.0,
    "glb": 6.0,
    "dram": 200.0,
}
"""Eyeriss (ISCA 2016) normalized access energies, in units of one MAC."""

DRAM_ENERGY_PJ_PER_64B = 1950.0
"""A 64-bit DRAM access: the midpoint of Horowitz's 1.3-2.6 nJ range."""

_SRAM_BIT_UM2 = 0.346 / 0.7  # 6T cell (Mistry, IEDM 2007) at 70 % array efficiency
_DFF_UM2 = 4.522  # NanGate 45 nm DFF_X1
_MUX2_UM2 = 1.862  # NanGate 45 nm MUX2_X1
_OR2_UM2 = 1.064  # NanGate 45 nm OR2_X1


def _bits(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SpecError(f"{name} must be a positive integer, not {value!r}")
    return value


def _power_law(x: float, x0: float, y0: float, x1: float, y1: float) -> float:
    """The power law through ``(x0, y0)`` and ``(x1, y1)`` evaluated at ``x``."""
    k = math.log(y1 / y0) / math.log(x1 / x0)
    return y0 * (x / x0) ** k


def multiply_energy_pj(a_bits: int, b_bits: int) -> float:
    """Energy of one ``a_bits x b_bits`` integer multiply (grows with the product of widths)."""
    p = _bits("a_bits", a_bits) * _bits("b_bits", b_bits)
    h = HOROWITZ_45NM
    return _power_law(p, 64, h["mul8_pj"], 1024, h["mul32_pj"])


def add_energy_pj(bits: int) -> float:
    """Energy of one ``bits``-wide integer add."""
    h = HOROWITZ_45NM
    return _power_law(_bits("bits", bits), 8, h["add8_pj"], 32, h["add32_pj"])


def mac_energy_pj(input_bits: int, weight_bits: int, accum_bits: int) -> float:
    """One multiply-accumulate: an ``input_bits x weight_bits`` multiply and an
    ``accum_bits`` add."""
    return multiply_energy_pj(input_bits, weight_bits) + add_energy_pj(accum_bits)


def mac_area_um2(input_bits: int, weight_bits: int, accum_bits: int) -> float:
    """Area of one MAC unit: multiplier, adder and the accumulator register."""
    p = _bits("input_bits", input_bits) * _bits("weight_bits", weight_bits)
    acc = _bits("accum_bits", accum_bits)
    h = HOROWITZ_45NM
    mul = _power_law(p, 64, h["mul8_um2"], 1024, h["mul32_um2"])
    add = _power_law(acc, 8, h["add8_um2"], 32, h["add32_um2"])
    return mul + add + acc * _DFF_UM2


def sram_access_energy_pj(capacity_bits: int, word_bits: int) -> float:
    """Energy of one ``word_bits`` access to an SRAM of ``capacity_bits``."""
    cap_bytes = _bits("capacity_bits", capacity_bits) / 8
    h = HOROWITZ_45NM
    per64 = _power_law(cap_bytes, 8192, h["sram8kb_read64_pj"], 2**20, h["sram1mb_read64_pj"])
    return per64 * _bits("word_bits", word_bits) / 64


def sram_area_um2(capacity_bits: int) -> float:
    """Area of an SRAM array of ``capacity_bits`` (bit cells at 70 % efficiency)."""
    return _bits("capacity_bits", capacity_bits) * _SRAM_BIT_UM2


def register_area_um2(capacity_bits: int) -> float:
    """Area of ``capacity_bits`` of flip-flop storage."""
    return _bits("capacity_bits", capacity_bits) * _DFF_UM2


def operand_gate_area_um2(operand_bits: int, zero_bits: int) -> float:
    """Area of operand isolation for one multiplier: a hold multiplexer on each of the
    ``operand_bits`` bits of the operand it keeps still, a ``zero_bits``-input OR tree that
    detects the zero operand (``zero_bits - 1`` two-input gates) and the flip-flop that holds
    that flag beside the operand (as the RTL does): 26.9 um^2 for int8, about 5 % of its MAC.
    On an FPGA Yosys (ECP5) counts about 3 LUTs and 5-8 flip-flops more per gated int8 PE of
    the accelerator (docs/accelerator.md, "Zero-weight gating")."""
    bits = _bits("operand_bits", operand_bits)
    return bits * _MUX2_UM2 + (_bits("zero_bits", zero_bits) - 1) * _OR2_UM2 + _DFF_UM2


def dram_access_energy_pj(word_bits: int) -> float:
    """Energy of one ``word_bits`` DRAM access."""
    return DRAM_ENERGY_PJ_PER_64B * _bits("word_bits", word_bits) / 64


def vector_op_energy_pj(bits: int) -> float:
    """One element operation of a vector lane: a ``bits x bits`` multiply and a ``2 * bits``
    add (the multiply-add every non-MAC operator is built from: scale and shift of a
    normalization, a step of a polynomial exp or reciprocal, a compare-select of a max)."""
    return multiply_energy_pj(bits, bits) + add_energy_pj(2 * _bits("bits", bits))


def vector_lane_area_um2(bits: int) -> float:
    """Area of one vector lane: its multiply-add (as a MAC unit of ``bits`` operands and a
    ``2 * bits`` accumulator) plus a ``bits`` operand register."""
    return mac_area_um2(bits, bits, 2 * bits) + register_area_um2(bits)
