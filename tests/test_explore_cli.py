"""``codesign explore`` end to end on the digits CNN (serial executor, small budgets)."""

import csv
import json

import numpy as np
import pytest

from codesign.cli import main
from codesign.explore import DesignPoint

MODEL = "examples/models.py:digits_cnn"
SPACE = """\
version: 1
axes:
  pe_rows: [4, 8]
  pe_cols: [4, 8, 16]
  dataflow: [ws, os]
  glb_kib: [16, 64]
"""


def _run(tmp_path, *extra, space=SPACE, name="r"):
    (tmp_path / "space.yaml").write_text(space)
    argv = [
        "explore", MODEL, "--space", str(tmp_path / "space.yaml"),
        "--store", str(tmp_path / f"{name}.db"), "--out", str(tmp_path / name),
        "--executor", "serial", "--mapper-budget", "150", "--batch-size", "6",
        "--population", "6", "--no-progress", *extra,
    ]  # fmt: skip
    return main(argv)


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_explore_writes_the_pareto_front_and_a_design_point(tmp_path, capsys):
    assert _run(tmp_path, "--objectives", "latency,energy,area", "--budget", "12") == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "Pareto front" in out and "knee" in out
    d = tmp_path / "r"
    every, front = _rows(d / "all.csv"), _rows(d / "pareto.csv")
    assert len(every) == 12
    # the printed counts agree with the files (no constraints: feasible = evaluated without error)
    n_ok = sum(1 for r in every if r["latency_s"] != "")
    summary = json.loads(captured.err.strip().splitlines()[-1])
    assert summary["evaluated"] == 12 and summary["reused"] == 0
    assert summary["feasible"] == n_ok and summary["pareto"] == len(front)
    assert f"Pareto front: {len(front)} of {n_ok} feasible" in out
    # oracle: brute-force non-dominated rows of all.csv
    cols = ["latency_s", "energy_pj", "area_mm2"]
    v = np.array([[float(r[c]) for c in cols] for r in every])
    nd = [
        i for i in range(len(v))
        if not any(np.all(v[j] <= v[i]) and np.any(v[j] < v[i]) for j in range(len(v)))
    ]  # fmt: skip
    assert sorted(tuple(r[c] for c in cols) for r in front) == sorted(
        tuple(every[i][c] for c in cols) for i in nd
    )
    best = DesignPoint.load(d / "best.json")
    assert [lay.name for lay in best.layers] == ["conv1", "conv2", "fc"]
    assert {k: str(v) for k, v in best.params.items()} in [
        {k: r[k] for k in best.params} for r in front
    ]
    for png in ("pareto.png", "best_layers.png"):
        assert (d / png).read_bytes()[:4] == b"\x89PNG"


def test_resume_continues_without_reevaluating(tmp_path, capsys):
    assert _run(tmp_path, "--objectives", "latency,area", "--budget", "6") == 0
    capsys.readouterr()
    assert _run(tmp_path, "--objectives", "latency,area", "--budget", "12", "--resume") == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary["reused"] == 6 and summary["evaluated"] == 6
    assert len(_rows(tmp_path / "r" / "all.csv")) == 12
    # a different study in the same store is refused
    assert _run(tmp_path, "--objectives", "energy,area", "--budget", "12", "--resume") == 2
    assert "holds a different study (differs in ['objectives'])" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, space, message",
    [
        (["--objectives", "latency,speed"], SPACE, "error: objective must be one of"),
        (["--budget", "0"], SPACE, "error: --budget must be an integer from 1 to"),
        ([], "version: 1\naxes: {}\n", "axes must be a non-empty mapping"),
        ([], "version: 1\naxes: {pe_rows: []}\n", "error: axis pe_rows: values must not be empty"),
        (
            ["--max-area-mm2", "1e-4", "--budget", "6"],
            SPACE,
            "error: no feasible design point among 6 evaluated: max_area_mm2=0.0001 but the best "
            "area_mm2 seen is",
        ),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, args, space, message):
    assert _run(tmp_path, *args, space=space) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r" / "pareto.csv").exists()  # no empty result file


def test_corrupt_store_is_reported_and_left_untouched(tmp_path, capsys):
    db = tmp_path / "r.db"
    db.write_bytes(b"garbage" * 300)
    assert _run(tmp_path, "--resume") == 2
    assert "is not a codesign result store" in capsys.readouterr().err
    assert db.read_bytes() == b"garbage" * 300


def test_accuracy_objective_from_the_quantization_evaluator(tmp_path, capsys):
    space = SPACE + "  weight_bits: {values: [2, 8], per_layer: true}\n"
    rc = _run(tmp_path, "--objectives", "energy,accuracy", "--budget", "8", space=space)
    assert rc == 0
    rows = _rows(tmp_path / "r" / "all.csv")
    from codesign.quant import LayerPolicy, QuantPolicy, evaluate_policy

    for r in rows:  # oracle: the quantization evaluator called directly with a hand-built policy
        policy = QuantPolicy(
            default=None,
            layers=tuple(
                (n, LayerPolicy(weight_bits=int(r[f"weight_bits@{n}"]), act_bits=8))
                for n in ("conv1", "conv2", "fc")
            ),
        )
        res = evaluate_policy(MODEL, policy)
        assert float(r["accuracy"]) == pytest.approx(res.accuracy)
        assert float(r["accuracy_drop"]) == pytest.approx(res.float_accuracy - res.accuracy)
    assert len({r["accuracy"] for r in rows}) > 1
