"""``codesign generate``: Verilog and manifest of one systolic array."""

from __future__ import annotations

import argparse

from codesign.hw import accel_command
from codesign.hw.config import SystolicConfig

from codesign.errors import SpecError

__all__ = ["HELP", "add_arguments", "run"]

HELP = "generate the Verilog and manifest.json of a systolic array (ws, os or 2:4-sparse)"

_SHAPE_OPTIONS = (
    "rows",
    "cols",
    "dataflow",
    "act_bits",
    "weight_bits",
    "acc_bits",
    "max_reduction_len",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``generate`` options."""
    parser.add_argument(
        "--design",
        help='design point JSON (explorer output, or {"arch": {...}}) instead of --rows/--cols/...',
    )
    parser.add_argument("--rows", type=int, help="PE rows")
    parser.add_argument("--cols", type=int, help="PE columns")
    parser.add_argument("--dataflow", help="ws | os | sparse24 (default: ws)")
    parser.add_argument("--act-bits", type=int, help="signed activation bits (default: 8)")
    parser.add_argument("--weight-bits", type=int, help="signed weight bits (default: 8)")
    parser.add_argument("--acc-bits", type=int, help="signed accumulator bits (default: 32)")
    parser.add_argument(
        "--max-reduction-len",
        type=int,
        help="os only: longest reduction K the accumulators must hold",
    )
    parser.add_argument(
        "--top",
        default="array",
        help="'array' (default): the bare systolic array, its module named from the parameters; "
        "'accelerator': the accelerator (buffers, controller, AXI-Stream, CSR) around a ws or os "
        "array; any other identifier: the bare array under that module name",
    )
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--force", action="store_true", help="write into a non-empty output folder")
    accel_command.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Build the configuration, export ``<top>.v`` and ``manifest.json``, print a summary."""
    given = {k: getattr(args, k) for k in _SHAPE_OPTIONS if getattr(args, k) is not None}
    if args.design is not None:
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise SpecError(f"--design cannot be combined with {flags}")
        config = SystolicConfig.from_design_json(args.design)
    else:
        for key in ("rows", "cols"):
            if key not in given:
                raise SpecError(f"--{key} is required (or give --design)")
        config = SystolicConfig(**given)

    if args.top == "accelerator":
        return accel_command.run(args, config)

    from codesign.hw.export import export_verilog

    top = None if args.top == "array" else args.top
    result = export_verilog(config, args.out, top=top, force=args.force)
    manifest = result.manifest
    print(
        f"wrote {result.verilog_path} ({result.verilog_path.stat().st_size} bytes, "
        f"{result.export_seconds:.2f} s) and {result.manifest_path}"
    )
    print(
        f"top {manifest['top']}: {config.rows}x{config.cols} {config.dataflow.value}, "
        f"a{config.act_bits} w{config.weight_bits} acc{config.acc_bits}, "
        f"tile cycles = {manifest['latency']['formula']}"
    )
    for port in manifest["ports"]:
        print(f"  {port['direction']:6} {port['width']:5}  {port['name']}")
    return 0
