"""The budgeted local-search mapper against the exhaustive optimum on ResNet-18 layers.

For every distinct ResNet-18 (224x224, int8) layer shape and each architecture (16x16
weight-stationary and output-stationary systolic arrays, the 12x14 Eyeriss-like array), the
pruned mapspace is counted; where it can be enumerated (at most ``--limit`` mappings) the
exhaustive optimum is computed and compared with the local-search mapper's best EDP (target:
within 2 %). Also times a full ResNet-18 mapping (every layer) per architecture.

Usage: ``python benchmarks/bench_mapper.py [--limit 1500000] [--budget 3000]``.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesign.arch import eyeriss, output_stationary, weight_stationary  # noqa: E402
from codesign.errors import SpecError  # noqa: E402
from codesign.explore import ExhaustiveMapper, LocalSearchMapper  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=1_500_000, help="largest mapspace enumerated")
    ap.add_argument("--budget", type=int, default=3000, help="local-search evaluations/layer")
    ap.add_argument("--full-budget", type=int, default=1000, help="budget of the full mapping")
    args = ap.parse_args()

    import torch

    from codesign.workload import from_torch, load_model

    module, _ = load_model(str(ROOT / "examples/models.py:resnet18"))
    nests = from_torch(module, torch.zeros(1, 3, 224, 224)).loop_nests
    nests = [n.with_bits(inputs=8, weights=8, outputs=32).with_density(inputs=1.0) for n in nests]
    distinct = {}
    for n in nests:
        distinct.setdefault(n.shape_key(), n)
    archs = [weight_stationary(16, 16), output_stationary(16, 16), eyeriss()]
    rows, ratios = [], []
    print(
        f"{'arch':<14}{'layer':<22}{'mapspace':>12}{'exh. maps':>11}{'exh. s':>8}"
        f"{'local s':>9}{'EDP ratio':>10}{'gap to LB':>10}"
    )
    for arch in archs:
        for nest in distinct.values():
            local = LocalSearchMapper(budget=args.budget, seed=0)
            t = time.perf_counter()
            lr = local.map(nest, arch)
            local_s = time.perf_counter() - t
            row = {
                "arch": arch.name,
                "layer": nest.name,
                "mapspace_raw": lr.mapspace_size,
                "local_s": round(local_s, 3),
                "local_evals": lr.evaluations,
                "gap_to_lower_bound": round(lr.gap_to_bound, 4),
            }
            t = time.perf_counter()
            try:
                ex = ExhaustiveMapper(limit=args.limit).map(nest, arch)
            except SpecError:
                ex = None
            ex_s = time.perf_counter() - t
            if ex is not None:
                ratio = lr.value / ex.value
                ratios.append(ratio)
                row.update(
                    exhaustive_mappings=ex.evaluations,
                    exhaustive_s=round(ex_s, 2),
                    edp_ratio=round(ratio, 5),
                )
            rows.append(row)
            print(
                f"{arch.name:<14}{nest.name:<22}{lr.mapspace_size:>12.3g}"
                f"{row.get('exhaustive_mappings', '-'):>11}{row.get('exhaustive_s', '-'):>8}"
                f"{local_s:>9.3f}{row.get('edp_ratio', '-'):>10}{lr.gap_to_bound:>10.3f}"
            )
    full = {}
    for arch in archs:
        local = LocalSearchMapper(budget=args.full_budget, seed=0)
        t = time.perf_counter()
        memo = {}
        for n in nests:
            key = n.shape_key()
            if key not in memo:
                memo[key] = local.map(n, arch)
        full[arch.name] = round(time.perf_counter() - t, 2)
    print(
        f"full ResNet-18 mapping ({len(nests)} layers, {len(distinct)} distinct, budget "
        f"{args.full_budget}/layer): " + ", ".join(f"{k} {v} s" for k, v in full.items())
    )
    within = sum(r <= 1.02 for r in ratios)
    print(f"enumerable layer/arch pairs: {len(ratios)} of {len(rows)}; within 2 %: {within}")
    print(
        json.dumps(
            {
                "benchmark": "bench_mapper",
                "enumerable_pairs": len(ratios),
                "pairs": len(rows),
                "within_2pct": within,
                "max_edp_ratio": round(max(ratios), 5) if ratios else None,
                "mean_edp_ratio": round(sum(ratios) / len(ratios), 5) if ratios else None,
                "local_budget": args.budget,
                "enumeration_limit": args.limit,
                "full_resnet18_mapping_s": full,
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
