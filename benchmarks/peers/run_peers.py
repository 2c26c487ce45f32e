"""codesign side by side with ZigZag 3.9.1 and SCALE-Sim 3.0.0 on the same layers.

Creates one venv per peer under ``build/peers/`` on first use (``zigzag-dse==3.9.1`` with
``six``; ``scalesim==3.0.0`` with ``numpy<2.4``), runs each peer in its own venv through the
runner scripts beside this file, runs codesign's mapper on comparable architectures, and prints
a table of latency, energy (where the peer models it), wall time and evaluations/s, with the
ratios codesign / peer.

Layers: ResNet-18 ``layer1.0.conv1`` (3x3, 64->64, 56x56), ``layer2.0.downsample.0`` (1x1,
64->128, stride 2, 28x28 out) and a GEMM 256^3. Architectures: ZigZag's bundled ``tpu_like``
(32x32 weight-stationary) against codesign's 32x32 weight-stationary preset; SCALE-Sim 16x16 and
32x32 in os/ws/is against codesign's arrays of the same shape and dataflow (DRAM bandwidth raised
to 1,024 bits/cycle, as SCALE-Sim's CALC mode sizes the interface so that nothing stalls).

Usage: ``.venv/bin/python benchmarks/peers/run_peers.py [--quick]``; the last line printed is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
VENVS = ROOT / "build" / "peers"
PEERS = {
    "zigzag": ["zigzag-dse==3.9.1", "six"],
    "scalesim": ["scalesim==3.0.0", "numpy<2.4"],
}
LAYERS = [
    {"name": "r18.layer1.0.conv1", "kind": "conv", "K": 64, "C": 64, "P": 56, "Q": 56, "R": 3,
     "S": 3, "stride": 1},
    {"name": "r18.layer2.0.downsample", "kind": "conv", "K": 128, "C": 64, "P": 28, "Q": 28,
     "R": 1, "S": 1, "stride": 2},
    {"name": "gemm256", "kind": "gemm", "M": 256, "N": 256, "K": 256},
]  # fmt: skip


def venv_python(peer: str) -> Path:
    """The peer's venv interpreter, created and installed on first use."""
    py = VENVS / peer / "bin" / "python"
    if not py.exists():
        print(f"creating {VENVS / peer} ({' '.join(PEERS[peer])}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENVS / peer)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PEERS[peer]], check=True)
    return py


def run_peer(peer: str, *args: str) -> dict:
    out = subprocess.run(
        [str(venv_python(peer)), str(HERE / f"{peer}_runner.py"), *args],
        capture_output=True,
        text=True,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{peer} failed on {args[0]}: {out.stderr[-2000:]}")
    return json.loads(lines[-1])


def nest_of(spec: dict):
    from codesign.workload import conv2d, matmul

    if spec["kind"] == "gemm":
        return matmul(spec["name"], m=spec["M"], n=spec["N"], k=spec["K"])
    s = spec["stride"]
    return conv2d(
        spec["name"],
        in_channels=spec["C"],
        out_channels=spec["K"],
        input_size=((spec["P"] - 1) * s + spec["R"], (spec["Q"] - 1) * s + spec["S"]),
        kernel_size=(spec["R"], spec["S"]),
        stride=s,
    )


def run_codesign(nest, arch, objective: str, budget: int) -> dict:
    from codesign.explore import LocalSearchMapper

    t0 = time.perf_counter()
    r = LocalSearchMapper(objective=objective, budget=budget, seed=0).map(nest, arch)
    wall = time.perf_counter() - t0
    return {
        "tool": "codesign",
        "latency_cycles": r.cycles,
        "energy_pj": r.energy_pj,
        "wall_s": wall,
        "evaluations": r.evaluations,
        "evals_per_s": r.evaluations / wall,
    }


def arch_for(dataflow: str, rows: int, cols: int, dram: int):
    from codesign.explore import build_architecture
    from codesign.workload import matmul

    params = {
        "pe_rows": rows,
        "pe_cols": cols,
        "dataflow": dataflow,
        "dram_bw_bits_per_cycle": dram,
    }
    return build_architecture(params, [matmul("x", m=1, n=1, k=1)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the GEMM and the 1x1 conv")
    ap.add_argument("--budget", type=int, default=3000, help="codesign mapper evaluations")
    args = ap.parse_args()
    layers = LAYERS[1:] if args.quick else LAYERS
    rows = []

    def num(value: float | None, fmt: str, width: int) -> str:
        return " " * width if value is None else format(value, fmt).rjust(width)

    def show(row: dict) -> None:
        rows.append(row)
        e = row.get("energy_pj")
        print(
            f"{row['layer']:<24}{row['setup']:<22}{row['tool']:<10}"
            + num(row["latency_cycles"], ",.0f", 12)
            + num(None if e is None else e / 1e6, ".2f", 12)
            + num(row["wall_s"], ".2f", 9)
            + num(row.get("evals_per_s"), ".3g", 12)
            + num(row.get("latency_ratio"), ".3f", 9)
            + num(row.get("energy_ratio"), ".3f", 9),
            flush=True,
        )

    print(
        f"{'layer':<24}{'setup':<22}{'tool':<10}{'cycles':>12}{'energy uJ':>12}{'wall s':>9}"
        f"{'evals/s':>12}{'lat x':>9}{'energy x':>9}"
    )
    for spec in layers:
        nest = nest_of(spec)
        # ZigZag tpu_like (32x32 WS) vs codesign ws32x32, both minimizing EDP
        zz = run_peer("zigzag", json.dumps(spec))
        cs = run_codesign(nest, arch_for("ws", 32, 32, 64), "edp", args.budget)
        show({"layer": spec["name"], "setup": "tpu_like 32x32 ws", **zz, "evals_per_s": None})
        show({
            "layer": spec["name"], "setup": "tpu_like 32x32 ws", **cs,
            "latency_ratio": cs["latency_cycles"] / zz["latency_cycles"],
            "energy_ratio": cs["energy_pj"] / zz["energy_pj"],
        })  # fmt: skip
        for side in (16, 32):
            for df in ("os", "ws", "is"):
                ss = run_peer("scalesim", json.dumps(spec), str(side), str(side), df)
                cs = run_codesign(nest, arch_for(df, side, side, 1024), "latency", args.budget)
                setup = f"scalesim {side}x{side} {df}"
                show({"layer": spec["name"], "setup": setup, **ss,
                      "evals_per_s": 1.0 / ss["wall_s"]})  # fmt: skip
                show({"layer": spec["name"], "setup": setup, **cs,
                      "latency_ratio": cs["latency_cycles"] / ss["latency_cycles"]})  # fmt: skip
    print(json.dumps({"benchmark": "peers", "codesign_budget": args.budget, "rows": rows}))


if __name__ == "__main__":
    main()
