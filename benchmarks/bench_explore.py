"""Joint design-space exploration of ResNet-18 (224x224): at least 1,000 design points over
array shape x dataflow x buffer size x DRAM bandwidth x bit-widths, every layer mapped per point
(local-search mapper), on a local process pool. Target: under 2 minutes on 2 cores.

``--space buildable`` explores a ``target: accelerator`` space instead (array shape x ws/os x
accumulator buffer x bus x overlapped passes x per-layer weight bits): every point an
accelerator ``codesign generate`` builds, each layer scheduled on it
(``codesign.explore.buildable.AcceleratorEvaluator``). Same target.

Usage: ``python benchmarks/bench_explore.py [--space model|buildable] [--points 1000]
[--jobs 2] [--mapper-budget 300]``. The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesign.explore import (  # noqa: E402
    AcceleratorEvaluator,
    Axis,
    DesignEvaluator,
    DesignSpace,
    SQLiteStore,
    explore,
    make_executor,
    make_strategy,
    parse_objectives,
)

SPACE = DesignSpace(
    axes=(
        Axis(name="pe_rows", values=(8, 16, 32)),
        Axis(name="pe_cols", values=(8, 16, 32)),
        Axis(name="dataflow", values=("ws", "os", "is", "rs")),
        Axis(name="glb_kib", values=(64, 128, 256, 512)),
        Axis(name="dram_bw_bits_per_cycle", values=(64, 128)),
        Axis(name="weight_bits", values=(4, 8)),
        Axis(name="activation_bits", values=(8, 16)),
    )
)

BUILDABLE = DesignSpace(
    target="accelerator",
    axes=(
        Axis(name="pe_rows", values=(8, 16, 32)),
        Axis(name="pe_cols", values=(8, 16, 32)),
        Axis(name="dataflow", values=("ws", "os")),
        Axis(name="acc_buf_rows", values=(64, 256, 1024)),
        Axis(name="dram_bw_bits_per_cycle", values=(64, 128, 256)),
        Axis(name="overlap_passes", values=(False, True)),
        Axis(name="weight_bits", values=(4, 8), per_layer=True),
        Axis(name="activation_bits", values=(8,)),
    ),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--mapper-budget", type=int, default=300)
    ap.add_argument("--strategy", default="random")
    ap.add_argument("--space", choices=("model", "buildable"), default="model")
    args = ap.parse_args()

    import torch

    from codesign.workload import from_torch, load_model

    t0 = time.perf_counter()
    module, _ = load_model(str(ROOT / "examples/models.py:resnet18"))
    layers = from_torch(module, torch.zeros(1, 3, 224, 224), name="resnet18").loop_nests
    trace_s = time.perf_counter() - t0
    objectives = parse_objectives("latency,energy,area")
    if args.space == "buildable":
        space = BUILDABLE.expand(n.name for n in layers)
        evaluator = AcceleratorEvaluator(layers)
    else:
        space = SPACE
        evaluator = DesignEvaluator(layers, mapper="local", mapper_budget=args.mapper_budget)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        executor = make_executor("process", evaluator, jobs=args.jobs)
        t1 = time.perf_counter()
        result = explore(
            space=space,
            objectives=objectives,
            strategy=make_strategy(args.strategy, space, n_objectives=3, seed=0),
            store=store,
            executor=executor,
            budget=args.points,
            batch_size=32,
        )
        wall = time.perf_counter() - t1
        executor.close()
        store.close()
    ok = [r for r in result.records if r.ok]
    per_point = [r.eval_s for r in result.records]
    knee = result.knee
    print(f"ResNet-18: {len(layers)} MAC layers, traced in {trace_s:.1f} s")
    print(
        f"space ({args.space}): {space.size:.3g} points; evaluated {len(result.records)} "
        f"({len(ok)} ok) in {wall:.1f} s"
    )
    print(
        f"per point: median {statistics.median(per_point):.3f} s, max {max(per_point):.3f} s "
        f"(one core); Pareto front {len(result.pareto)} points"
    )
    print(
        f"knee: {knee.params} -> latency {knee.metrics['latency_s'] * 1e3:.2f} ms, energy "
        f"{knee.metrics['energy_pj'] / 1e6:.1f} uJ, area {knee.metrics['area_mm2']:.2f} mm^2"
    )
    print(
        json.dumps(
            {
                "benchmark": "bench_explore",
                "model": "resnet18",
                "space": args.space,
                "input": [1, 3, 224, 224],
                "layers": len(layers),
                "design_points": len(result.records),
                "ok_points": len(ok),
                "wall_s": round(wall, 2),
                "points_per_s": round(len(result.records) / wall, 2),
                "median_point_s": round(statistics.median(per_point), 4),
                "mapper": "schedules" if args.space == "buildable" else "local",
                "mapper_budget_per_layer": None
                if args.space == "buildable"
                else args.mapper_budget,
                "jobs": args.jobs,
                "cpus": os.cpu_count(),
                "pareto_points": len(result.pareto),
                "target_wall_s": 120,
                "meets_target": wall < 120 and len(result.records) >= 1000,
            }
        )
    )


if __name__ == "__main__":
    main()
