"""Benchmark of ``codesign.sim``: a 16x16 int8 weight-stationary array verifying a 64x64x64
GEMM in Icarus (export, compile and simulation timed separately), and a measured-vs-predicted
cycle table over several arrays, GEMM shapes and digits-CNN layers: the RTL in both issue modes
against ``codesign.cost.systolic`` (per tile and per layer) and against the analytical cost
model with the same mapping (overlapped issue = the WS preset with ``overlap_passes``; the 2:4
array is the WS preset with ``nm=(2, 4)``).

Run: ``.venv/bin/python benchmarks/bench_verify.py`` (about a minute on 2 cores). Prints the
table as markdown; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from codesign.hw import SystolicConfig, export_verilog
from codesign.sim import build_design, load_design, random_operands, verify_gemm, verify_layer

DIGITS = "examples/models.py:digits_cnn"


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    cache = root / "cache"  # fresh cache: the compile time is measured, not reused
    designs = {}

    def design(rows: int, cols: int, flow: str):
        key = (rows, cols, flow)
        if key not in designs:
            folder = root / f"{flow}{rows}x{cols}"
            start = time.perf_counter()
            export_verilog(SystolicConfig(rows=rows, cols=cols, dataflow=flow), folder)
            export_s = time.perf_counter() - start
            d = load_design(folder)
            start = time.perf_counter()
            build_design([d.verilog_path], d.top, cache_dir=cache)
            designs[key] = (d, export_s, time.perf_counter() - start)
        return designs[key][0]

    # 1. The headline: 16x16 int8 WS, 64x64x64 GEMM.
    big = design(16, 16, "ws")
    a, b = random_operands(big, 64, 64, 64, seed=1)
    start = time.perf_counter()
    headline = verify_gemm(big, a, b, cache_dir=cache)
    verify_s = time.perf_counter() - start
    _, export_s, compile_s = designs[(16, 16, "ws")]

    # 2. Measured vs predicted cycles.
    cases = [
        ((16, 16, "ws"), "gemm", (64, 64, 64)),
        ((16, 16, "ws"), "gemm", (100, 40, 70)),
        ((8, 8, "ws"), "gemm", (64, 64, 64)),
        ((4, 4, "ws"), "gemm", (17, 33, 50)),
        ((4, 4, "ws"), "gemm", (1, 1, 1)),
        ((8, 8, "os"), "gemm", (64, 64, 64)),
        ((4, 4, "os"), "gemm", (17, 33, 50)),
        ((3, 5, "os"), "gemm", (1, 1, 1)),
        ((4, 4, "sparse24"), "gemm", (64, 64, 64)),
        ((3, 5, "sparse24"), "gemm", (17, 33, 50)),
        ((4, 4, "ws"), "layer", "conv1"),
        ((4, 4, "ws"), "layer", "conv2"),
        ((8, 8, "os"), "layer", "conv2"),
        ((4, 4, "sparse24"), "layer", "conv2"),
        ((8, 8, "ws"), "layer", "fc"),
    ]
    rows_out = []
    for (r, c, flow), kind, what in cases:
        d = design(r, c, flow)
        runs = {}
        for sequential in (False, True):
            if kind == "gemm":
                x, w = random_operands(d, *what, seed=7)
                res = verify_gemm(d, x, w, sequential=sequential, cache_dir=cache)
            else:
                res = verify_layer(d, f"{DIGITS}:{what}", sequential=sequential, cache_dir=cache)
            runs[sequential] = res
        over, seq = runs[False], runs[True]
        label = "x".join(map(str, what)) if kind == "gemm" else f"digits_cnn.{what}"
        rows_out.append(
            {
                "array": f"{flow} {r}x{c}",
                "workload": label,
                "tiles": len(over.tile_cycles_measured),
                "bit_exact": over.mismatch_count == 0 and seq.mismatch_count == 0,
                "measured": over.cycles_measured,
                "predicted": over.cycles_predicted,
                "measured_sequential": seq.cycles_measured,
                "predicted_sequential": seq.cycles_predicted,
                "cost_model": over.cycles_cost_model,
                "cost_model_sequential": seq.cycles_cost_model,
                "tiles_exact": over.tile_cycles_measured == over.tile_cycles_predicted
                and seq.tile_cycles_measured == seq.tile_cycles_predicted,
                "sim_seconds": round(over.seconds + seq.seconds, 2),
            }
        )

    print(
        f"16x16 int8 WS array, 64x64x64 GEMM in Icarus ({headline.simulator} "
        f"{headline.simulator_version}):"
    )
    print(
        f"  export {export_s:.2f} s, compile {compile_s:.2f} s, verify {verify_s:.2f} s "
        f"(simulation {headline.seconds:.2f} s), passed={headline.passed}, "
        f"cycles {headline.cycles_measured} measured / {headline.cycles_predicted} predicted"
    )
    print()
    print(
        "| array | workload | tiles | bit-exact | RTL cycles (overlapped) | predicted | "
        "cost model | RTL cycles (sequential) | predicted | cost model | per-tile exact |"
    )
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for row in rows_out:
        cm, cms = row["cost_model"], row["cost_model_sequential"]
        print(
            f"| {row['array']} | {row['workload']} | {row['tiles']} | "
            f"{'yes' if row['bit_exact'] else 'NO'} | {row['measured']} | {row['predicted']} | "
            f"{cm} | {row['measured_sequential']} | {row['predicted_sequential']} | {cms} | "
            f"{'yes' if row['tiles_exact'] else 'NO'} |"
        )
    exact = all(
        r["bit_exact"]
        and r["tiles_exact"]
        and r["measured"] == r["predicted"]
        and r["measured_sequential"] == r["predicted_sequential"]
        for r in rows_out
    )
    # the analytical model (codesign.cost) against the RTL, every array, both modes
    model_exact = all(
        r["cost_model"] == r["measured"] and r["cost_model_sequential"] == r["measured_sequential"]
        for r in rows_out
    )
    print(
        json.dumps(
            {
                "bench": "verify",
                "gemm64_16x16_passed": headline.passed,
                "gemm64_16x16_export_s": round(export_s, 3),
                "gemm64_16x16_compile_s": round(compile_s, 3),
                "gemm64_16x16_verify_s": round(verify_s, 3),
                "gemm64_16x16_sim_s": round(headline.seconds, 3),
                "gemm64_16x16_cycles": headline.cycles_measured,
                "simulator": f"{headline.simulator} {headline.simulator_version}",
                "all_exact": exact,
                "cost_model_exact": model_exact,
                "cost_model_rows": len(rows_out),
                "table": rows_out,
            }
        )
    )


if __name__ == "__main__":
    main()
