"""Timeloop specs in (`codesign.interop.timeloop`): every numeric field of Timeloop's own
tutorial reference statistics (exercises 00-04, tests/fixtures/timeloop) is reproduced under
the Timeloop convention (counts exactly, energies to 0.1 %), from its processed input and from
its raw input files; the native convention differs only where documented."""

import json
import shutil
from pathlib import Path

import pytest

from codesign.cost import evaluate_one
from codesign.errors import SpecError
from codesign.interop.timeloop import (
    NOT_REPRODUCED,
    compare_stats,
    load_timeloop,
    parse_stats,
    timeloop_stats,
)

FIXTURES = Path(__file__).parent / "fixtures" / "timeloop"
RUNS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "01-raw-inputs")


def _stats(folder: Path):
    spec = load_timeloop(folder)
    return spec, timeloop_stats(evaluate_one(spec.nest, spec.arch, spec.mapping), spec)


@pytest.mark.parametrize("run", RUNS)
def test_every_field_of_timeloops_reference_stats(run):
    folder = FIXTURES / run
    _, mine = _stats(folder)
    ref = parse_stats((folder / "timeloop-model.stats.txt").read_text())
    checked, bad = compare_stats(mine, ref)
    assert bad == []
    assert checked > 100  # per level and data space ~20 fields, plus MACC and summary
    assert set(NOT_REPRODUCED) == {("summary", "Area")}


def test_the_raw_input_files_give_the_same_run():
    raw, raw_stats = _stats(FIXTURES / "01-raw-inputs")
    done, done_stats = _stats(FIXTURES / "01-conv1d-2level_os")
    assert raw.nest.dims == done.nest.dims and raw.mapping == done.mapping
    ref = parse_stats((FIXTURES / "01-conv1d-2level_os" / "timeloop-model.stats.txt").read_text())
    assert compare_stats(raw_stats, ref)[1] == []


def test_native_convention_and_plain_buffers_differ_where_documented():
    from dataclasses import replace

    spec = load_timeloop(FIXTURES / "01-conv1d-2level_os")
    native = evaluate_one(spec.nest, spec.arch, spec.mapping)
    tl = timeloop_stats(native, spec)["levels"]["Buffer"]
    # drains: codesign counts the read that sends each of the 16 outputs to MainMemory
    assert native.reads["Buffer"]["outputs"] == tl["Outputs"]["Scalar reads (per-instance)"] + 16
    # sliding window: P moves the 3-input window by one, so 3 + 15 inputs are fetched; a plain
    # buffer (the generated RTL's) refetches the whole window: 16 x 3
    assert native.fills["Buffer"]["inputs"] == 18
    plain = replace(
        spec.arch, levels=tuple(replace(lv, sliding_window=False) for lv in spec.arch.levels)
    )
    assert evaluate_one(spec.nest, plain, spec.mapping).fills["Buffer"]["inputs"] == 48


def _copy(tmp_path, run="04-conv1d+oc-3levelspatial_kp"):
    dst = tmp_path / "run"
    shutil.copytree(FIXTURES / run, dst)
    return dst


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(SpecError, match="is not a directory"):
        load_timeloop(tmp_path / "missing")
    run = _copy(tmp_path)
    (run / "timeloop-model.ERT.yaml").unlink()
    with pytest.raises(SpecError, match="has no ERT"):
        load_timeloop(run)
    run = _copy(tmp_path / "b")
    text = (run / "parsed-processed-input.yaml").read_text()
    (run / "parsed-processed-input.yaml").write_text(
        text.replace("target: GlobalBuffer", "target: L9")
    )
    with pytest.raises(SpecError, match=r"mapping\[4\].target 'L9' is not a storage level"):
        load_timeloop(run)
    run = _copy(tmp_path / "c")
    text = (run / "parsed-processed-input.yaml").read_text()
    (run / "parsed-processed-input.yaml").write_text(text.replace("R=3,P=1,K=2,C=32", "R=3,P=x"))
    with pytest.raises(SpecError, match=r"'P=x' is not DIM=integer"):
        load_timeloop(run)
    run = _copy(tmp_path / "d")
    (run / "parsed-processed-input.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError, match="is not UTF-8 text"):
        load_timeloop(run)


def test_map_command_reproduces_and_compares(tmp_path, capsys):
    from codesign.cli import main

    out = tmp_path / "r.json"
    run = FIXTURES / "04-conv1d+oc-3levelspatial_cp"
    argv = ["map", "--timeloop", str(run), "--convention", "timeloop", "--json", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "agreement with timeloop-model.stats.txt: 283 of 283 fields equal" in text
    data = json.loads(out.read_text())
    assert data["agreement"]["mismatches"] == []
    assert data["timeloop"]["summary"]["Cycles"] == 3072
    assert (
        main(["map", "--convention", "timeloop", "--arch", "ws", "--layer", "gemm:M=4,N=4,K=4"])
        == 2
    )
    assert "--convention timeloop needs --timeloop DIR" in capsys.readouterr().err
