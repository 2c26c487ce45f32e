"""FPGA area calibration: a Yosys sweep of generated arrays, a least-squares fit of the area
model in ``codesign.arch.fpga_area`` and the fitted table it ships.

The sweep exports each array (``codesign.hw.export_verilog``), synthesizes it with
``codesign.synth.synthesize`` and caches the counts in ``--cache`` (a re-run only synthesizes
the points it has not seen). Groups (one fit each):

* ``xilinx/ws/dsp`` and ``xilinx/os/dsp``: ``synth_xilinx`` with DSP48E1 inference, operand
  pairs whose product Yosys maps to a DSP (``act_bits + weight_bits >= 9``);
* ``xilinx/ws/lut``: ``synth_xilinx -nodsp`` (LUT multipliers); it also holds the DSP-flow
  runs of operand pairs below Yosys' DSP threshold (their netlist has no DSP);
* ``ice40/ws/lut`` (``--ice40``): ``synth_ice40`` without DSPs, small arrays only (slow).

The runs of ``HOLDOUT`` (shapes and widths outside the sweep) are not fitted: their errors
(``holdout_max_rel``) and the leave-one-out errors (``loo_max_rel``, each sweep point predicted
by a fit of the others) show how well the model generalizes.

Prints every point with its estimate and relative error, the coefficients and the max/mean
fit error per group and resource; writes ``codesign/arch/fpga_area.json`` (``--out``); the
last printed line is one JSON object with the fit figures.

Usage: ``python benchmarks/calibrate_area.py [--cache build/calibrate_area/cache.json]
[--out codesign/arch/fpga_area.json] [--fit-only] [--ice40] [--timeout-s 600]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = [(2, 2), (4, 4), (4, 8), (8, 4), (8, 8), (3, 5), (6, 3), (5, 6)]
# (act_bits, weight_bits, acc_bits); every one is wide enough for rows <= 8; accumulator widths
# vary at fixed operand widths so that the fit can tell the accumulator from the multiplier
DSP_WIDTHS = [(8, 8, 32), (8, 8, 24), (6, 6, 20), (8, 4, 20), (4, 8, 20)]
LUT_WIDTHS = [(4, 4, 16), (6, 6, 20), (8, 8, 32), (8, 4, 20), (4, 8, 20), (4, 4, 32), (8, 8, 20)]
OS_WIDTHS = [(8, 8, 32), (6, 6, 24), (8, 4, 20), (4, 8, 20), (8, 8, 24)]
# Validation runs, not fitted: shapes and widths outside the sweep (holdout error)
HOLDOUT = [
    ("xilinx", "ws", True, (7, 5), (8, 8, 24)),
    ("xilinx", "ws", True, (6, 6), (7, 7, 24)),
    ("xilinx", "ws", True, (5, 3), (6, 8, 20)),
    ("xilinx", "ws", False, (5, 3), (5, 5, 16)),
    ("xilinx", "ws", False, (6, 6), (6, 4, 20)),
    ("xilinx", "os", True, (7, 5), (8, 8, 32)),
    ("xilinx", "os", True, (6, 6), (7, 7, 24)),
    ("ice40", "ws", False, (3, 4), (5, 5, 16)),
]
ICE40_SIZES = [(2, 2), (2, 4), (4, 2), (3, 3), (4, 4)]
ICE40_WIDTHS = [(4, 4, 16), (6, 6, 20), (8, 8, 32), (4, 8, 20), (4, 4, 32)]


def sweep_points(ice40: bool) -> list[dict]:
    """Every run of the sweep: target, dataflow, use_dsp and the array parameters."""
    pts = []

    def add(target, dataflow, use_dsp, sizes, widths):
        for rows, cols in sizes:
            for a, w, acc in widths:
                pts.append(
                    {
                        "target": target,
                        "dataflow": dataflow,
                        "use_dsp": use_dsp,
                        "rows": rows,
                        "cols": cols,
                        "act_bits": a,
                        "weight_bits": w,
                        "acc_bits": acc,
                    }
                )

    add("xilinx", "ws", True, SIZES, DSP_WIDTHS + [(4, 4, 16)])
    add("xilinx", "ws", False, SIZES, LUT_WIDTHS)
    add("xilinx", "os", True, SIZES, OS_WIDTHS)
    if ice40:
        add("ice40", "ws", False, ICE40_SIZES, ICE40_WIDTHS)
    for target, dataflow, use_dsp, size, width in HOLDOUT:
        if ice40 or target != "ice40":
            add(target, dataflow, use_dsp, [size], [width])
    return pts


def is_holdout(p: dict) -> bool:
    """Whether a cached run is a validation run (`HOLDOUT`)."""
    shape = ((p["rows"], p["cols"]), (p["act_bits"], p["weight_bits"], p["acc_bits"]))
    return (p["target"], p["dataflow"], p["use_dsp"], *shape) in HOLDOUT


def point_key(p: dict) -> str:
    dsp = "dsp" if p["use_dsp"] else "nodsp"
    return (
        f"{p['target']}/{p['dataflow']}/{dsp}/{p['rows']}x{p['cols']}/"
        f"a{p['act_bits']}w{p['weight_bits']}acc{p['acc_bits']}"
    )


def run_point(p: dict, timeout_s: float) -> dict:
    """Export and synthesize one point; the measured counts."""
    from codesign.hw import SystolicConfig, export_verilog

    from codesign.synth import synthesize

    cfg = SystolicConfig(
        rows=p["rows"],
        cols=p["cols"],
        act_bits=p["act_bits"],
        weight_bits=p["weight_bits"],
        acc_bits=p["acc_bits"],
        dataflow=p["dataflow"],
    )
    with tempfile.TemporaryDirectory(prefix="calib-") as tmp:
        export_verilog(cfg, tmp, force=True)
        res = synthesize(tmp, p["target"], use_dsp=p["use_dsp"], write=False, timeout_s=timeout_s)
    return {
        **p,
        "luts": res.luts,
        "ffs": res.ffs,
        "dsps": res.dsps,
        "carries": res.carries,
        "brams": res.brams,
        "cells": res.cells,
        "seconds": res.seconds,
        "tool_version": res.tool_version,
    }


def do_sweep(cache_path: Path, ice40: bool, timeout_s: float) -> dict[str, dict]:
    cache: dict[str, dict] = {}
    if cache_path.is_file():
        cache = json.loads(cache_path.read_text())
    for p in sweep_points(ice40):
        key = point_key(p)
        if key in cache:
            continue
        start = time.perf_counter()
        try:
            cache[key] = run_point(p, timeout_s)
        except Exception as exc:  # a failed or timed-out run is reported, not fitted
            print(f"FAILED {key}: {exc}", flush=True)
            continue
        r = cache[key]
        print(
            f"{key}: luts={r['luts']} ffs={r['ffs']} dsps={r['dsps']} carries={r['carries']} "
            f"({time.perf_counter() - start:.1f} s)",
            flush=True,
        )
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=1) + "\n")
        os.replace(tmp, cache_path)
    return cache


DSP_FEATURES = [
    "array",
    "pe",
    "pe_act_bits",
    "pe_weight_bits",
    "pe_acc_bits",
    "rows",
    "cols",
    "rows_act_bits",
    "cols_weight_bits",
    "cols_acc_bits",
    "row_skew_act_bits",
    "col_skew_weight_bits",
    "col_skew_acc_bits",
]
LUT_FEATURES = DSP_FEATURES[:5] + ["pe_act_x_weight_bits"] + DSP_FEATURES[5:]
# the output-stationary array drains its accumulators row by row: no de-skew triangle
OS_FEATURES = [f for f in DSP_FEATURES if f != "col_skew_acc_bits"]


def group_points(cache: dict[str, dict], holdout: bool = False) -> dict[str, list[dict]]:
    """Cached runs by fitted group (``target/dataflow/multipliers``): the sweep points, or the
    validation runs when ``holdout``."""
    from codesign.arch.fpga_area import multiplier_kind

    groups: dict[str, list[dict]] = {}
    for key in sorted(cache):
        r = cache[key]
        if is_holdout(r) != holdout:
            continue
        kind = multiplier_kind(r["target"], r["act_bits"], r["weight_bits"], r["use_dsp"])
        if kind == "lut" and (r["dsps"] or 0) != 0:
            raise SystemExit(f"{key}: expected LUT multipliers, Yosys used {r['dsps']} DSPs")
        point = {
            k: r[k]
            for k in ("rows", "cols", "act_bits", "weight_bits", "acc_bits", "use_dsp", "luts")
        }
        point.update(ffs=r["ffs"], dsps=r["dsps"] or 0)
        groups.setdefault(f"{r['target']}/{r['dataflow']}/{kind}", []).append(point)
    return groups


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _shape(p: dict) -> tuple[int, ...]:
    return tuple(p[k] for k in ("rows", "cols", "act_bits", "weight_bits", "acc_bits"))


def leave_one_out(points: list[dict], feats: list[str]) -> dict[str, float]:
    """Max relative error of each point predicted by a fit of the other points (how well the
    model generalizes; ``None`` when fewer points than features remain)."""
    from codesign.arch.fpga_area import RESOURCES, features, fit, relative_error

    worst: dict[str, float | None] = dict.fromkeys(RESOURCES, 0.0)
    if len(points) <= len(feats):
        return dict.fromkeys(RESOURCES, None)
    for i, p in enumerate(points):
        coefficients, _ = fit(points[:i] + points[i + 1 :], feats)
        x = features(feats, *_shape(p))
        for r in RESOURCES:
            est = max(0, round(sum(coefficients[r][f] * v for f, v in zip(feats, x, strict=True))))
            worst[r] = max(worst[r], relative_error(est, p[r]))
    return worst


def fit_and_write(cache: dict[str, dict], out: Path) -> int:
    import amaranth

    from codesign.arch.fpga_area import (
        RESOURCES,
        TABLE_FORMAT_VERSION,
        GroupFit,
        fit,
        relative_error,
    )

    tools = sorted({r["tool_version"] for r in cache.values()})
    if len(tools) != 1:
        raise SystemExit(f"the cached runs come from several Yosys versions: {tools}")
    table_groups = {}
    summary = {}
    holdouts = group_points(cache, holdout=True)
    for name, points in group_points(cache).items():
        target, dataflow, kind = name.split("/")
        if dataflow == "os":
            feats = (
                OS_FEATURES
                if kind == "dsp"
                else OS_FEATURES[:5] + LUT_FEATURES[5:6] + OS_FEATURES[5:]
            )
        else:
            feats = DSP_FEATURES if kind == "dsp" else LUT_FEATURES
        coefficients, errors = fit(points, feats)
        loo = leave_one_out(points, feats)
        for r in RESOURCES:
            errors[r]["loo_max_rel"] = loo[r]
        held = holdouts.get(name, [])
        group = GroupFit(
            name=name,
            target=target,
            dataflow=dataflow,
            multipliers=kind,
            features=tuple(feats),
            coefficients=coefficients,
            fit_error=errors,
            points=tuple(points),
            holdout=tuple(held),
        )
        for r in RESOURCES:
            rel = [relative_error(group.predict(r, *_shape(p)), p[r]) for p in held]
            errors[r]["holdout_max_rel"] = max(rel) if rel else None
        print(f"\n== {name}: {len(points)} points ==")
        print(f"{'point':<34}" + "".join(f"{r:>10} {'est':>7} {'err':>6}" for r in RESOURCES))
        for p in [*points, *held]:
            shape = _shape(p)
            label = "{}x{} a{}w{}acc{}".format(*shape) + ("" if p["use_dsp"] else " nodsp")
            label += " (holdout)" if p in held else ""
            cells = ""
            for r in RESOURCES:
                e = group.predict(r, *shape)
                cells += f"{p[r]:>10} {e:>7} {relative_error(e, p[r]):>6.1%}"
            print(f"{label:<34}{cells}")
        for r in RESOURCES:
            coef = ", ".join(f"{f}={v:.4g}" for f, v in coefficients[r].items() if abs(v) > 1e-9)
            print(
                f"{r}: max error {errors[r]['max_rel']:.2%}, mean {errors[r]['mean_rel']:.2%}, "
                f"leave-one-out max {_pct(errors[r]['loo_max_rel'])}, "
                f"holdout max {_pct(errors[r]['holdout_max_rel'])}; "
                f"{coef}"
            )
        table_groups[name] = {f: getattr(group, f) for f in GroupFit.__slots__ if f != "name"}
        summary[name] = {"points": len(points), **errors}
    table = {
        "format_version": TABLE_FORMAT_VERSION,
        "description": (
            "FPGA area of codesign.hw arrays fitted to Yosys by benchmarks/calibrate_area.py: "
            "count = sum(coefficients[resource][f] * feature_f), see codesign.arch.fpga_area"
        ),
        "tool_version": tools[0],
        "generator": {"name": "codesign.hw", "amaranth": amaranth.__version__},
        "groups": table_groups,
    }
    out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"\nwrote {out}")
    seconds = round(sum(r["seconds"] for r in cache.values()), 1)
    print(
        json.dumps(
            {
                "tool_version": tools[0],
                "points": len(cache),
                "yosys_seconds": seconds,
                "fit_error": summary,
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(ROOT / "build/calibrate_area/cache.json"))
    ap.add_argument("--out", default=str(ROOT / "codesign/arch/fpga_area.json"))
    ap.add_argument("--fit-only", action="store_true", help="fit the cached points only")
    ap.add_argument("--sweep-only", action="store_true", help="synthesize, do not fit")
    ap.add_argument("--ice40", action="store_true", help="also sweep small ice40 arrays")
    ap.add_argument("--timeout-s", type=float, default=600.0)
    args = ap.parse_args(argv)
    cache_path = Path(args.cache)
    if args.fit_only:
        cache = json.loads(cache_path.read_text())
    else:
        cache = do_sweep(cache_path, args.ice40, args.timeout_s)
    if args.sweep_only:
        return 0
    wanted = {point_key(p) for p in sweep_points(args.ice40)}
    missing = sorted(wanted - set(cache))
    if missing:
        print(f"not fitted ({len(missing)} runs missing or failed): {', '.join(missing)}")
    return fit_and_write({k: v for k, v in cache.items() if k in wanted}, Path(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
