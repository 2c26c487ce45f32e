"""Mapping evaluations per second of the vectorized cost model on ResNet-18's conv layers.

For every conv layer of ResNet-18 (224 x 224 input, 20 layers including the 1x1 downsample
convolutions, built with ``codesign.workload.conv2d``) and two architectures (the 16 x 16
weight-stationary preset and the 12 x 14 Eyeriss preset), random valid mappings are generated
once (not timed) and evaluated in batches. Figures:

* ``mapping_evals_per_s``: evaluations per CPU-second of one process (per core; best of
  ``--repeats`` passes over all layers, as ``timeit`` does), without
  re-validation (the mapper's fast path: rows valid by construction);
* ``mapping_evals_per_s_validated``: the same with ``validate_batch`` on every batch;
* ``mapping_evals_per_s_2_processes``: wall-clock throughput of two processes sharing the work
  (this machine has 2 cores, shared with other jobs: see ``load_avg``).

The last line printed is one JSON object with the figures.

Usage: ``python benchmarks/bench_cost_model.py [--mappings-per-layer N] [--batch B]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time

from codesign.arch import eyeriss, weight_stationary
from codesign.cost import evaluate
from codesign.mapping.sampling import random_mappings
from codesign.workload import conv2d


def resnet18_convs():
    """The 20 conv layers of ResNet-18 at 224 x 224: (name, nest)."""
    spec = [("conv1", 3, 64, 224, 7, 2, 3)]
    for i in range(4):
        spec.append((f"layer1.{i // 2}.conv{i % 2 + 1}", 64, 64, 56, 3, 1, 1))
    size, cin = 56, 64
    for stage, cout in ((2, 128), (3, 256), (4, 512)):
        spec.append((f"layer{stage}.0.conv1", cin, cout, size, 3, 2, 1))
        spec.append((f"layer{stage}.0.downsample", cin, cout, size, 1, 2, 0))
        size //= 2
        spec.append((f"layer{stage}.0.conv2", cout, cout, size, 3, 1, 1))
        spec.append((f"layer{stage}.1.conv1", cout, cout, size, 3, 1, 1))
        spec.append((f"layer{stage}.1.conv2", cout, cout, size, 3, 1, 1))
        cin = cout
    return [
        (
            name,
            conv2d(
                name,
                in_channels=ci,
                out_channels=co,
                input_size=(hw, hw),
                kernel_size=k,
                stride=st,
                padding=pad,
            ),
        )
        for name, ci, co, hw, k, st, pad in spec
    ]


def _jobs(per_layer: int, batch: int, seed: int):
    """Random valid mappings for every layer and architecture, split into batches."""
    jobs = []
    for arch in (weight_stationary(16, 16), eyeriss()):
        for i, (_, nest) in enumerate(resnet18_convs()):
            mappings = random_mappings(nest, arch, per_layer, seed=seed + i)
            chunks = [mappings.take(slice(j, j + batch)) for j in range(0, per_layer, batch)]
            jobs.append((nest, arch, chunks))
    return jobs


def _work(per_layer: int, batch: int, validate: bool, seed: int, repeats: int = 1):
    """Generate (untimed), then evaluate everything ``repeats`` times; returns (evaluations
    per pass, best CPU seconds of a pass, wall seconds of that pass)."""
    jobs = _jobs(per_layer, batch, seed)
    best = None
    for _ in range(repeats):
        count = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for nest, arch, chunks in jobs:
            for chunk in chunks:
                evaluate(nest, arch, chunk, validate=validate)
                count += len(chunk)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if best is None or cpu < best[1]:
            best = (count, cpu, wall)
    return best


def _child(args):
    return _work(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mappings-per-layer", type=int, default=16384)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5, help="best of N passes")
    args = parser.parse_args()
    n, b = args.mappings_per_layer, args.batch
    layers = len(resnet18_convs())
    count, cpu, wall = _work(n, b, False, 0, args.repeats)
    print(
        f"fast path : {count:,} evaluations ({layers} layers x 2 archs) in {cpu:.2f} CPU s "
        f"({wall:.2f} wall s): {count / cpu:,.0f} evaluations/s per core"
    )
    vcount, vcpu, _ = _work(n // 4, b, True, 100, args.repeats)
    print(
        f"validated : {vcount:,} evaluations in {vcpu:.2f} CPU s: {vcount / vcpu:,.0f}/s per core"
    )
    with mp.get_context("spawn").Pool(2) as pool:
        t0 = time.perf_counter()
        results = pool.map(_child, [(n // 2, b, False, 200, 1), (n // 2, b, False, 300, 1)])
        wall2 = time.perf_counter() - t0
    count2 = sum(r[0] for r in results)
    slowest = max(r[2] for r in results)
    print(
        f"2 processes: {count2:,} evaluations, slowest process {slowest:.2f} s of evaluation: "
        f"{count2 / slowest:,.0f}/s ({wall2:.1f} s wall including generation)"
    )
    print(
        json.dumps(
            {
                "mapping_evals_per_s": round(count / cpu),
                "mapping_evals_per_s_validated": round(vcount / vcpu),
                "mapping_evals_per_s_2_processes": round(count2 / slowest),
                "layers": layers,
                "architectures": ["ws16x16", "eyeriss12x14"],
                "evaluations_per_pass": count,
                "repeats": args.repeats,
                "batch": b,
                "load_avg": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
