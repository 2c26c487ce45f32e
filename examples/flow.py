"""The demo's loop in Python: model -> workload -> buildable joint exploration with accuracy ->
knee -> its accelerator RTL -> the whole network on the RTL (cocotb) -> Yosys.

Run from the repository root: ``.venv/bin/python examples/flow.py [OUT_DIR [SPACE_YAML]]``
(a small budget, about a minute on 2 cores, most of it Yosys). ``codesign demo`` runs the same
stages with a report.
"""

import sys
from pathlib import Path

from codesign.hw import export_accelerator
from codesign.sim import load_accelerator
from codesign.sim.network import verify_network

from codesign.accel import NetworkPlan
from codesign.explore import (
    AcceleratorEvaluator,
    AccuracyObjective,
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


def main(out: Path, space_file: str = "examples/space_accel.yaml") -> None:
    # 1. workload: every MAC layer as a loop nest
    module, inputs = load_model(MODEL)
    layers = from_torch(module, *inputs).loop_nests
    print(f"{len(layers)} MAC layers, {sum(n.macs for n in layers):,} MACs")

    # 2. joint exploration of a buildable space (target: accelerator): array, dataflow, buffers,
    # bus, per-layer weight bits, accuracy in the loop; every point is an accelerator
    space = load_space(space_file).expand(n.name for n in layers)
    objectives = parse_objectives("latency,energy,area,accuracy")
    evaluator = AcceleratorEvaluator(layers)
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
    knee.save(out / "best.json")

    # 3. the knee's accelerator, and the whole quantized network on it (2 held-out digits)
    rtl = out / "rtl"
    plan = NetworkPlan.from_design_json(knee.to_dict())
    export_accelerator(knee.accelerator, rtl, force=True, network=plan)
    check = verify_network(load_accelerator(rtl), MODEL, images=2)
    print(
        f"the network on the RTL: passed={check.passed}, cycles {check.cycles_measured_total} "
        f"measured vs {check.cycles_predicted_total} predicted"
    )

    # 4. area
    area = synthesize(rtl, "generic")
    print(f"Yosys: {area.cells} cells, {area.ffs} flip-flops")
    if not check.passed:
        raise SystemExit("verification failed")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/flow"), *sys.argv[2:3])
