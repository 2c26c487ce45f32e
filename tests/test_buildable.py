"""Buildable design spaces (issue 12), fast tier: space validation, the accelerator a point
becomes, its per-layer schedules and cycles against hand counts, the design point JSON, the
network plan, the ``build`` label, ``generate --design`` refusing model-only points, and the
host runtime's pieces (no RTL simulation here; see test_buildable_rtl.py)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from codesign.accel.costview import (
    PIPELINE_CYCLES,
    LayerSchedule,
    NetworkPlan,
    layer_gemm,
    predicted_cycles,
    schedule_candidates,
)
from codesign.cli import main
from codesign.errors import SpecError
from codesign.explore import DesignEvaluator, DesignPoint, DesignSpace, load_space
from codesign.explore.buildable import AcceleratorEvaluator, accelerator_config, prefetch_depth
from codesign.workload import from_torch, load_model

MODEL = "examples/models.py:digits_cnn"
MODULE, INPUTS = load_model(MODEL)
LAYERS = from_torch(MODULE, *INPUTS).loop_nests  # conv1, conv2, fc


def _space(text: str, tmp_path) -> DesignSpace:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return load_space(path)


# --- the space ---------------------------------------------------------------------------------


def test_example_space_is_buildable():
    space = load_space("examples/space_accel.yaml")
    assert space.target == "accelerator"
    assert set(space.axis("dataflow").values) == {"ws", "os"}
    assert space.to_dict()["target"] == "accelerator"
    assert DesignSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        ("glb_kib: [16]", r"^axis glb_kib is model only: the accelerator generator has no such"),
        ("rf_bytes: [64]", r"^axis rf_bytes is model only"),
        ("dataflow: [ws, rs]", r"^axis dataflow: 'rs' is model only; target: accelerator builds"),
        (
            "activation_bits: {values: [4, 8], per_layer: true}",
            r"^axis activation_bits cannot be per layer with target: accelerator",
        ),
        ("fifo_depth: [16]", r"^axis name must be one of .*not 'fifo_depth'"),
        ("input_buffer: [true]", r"^axis name must be one of .*not 'input_buffer'"),
    ],
)
def test_accelerator_space_refuses_what_no_generator_builds(tmp_path, axes, message):
    with pytest.raises(SpecError, match=message):
        _space(f"version: 1\ntarget: accelerator\naxes:\n  {axes}\n", tmp_path)


def test_model_space_refuses_generator_axes_and_unknown_targets(tmp_path):
    with pytest.raises(SpecError, match=r"^axis acc_buf_rows is a parameter of the accelerator"):
        _space("version: 1\naxes:\n  acc_buf_rows: [16]\n", tmp_path)
    with pytest.raises(SpecError, match=r"target must be one of \['model', 'accelerator'\]"):
        _space("version: 1\ntarget: fpga\naxes:\n  pe_rows: [4]\n", tmp_path)
    with pytest.raises(SpecError, match=r"^axis overlap_passes: value must be true or false"):
        _space("version: 1\ntarget: accelerator\naxes:\n  overlap_passes: [1]\n", tmp_path)


# --- the accelerator of a point ------------------------------------------------------------


def test_accelerator_config_derivations():
    params = {
        "pe_rows": 4,
        "pe_cols": 4,
        "dataflow": "ws",
        "acc_buf_rows": 16,
        "dram_bw_bits_per_cycle": 24,
        "weight_bits@conv1": 4,
        "weight_bits@conv2": 6,
        "weight_bits@fc": 4,
    }
    cfg = accelerator_config(params, LAYERS)
    assert cfg.array.weight_bits == 6 and cfg.array.act_bits == 8  # widest layer
    assert cfg.beat_bits == max(4 * 8, 4 * 6) == 32
    assert cfg.axis_in_bits == 16  # widest divisor of 32 not above 24
    assert cfg.max_n_tiles == math.ceil(16 / 4)  # conv2 has 16 output channels
    assert cfg.max_tile_m == 16 and not cfg.input_buffer and not cfg.overlap_passes
    assert cfg.fifo_depth == prefetch_depth(4, 4) == 32
    assert prefetch_depth(16, 16) == 64  # holds a 2*16+16-cycle drain
    os_cfg = accelerator_config({**params, "dataflow": "os", "overlap_passes": True}, LAYERS)
    assert os_cfg.output_stationary and not os_cfg.overlap_passes  # ws only
    assert os_cfg.array.max_reduction_len == 256  # fc's K


def test_accelerator_config_refuses_model_parameters():
    with pytest.raises(SpecError, match=r"^parameter 'glb_kib' is not a parameter of the acc"):
        accelerator_config({"glb_kib": 16}, LAYERS)
    with pytest.raises(SpecError, match=r"^activation_bits must be one value for every layer"):
        accelerator_config({"activation_bits@conv1": 4, "activation_bits@fc": 8}, LAYERS)
    with pytest.raises(SpecError, match=r"^dataflow must be 'ws' or 'os' for a buildable point"):
        accelerator_config({"dataflow": "is"}, LAYERS)


def test_layer_gemm_of_convs_and_linear():
    assert [layer_gemm(n) for n in LAYERS] == [(64, 8, 9), (64, 16, 72), (1, 10, 256)]


def test_schedule_candidates_are_dividing_tiles_largest_first():
    cfg = accelerator_config({"pe_rows": 2, "pe_cols": 8, "acc_buf_rows": 7}, LAYERS)
    assert [s.tile_m for s in schedule_candidates(cfg, 64, 16, 72)] == [4, 2, 1]
    os_cfg = accelerator_config({"dataflow": "os"}, LAYERS)
    assert schedule_candidates(os_cfg, 64, 16, 72) == [LayerSchedule()]


def test_layer_cycles_equal_hand_counts_and_the_cost_view():
    ws = {"pe_rows": 4, "pe_cols": 4, "dataflow": "ws", "acc_buf_rows": 64}
    point = AcceleratorEvaluator(LAYERS, mapper_objective="latency").design_point(ws)
    conv2 = point.layers[1]
    # 18 K tiles x 4 column tiles, one 64-row tile: each pass 4 weight beats + 64 input beats
    # + a 4 + 4 - 1 drain (compute-bound: one 32-bit beat a cycle over a 32-bit bus)
    assert conv2.cycles == 18 * 4 * (64 + 2 * 4 + 4 - 1) + PIPELINE_CYCLES == 5412
    assert point.schedules[1] == LayerSchedule(tile_m=64)
    os_point = AcceleratorEvaluator(LAYERS).design_point({**ws, "dataflow": "os"})
    # 16 row tiles x 4 column tiles; each pass K = 72 beats, then 4 + 4 - 2 to the last MAC
    # and 4 drain beats
    assert os_point.layers[1].cycles == 16 * 4 * (72 + 4 + 4 - 2 + 4) + PIPELINE_CYCLES == 5260
    for p in (point, os_point):
        cfg = p.accelerator
        for lay, nest, sched in zip(p.layers, LAYERS, p.schedules, strict=True):
            m, n, k = layer_gemm(nest)
            assert lay.cycles == predicted_cycles(cfg, m, n, k, sched.tile_m)
        assert p.metrics["latency_cycles"] == sum(lay.cycles for lay in p.layers)
        assert p.metrics["latency_s"] == p.metrics["latency_cycles"] / 1e9  # default 1000 MHz
        assert p.buildable


# --- design point JSON, network plan, build labels -------------------------------------------


def test_design_point_round_trip_and_v1_files(tmp_path):
    point = AcceleratorEvaluator(LAYERS).design_point({"pe_rows": 4, "pe_cols": 8})
    data = json.loads(point.save(tmp_path / "best.json").read_text())
    assert data["version"] == 3 and data["target"] == "accelerator"
    assert [lay["schedule"] for lay in data["layers"]] == [{"tile_m": 64}] * 2 + [{"tile_m": 1}]
    back = DesignPoint.load(tmp_path / "best.json")
    assert back.accelerator == point.accelerator and back.schedules == point.schedules
    model = DesignEvaluator(LAYERS, mapper="random", mapper_budget=20).design_point({})
    drop = ("target", "accelerator", "vector_layers")
    old = {k: v for k, v in model.to_dict().items() if k not in drop}
    old["version"] = 1
    v1 = DesignPoint.from_dict(old)
    assert not v1.buildable and v1.to_dict()["target"] == "model"
    with pytest.raises(SpecError, match=r"^design point: target 'accelerator' needs an acc"):
        DesignPoint.from_dict({**data, "accelerator": None})


def test_network_plan_from_a_design_point():
    point = AcceleratorEvaluator(LAYERS).design_point({"pe_rows": 4, "pe_cols": 4})
    plan = NetworkPlan.from_design_json(point.to_dict())
    assert [lay.name for lay in plan.layers] == ["conv1", "conv2", "fc"]
    assert plan.latency_cycles == point.metrics["latency_cycles"]
    assert [lay.cycles for lay in plan.layers] == [lay.cycles for lay in point.layers]
    assert NetworkPlan.from_dict(plan.to_dict()) == plan
    with pytest.raises(SpecError, match=r"^layer 'conv9' is not in the design's network plan"):
        plan.layer("conv9")
    with pytest.raises(SpecError, match=r"^design point layers\[0\] must be an object with keys"):
        NetworkPlan.from_design_json({"layers": [{"name": "x"}], "metrics": {"latency_cycles": 1}})


def test_explore_cli_labels_buildable_points(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(
        "version: 1\ntarget: accelerator\naxes:\n  pe_rows: [2, 4]\n  dataflow: [ws, os]\n"
    )
    argv = [
        "explore", MODEL, "--space", str(tmp_path / "s.yaml"), "--objectives", "latency,area",
        "--budget", "4", "--executor", "serial", "--out", str(tmp_path / "out"), "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "(build: accelerator)" in capsys.readouterr().out
    rows = (tmp_path / "out" / "pareto.csv").read_text().splitlines()
    assert rows[0].endswith(",build,clock")
    assert all(r.endswith(",accelerator,assumed") for r in rows[1:])
    assert DesignPoint.load(tmp_path / "out" / "best.json").buildable


# --- generate --design ----------------------------------------------------------------------


def test_generate_refuses_a_model_only_point_in_one_line(tmp_path, capsys):
    point = DesignEvaluator(LAYERS, mapper="random", mapper_budget=20).design_point(
        {"dataflow": "rs"}
    )
    point.save(tmp_path / "best.json")
    status = main(["generate", "--design", str(tmp_path / "best.json"), "-o", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert err[0].startswith("error: design point {") and "is model only" in err[0]
    assert "dataflow 'rs'" in err[0] and not (tmp_path / "x").exists()


def test_generate_buildable_point_takes_no_accelerator_options(tmp_path, capsys):
    point = AcceleratorEvaluator(LAYERS).design_point({"pe_rows": 2, "pe_cols": 2})
    point.save(tmp_path / "best.json")
    argv = ["generate", "--design", str(tmp_path / "best.json"), "-o", str(tmp_path / "x")]
    assert main([*argv, "--fifo-depth", "8"]) == 2
    assert "cannot be combined with --fifo-depth" in capsys.readouterr().err


# --- the host runtime's pieces --------------------------------------------------------------


def _qmodel():
    from codesign.quant.model import quantize_model
    from codesign.quant.policy import QuantPolicy

    x = INPUTS[0].repeat(3, 1, 1, 1) * torch.rand(
        3, 1, 1, 1, generator=torch.Generator().manual_seed(0)
    )
    return quantize_model(MODULE, QuantPolicy.uniform(8), (x,)), x


def test_layer_operands_round_trip_conv_and_linear():
    from codesign.accel.program import layer_operands
    from codesign.quant.model import int_layer_io

    qmodel, x = _qmodel()
    for name in ("conv2", "fc"):
        io = int_layer_io(qmodel, name, (x,))
        ops = layer_operands(io.layer, io.input_q)
        out = io.output_q.to(torch.int64)
        assert torch.equal(ops.to_output(ops.to_matrix(out)), out)
        m, n, k = ops.gemm
        assert n == io.layer.weight_q.shape[0] and m == out.numel() // n


def test_host_runtime_programs_one_run_per_image():
    from codesign.accel.runtime import HostRuntime
    from codesign.quant.model import int_layer_io

    qmodel, x = _qmodel()
    cfg = accelerator_config({"pe_rows": 4, "pe_cols": 4, "acc_buf_rows": 32}, LAYERS)
    runtime = HostRuntime(cfg, qmodel)
    io = int_layer_io(qmodel, "conv2", (x,))
    ops, programs = runtime.programs(io.layer, io.input_q)
    assert len(programs) == 3 and ops.gemm == (3 * 64, 16, 72)
    assert {(p.m, p.n, p.k, p.tile_m) for p in programs} == {(64, 16, 72, 32)}
    wide = accelerator_config({"pe_rows": 4, "pe_cols": 4, "weight_bits": 4}, LAYERS)
    with pytest.raises(SpecError, match=r"^layer 'conv1' has 8-bit weights, wider than the arr"):
        HostRuntime(wide, qmodel)
