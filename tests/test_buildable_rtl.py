"""The closed loop in RTL (issue 12): a buildable point of each dataflow goes explorer ->
generate -> the whole digits CNN on the accelerator (cocotb + Icarus), bit-exact, with the
measured cycles of every layer equal to the explorer's prediction."""

from __future__ import annotations

import json

import pytest

from codesign.accel.costview import NetworkPlan
from codesign.cli import main
from codesign.explore.buildable import AcceleratorEvaluator
from codesign.workload import from_torch, load_model

pytestmark = [pytest.mark.rtl]

MODEL = "examples/models.py:digits_cnn"


@pytest.mark.parametrize(
    "params",
    [
        {"pe_rows": 4, "pe_cols": 4, "dataflow": "ws", "overlap_passes": True,
         "dram_bw_bits_per_cycle": 8, "acc_buf_rows": 16},
        {"pe_rows": 4, "pe_cols": 4, "dataflow": "os", "dram_bw_bits_per_cycle": 16},
        # a bus narrower than a beat on a compute-bound layer: the first pass's head (conv1)
        {"pe_rows": 8, "pe_cols": 8, "dataflow": "os", "dram_bw_bits_per_cycle": 64,
         "weight_bits": 4},
    ],
    ids=["ws", "os", "os-head"],
)  # fmt: skip
def test_point_round_trips_explorer_generate_verify_network(tmp_path, params):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator
    from codesign.sim.network import verify_network

    module, inputs = load_model(MODEL)
    point = AcceleratorEvaluator(from_torch(module, *inputs).loop_nests).design_point(params)
    export_accelerator(
        point.accelerator,
        tmp_path / "rtl",
        network=NetworkPlan.from_design_json(point.to_dict()),
    )
    res = verify_network(
        load_accelerator(tmp_path / "rtl"), MODEL, images=2, work_dir=tmp_path / "sim"
    )
    assert res.passed and res.outputs_bit_exact and res.top1_agreement == 1.0
    assert [c.name for c in res.layers] == ["conv1", "conv2", "fc"]
    for check, lay in zip(res.layers, point.layers, strict=True):
        assert check.bit_exact
        assert check.cycles_measured == check.cycles_predicted == lay.cycles
        assert len(check.cycles_per_image) == 2
    assert res.cycles_measured_total == point.metrics["latency_cycles"]


def test_cli_explore_generate_verify_network(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(
        "version: 1\ntarget: accelerator\naxes:\n  pe_rows: [2, 4]\n  pe_cols: [4]\n"
        "  dataflow: [ws]\n  acc_buf_rows: [32]\n"
    )
    out, rtl = tmp_path / "out", tmp_path / "rtl"
    explore = [
        "explore", MODEL, "--space", str(tmp_path / "s.yaml"), "--objectives", "latency,area",
        "--budget", "2", "--executor", "serial", "--out", str(out), "--no-progress",
    ]  # fmt: skip
    assert main(explore) == 0
    assert main(["generate", "--design", str(out / "best.json"), "-o", str(rtl)]) == 0
    manifest = json.loads((rtl / "manifest.json").read_text())
    assert manifest["kind"] == "accelerator" and len(manifest["network"]["layers"]) == 3
    capsys.readouterr()
    assert main(["verify", str(rtl), "--network", MODEL, "--images", "1"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((rtl / "verify.json").read_text())
    keys = {"passed", "layers", "cycles_measured_total", "cycles_predicted_total", "images"}
    assert keys | {"top1_agreement"} <= set(report)
    best = json.loads((out / "best.json").read_text())
    assert report["passed"] and report["images"] == 1 and report["top1_agreement"] == 1.0
    assert report["cycles_predicted_total"] == best["metrics"]["latency_cycles"]
    assert report["cycles_measured_total"] == report["cycles_predicted_total"]
    total = next(line.split() for line in printed.splitlines() if line.split()[:1] == ["total"])
    assert total[1:4] == [str(report["cycles_measured_total"])] * 2 + ["+0.00%"]
    for lay, want in zip(report["layers"], best["layers"], strict=True):
        assert lay["name"] == want["name"] and lay["cycles_predicted"] == want["cycles"]
        assert {"name", "cycles_measured", "cycles_predicted", "bit_exact"} <= set(lay)


def test_verify_network_on_a_bare_array_is_a_one_line_error(tmp_path, capsys):
    assert main(["generate", "--rows", "2", "--cols", "2", "-o", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "a"), "--network", MODEL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --network needs an accelerator folder")
