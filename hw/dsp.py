"""Multipliers placed in an FPGA's DSP block with the block's own registers.

Yosys 0.23 maps a ``$mul`` to a bare ``MULT18X18D`` on ECP5 and leaves the registers around it
in the fabric, so every register -> multiplier -> register path crosses the routing twice; on
the 8x8 accelerator the DSP rows sit 35-45 columns away from the PEs' registers and that
routing (~8 ns) limits the clock to ~81 MHz. `ecp5_multiply` instead instantiates the
``MULT18X18D`` with its input and output registers enabled (Lattice TN1267, "ECP5 and ECP5-5G
sysDSP Usage Guide": ``REG_INPUTA_CLK``/``REG_INPUTB_CLK``/``REG_OUTPUT_CLK``, each register's
clock enable chosen by ``REG_*_CE``), so what was a fabric register feeding the multiplier and
the product register behind it are the DSP's. The behaviour is that of the registers it
replaces, cycle for cycle (the generic RTL keeps them in the fabric).

Yosys ships only a black box of the cell; `MULT18X18D_MODEL` names a behavioural model of the
subset used here for simulation (Icarus / Verilator), which refuses other parameter values.
"""

from __future__ import annotations

from pathlib import Path

from amaranth.hdl import ClockSignal, Const, Instance, Module, ResetSignal, Signal, Value, signed

from codesign.accel.config import DSP_KINDS
from codesign.errors import SpecError

__all__ = ["DSP_KINDS", "MULT18X18D_MODEL", "DSP_OPERAND_BITS", "ecp5_multiply", "check_dsp"]

DSP_OPERAND_BITS = 18
"""Signed operand width of a ``MULT18X18D``."""

MULT18X18D_MODEL = Path(__file__).with_name("sim_models") / "MULT18X18D.v"
"""Behavioural simulation model of the ``MULT18X18D`` subset `ecp5_multiply` instantiates."""


def check_dsp(dsp: object) -> str:
    """``dsp`` if it is one of `DSP_KINDS`, else a `SpecError` naming the allowed values."""
    if not isinstance(dsp, str) or dsp not in DSP_KINDS:
        raise SpecError(f"dsp must be one of {', '.join(DSP_KINDS)}, not {dsp!r}")
    return dsp


def _operand(value: Value) -> Value:
    """``value``, checked to fit the DSP's 18-bit signed operand once extended by its shape (the
    caller's ``.eq`` into an 18-bit signed signal extends it)."""
    width = len(value) + (0 if value.shape().signed else 1)
    if width > DSP_OPERAND_BITS:
        raise SpecError(
            f"a {len(value)}-bit {'signed' if value.shape().signed else 'unsigned'} operand "
            f"does not fit a MULT18X18D's {DSP_OPERAND_BITS}-bit signed input"
        )
    return value


def ecp5_multiply(
    m: Module,
    name: str,
    a: Value,
    b: Value,
    product: Signal,
    *,
    a_ce: Value | None,
    b_ce: Value | None,
    p_ce: Value,
) -> None:
    """Add to ``m`` a ``MULT18X18D`` named ``name`` that drives ``product`` with
    ``product <= a_reg * b_reg`` (when ``p_ce``), ``a_reg <= a`` (when ``a_ce``) and
    ``b_reg <= b`` (when ``b_ce``), all three cleared by the ``sync`` domain's (synchronous)
    reset like the fabric registers they replace; ``a_ce`` or ``b_ce`` ``None``: that operand is not
    registered (the product then follows it directly). Operands are sign- or zero-extended by
    their shapes to 18 bits; ``product`` takes the low ``len(product)`` bits of the 36-bit
    signed product (exact when the product fits its shape). ``product`` must be driven by
    nothing else: the DSP's output register is it."""
    if not isinstance(product, Signal):
        raise SpecError("the DSP's product must be a Signal (its output register)")
    ext_a = Signal(signed(DSP_OPERAND_BITS), name=f"{name}_a")
    ext_b = Signal(signed(DSP_OPERAND_BITS), name=f"{name}_b")
    m.d.comb += [ext_a.eq(_operand(a)), ext_b.eq(_operand(b))]
    raw = Signal(signed(2 * DSP_OPERAND_BITS), name=f"{name}_p")
    enables = [a_ce, b_ce, p_ce]
    ports: dict[str, object] = {}
    for i in range(DSP_OPERAND_BITS):
        ports[f"i_A{i}"] = ext_a[i]
        ports[f"i_B{i}"] = ext_b[i]
        ports[f"i_C{i}"] = Const(0, 1)
    for i in range(2 * DSP_OPERAND_BITS):
        ports[f"o_P{i}"] = raw[i]
    for k in range(4):
        ports[f"i_CLK{k}"] = ClockSignal("sync") if k == 0 else Const(0, 1)
        ports[f"i_CE{k}"] = enables[k] if k < 3 and enables[k] is not None else Const(1, 1)
        ports[f"i_RST{k}"] = ResetSignal("sync") if k == 0 else Const(0, 1)
    ports |= {
        "i_SIGNEDA": Const(1, 1),
        "i_SIGNEDB": Const(1, 1),
        "i_SOURCEA": Const(0, 1),
        "i_SOURCEB": Const(0, 1),
    }
    params = {
        "p_REG_INPUTA_CLK": "NONE" if a_ce is None else "CLK0",
        "p_REG_INPUTA_CE": "CE0",
        "p_REG_INPUTB_CLK": "NONE" if b_ce is None else "CLK0",
        "p_REG_INPUTB_CE": "CE1",
        "p_REG_OUTPUT_CLK": "CLK0",
        "p_REG_OUTPUT_CE": "CE2",
        "p_REG_INPUTA_RST": "RST0",
        "p_REG_INPUTB_RST": "RST0",
        "p_REG_OUTPUT_RST": "RST0",
        "p_RESETMODE": "SYNC",
        "p_GSR": "DISABLED",
    }
    m.submodules[name] = Instance("MULT18X18D", **params, **ports)
    m.d.comb += product.eq(raw[: len(product)])

