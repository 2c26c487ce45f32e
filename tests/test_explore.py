"""The exploration loop, Pareto front, knee, export, resume after a kill, and executors."""

import itertools
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from codesign.errors import SpecError
from codesign.explore import (
    Axis,
    Constraints,
    DesignSpace,
    MemoryStore,
    SQLiteStore,
    clock_label,
    explore,
    knee_index,
    make_executor,
    make_strategy,
    pareto_indices,
    parse_objectives,
    write_csv,
    write_json,
)

SPACE = DesignSpace(
    axes=(
        Axis(name="pe_rows", values=(2, 4, 8, 16, 32)),
        Axis(name="pe_cols", values=(2, 4, 8, 16, 64)),
        Axis(name="dataflow", values=("ws", "os")),
    )
)


def synthetic(params):
    """A closed-form stand-in for the hardware evaluation: latency falls and area grows with
    the PE count; the output-stationary variant is 20 % slower and 10 % smaller."""
    if params["pe_rows"] == 2 and params["pe_cols"] == 64:
        raise SpecError("no valid mapping for a 2x64 array")
    pes = params["pe_rows"] * params["pe_cols"]
    os_ = params["dataflow"] == "os"
    return {
        "latency_s": (1.2 if os_ else 1.0) / pes,
        "area_mm2": (0.9 if os_ else 1.0) * 0.01 * pes,
        "energy_pj": 100.0 + pes,
    }


# --- Pareto front and knee ---------------------------------------------------------------------


def _brute_force_front(values):
    """O(n^2) oracle: row i survives when no row dominates it and no identical row precedes it."""
    keep = []
    for i, v in enumerate(values):
        dominated = any(
            np.all(w <= v) and np.any(w < v) for j, w in enumerate(values) if j != i
        ) or any(np.array_equal(values[j], v) for j in range(i))
        if not dominated:
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_obj", [2, 3])
def test_pareto_indices_equal_brute_force(seed, n_obj):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 6, size=(60, n_obj)).astype(float)  # many ties
    assert pareto_indices(values).tolist() == _brute_force_front(values)


def test_pareto_and_knee_by_hand():
    # (latency, area): (1, 9) (2, 4) (3, 3) (4, 1) are non-dominated; (3, 5) is dominated by
    # (2, 4); (9, 1) by (4, 1). Normalized to [0,1] over the front: distances to (0, 0) are
    # 1.0, 0.46, 0.54, 1.0 -> the knee is (2, 4).
    values = np.array([[1, 9], [3, 5], [2, 4], [9, 1], [3, 3], [4, 1]], dtype=float)
    front = pareto_indices(values)
    assert front.tolist() == [0, 2, 4, 5]
    assert knee_index(values[front]) == 1
    assert pareto_indices(np.zeros((0, 2))).tolist() == []


def test_unknown_objective_name():
    assert [o.metric for o in parse_objectives("latency,energy,area")] == [
        "latency_s",
        "energy_pj",
        "area_mm2",
    ]
    with pytest.raises(SpecError, match=r"^objective must be one of \['latency', .*not 'speed'"):
        parse_objectives("latency,speed")
    with pytest.raises(SpecError, match=r"^objectives must not repeat"):
        parse_objectives("area,area")


# --- the loop ----------------------------------------------------------------------------------


def _explore(
    store=None,
    strategy="grid",
    budget=1000,
    space=SPACE,
    executor="serial",
    jobs=1,
    objectives="latency,area",
    **kw,
):
    objs = parse_objectives(objectives)
    ex = make_executor(executor, synthetic, jobs=jobs)
    try:
        return explore(
            space=space,
            objectives=objs,
            strategy=make_strategy(
                strategy, space, n_objectives=len(objs), seed=0, population_size=4
            ),
            store=MemoryStore() if store is None else store,
            executor=ex,
            budget=budget,
            **kw,
        )
    finally:
        ex.close()


def test_grid_exploration_front_equals_brute_force_over_all_points():
    res = _explore()
    assert len(res.records) == SPACE.size == 50
    assert sum(not r.ok for r in res.records) == 2  # 2x64 in ws and os
    assert res.evaluated == 50 and res.reused == 0
    # oracle: every feasible point scored directly, front by brute force
    pts = [p for p in SPACE.points() if not (p["pe_rows"] == 2 and p["pe_cols"] == 64)]
    vals = np.array([[synthetic(p)["latency_s"], synthetic(p)["area_mm2"]] for p in pts])
    expected = sorted(json.dumps(pts[i], sort_keys=True) for i in _brute_force_front(vals))
    assert sorted(json.dumps(r.params, sort_keys=True) for r in res.pareto) == expected
    assert res.knee in res.pareto


def test_constraints_filter_points_and_budget_is_respected():
    space = DesignSpace(axes=SPACE.axes, constraints=Constraints(max_area_mm2=0.5))
    res = _explore(space=space, strategy="random", budget=20)
    assert len(res.records) == 20
    assert all(r.metrics["area_mm2"] <= 0.5 for r in res.feasible)
    assert all(r in res.feasible for r in res.pareto)
    n_bad = sum(1 for r in res.records if r.ok and r.metrics["area_mm2"] > 0.5)
    assert len(res.feasible) == sum(r.ok for r in res.records) - n_bad


def test_contradictory_constraints_give_a_clear_message_not_an_empty_result(tmp_path):
    space = DesignSpace(axes=SPACE.axes, constraints=Constraints(max_area_mm2=0.01))
    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(
        SpecError,
        match=r"^no feasible design point among 50 evaluated: 2 could not be evaluated "
        r"\(e.g. no valid mapping for a 2x64 array\); max_area_mm2=0.01 but the best area_mm2 "
        r"seen is 0.036; relax the constraints",
    ):
        _explore(space=space, store=store)
    assert len(store) == 50  # what was evaluated is kept


def test_objective_not_computed_is_a_clear_error():
    with pytest.raises(SpecError, match=r"^objective metrics \['accuracy'\] are not computed"):
        _explore(objectives="latency,accuracy", budget=4)


def test_points_already_in_the_store_are_not_reevaluated():
    store = MemoryStore()
    first = _explore(store=store, strategy="random", budget=10)
    again = _explore(store=store, strategy="random", budget=15)
    assert first.evaluated == 10
    assert again.reused == 10 and again.evaluated == 5
    assert len(store) == 15


def test_add_metrics_runs_in_the_parent_for_successful_points():
    calls = []

    def accuracy(params, metrics):
        calls.append(params["dataflow"])
        return {"accuracy": 0.9 if params["dataflow"] == "ws" else 0.8}

    res = _explore(objectives="latency,accuracy", add_metrics=accuracy)
    assert len(calls) == 48
    assert all(r.metrics["accuracy"] == 0.9 for r in res.pareto)  # ws dominates on accuracy


@pytest.mark.parametrize("strategy", ["random", "nsga2", "tpe"])
def test_results_do_not_depend_on_the_number_of_workers(strategy):
    serial = _explore(strategy=strategy, budget=24, batch_size=6)
    pooled = _explore(strategy=strategy, budget=24, batch_size=6, executor="process", jobs=2)
    assert [r.params for r in serial.records] != []
    assert sorted(r.key for r in serial.records) == sorted(r.key for r in pooled.records)


def test_export_csv_and_json(tmp_path):
    res = _explore(budget=50)
    csv_path = write_csv(tmp_path / "out" / "pareto.csv", res.pareto)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "dataflow,pe_cols,pe_rows,area_mm2,energy_pj,latency_s,build,clock"
    assert len(lines) == 1 + len(res.pareto)
    assert all(line.endswith(",model only,assumed") for line in lines[1:])  # target: model
    data = json.loads(write_json(tmp_path / "pareto.json", res.pareto).read_text())
    assert [d["params"] for d in data] == [r.params for r in res.pareto]
    assert {d["build"] for d in data} == {"model only"}
    assert {d["clock"] for d in data} == {"assumed"}
    fpga = write_json(tmp_path / "f.json", res.pareto, clock=clock_label("ecp5-85f"))
    assert {d["clock"] for d in json.loads(fpga.read_text())} == {"fmax model ecp5-85f"}
    built = json.loads(
        write_json(tmp_path / "b.json", res.pareto, target="accelerator").read_text()
    )
    assert {d["build"] for d in built} == {"accelerator"}


def test_bad_budget_and_empty_objectives():
    with pytest.raises(SpecError, match=r"^budget must be a positive integer, not 0"):
        _explore(budget=0)
    with pytest.raises(SpecError, match=r"^objectives must not be empty"):
        explore(
            space=SPACE,
            objectives=(),
            strategy=make_strategy("grid", SPACE, n_objectives=1),
            store=MemoryStore(),
            executor=make_executor("serial", synthetic),
            budget=3,
        )


# --- resume after a kill -----------------------------------------------------------------------

_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_explore import SPACE, synthetic
    from codesign.explore import (SQLiteStore, explore, make_executor, make_strategy,
                                  parse_objectives)

    def slow(params):
        time.sleep(float(sys.argv[2]))
        return synthetic(params)

    objs = parse_objectives("latency,area")
    store = SQLiteStore(sys.argv[1])
    store.bind({{"strategy": "nsga2", "seed": 0}})
    explore(space=SPACE, objectives=objs,
            strategy=make_strategy("nsga2", SPACE, n_objectives=2, seed=0, population_size=4),
            store=store, executor=make_executor("serial", slow), budget=30, batch_size=4)
    print("finished")
    """
)


def test_resume_after_kill_gives_the_same_final_set_without_duplicates(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT.format(tests=str(__import__("pathlib").Path(__file__).parent)))
    killed, full = tmp_path / "killed.db", tmp_path / "full.db"
    proc = subprocess.Popen([sys.executable, str(script), str(killed), "0.1"])
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline and count < 12:
        time.sleep(0.05)
        if killed.exists():
            try:
                with sqlite3.connect(killed, timeout=1) as db:
                    count = db.execute("SELECT count(*) FROM points").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 12 <= count < 30, "the run was not killed mid-way"
    with sqlite3.connect(killed) as db:
        before = db.execute("SELECT count(*) FROM points").fetchone()[0]
    assert before < 30
    for db_path in (killed, full):
        out = subprocess.run(
            [sys.executable, str(script), str(db_path), "0"], capture_output=True, text=True
        )
        assert out.stdout.strip() == "finished", out.stderr
    resumed, reference = SQLiteStore(killed).records(), SQLiteStore(full).records()
    keys = [r.key for r in resumed]
    assert len(keys) == len(set(keys)) == 30
    assert sorted(keys) == sorted(r.key for r in reference)
    assert {r.key: r.metrics for r in resumed} == {r.key: r.metrics for r in reference}


# --- Ray on a local runtime --------------------------------------------------------------------


def test_ray_executor_on_a_local_runtime():
    ray = pytest.importorskip("ray")
    # the test module is not importable by Ray's workers: ship its functions by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        ray_res = _explore(strategy="grid", budget=12, executor="ray", jobs=2, batch_size=6)
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert not ray.is_initialized()  # the executor stopped the runtime it started
    serial = _explore(strategy="grid", budget=12, batch_size=6)
    assert [r.params for r in ray_res.records] != []
    assert sorted(r.key for r in ray_res.records) == sorted(r.key for r in serial.records)
    assert {r.key: r.metrics for r in ray_res.records} == {r.key: r.metrics for r in serial.records}


def test_unknown_executor_and_bad_jobs():
    with pytest.raises(SpecError, match=r"^executor must be one of \['serial', 'process', 'ray'\]"):
        make_executor("dask", synthetic)
    with pytest.raises(SpecError, match=r"^jobs must be a positive integer, not 0"):
        make_executor("process", synthetic, jobs=0)


def test_every_grid_point_once():
    res = _explore()
    keys = [r.key for r in res.records]
    assert (
        len(set(keys)) == len(keys) == len(list(itertools.product(*(a.values for a in SPACE.axes))))
    )
