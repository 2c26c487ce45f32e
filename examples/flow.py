"""The demo's loop in Python: model -> workload -> joint exploration with accuracy -> knee ->
RTL -> cocotb verification of a real layer -> Yosys.

Run from the repository root: ``.venv/bin/python examples/flow.py [OUT_DIR [SPACE_YAML]]``
(a small budget, about a minute on 2 cores, most of it Yosys). ``codesign demo`` runs the same
stages with a report.
"""

import sys
from pathlib import Path

from codesign.hw import SystolicConfig, export_verilog
from codesign.sim import load_design, verify_layer

from codesign.explore import (
    AccuracyObjective,
    DesignEvaluator,
    MemoryStore,
    explore,
    load_space,
    make_executor,
    make_strategy,
    parse_objectives,
)
from codesign.synth import synthesize
from codesign.workload import from_torch, load_model

MODEL = "examples/models.py:digits_cnn"


def main(out: Path, space_file: str = "examples/space.yaml") -> None:
    # 1. workload: every MAC layer as a loop nest
    module, inputs = load_model(MODEL)
    layers = from_torch(module, *inputs).loop_nests
    print(f"{len(layers)} MAC layers, {sum(n.macs for n in layers):,} MACs")

    # 2. joint exploration: array, dataflow, buffers, per-layer weight bits, accuracy in the loop
    space = load_space(space_file).expand(n.name for n in layers)
    objectives = parse_objectives("latency,energy,area,accuracy")
    evaluator = DesignEvaluator(layers, mapper="local", mapper_budget=200, seed=0)
    executor = make_executor("serial", evaluator, jobs=1)
    try:
        result = explore(
            space=space,
            objectives=objectives,
            strategy=make_strategy("nsga2", space, n_objectives=4, seed=0, population_size=8),
            store=MemoryStore(),
            executor=executor,
            budget=16,
            batch_size=8,
            add_metrics=AccuracyObjective(MODEL, [n.name for n in layers]),
        )
    finally:
        executor.close()
    knee = evaluator.design_point(result.knee.params)
    print(f"Pareto front: {len(result.pareto)} points; knee {result.knee.params}")
    best = knee.save(out / "best.json")

    # 3. RTL of the knee point, and a real layer of the quantized model through it
    rtl = out / "rtl"
    export_verilog(SystolicConfig.from_design_json(best), rtl, force=True)
    check = verify_layer(load_design(rtl), f"{MODEL}:conv2")
    print(
        f"conv2 on the RTL: passed={check.passed}, cycles {check.cycles_measured} "
        f"measured vs {check.cycles_predicted} predicted"
    )

    # 4. area
    area = synthesize(rtl, "generic")
    print(f"Yosys: {area.cells} cells, {area.ffs} flip-flops")
    if not check.passed:
        raise SystemExit("verification failed")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/flow"), *sys.argv[2:3])
