"""The files an integrator needs beside the accelerator's Verilog: the C header of the register
map (``<top>_regs.h``) and the clock constraint (``<top>.sdc``, ``<top>.xdc``).

Both are generated from the same objects as the RTL and the manifest (``REGISTERS``,
`AcceleratorConfig`, `Integration`), so a driver compiled against the header and the RTL
cannot disagree. Nothing here imports amaranth.
"""

from __future__ import annotations

from codesign.accel.config import CSR_ADDR_BITS, CSR_DATA_BITS, REGISTERS, AcceleratorConfig
from codesign.accel.integration import Integration
from codesign.errors import SpecError

__all__ = ["c_header", "clock_constraint", "header_prefix"]


def header_prefix(top: str) -> str:
    """The macro prefix of ``top``'s header: the module name in upper case."""
    if not top.isidentifier():
        raise SpecError(f"top must be a C identifier, not {top!r}")
    return top.upper()


def _comment(text: str) -> str:
    if "*/" in text:
        raise SpecError(f"header comment text must not contain '*/', not {text!r}")
    return text


def _csr_summary(integration: Integration) -> str:
    if integration.csr == "axi-lite":
        return (
            f"AXI4-Lite slave s_axi_control ({CSR_ADDR_BITS}-bit byte addresses, "
            f"{CSR_DATA_BITS}-bit data, WSTRB all ones); BRESP SLVERR for a refused write "
            f"(busy, not a writable register, or a partial WSTRB), RRESP SLVERR for an address "
            f"that is no register"
        )
    return (
        "simple CSR bus (csr_addr, csr_wdata, csr_we; csr_rdata one cycle later; csr_werr "
        "high for a refused write)"
    )


def c_header(
    config: AcceleratorConfig,
    integration: Integration,
    top: str,
    streams: dict[str, dict[str, object]],
    *,
    version: str,
) -> str:
    """The C header of ``top``: ``<PREFIX>_<REG>_OFFSET`` byte offsets, ``<PREFIX>_<REG>_<FIELD>
    _SHIFT`` / ``_MASK`` bit fields, the array's and streams' widths as macros and the stream
    formats (``streams``: ``codesign.hw.accel_export.stream_formats``) as comments."""
    p = header_prefix(top)
    a = config.array
    lines = [
        f"/* {top}: register map of a codesign accelerator (codesign.hw {version}).",
        " * Generated from codesign.accel.registers.REGISTERS, the source of the RTL and of",
        " * manifest.json's register_map: do not edit.",
        " *",
        f" * CSR interface: {_comment(_csr_summary(integration))}.",
        f" * Clock {integration.clock_port} ({integration.freq_mhz:g} MHz target); reset "
        f"{integration.reset_port} (synchronous, active "
        f"{'low' if integration.reset_active_low else 'high'}).",
        " *",
        " * Streams:",
    ]
    for name, fmt in streams.items():
        for key, value in fmt.items():
            lines.append(f" *   {name}.{key}: {_comment(str(value))}")
    lines += [" */", f"#ifndef {p}_REGS_H", f"#define {p}_REGS_H", ""]

    def define(name: str, value: int, *, hex_digits: int = 0) -> None:
        text = f"0x{value:0{hex_digits}X}u" if hex_digits else f"{value}u"
        lines.append(f"#define {p}_{name} {text}")

    lines.append("/* the array and its buffers */")
    for name, value in (
        ("ROWS", a.rows),
        ("COLS", a.cols),
        ("ACT_BITS", a.act_bits),
        ("WEIGHT_BITS", a.weight_bits),
        ("OUTPUT_STATIONARY", int(config.output_stationary)),
        ("INPUT_BUFFER", int(config.input_buffer)),
        ("OVERLAP_PASSES", int(config.overlap_passes)),
        ("MAX_TILE_M", config.max_tile_m),
        ("MAX_N_TILES", config.max_n_tiles),
        ("MAX_CHANNELS", config.max_channels),
        ("FIFO_DEPTH", config.fifo_depth),
        ("BEAT_BITS", config.beat_bits),
    ):
        define(name, value)
    lines += ["", "/* streams: payload bits, TDATA bits (whole bytes in the wrapper) */"]
    for name, value in (
        ("S_AXIS_PAYLOAD_BITS", config.axis_in_bits),
        ("S_AXIS_TDATA_BITS", integration.stream_bits(config.axis_in_bits)),
        ("S_AXIS_WORDS_PER_BEAT", config.words_per_beat),
        ("M_AXIS_PAYLOAD_BITS", config.axis_out_bits),
        ("M_AXIS_TDATA_BITS", integration.stream_bits(config.axis_out_bits)),
    ):
        define(name, value)
    lines += ["", "/* the CSR bus */"]
    define("CSR_AXI_LITE", int(integration.csr == "axi-lite"))
    define("CSR_ADDR_BITS", CSR_ADDR_BITS)
    define("CSR_DATA_BITS", CSR_DATA_BITS)
    for reg in sorted(REGISTERS, key=lambda r: r.address):
        lines += ["", f"/* {reg.name} ({reg.access}): {_comment(reg.description)} */"]
        define(f"{reg.name}_OFFSET", reg.address, hex_digits=2)
        for field in reg.fields:
            lines.append(f"/*   {field.name}: {_comment(field.description)} */")
            define(f"{reg.name}_{field.name}_SHIFT", field.lsb)
            define(f"{reg.name}_{field.name}_MASK", field.mask, hex_digits=8)
    lines += ["", f"#endif /* {p}_REGS_H */", ""]
    return "\n".join(lines)


def clock_constraint(integration: Integration, top: str, *, tool: str) -> str:
    """The clock constraint of ``top`` for ``tool`` ``"sdc"`` (Synopsys Design Constraints:
    Quartus, Libero, Genus, OpenSTA) or ``"xdc"`` (Vivado): ``create_clock`` on the clock port
    with the target period; both are Tcl and the command is the same."""
    if tool not in ("sdc", "xdc"):
        raise SpecError(f"tool must be one of sdc, xdc, not {tool!r}")
    clk = integration.clock_port
    return (
        f"# {top}: target clock {integration.freq_mhz:g} MHz "
        f"(codesign generate --freq-mhz), {tool.upper()}\n"
        f"create_clock -name {clk} -period {integration.period_ns:.3f} [get_ports {clk}]\n"
    )
