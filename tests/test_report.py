"""``codesign report``: the study read back from its files (never recomputed), the breakdowns
against the brute-force simulator and the explorer's totals, the page's figures equal to the
files, and every bad input one ``error:`` line naming the path."""

import json
import sqlite3

import numpy as np
import pytest

from codesign.accel.array import SystolicConfig
from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import gemm_nest
from codesign.cli import main
from codesign.cost.reference import simulate
from codesign.explore.breakdown import layer_breakdown
from codesign.explore.pareto import OBJECTIVES, pareto_indices
from codesign.mapping import ROLE_ORDER, MappingBatch
from codesign.report.html import render_html, verify_figure
from codesign.report.study import OBJECTIVE_METRICS, non_dominated, read_study

SPACE = """\
version: 1
target: accelerator
axes:
  pe_rows: [2, 4]
  pe_cols: [2, 4]
  dataflow: [ws, os]
  acc_buf_rows: [16, 64]
  dram_bw_bits_per_cycle: [32, 64]
  weight_bits: {values: [4, 8], per_layer: false}
  activation_bits: [8]
"""


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """A small buildable study of the digits CNN with three objectives."""
    tmp = tmp_path_factory.mktemp("study")
    (tmp / "space.yaml").write_text(SPACE)
    argv = [
        "explore", "examples/models.py:digits_cnn", "--space", str(tmp / "space.yaml"),
        "--objectives", "latency,energy,area", "--budget", "16", "--jobs", "1",
        "--out", str(tmp / "explore"), "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    return tmp / "explore"


def test_the_objective_table_is_the_explorers():
    assert OBJECTIVE_METRICS == {n: (o.metric, o.minimize) for n, o in OBJECTIVES.items()}


def test_non_dominated_is_the_explorers_pareto_rule():
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.integers(0, 4, size=(int(rng.integers(1, 12)), int(rng.integers(1, 4))))
        assert non_dominated(values.tolist()) == pareto_indices(values).tolist()


def test_layer_breakdown_traffic_and_parts_against_the_brute_force_simulator():
    config = AcceleratorConfig(array=SystolicConfig(rows=2, cols=2))
    arch = config.architecture()
    for m, n, k, tile in ((6, 4, 5, 3), (4, 6, 4, 2), (3, 3, 7, 1)):
        nest = gemm_nest(config, m, n, k)
        mapping = config.mapping(m, n, k, tile)
        b = layer_breakdown(nest, arch, mapping, pipeline_cycles=config.pipeline_cycles)
        ref = simulate(nest, arch, MappingBatch.from_mappings(nest, arch, [mapping]))
        bits = [nest.tensor(r).bits for r in ROLE_ORDER]  # dense operands
        for i, lv in enumerate(arch.levels):
            expect = sum(int(ref.reads[i, j] + ref.writes[i, j]) * bits[j] for j in range(3))
            assert b["traffic_bits"][lv.name] == expect, (m, n, k, lv.name)
        parts = ("compute_cycles", "fill_drain_cycles", "stall_cycles", "pipeline_cycles")
        assert sum(b[p] for p in parts) == b["cycles"]
        levels = sum(sum(t.values()) for t in b["energy_by_level_pj"].values())
        assert levels + b["mac_energy_pj"] == pytest.approx(b["energy_pj"], rel=1e-12)
        assert b["min_cycles"] <= b["cycles"] and b["min_energy_pj"] <= b["energy_pj"]


def test_the_breakdowns_add_up_to_each_front_points_totals(study_dir):
    study = read_study(study_dir)
    assert len(study.breakdowns) == len(study.front) >= 2
    for point, b in zip(study.front, study.breakdowns, strict=True):
        mac = [lay for lay in b["layers"] if lay["kind"] == "mac"]
        assert [lay["name"] for lay in mac] == ["conv1", "conv2", "fc"]
        assert sum(lay["cycles"] for lay in b["layers"]) == point["metrics"]["latency_cycles"]
        assert sum(lay["energy_pj"] for lay in b["layers"]) == pytest.approx(
            point["metrics"]["energy_pj"], rel=1e-12
        )
    best = json.loads((study_dir / "best.json").read_text())
    knee = study.breakdowns[study.knee]
    for lay, ref in zip(
        [x for x in knee["layers"] if x["kind"] == "mac"], best["layers"], strict=True
    ):
        assert (lay["cycles"], lay["energy_pj"]) == (ref["cycles"], ref["energy_pj"])


def test_a_store_alone_gives_the_front_of_the_folder(study_dir):
    folder, store = read_study(study_dir), read_study(study_dir / "study.db")
    key = lambda p: json.dumps(p["params"], sort_keys=True)  # noqa: E731
    assert sorted(map(key, store.front)) == sorted(map(key, folder.front))
    assert store.knee is None and store.breakdowns == ()
    assert len(store.points) == len(folder.points) == 16


def _figures(page: str) -> dict:
    tag = "<script type='application/json' id='figures'>"
    start = page.index(tag) + len(tag)
    return json.loads(page[start : page.index("</script>", start)].replace("<\\/", "</"))


def test_report_command_writes_a_self_contained_page_of_the_files_numbers(study_dir, tmp_path):
    verify = {
        "what": "net", "simulator": "icarus",
        "layers": [
            {"name": "conv1", "cycles_predicted": 100.0, "cycles_measured": 100},
            {"name": "fc", "cycles_predicted": 50.0, "cycles_measured": 51},
        ],
        "cycles_predicted_total": 150.0, "cycles_measured_total": 151,
    }  # fmt: skip
    (tmp_path / "verify.json").write_text(json.dumps(verify))
    out = tmp_path / "r.html"
    argv = ["report", str(study_dir), "--verify", str(tmp_path / "verify.json"), "-o", str(out)]
    assert main(argv) == 0
    page = out.read_text()
    # self-contained: no script or style sheet fetched from anywhere
    assert page.startswith("<!doctype html>") and "<script src" not in page
    assert "<link" not in page and "Plotly.react" in page
    figs = _figures(page)
    front = json.loads((study_dir / "pareto.json").read_text())
    trace = figs["front"]["data"][1]
    assert trace["x"] == [p["metrics"]["latency_s"] for p in front]
    assert trace["y"] == [p["metrics"]["energy_pj"] for p in front]
    assert len(figs["points"]) == len(front) and figs["projections"] is not None
    bars = figs["verify"][0]["data"]
    assert bars[0]["x"] == ["conv1", "fc", "whole network"]
    assert (bars[0]["y"], bars[1]["y"]) == ([100.0, 50.0, 150.0], [100, 51, 151])
    assert bars[1]["text"] == ["+0.00 %", "+2.00 %", "+0.67 %"]
    assert "clock" in page and "assumed" in page


def test_verify_figure_of_one_run():
    fig = verify_figure(
        "v.json", {"what": "gemm 4x4x4", "cycles_predicted": 40, "cycles_measured": 44}
    )
    assert [list(t.y) for t in fig.data] == [[40], [44]] and fig.data[1].text == ("+10.00 %",)


def _one_error(capsys, argv, path):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(path) in err[0], err


def test_bad_input_is_one_error_line_naming_the_path(study_dir, tmp_path, capsys):
    _one_error(capsys, ["report", str(tmp_path / "nowhere")], tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    _one_error(capsys, ["report", str(tmp_path / "empty")], tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pareto.json").write_text("{not json")
    _one_error(capsys, ["report", str(bad)], bad / "pareto.json")
    (tmp_path / "v.json").write_text('{"what": 1}')
    _one_error(
        capsys, ["report", str(study_dir), "--verify", str(tmp_path / "v.json"), "-o",
                 str(tmp_path / "x.html")], tmp_path / "v.json"
    )  # fmt: skip
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 10)
    _one_error(capsys, ["report", str(tmp_path / "junk.db")], tmp_path / "junk.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE meta (key TEXT, value TEXT)").connection.commit()
    _one_error(capsys, ["report", str(other)], other)
    assert not (tmp_path / "x.html").exists()


def test_render_html_of_a_store_has_no_breakdowns(study_dir):
    page = render_html(read_study(study_dir / "study.db"), title="t")
    assert "No per-layer breakdowns" in page and _figures(page)["points"][0].keys() == {"table"}
