"""``codesign synth DIR --target generic|ice40|xilinx``: Yosys area of a generated design."""

from __future__ import annotations

import argparse
import json

__all__ = ["HELP", "add_arguments", "run"]

HELP = "synthesize a generated design folder with Yosys and report LUT/FF/carry/DSP/BRAM counts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``synth`` options."""
    parser.add_argument("design_dir", help="folder written by `codesign generate`")
    parser.add_argument(
        "--target", default="generic", help="generic | ice40 | xilinx (default: generic)"
    )
    dsp = parser.add_mutually_exclusive_group()
    dsp.add_argument(
        "--dsp",
        dest="use_dsp",
        action="store_true",
        default=None,
        help="map multipliers to DSP blocks (default: ice40 no, xilinx yes)",
    )
    dsp.add_argument("--no-dsp", dest="use_dsp", action="store_false", help="never use DSPs")
    parser.add_argument("--yosys", default="yosys", help="Yosys executable (default: yosys)")
    parser.add_argument("--timeout-s", type=float, default=None, help="abort Yosys after this")


def run(args: argparse.Namespace) -> int:
    """Run Yosys, write ``synth.json`` and ``synth.log`` into the folder, print the counts."""
    from codesign.synth import synthesize

    result = synthesize(
        args.design_dir,
        args.target,
        use_dsp=args.use_dsp,
        yosys=args.yosys,
        timeout_s=args.timeout_s,
    )
    summary = result.to_dict()
    del summary["cell_types"]
    print(json.dumps(summary))
    return 0
