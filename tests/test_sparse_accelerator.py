"""The 2:4-sparse accelerator (issue 14): configuration, compressed weight stream, dense layers
as two 2:4 halves, the cost model's view against hand counts (fast tier), and whole layers and
a mixed network in Icarus, bit-exact and cycle-exact against the model (RTL tier)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from codesign.accel.array import SystolicConfig
from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import PIPELINE_CYCLES, predicted_cycles
from codesign.accel.program import compress_2_4, program_layer, split_dense
from codesign.errors import SpecError

rtl = pytest.mark.rtl
needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")


def _sparse(rows=4, cols=4, **kw) -> AcceleratorConfig:
    array = SystolicConfig(rows=rows, cols=cols, dataflow="sparse24")
    return AcceleratorConfig(array=array, **kw)


def _pruned(k: int, n: int, seed: int) -> np.ndarray:
    """A random int8 ``k x n`` matrix with two zeros in every aligned group of four rows."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, size=(k, n))
    for g in range(0, k, 4):
        for col in range(n):
            drop = rng.choice(min(4, k - g), size=min(2, k - g), replace=False)
            w[g + drop, col] = 0
    return w


# --- configuration and the cost model's view ---------------------------------------------------


def test_config_of_the_2_4_accelerator():
    cfg = _sparse()
    assert cfg.sparse and not _sparse().output_stationary
    assert cfg.pass_depth == 16 and cfg.input_beat_bits == 16 * 8
    assert cfg.weight_beat_bits == 4 * (2 * 8 + 4) and cfg.beat_bits == 128
    assert cfg.top_name == "accel_sparse24_4x4_a8w8_t64_bus128"
    assert AcceleratorConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.tiling(64, 16, 72, 64)["K_TILES"] == 5  # ceil(72 / 16)
    compute = cfg.architecture().compute
    assert compute.nm == (2, 4) and compute.dataflow.value == "ws"
    dense = AcceleratorConfig(array=SystolicConfig(rows=4, cols=4)).architecture().compute
    assert compute.mac_area_um2 == 2 * dense.mac_area_um2  # two multipliers per PE
    weight_reg = cfg.architecture().levels[0]
    assert weight_reg.name == "weight_reg" and weight_reg.size_bits == 2 * (8 + 2)


def test_run_k_doubles_the_4_padded_reduction_of_a_dense_layer_only():
    cfg = _sparse()
    assert cfg.run_k(72, "2:4") == 72
    assert cfg.run_k(72, "none") == 144 and cfg.run_k(9, "none") == 24
    assert cfg.run_k(9, "unstructured:0.5") == 24
    assert not cfg.compressed("none") and cfg.compressed("2:4")
    dense = AcceleratorConfig(array=SystolicConfig(rows=4, cols=4))
    assert dense.run_k(9, "2:4") == 9 and not dense.compressed("2:4")
    with pytest.raises(SpecError, match=r"^pruning must be 'none', '2:4' or 'unstructured:F'"):
        cfg.run_k(9, "3:4")
    with pytest.raises(SpecError, match=r"^pruning must be 'none'"):
        dense.run_k(9, "half")


def test_predicted_cycles_by_hand():
    cfg = _sparse()
    # digits conv2: M=64, N=16, K=72 on 4x4 (pass depth 16): 2:4 -> 5 k-tiles x 4 column tiles
    # of 4 weight beats + 64 inputs + 4 + 4 - 1; dense -> K 144, 9 k-tiles
    assert predicted_cycles(cfg, 64, 16, 72, 64, pruning="2:4") == 20 * 75 + PIPELINE_CYCLES
    assert predicted_cycles(cfg, 64, 16, 72, 64, pruning="none") == 36 * 75 + PIPELINE_CYCLES
    ov = _sparse(overlap_passes=True)
    # back to back (ws_stream_cycles): 20 x (4 + 64) + 4 + 4 - 1
    assert predicted_cycles(ov, 64, 16, 72, 64, pruning="2:4") == 20 * 68 + 7 + PIPELINE_CYCLES


# --- the host's weight stream ----------------------------------------------------------------


def test_compress_2_4_keeps_the_non_zeros_with_their_positions():
    w = np.array([[0, 5], [3, 0], [0, 0], [-7, 0], [1, 0], [0, 0], [2, 0], [0, 0]])
    values, indices = compress_2_4(w)
    assert values.shape == indices.shape == (2, 2, 2)
    assert values[0, 0].tolist() == [3, -7] and indices[0, 0].tolist() == [1, 3]
    assert values[0, 1].tolist() == [5, 0] and indices[0, 1].tolist() == [0, 1]  # one non-zero
    assert values[1, 1].tolist() == [0, 0] and indices[1, 1].tolist() == [0, 1]  # none
    rebuilt = np.zeros_like(w).reshape(2, 4, 2)
    for g in range(2):
        for c in range(2):
            rebuilt[g, indices[g, c], c] = values[g, c]
    assert (rebuilt.reshape(8, 2) == w).all()


def test_compress_2_4_refuses_a_group_of_three_non_zeros():
    w = np.zeros((8, 3), dtype=np.int64)
    w[4:7, 2] = [1, 2, 3]
    with pytest.raises(
        SpecError, match=r"^weights are not 2:4: rows 4\.\.7 of column 2 hold 3 non-zeros; the 2:4"
    ):
        compress_2_4(w)
    cfg = _sparse(rows=2, cols=2)
    ones = np.ones((3, 8), dtype=np.int64)
    with pytest.raises(SpecError, match=r"^weights are not 2:4: rows 0\.\.3 of column 0 hold 4"):
        program_layer(cfg, ones, np.ones((8, 2), dtype=np.int64), [0, 0], [1, 1], [1, 1], 0,
                      pruning="2:4")  # fmt: skip


def test_split_dense_is_a_2_4_gemm_with_the_same_product():
    rng = np.random.default_rng(4)
    a = rng.integers(-128, 128, size=(5, 11))
    w = rng.integers(-128, 128, size=(11, 3))
    a2, w2 = split_dense(a, w)
    assert a2.shape == (5, 24) and w2.shape == (24, 3)
    assert (a2 @ w2 == a @ w).all()
    groups = (w2.reshape(6, 4, 3) != 0).reshape(3, 2, 4, 3)
    # (w0, w1, 0, 0), (0, 0, w2, w3)
    assert not groups[:, 0, 2:].any() and not groups[:, 1, :2].any()
    compress_2_4(w2)  # a valid 2:4 matrix


def test_program_words_of_a_2_4_layer_by_hand():
    cfg = _sparse(rows=1, cols=2, max_tile_m=4)  # beat: max(4 x 8, 2 x 20) = 40 bits
    w = np.array([[0, 1], [2, 0], [0, 0], [3, -1]])
    a = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    prog = program_layer(cfg, a, w, [0, 0], [2**30] * 2, [1, 1], 0, pruning="2:4")
    assert cfg.beat_bits == 40 and prog.pruning == "2:4"
    values = [2, 3, 1, -1]  # column 0: rows 1, 3; column 1: rows 0, 3
    indices = [1, 3, 0, 3]
    weight_beat = sum((v & 0xFF) << (8 * i) for i, v in enumerate(values))
    weight_beat |= sum(x << (32 + 2 * i) for i, x in enumerate(indices))
    inputs = [sum(v << (8 * e) for e, v in enumerate(row)) for row in a.tolist()]
    assert prog.stream_words == (weight_beat, *inputs)
    dense = program_layer(cfg, a, w, [0, 0], [2**30] * 2, [1, 1], 0, pruning="none")
    # two passes (K 8): groups (w0, w1, 0, 0) then (0, 0, w2, w3), the same inputs in each
    assert prog.k == dense.k == 4 and len(dense.stream_words) == 2 * (1 + 2)
    half1 = (2 << 8) | (1 << 16) | (1 << 32 + 2) | (1 << 32 + 6)  # col 0 (0, 2) @ 0, 1
    assert dense.stream_words[0] == half1 and dense.stream_words[1:3] == tuple(inputs)


# --- RTL -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator

    root = tmp_path_factory.mktemp("sparse_accel")
    configs = {
        "s4": _sparse(max_tile_m=64, max_n_tiles=4, fifo_depth=16),
        # input buffer and overlapped passes, rectangular, 6-bit operands
        "s2x6": AcceleratorConfig(
            array=SystolicConfig(rows=2, cols=6, act_bits=6, weight_bits=6, dataflow="sparse24"),
            max_tile_m=16,
            max_n_tiles=3,
            input_buffer=True,
            overlap_passes=True,
        ),
    }
    out = {}
    for name, cfg in configs.items():
        export_accelerator(cfg, root / name)
        out[name] = load_accelerator(root / name)
    return out


@rtl
@needs_icarus
@pytest.mark.parametrize(("pruning", "passes"), [("2:4", 20), ("none", 36)])
def test_digits_conv2_on_the_2_4_accelerator_is_bit_exact_and_cycle_exact(
    designs, tmp_path, pruning, passes
):
    from codesign.sim.accelerator import verify_accelerator_layer

    res = verify_accelerator_layer(
        designs["s4"], "examples/models.py:digits_cnn:conv2", pruning=pruning, work_dir=tmp_path
    )
    assert res.mismatch_count == 0 and res.compared == 64 * 16
    assert res.cycles_predicted == passes * (4 + 64 + 4 + 4 - 1) + PIPELINE_CYCLES
    assert res.cycles_measured == res.cycles_predicted and res.passed


@rtl
@needs_icarus
@pytest.mark.parametrize("pruning", ["2:4", "none"])
@pytest.mark.parametrize("back_pressure", [0.0, 0.3])
def test_gemm_with_input_buffer_and_overlap(designs, tmp_path, pruning, back_pressure):
    from codesign.sim.accelerator import verify_accelerator_gemm
    from codesign.sim.verify import prune_2_4

    g = torch.Generator().manual_seed(7)
    m, n, k = 24, 14, 37  # K not a multiple of 4, N of cols: padded groups and channels
    a = torch.randint(-32, 32, (m, k), generator=g)
    w = torch.randint(-32, 32, (k, n), generator=g)
    if pruning == "2:4":
        w = prune_2_4(w)
    bias = torch.randint(-5000, 5000, (n,), generator=g)
    res = verify_accelerator_gemm(
        designs["s2x6"],
        a,
        w,
        bias,
        torch.full((n,), 1 << 30),
        torch.full((n,), 36),
        -3,
        tile_m=8,
        pruning=pruning,
        back_pressure=back_pressure,
        idle=back_pressure / 2,
        repeat=2,
        work_dir=tmp_path,
    )
    assert res.mismatch_count == 0 and res.compared == 2 * m * n and res.passed
    if back_pressure == 0.0:
        assert res.cycles_measured == res.cycles_predicted


@rtl
@needs_icarus
def test_a_network_mixing_2_4_and_dense_layers_runs_on_one_design(designs, tmp_path):
    """conv2 pruned 2:4 (compressed), conv1 and fc dense (two 2:4 halves), every layer through
    the RTL, each bit-exact and at the cost model's cycles."""
    from codesign.sim.network import SimulatedAccelerator

    from codesign.accel.runtime import HostRuntime
    from codesign.quant.evaluate import load_context
    from codesign.quant.model import integer_forward, quantize_model
    from codesign.quant.policy import QuantPolicy, layer_policy

    design = designs["s4"]
    ctx = load_context("examples/models.py:digits_cnn")
    policy = QuantPolicy(
        default=layer_policy(8, 8, "none"), layers=(("conv2", layer_policy(8, 8, "2:4")),)
    )
    qmodel = quantize_model(ctx.model, policy, ctx.calibration_inputs)
    runtime = HostRuntime(design.config, qmodel)
    assert [runtime.pruning(n) for n in ("conv1", "conv2", "fc")] == ["none", "2:4", "none"]
    batch = tuple(x[:1] for x in ctx.eval_inputs)
    run = runtime.run(SimulatedAccelerator(design, work_dir=tmp_path), batch)
    assert torch.equal(run.output, integer_forward(qmodel, batch))
    for lay in run.layers:
        m, n, k = lay.gemm
        pruning = runtime.pruning(lay.name)
        want = predicted_cycles(
            design.config, m, n, k, runtime.tile_m(lay.name, m), pruning=pruning
        )
        assert lay.cycles[0] == want, lay.name


# --- the explorer's buildable 2:4 points -------------------------------------------------------

MODEL = "examples/models.py:digits_cnn"


def _layers():
    from codesign.workload import from_torch, load_model

    module, inputs = load_model(MODEL)
    return from_torch(module, *inputs).loop_nests


SPARSE_POINT = {
    "pe_rows": 4,
    "pe_cols": 4,
    "dataflow": "sparse24",
    "acc_buf_rows": 64,
    "dram_bw_bits_per_cycle": 128,
    "pruning@conv1": "none",
    "pruning@conv2": "2:4",
    "pruning@fc": "unstructured:0.5",
}


def test_a_buildable_sparse24_point_scores_each_layer_on_the_gemm_the_array_runs():
    from codesign.accel.costview import layer_gemm
    from codesign.explore.buildable import AcceleratorEvaluator, accelerator_config

    layers = _layers()
    config = accelerator_config(SPARSE_POINT, layers)
    assert config.sparse and config.axis_in_bits == 128 and config.max_n_tiles == 4
    point = AcceleratorEvaluator(layers).design_point(SPARSE_POINT)
    assert point.accelerator == config
    for lay, schedule, nest in zip(point.layers, point.schedules, layers, strict=True):
        m, n, k = layer_gemm(nest)
        want = predicted_cycles(config, m, n, k, schedule.tile_m, pruning=lay.pruning)
        assert lay.cycles == want, lay.name
    conv2 = point.layers[1]
    assert conv2.pruning == "2:4" and conv2.cycles == 20 * 75 + PIPELINE_CYCLES  # by hand above
    dense = AcceleratorEvaluator(layers).design_point({**SPARSE_POINT, "pruning@conv2": "none"})
    assert dense.layers[1].cycles == 36 * 75 + PIPELINE_CYCLES
    assert point.to_dict()["accelerator"]["array"]["dataflow"] == "sparse24"


def test_sparse24_points_refuse_a_bus_narrower_than_the_beat():
    from codesign.explore.buildable import accelerator_config

    with pytest.raises(
        SpecError, match=r"^dram_bw_bits_per_cycle 64 is narrower than the 2:4 accelerator's beat"
    ):
        accelerator_config({**SPARSE_POINT, "dram_bw_bits_per_cycle": 64}, _layers())


def test_sparse24_is_an_accelerator_dataflow_only():
    from codesign.explore.space import DesignSpace

    space = DesignSpace.from_dict(
        {"version": 1, "target": "accelerator", "axes": {"dataflow": ["ws", "sparse24"]}}
    )
    assert space.size == 2
    with pytest.raises(SpecError, match=r"^axis dataflow: 'sparse24' needs target: accelerator"):
        DesignSpace.from_dict({"version": 1, "axes": {"dataflow": ["ws", "sparse24"]}})


@rtl
@needs_icarus
def test_explored_mixed_point_generates_and_runs_the_network_at_its_predicted_cycles(tmp_path):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator
    from codesign.sim.network import verify_network

    from codesign.accel.costview import NetworkPlan
    from codesign.explore.buildable import AcceleratorEvaluator

    point = AcceleratorEvaluator(_layers()).design_point({**SPARSE_POINT, "overlap_passes": True})
    export_accelerator(
        point.accelerator, tmp_path / "rtl", network=NetworkPlan.from_design_json(point.to_dict())
    )
    res = verify_network(load_accelerator(tmp_path / "rtl"), MODEL, images=1, work_dir=tmp_path)
    assert res.passed and res.outputs_bit_exact
    for check, lay in zip(res.layers, point.layers, strict=True):
        assert check.bit_exact and check.cycles_measured == check.cycles_predicted == lay.cycles
