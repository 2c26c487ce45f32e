"""The demo's flow end to end on a tiny budget and space (the full `make demo` is larger)."""

import json

import pytest

from codesign.demo import DEMO_SPACE, DemoConfig, run_demo
from codesign.errors import SpecError

TINY_SPACE = """\
version: 1
target: accelerator
axes:
  pe_rows: [2, 4]
  pe_cols: [4]
  dataflow: [ws]
  acc_buf_rows: [64]
  dram_bw_bits_per_cycle: [64]
  weight_bits: {values: [4, 8], per_layer: false}
  activation_bits: [8]
"""


@pytest.mark.rtl
@pytest.mark.synth
def test_demo_flow_writes_a_report_from_this_run(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE)
    report = run_demo(
        DemoConfig(
            out=out, budget=4, mapper_budget=50, jobs=1, space=space, transformer_budget=2
        )
    )
    text = report.read_text()
    verify = json.loads((out / "verify.json").read_text())
    best = json.loads((out / "explore" / "best.json").read_text())
    synth = json.loads((out / "rtl" / "synth.json").read_text())
    assert verify["passed"] is True and verify["top1_agreement"] == 1.0
    assert verify["cycles_measured_total"] == verify["cycles_predicted_total"]
    assert verify["cycles_predicted_total"] == best["metrics"]["latency_cycles"]
    assert [lay["name"] for lay in verify["layers"]] == ["conv1", "conv2", "fc"]
    # the report quotes this run's numbers
    total = verify["cycles_measured_total"]
    assert f"| whole network | {total:,} | {total:,} | +0.00 % | yes |" in text
    assert f"| pe_rows | {best['params']['pe_rows']:,} |" in text
    assert f"{synth['cells']:,}" in text
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    # the transformer's non-MAC operators are costed and reported beside its MAC layers
    vit = json.loads((out / "transformer" / "best.json").read_text())
    assert f"{vit['metrics']['vector_cycles']:,.0f} (" in text
    assert "| encoder.layers.0.norm1 | normalization | vector |" in text
    assert "| pool | pooling | 1,024 | host |" in text


def test_demo_refuses_a_foreign_non_empty_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(SpecError, match=r"^output folder .* was not written by the demo"):
        run_demo(DemoConfig(out=tmp_path))
    assert (tmp_path / "mine.txt").read_text() == "user data"


def test_demo_space_is_a_valid_space():
    from codesign.explore.space import load_space

    space = load_space(DEMO_SPACE)
    assert set(space.to_dict()["axes"]["dataflow"]) <= {"ws", "os"}


@pytest.mark.rtl
@pytest.mark.synth
def test_python_flow_example_runs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE)
    done = subprocess.run(
        [sys.executable, "examples/flow.py", str(tmp_path / "flow"), str(space)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "passed=True" in done.stdout
    assert (tmp_path / "flow" / "best.json").is_file()


def test_demo_replaces_only_its_own_previous_output(tmp_path):
    from codesign.demo import _prepare_out

    out = tmp_path / "demo"
    _prepare_out(DemoConfig(out=out))
    (out / "report.md").write_text("old report")
    _prepare_out(DemoConfig(out=out))
    assert not (out / "report.md").exists() and (out / ".codesign-demo").is_file()
