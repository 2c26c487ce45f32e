"""Benchmark of ``codesign verify --simulator verilator`` against Icarus on the 8x8 int8
accelerator (``codesign generate --rows 8 --cols 8 --top accelerator``): the whole digits CNN
(every MAC layer, ``--network``) and one large GEMM layer, each simulated ``--repeats`` times per
simulator (medians), plus Verilator's one-off C++ build of the design (cached afterwards).

Both simulators run the same cocotb bench, which drives and checks the streams in Python on
every clock edge: that bench, not the simulator, bounds the speed of a cocotb run, so the ratio
here is far below the raw ratio of the two simulators (TOOLCHAIN.md: ~530k vs ~2k cycles/s).

Run: ``.venv/bin/python benchmarks/bench_verilator.py [--images N] [--repeats R]`` (a few
minutes on 2 cores). The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from codesign.hw.accel_export import export_accelerator
from codesign.sim.accelerator import load_accelerator, verify_accelerator_gemm
from codesign.sim.network import verify_network
from codesign.sim.runner import build_design

from codesign.accel.array import SystolicConfig
from codesign.accel.config import AcceleratorConfig

DIGITS = "examples/models.py:digits_cnn"
SIMULATORS = ("icarus", "verilator")


def _gemm_operands(m: int, n: int, k: int) -> dict:
    rng = np.random.default_rng(1)
    return {
        "a": rng.integers(-128, 128, (m, k)),
        "w": rng.integers(-128, 128, (k, n)),
        "bias": rng.integers(-1000, 1000, n),
        "multiplier": np.full(n, 1 << 30),
        "shift": np.full(n, 40),
        "zero_point": 3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="held-out images (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per simulator (default 3)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-verilator-"))
    cache = root / "cache"
    export_accelerator(AcceleratorConfig(array=SystolicConfig(rows=8, cols=8)), root / "accel")
    design = load_accelerator(root / "accel")

    build_s = {}
    for sim in SIMULATORS:
        start = time.perf_counter()
        build_design(design.sources, design.top, cache_dir=cache, simulator=sim)
        build_s[sim] = time.perf_counter() - start

    network: dict[str, list[float]] = {s: [] for s in SIMULATORS}
    gemm: dict[str, list[float]] = {s: [] for s in SIMULATORS}
    verdicts: dict[str, set] = {s: set() for s in SIMULATORS}
    cycles = {}
    ops = _gemm_operands(256, 64, 64)
    for _ in range(args.repeats):
        for sim in SIMULATORS:
            start = time.perf_counter()
            net = verify_network(design, DIGITS, images=args.images, cache_dir=cache, simulator=sim)
            network[sim].append(time.perf_counter() - start)
            report = net.to_json()
            layers = tuple((lay["cycles_measured"], lay["bit_exact"]) for lay in report["layers"])
            cycles["network"] = report["cycles_measured_total"]
            res = verify_accelerator_gemm(design, **ops, cache_dir=cache, simulator=sim)
            gemm[sim].append(res.seconds)
            cycles["gemm"] = res.cycles_measured
            verdicts[sim].add((report["passed"], layers, res.passed, res.cycles_measured))

    med = {k: {s: statistics.median(v[s]) for s in SIMULATORS} for k, v in
           (("network", network), ("gemm", gemm))}
    figures = {
        "design": design.top,
        "images": args.images,
        "repeats": args.repeats,
        "same_verdict": len(verdicts["icarus"]) == 1
        and verdicts["icarus"] == verdicts["verilator"],
        "build_s": {s: round(v, 2) for s, v in build_s.items()},
        "network_cycles": cycles["network"],
        "network_s_median": {s: round(v, 2) for s, v in med["network"].items()},
        "network_speedup": round(med["network"]["icarus"] / med["network"]["verilator"], 2),
        "gemm_256x64x64_cycles": cycles["gemm"],
        "gemm_s_median": {s: round(v, 2) for s, v in med["gemm"].items()},
        "gemm_speedup": round(med["gemm"]["icarus"] / med["gemm"]["verilator"], 2),
        "gemm_cycles_per_s": {s: round(cycles["gemm"] / v) for s, v in med["gemm"].items()},
    }
    print(f"| {'8x8 accelerator':<34} | {'icarus':>8} | {'verilator':>9} | ratio |")
    print(f"| {'-' * 34} | {'-' * 8} | {'-' * 9} | ----- |")
    print(f"| {'build (s, once per design)':<34} | {build_s['icarus']:>8.2f} | "
          f"{build_s['verilator']:>9.2f} |       |")
    print(f"| {f'digits CNN, {args.images} images (s)':<34} | {med['network']['icarus']:>8.2f} | "
          f"{med['network']['verilator']:>9.2f} | {figures['network_speedup']:>5.2f} |")
    print(f"| {'GEMM 256x64x64 layer (s)':<34} | {med['gemm']['icarus']:>8.2f} | "
          f"{med['gemm']['verilator']:>9.2f} | {figures['gemm_speedup']:>5.2f} |")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
