"""The closed loop on every Pareto point: a small buildable digits-CNN study, then for each
point of its Pareto front the accelerator is generated and the whole quantized network runs on
its RTL (cocotb + Icarus); measured cycles per layer and in total against the explorer's.

Usage: ``python benchmarks/bench_closed_loop.py [--space examples/space_accel.yaml]
[--budget 32] [--images 2] [--out DIR]``. Exit status 1 if any point fails. The last line
printed is one JSON object with the figures (``worst_ratio``: the measured/predicted ratio
farthest from 1 over every layer and total of every point).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = "examples/models.py:digits_cnn"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default=str(ROOT / "examples/space_accel.yaml"))
    ap.add_argument("--budget", type=int, default=32)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="keep the study, RTL and verify.json files here")
    args = ap.parse_args()

    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator
    from codesign.sim.network import verify_network

    from codesign.accel.costview import NetworkPlan
    from codesign.cli import main as cli
    from codesign.explore import DesignPoint
    from codesign.explore.buildable import AcceleratorEvaluator
    from codesign.workload import from_torch, load_model

    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="closed_loop_"))
    t0 = time.perf_counter()
    status = cli(
        [
            "explore", MODEL, "--space", args.space,
            "--objectives", "latency,energy,area,accuracy",
            "--budget", str(args.budget), "--seed", str(args.seed),
            "--out", str(work / "explore"), "--store", str(work / "study.db"),
            "--executor", "serial", "--no-progress",
        ]
    )  # fmt: skip
    if status != 0:
        raise SystemExit(f"explore failed with exit status {status}")
    explore_s = time.perf_counter() - t0
    front = json.loads((work / "explore" / "pareto.json").read_text())
    module, inputs = load_model(MODEL)
    evaluator = AcceleratorEvaluator(from_torch(module, *inputs).loop_nests)

    rows, ratios, sim_s = [], [], []
    for i, entry in enumerate(front):
        point: DesignPoint = evaluator.design_point(entry["params"])
        assert point.metrics["latency_cycles"] == entry["metrics"]["latency_cycles"]
        rtl = work / f"point{i}"
        export_accelerator(
            point.accelerator,
            rtl,
            force=True,
            network=NetworkPlan.from_design_json(point.to_dict()),
        )
        res = verify_network(load_accelerator(rtl), MODEL, images=args.images, work_dir=rtl / "sim")
        (rtl / "verify.json").write_text(json.dumps(res.to_json(), indent=2) + "\n")
        point_ratios = [c.cycles_measured / c.cycles_predicted for c in res.layers]
        point_ratios.append(res.cycles_measured_total / res.cycles_predicted_total)
        ratios += point_ratios
        sim_s.append(res.seconds)
        a = point.accelerator.array
        rows.append(
            (
                f"{a.rows}x{a.cols} {a.dataflow.value} bus{point.accelerator.axis_in_bits}"
                + (f" t{point.accelerator.max_tile_m}" if a.dataflow.value == "ws" else "")
                + (" ov" if point.accelerator.overlap_passes else ""),
                res.cycles_predicted_total,
                res.cycles_measured_total,
                max(point_ratios, key=lambda r: abs(r - 1)),
                all(c.bit_exact for c in res.layers) and res.outputs_bit_exact,
                res.passed,
            )
        )
        print(
            f"point {i}: {rows[-1][0]:<24} predicted {rows[-1][1]:>8.0f} measured "
            f"{rows[-1][2]:>8} worst ratio {rows[-1][3]:.4f} bit-exact {rows[-1][4]} "
            f"passed {rows[-1][5]} ({res.seconds:.1f} s)",
            flush=True,
        )
    worst = max(ratios, key=lambda r: abs(r - 1))
    passed = sum(1 for r in rows if r[5])
    summary = {
        "benchmark": "bench_closed_loop",
        "model": MODEL,
        "budget": args.budget,
        "images": args.images,
        "points": len(rows),
        "verified": passed,
        "all_bit_exact": all(r[4] for r in rows),
        "worst_ratio": round(worst, 6),
        "worst_error": round(abs(worst - 1), 6),
        "within_2_percent": abs(worst - 1) <= 0.02,
        "explore_s": round(explore_s, 2),
        "median_network_sim_s": round(statistics.median(sim_s), 2),
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    print(json.dumps(summary))
    return 0 if passed == len(rows) and summary["within_2_percent"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
