"""``codesign explore MODULE_PATH:FACTORY --space space.yaml --objectives latency,energy,area
--strategy nsga2 --budget 500 --jobs 2 --store runs/r18.db --out runs/r18/``.

Joint search of the hardware (array shape, dataflow, buffers, bandwidth, clock) and the per-layer
quantization and pruning of a PyTorch model: every layer is mapped per design point, results go
to a SQLite store (``--resume`` continues an interrupted run without re-evaluating), and the
Pareto front is printed and written to ``OUT/pareto.csv``, ``OUT/pareto.json``,
``OUT/pareto.png``, ``OUT/pareto_layers.json`` (each Pareto point's per-layer cost breakdown,
`codesign.explore.breakdown`), ``OUT/best.json`` (the knee point as a `DesignPoint`) and
``OUT/best_layers.png`` and ``OUT/best_layers.csv`` (its per-layer breakdown: MAC layers on the
array, non-MAC operators on the vector unit or, for a buildable point, the host).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from codesign.errors import SpecError
from codesign.validation import (
    MAX_SAMPLES,
    check_output_dir,
    check_output_file,
    float_option,
    int_option,
)

__all__ = ["HELP", "add_arguments", "run"]

HELP = "joint design-space exploration of accelerator, mapping and quantization"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from codesign.explore.executor import EXECUTORS
    from codesign.explore.mapper import MAPPER_OBJECTIVES, MAPPERS
    from codesign.explore.strategy import STRATEGIES

    parser.add_argument(
        "model",
        metavar="MODULE_PATH:FACTORY",
        help="a Python file and a function in it returning an nn.Module or (module, inputs)",
    )
    parser.add_argument(
        "--input-shape",
        action="append",
        metavar="D0,D1,...",
        help="shape of a random example input (repeat for several); default: the factory's",
    )
    parser.add_argument(
        "--space", required=True, metavar="YAML", help="design space file (strict YAML)"
    )
    parser.add_argument(
        "--objectives",
        default="latency,energy,area",
        help="comma-separated objectives: latency, cycles, energy, area, edp, accuracy, "
        "accuracy_drop (default: %(default)s)",
    )
    parser.add_argument("--strategy", choices=STRATEGIES, default="nsga2")
    parser.add_argument(
        "--budget", type=int_option(1, MAX_SAMPLES), default=200, help="design points to evaluate"
    )
    parser.add_argument(
        "--seed", type=int_option(0, 2**32 - 1), default=0, help="seed of the strategy and mapper"
    )
    parser.add_argument(
        "--batch-size",
        type=int_option(1, 10_000),
        default=16,
        help="points asked per round (part of the study: results do not depend on --jobs)",
    )
    parser.add_argument(
        "--population",
        type=int_option(2, 10_000),
        default=32,
        help="NSGA-II population size (default: 32)",
    )
    parser.add_argument("--executor", choices=EXECUTORS, default="process")
    parser.add_argument(
        "--jobs", type=int_option(1, 1024), default=2, help="worker processes / Ray CPUs"
    )
    parser.add_argument(
        "--ray-address", metavar="ADDRESS", help="Ray cluster address (default: a local runtime)"
    )
    parser.add_argument("--mapper", choices=MAPPERS, default="local")
    parser.add_argument(
        "--mapper-budget",
        type=int_option(1, MAX_SAMPLES),
        default=500,
        help="mappings evaluated per distinct layer",
    )
    parser.add_argument("--mapper-objective", choices=MAPPER_OBJECTIVES, default="edp")
    positive = float_option(0.0, 1e30, open_minimum=True)
    parser.add_argument("--max-area-mm2", type=positive, help="constraint (overrides the space)")
    parser.add_argument("--max-latency-s", type=positive, help="constraint (overrides the space)")
    parser.add_argument(
        "--min-accuracy", type=float_option(0.0, 1.0), help="constraint (overrides the space)"
    )
    parser.add_argument(
        "--dataset", default="auto", help="accuracy data set for evaluate_policy (default: auto)"
    )
    parser.add_argument("--store", metavar="DB", help="SQLite result store (default: OUT/study.db)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the study in --store without re-evaluating"
    )
    parser.add_argument("--out", default="explore_out", metavar="DIR", help="output folder")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (for logs and CI)"
    )


def _workload_layers(args: argparse.Namespace):
    from codesign.workload.command import load_model_and_inputs
    from codesign.workload.frontend import from_torch

    module, inputs = load_model_and_inputs(args.model, args.input_shape)
    workload = from_torch(module, *inputs, name=args.model.rpartition(":")[2])
    layers = workload.loop_nests
    if not layers:
        raise SpecError(f"model {args.model!r} has no MAC layers (convolutions, linear, matmul)")
    return module, layers, workload.other_ops, workload.schedule


def _write_layer_csv(path: Path, rows: list[dict]) -> None:
    import csv

    with path.open("w", newline="") as f:
        w = csv.DictWriter(
            f, ["name", "kind", "unit", "macs", "element_ops", "cycles", "energy_pj"]
        )
        w.writeheader()
        w.writerows(rows)


def _non_mac_summary(point) -> str:
    """One line on the knee's non-MAC operators: their share of latency and energy and the
    costliest categories (or, on a buildable point, that the host runs them)."""
    ops = [v for v in point.vector_layers if v.category != "view"]
    if not ops:
        return "knee: no non-MAC operators"
    work = sum(v.element_ops for v in ops)
    if point.buildable:
        return (
            f"knee: {len(ops)} non-MAC operators ({work:,} element ops) run on the host "
            f"runtime, not on the accelerator: latency_cycles covers the MAC layers only"
        )
    m = point.metrics
    by_kind: dict[str, float] = {}
    for v in ops:
        by_kind[v.category] = by_kind.get(v.category, 0) + v.cycles
    top = ", ".join(
        f"{k} {c:,.0f}" for k, c in sorted(by_kind.items(), key=lambda kv: -kv[1])[:3]
    )
    return (
        f"knee: {len(ops)} non-MAC operators on the {point.arch.vector.lanes}-lane vector unit: "
        f"{m['vector_cycles']:,.0f} cycles ({m['vector_cycles'] / m['latency_cycles']:.1%} of "
        f"latency; {top}), {m['vector_energy_pj'] * 1e-6:,.2f} uJ "
        f"({m['vector_energy_pj'] / m['energy_pj']:.1%} of energy)"
    )


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _pareto_table(result, varying: list[str], target: str, clock: str = "assumed"):
    from rich.table import Table

    from codesign.explore.pareto import BUILD_LABELS

    same = {
        name: value
        for name, value in result.pareto[0].params.items()
        if name not in varying and all(r.params[name] == value for r in result.pareto)
    }
    table = Table(
        title=f"Pareto front: {len(result.pareto)} of {len(result.feasible)} feasible "
        f"(build: {BUILD_LABELS[target]})",
        caption=f"clock: {clock}"
        + ("; every point: " + ", ".join(f"{k}={v}" for k, v in same.items()) if same else ""),
    )
    metrics = ["latency_s", "energy_pj", "area_mm2", "edp_pj_s", "utilization"]
    if clock != "assumed":  # each point's own clock
        metrics.insert(1, "clock_mhz")
    metrics += [o.metric for o in result.objectives if o.metric not in metrics]
    if any("accuracy" in r.metrics for r in result.pareto) and "accuracy" not in metrics:
        metrics.append("accuracy")
    for name in ["", *varying, *metrics]:
        table.add_column(name, justify="right" if name in metrics else "left")
    for r in sorted(result.pareto, key=lambda r: r.metrics[result.objectives[0].metric]):
        mark = "knee" if r is result.knee else ""
        table.add_row(
            mark,
            *[_fmt(r.params[p]) for p in varying],
            *[_fmt(r.metrics.get(m, "")) for m in metrics],
        )
    return table


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from codesign.explore.breakdown import write_breakdowns
    from codesign.explore.buildable import AcceleratorEvaluator
    from codesign.explore.design import AccuracyObjective, DesignEvaluator
    from codesign.explore.executor import check_ray_address, make_executor
    from codesign.explore.explorer import explore
    from codesign.explore.pareto import (
        clock_label,
        objective_matrix,
        parse_objectives,
        write_csv,
        write_json,
    )
    from codesign.explore.space import Constraints, load_space
    from codesign.explore.store import open_store
    from codesign.explore.strategy import make_strategy
    from codesign.report import plot_layer_breakdown, plot_pareto

    if args.ray_address is not None and args.executor != "ray":
        raise SpecError(f"--ray-address applies to --executor ray, not to {args.executor!r}")
    if args.ray_address is not None:
        check_ray_address(args.ray_address)  # before any work: ray.init would wait for minutes
    out = check_output_dir(args.out, "--out")
    store_path = check_output_file(args.store, "--store") if args.store else out / "study.db"
    objectives = parse_objectives(args.objectives)
    space = load_space(args.space)
    limits = {
        **space.constraints.to_dict(),
        **{
            k: getattr(args, k)
            for k in ("max_area_mm2", "max_latency_s", "min_accuracy")
            if getattr(args, k) is not None
        },
    }
    module, layers, others, schedule = _workload_layers(args)
    space = dataclasses.replace(
        space.expand(n.name for n in layers), constraints=Constraints(**limits)
    )
    wants_accuracy = any(o.metric.startswith("accuracy") for o in objectives) or (
        space.constraints.min_accuracy is not None
    )
    add_metrics = None
    if wants_accuracy:
        from codesign.quant.model import quantizable_layers

        # the accuracy model quantizes Conv/Linear modules; a matmul of activations (attention)
        # or a functional linear (MultiheadAttention's in-projection) stays float there
        modules = set(quantizable_layers(module))
        covered = [n.name for n in layers if n.name in modules]
        add_metrics = AccuracyObjective(args.model, covered, dataset=args.dataset)
    # the non-MAC operators are part of every point's cost: a study of another workload's
    # operators must not be resumed
    work = [n.shape_key() for n in layers] + [
        (op.category, op.element_ops, op.input_shapes, op.output_shape) for op in others
    ]
    layer_sig = hashlib.sha256(repr(work).encode()).hexdigest()[:16]
    study = {
        "model": args.model,
        "layers": layer_sig,
        "space": space.to_dict(),
        "objectives": [o.name for o in objectives],
        "strategy": args.strategy,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "population": args.population,
        "mapper": [args.mapper, args.mapper_budget, args.mapper_objective],
        "dataset": args.dataset if wants_accuracy else None,
    }
    store = open_store(store_path, resume=args.resume)
    if space.target == "accelerator":
        evaluator = AcceleratorEvaluator(
            layers, others, mapper_objective=args.mapper_objective, fpga=space.fpga
        )
    else:
        evaluator = DesignEvaluator(
            layers,
            others,
            mapper=args.mapper,
            mapper_objective=args.mapper_objective,
            mapper_budget=args.mapper_budget,
            seed=args.seed,
        )
    err = Console(stderr=True)
    executor = None
    try:
        store.bind(study)
        strategy = make_strategy(
            args.strategy,
            space,
            n_objectives=len(objectives),
            seed=args.seed,
            population_size=args.population,
        )
        executor = make_executor(
            args.executor, evaluator, jobs=args.jobs, ray_address=args.ray_address
        )
        err.print(
            f"exploring {len(layers)} layers x {space.size:.3g} design points "
            f"({len(space.axes)} axes), strategy {args.strategy}, budget {args.budget}, "
            f"store {store_path}"
        )
        progress = Progress(
            TextColumn("[bold]explore"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err,
            disable=args.no_progress,
        )
        with progress:
            task = progress.add_task("explore", total=args.budget, best="")

            def on_progress(p) -> None:
                best = " ".join(
                    f"{o.name}={_fmt(p.best[o.metric])}" for o in objectives if o.metric in p.best
                )
                progress.update(task, completed=p.done, best=f"best {best}" if best else "")

            result = explore(
                space=space,
                objectives=objectives,
                strategy=strategy,
                store=store,
                executor=executor,
                budget=args.budget,
                batch_size=args.batch_size,
                add_metrics=add_metrics,
                on_progress=on_progress,
            )
            progress.update(task, completed=min(args.budget, len(result.records)))
    except KeyboardInterrupt:
        err.print(f"interrupted: the evaluated points are in {store_path}; continue with --resume")
        return 130
    finally:
        if executor is not None:
            executor.close()
        store.close()

    varying = [
        a.name for a in space.axes if len({str(r.params[a.name]) for r in result.pareto}) > 1
    ]
    clock = clock_label(space.fpga)
    Console(width=None if sys.stdout.isatty() else 200).print(
        _pareto_table(result, varying, space.target, clock)
    )
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "pareto.csv", result.pareto, target=space.target, clock=clock)
    write_json(out / "pareto.json", result.pareto, target=space.target, clock=clock)
    write_csv(out / "all.csv", result.records, target=space.target, clock=clock)
    if len(objectives) >= 2:
        sign = np.array([1.0 if o.minimize else -1.0 for o in objectives])
        front = objective_matrix(result.pareto, objectives) * sign
        plot_pareto(
            out / "pareto.png",
            all_values=objective_matrix(result.feasible, objectives) * sign,
            front_values=front,
            labels=[o.metric for o in objectives],
            knee=list(result.pareto).index(result.knee),
            title=f"{args.model.rpartition(':')[2]}: {len(result.feasible)} feasible points",
        )
    best = evaluator.design_point(result.knee.params)
    best = dataclasses.replace(best, metrics={**best.metrics, **result.knee.metrics})
    best.save(out / "best.json")
    write_breakdowns(out / "pareto_layers.json", evaluator, result.pareto, layers, schedule)
    rows = best.layer_rows(schedule)
    _write_layer_csv(out / "best_layers.csv", rows)
    shown = [r for r in rows if r["unit"] != "host"]
    plot_layer_breakdown(
        out / "best_layers.png",
        layers=[r["name"] for r in shown],
        latency_cycles=[r["cycles"] for r in shown],
        energy_pj=[r["energy_pj"] for r in shown],
        kinds=[r["kind"] for r in shown],
        title=f"knee point: {best.arch.name}",
    )
    print(_non_mac_summary(best))
    summary = {
        "evaluated": result.evaluated,
        "reused": result.reused,
        "feasible": len(result.feasible),
        "pareto": len(result.pareto),
        "wall_s": round(result.wall_s, 2),
    }
    if result.stopped:
        err.print(f"note: {result.stopped}")
    print(json.dumps(summary), file=sys.stderr)
    print(
        f"wrote {out}/pareto.csv, pareto.json, pareto.png, pareto_layers.json, all.csv, "
        f"best.json, best_layers.png, best_layers.csv"
    )
    if not best.buildable:
        print(
            "best.json is a model-only point (target: model): `codesign generate` builds only "
            "points of a `target: accelerator` space"
        )
    return 0
