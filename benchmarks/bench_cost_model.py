"""Mapping evaluations per second of the vectorized cost model on ResNet-18's conv layers.

For every conv layer of ResNet-18 (224 x 224 input, 20 layers including the 1x1 downsample
convolutions, built with ``codesign.workload.conv2d``) and two architectures (the 16 x 16
weight-stationary preset and the 12 x 14 Eyeriss preset), random valid mappings are generated
once (not timed) and evaluated in batches of ``--batch`` (4,096) mappings. Figures:

* ``mapping_evals_per_s``: evaluations per CPU-second of one process (per core; best of
  ``--repeats`` passes over all layers, as ``timeit`` does), without re-validation (the
  mapper's fast path: rows valid by construction), with glibc told to keep freed memory
  (``MALLOC_ENV``: without it every call page-faults its temporaries back in, which costs
  about a third on these machines; ``mapping_evals_per_s_default_malloc`` is that figure);
* ``mapping_evals_per_s_validated``: the same with ``validate_batch`` on every batch;
* ``mapping_evals_per_s_2_processes``: wall-clock throughput of two processes sharing the
  work, and each one's evaluations per CPU-second (this machine has 2 cores, shared with other
  jobs: see ``load_avg``).

The last line printed is one JSON object with the figures.

Usage: ``python benchmarks/bench_cost_model.py [--mappings-per-layer N] [--batch B]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
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


MALLOC_ENV = {
    "MALLOC_TOP_PAD_": str(64 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(256 << 20),
    "MALLOC_MMAP_THRESHOLD_": str(64 << 20),
}
"""glibc settings that keep the model's temporaries (a few MB per batch) in the heap instead of
returning them to the OS after every call; page faults are expensive on these machines."""


def _measure(n: int, b: int, repeats: int) -> dict:
    count, cpu, wall = _work(n, b, False, 0, repeats)
    vcount, vcpu, _ = _work(n // 4, b, True, 100, repeats)
    return {"count": count, "cpu": cpu, "wall": wall, "vcount": vcount, "vcpu": vcpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mappings-per-layer", type=int, default=16384)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5, help="best of N passes")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n, b = args.mappings_per_layer, args.batch
    if args.measure_only:
        print(json.dumps(_measure(n, b, args.repeats)))
        return
    layers = len(resnet18_convs())
    results = {}
    for label, env in (("default malloc", {}), ("tuned malloc", MALLOC_ENV)):
        cmd = [
            sys.executable,
            __file__,
            "--measure-only",
            f"--mappings-per-layer={n}",
            f"--batch={b}",
            f"--repeats={args.repeats}",
        ]
        out = subprocess.run(
            cmd, env={**os.environ, **env}, capture_output=True, text=True, check=True
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results[label] = r
        print(
            f"{label:>14}: {r['count']:,} evaluations ({layers} layers x 2 archs) in "
            f"{r['cpu']:.2f} CPU s: {r['count'] / r['cpu']:,.0f} evaluations/s per core; "
            f"validated {r['vcount'] / r['vcpu']:,.0f}/s"
        )
    os.environ.update(MALLOC_ENV)  # inherited by the spawned workers
    with mp.get_context("spawn").Pool(2) as pool:
        t0 = time.perf_counter()
        two = pool.map(_child, [(n // 2, b, False, 200, 1), (n // 2, b, False, 300, 1)])
        wall2 = time.perf_counter() - t0
    count2 = sum(r[0] for r in two)
    slowest = max(r[2] for r in two)
    per_process = [round(r[0] / r[1]) for r in two]
    print(
        f"2 processes (tuned malloc): {count2:,} evaluations, slowest process {slowest:.2f} s "
        f"of evaluation wall time: {count2 / slowest:,.0f}/s together; per process "
        f"{per_process} evaluations per CPU-second ({wall2:.1f} s wall including generation)"
    )
    tuned, default = results["tuned malloc"], results["default malloc"]
    print(
        json.dumps(
            {
                "mapping_evals_per_s": round(tuned["count"] / tuned["cpu"]),
                "mapping_evals_per_s_default_malloc": round(default["count"] / default["cpu"]),
                "mapping_evals_per_s_validated": round(tuned["vcount"] / tuned["vcpu"]),
                "mapping_evals_per_s_2_processes": round(count2 / slowest),
                "mapping_evals_per_cpu_s_2_processes": per_process,
                "malloc_env": MALLOC_ENV,
                "layers": layers,
                "architectures": ["ws16x16", "eyeriss12x14"],
                "evaluations_per_pass": tuned["count"],
                "repeats": args.repeats,
                "batch": b,
                "load_avg": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
