"""``codesign synth DIR --target generic|ice40|xilinx|ecp5 [--pnr]``: Yosys area of a generated
design and, with ``--pnr``, nextpnr's placement and routing (``fmax_mhz``, utilization)."""

from __future__ import annotations

import argparse
import json

from codesign.validation import float_option, int_option

__all__ = ["HELP", "add_arguments", "run"]

HELP = "synthesize a generated design folder with Yosys and report LUT/FF/carry/DSP/BRAM counts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``synth`` options."""
    parser.add_argument("design_dir", help="folder written by `codesign generate`")
    parser.add_argument(
        "--target", default="generic", help="generic | ice40 | xilinx | ecp5 (default: generic)"
    )
    parser.add_argument(
        "--pnr",
        action="store_true",
        help="place and route with nextpnr (ice40: HX8K; ecp5: 85F, out of context) and report "
        "fmax_mhz and utilization in synth.json",
    )
    parser.add_argument(
        "--freq-mhz",
        type=float_option(0.0, 10_000.0, open_minimum=True),
        default=100.0,
        help="target clock of --pnr (default 100 MHz)",
    )
    parser.add_argument(
        "--seed", type=int_option(0, 2**31 - 1), default=1, help="nextpnr's placement seed (1)"
    )
    parser.add_argument(
        "--pnr-timeout-s",
        type=float_option(0.0, 1e6, open_minimum=True),
        default=1800.0,
        help="abort nextpnr after this many seconds (default 1800)",
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
    parser.add_argument(
        "--timeout-s",
        type=float_option(0.0, 1e6, open_minimum=True),
        default=None,
        help="abort Yosys after this",
    )


def run(args: argparse.Namespace) -> int:
    """Run Yosys, write ``synth.json`` and ``synth.log`` into the folder, print the counts."""
    from codesign.synth import synthesize

    result = synthesize(
        args.design_dir,
        args.target,
        use_dsp=args.use_dsp,
        yosys=args.yosys,
        timeout_s=args.timeout_s,
        pnr=args.pnr,
        target_mhz=args.freq_mhz,
        seed=args.seed,
        pnr_timeout_s=args.pnr_timeout_s,
    )
    summary = result.to_dict()
    del summary["cell_types"]
    pnr = summary.pop("pnr", None)
    print(json.dumps(summary))
    if pnr is not None:
        path = pnr["critical_path"]
        print(
            f"place and route ({pnr['tool']}, {pnr['device']}, seed {pnr['seed']}, "
            f"{pnr['seconds']:.0f} s): fmax {pnr['fmax_mhz']:.2f} MHz "
            f"({'meets' if pnr['met'] else 'FAILS'} {pnr['target_mhz']:g} MHz)"
        )
        if path:
            print(
                f"  critical path {path['delay_ns']:.2f} ns ({path['logic_ns']:.2f} logic, "
                f"{path['routing_ns']:.2f} routing): {path['from']} -> {path['to']}"
            )
        used = ", ".join(f"{k} {u:,}/{a:,}" for k, (u, a) in pnr["utilization"].items())
        print(f"  utilization: {used}")
    return 0
