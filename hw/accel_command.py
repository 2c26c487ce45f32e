"""``codesign generate --top accelerator``: the options and the run of the accelerator export.

``codesign.hw.command`` owns the ``generate`` subcommand; it registers these options with
`add_arguments` and calls `run` with the array configuration it built from ``--rows`` ...
(or ``--design``) when ``--top accelerator`` is given. Nothing here imports amaranth until
`run`.
"""

from __future__ import annotations

import argparse

from codesign.accel.config import DSP_KINDS
from codesign.accel.integration import CSR_INTERFACES, RESETS
from codesign.errors import SpecError

__all__ = ["add_arguments", "run", "config_from_args", "integration_from_args", "given_flags"]


_OPTIONS = (
    "max_tile_m",
    "max_n_tiles",
    "fifo_depth",
    "axis_in_bits",
    "input_buffer",
    "overlap_passes",
    "requant_stages",
    "zero_gate",
    "dsp",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the accelerator's options (used only with ``--top accelerator``)."""
    group = parser.add_argument_group("accelerator (--top accelerator)")
    group.add_argument(
        "--max-tile-m",
        type=int,
        default=None,
        help="rows of the accumulator buffer: the largest TILE_M (default 64)",
    )
    group.add_argument(
        "--max-n-tiles",
        type=int,
        default=None,
        help="column tiles the parameter memories hold: up to this x cols channels (default 16)",
    )
    group.add_argument(
        "--fifo-depth", type=int, default=None, help="beats of the input prefetch FIFO (default 32)"
    )
    group.add_argument(
        "--input-buffer",
        action="store_true",
        default=None,
        help="ws: keep each input slice on chip and reuse it for every column tile",
    )
    group.add_argument(
        "--overlap-passes",
        action="store_true",
        default=None,
        help="ws: load the next pass's weights while the previous pass drains",
    )
    group.add_argument(
        "--zero-gate",
        action="store_true",
        default=None,
        help="ws: operand isolation, a multiplier whose weight is zero does not toggle",
    )
    group.add_argument(
        "--dsp",
        choices=DSP_KINDS,
        default=None,
        help="multipliers: 'inferred' (behavioural, default: any target) or 'ecp5' (ws: "
        "MULT18X18D cells with their registers inside, for ECP5 synthesis; same cycles)",
    )
    group.add_argument(
        "--requant-stages",
        type=int,
        default=None,
        help="register stages of each requantizer, 0..7 (default 7: 100 MHz on ECP5; "
        "each stage fewer is a cycle less per layer)",
    )
    group.add_argument(
        "--axis-in-bits",
        type=int,
        default=None,
        help="s_axis_tdata width; must divide the beat width (default: the beat width)",
    )
    group.add_argument(
        "--csr",
        choices=CSR_INTERFACES,
        default=CSR_INTERFACES[0],
        help="CSR interface: 'simple' (the one-cycle csr_* bus, default) or 'axi-lite' (an "
        "AXI4-Lite slave s_axi_control_*, in the integration wrapper)",
    )
    group.add_argument(
        "--reset",
        choices=RESETS,
        default=RESETS[0],
        help="'sync-high' (default) or 'aresetn' (synchronous active-low, in the integration "
        "wrapper); the wrapper names its clock aclk and pads TDATA to whole bytes",
    )
    group.add_argument(
        "--freq-mhz",
        type=float,
        default=100.0,
        help="target clock of the generated SDC/XDC constraint and FREQ_HZ (default 100 MHz)",
    )


def integration_from_args(args: argparse.Namespace) -> object:
    """The `Integration` of ``--csr``, ``--reset`` and ``--freq-mhz``."""
    from codesign.accel.integration import Integration

    return Integration(csr=args.csr, reset=args.reset, freq_mhz=args.freq_mhz)


def given_flags(args: argparse.Namespace) -> list[str]:
    """The accelerator options given on the command line, as flags (``--fifo-depth``)."""
    return ["--" + k.replace("_", "-") for k in _OPTIONS if getattr(args, k, None) is not None]


def config_from_args(args: argparse.Namespace, array: object) -> object:
    """The `AcceleratorConfig` of ``array`` (a ``SystolicConfig``) and the options given.

    With ``--design FILE`` the buffer sizes and the bus width come from the design point's
    architecture (``AcceleratorConfig.from_architecture``); options given explicitly win.
    """
    from dataclasses import replace

    from codesign.accel.config import AcceleratorConfig

    given = {key: getattr(args, key) for key in _OPTIONS if getattr(args, key, None) is not None}
    design = getattr(args, "design", None)
    if design is None:
        return AcceleratorConfig(array=array, **given)
    import json
    from pathlib import Path

    from codesign.arch.io import architecture_from_dict

    data = json.loads(Path(design).read_text())
    base = AcceleratorConfig.from_architecture(architecture_from_dict(data["arch"]))
    return replace(base, array=array, **given)


def run(
    args: argparse.Namespace,
    array: object,
    *,
    config: object | None = None,
    network: object | None = None,
) -> int:
    """Export the accelerator around ``array`` into ``args.out``; print a summary.
    ``config`` (a buildable design point's accelerator) replaces the one the options give;
    accelerator options may not be combined with it. ``network``: its `NetworkPlan`."""
    from codesign.hw.accel_export import export_accelerator

    if config is None:
        config = config_from_args(args, array)
    else:
        if given_flags(args):
            flags = ", ".join(given_flags(args))
            raise SpecError(
                f"--design of a buildable point fixes the accelerator; it cannot be combined "
                f"with {flags}"
            )
    integration = integration_from_args(args)
    result = export_accelerator(
        config, args.out, force=args.force, network=network, integration=integration
    )
    manifest = result.manifest
    print(
        f"wrote {result.verilog_path} ({result.verilog_path.stat().st_size} bytes, "
        f"{result.export_seconds:.2f} s) and {result.manifest_path}"
    )
    a = config.array
    acc = "" if config.output_stationary else f"acc_buf {config.acc_buf_rows} x {a.cols} int32, "
    if config.input_buffer:
        acc += f"in_buf {config.max_tile_m} x {a.rows} inputs, "
    if config.overlap_passes:
        acc += "overlapped passes, "
    if config.zero_gate:
        acc += "zero-weight gating, "
    if config.dsp != "inferred":
        acc += f"{config.dsp} DSP cells, "
    print(
        f"top {manifest['top']}: accelerator around a {a.rows}x{a.cols} {a.dataflow.value} "
        f"array (a{a.act_bits} w{a.weight_bits}), {acc}{config.max_channels} channels, "
        f"FIFO {config.fifo_depth} beats, s_axis {config.axis_in_bits} bits, "
        f"m_axis {config.axis_out_bits} bits"
    )
    streams = manifest["streams"]
    print(
        f"  integration: CSR {integration.csr}, clock {integration.clock_port} "
        f"({integration.freq_mhz:g} MHz), reset {integration.reset_port}, TDATA s_axis "
        f"{streams['s_axis']['tdata_bits']} / m_axis {streams['m_axis']['tdata_bits']} bits; "
        f"wrote {manifest['c_header']}, {', '.join(manifest['constraints'].values())}"
    )
    if network is not None:
        print(
            f"  network plan: {len(network.layers)} layers, {network.latency_cycles:.0f} cycles "
            f"predicted (codesign verify DIR --network MODEL runs it)"
        )
    print("  registers:")
    for reg in manifest["register_map"]:
        print(f"    0x{reg['address']:02X} {reg['name']:<12} {reg['access']}  {reg['description']}")
    return 0
