"""Design points: architecture from parameters, per-layer mapping with memoization, totals
recomputed through the cost model's public API, JSON round trip, the hardware's reader."""

import json

import pytest

from codesign.arch import CompressionFormat, Sparsity
from codesign.cost import evaluate_one
from codesign.errors import SpecError
from codesign.explore.design import (
    AccuracyObjective,
    DesignEvaluator,
    DesignPoint,
    build_architecture,
    layer_params,
)
from codesign.mapping.dataflow import Dataflow
from codesign.workload import TensorRole, conv2d, linear

LAYERS = (
    conv2d("a", in_channels=4, out_channels=8, input_size=(8, 8), kernel_size=3, padding=1),
    conv2d("b", in_channels=8, out_channels=8, input_size=(8, 8), kernel_size=3, padding=1),
    conv2d("c", in_channels=8, out_channels=8, input_size=(8, 8), kernel_size=3, padding=1),
    linear("fc", in_features=512, out_features=10),
)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is", "rs"])
def test_architecture_follows_the_parameters(dataflow):
    params = {
        "pe_rows": 4,
        "pe_cols": 8,
        "dataflow": dataflow,
        "glb_kib": 32,
        "dram_bw_bits_per_cycle": 128,
        "clock_mhz": 250,
        "weight_bits": 4,
        "weight_bits@b": 8,
        "activation_bits": 6,
    }
    arch = build_architecture(params, LAYERS)
    assert (arch.compute.rows, arch.compute.cols) == (4, 8)
    assert arch.compute.dataflow is Dataflow(dataflow)
    assert arch.clock_mhz == 250
    assert arch.levels[-1].read_bits_per_cycle == 128
    glb = [lv for lv in arch.levels if lv.name in ("scratchpad", "glb")]
    assert [lv.size_bits for lv in glb] == [32 * 8192]
    if dataflow == "rs":
        assert arch.compute.input_bits == arch.compute.weight_bits == 8
    else:
        assert (arch.compute.weight_bits, arch.compute.input_bits) == (8, 6)  # widest layer
    if dataflow == "is":
        assert arch.levels[0].holds == frozenset({TensorRole.INPUTS})
    assert arch.compute.sparsity is Sparsity.DENSE


def test_pruning_selects_the_sparse_hardware():
    # every layer 2:4 on ws: the N:M array (the sparse24 RTL), weights stored 2:4
    p24 = build_architecture({"pruning": "2:4", "pe_rows": 4}, LAYERS)
    assert p24.compute.nm == (2, 4) and p24.compute.dense_rows == 16
    assert p24.compute.sparsity is Sparsity.DENSE and p24.weight_format is CompressionFormat.DENSE
    assert p24 == build_architecture({"pruning": "2:4", "pe_rows": 4, "dataflow": "ws"}, LAYERS)
    # a dense layer among 2:4 ones: the idealized skipping array with CSR storage
    part = build_architecture({"pruning": "2:4", "pruning@fc": "none"}, LAYERS)
    assert part.compute.nm is None and part.compute.sparsity is Sparsity.SKIP
    assert part.weight_format is CompressionFormat.CSR and part.index_bits == 2
    assert part.compute.sparse_operands == frozenset({TensorRole.WEIGHTS})
    # 2:4 on another dataflow gates zero weights
    os24 = build_architecture({"pruning": "2:4", "dataflow": "os"}, LAYERS)
    assert os24.compute.nm is None and os24.compute.sparsity is Sparsity.GATE
    mixed = build_architecture({"pruning@a": "unstructured:0.5"}, LAYERS)
    assert mixed.compute.sparsity is Sparsity.GATE
    assert mixed.weight_format is CompressionFormat.BITMASK
    assert layer_params({"pruning@a": "unstructured:0.5"}, "a") == (8, 8, "unstructured:0.5")
    assert layer_params({"pruning@a": "unstructured:0.5"}, "b") == (8, 8, "none")


def test_unknown_parameter_is_a_spec_error():
    with pytest.raises(
        SpecError,
        match=r"^parameter of a model-only point must be one of \['pe_rows'.*not 'pe_count'",
    ):
        build_architecture({"pe_count": 4}, LAYERS)
    with pytest.raises(SpecError, match=r"^the workload has no MAC layers"):
        build_architecture({}, ())


def test_design_point_totals_equal_the_cost_model_per_layer():
    params = {"pe_rows": 4, "pe_cols": 4, "dataflow": "os", "glb_kib": 16, "weight_bits@fc": 4}
    ev = DesignEvaluator(LAYERS, mapper_budget=300)
    dp = ev.design_point(params)
    arch = build_architecture(params, LAYERS)
    assert dp.arch == arch
    cycles = energy = 0.0
    for nest, lay in zip(LAYERS, dp.layers, strict=True):
        w, a, _ = layer_params(params, nest.name)
        rep = evaluate_one(nest.with_bits(inputs=a, weights=w, outputs=32), arch, lay.mapping)
        assert (lay.cycles, lay.energy_pj) == (rep.cycles, pytest.approx(rep.energy_pj))
        assert lay.macs == nest.macs and lay.weight_bits == w
        cycles += rep.cycles
        energy += rep.energy_pj
    m = dp.metrics
    assert m["latency_cycles"] == cycles
    assert m["energy_pj"] == pytest.approx(energy)
    assert m["latency_s"] == pytest.approx(cycles / 250e6 * 250 / arch.clock_mhz)
    assert m["area_mm2"] == pytest.approx(arch.area_um2 / 1e6)
    assert m["edp_pj_s"] == pytest.approx(energy * m["latency_s"])
    assert m["utilization"] == pytest.approx(sum(n.macs for n in LAYERS) / (cycles * 16))
    assert ev(params) == m  # the executors' entry point


def test_identical_layer_shapes_are_mapped_once():
    ev = DesignEvaluator(LAYERS, mapper_budget=200)
    dp = ev.design_point({"pe_rows": 4, "pe_cols": 4})
    assert dp.layers[1].mapping == dp.layers[2].mapping
    assert len(ev._cache) == 3  # a, b == c, fc
    ev.design_point({"pe_rows": 4, "pe_cols": 4, "weight_bits@c": 4})
    assert len(ev._cache) == 4  # only c changed shape


def test_json_round_trip_and_the_hardware_reads_it(tmp_path):
    from codesign.accel.array import SystolicConfig

    dp = DesignEvaluator(LAYERS, mapper_budget=200).design_point(
        {"pe_rows": 4, "pe_cols": 8, "dataflow": "ws", "weight_bits": 4}
    )
    path = dp.save(tmp_path / "best.json")
    assert DesignPoint.load(path) == dp
    cfg = SystolicConfig.from_design_json(path)
    assert (cfg.rows, cfg.cols, cfg.weight_bits) == (4, 8, 4)
    bad = json.loads(path.read_text())
    bad["extra"] = 1
    with pytest.raises(SpecError, match=r"^design point keys must be .*unknown \['extra'\]"):
        DesignPoint.from_dict(bad)
    path.write_text("{")
    with pytest.raises(SpecError, match=r"^design point '.*best.json' is not valid JSON"):
        DesignPoint.load(path)


def test_duplicate_layer_names_rejected():
    with pytest.raises(SpecError, match=r"^layer names must be unique, \['a'\] repeat"):
        DesignEvaluator((LAYERS[0], LAYERS[0]))


def test_accuracy_objective_policy_and_ordering():
    acc = AccuracyObjective("examples/models.py:digits_cnn", ["conv1", "conv2", "fc"])
    pol = acc.policy({"weight_bits": 4, "pruning@fc": "2:4", "activation_bits@conv1": 6})
    layers = dict(pol.layers)
    assert layers["conv1"].act_bits == 6 and layers["conv2"].act_bits == 8
    assert layers["fc"].nm == (2, 4) and layers["conv1"].weight_bits == 4
    a8 = acc({"weight_bits": 8, "activation_bits": 8}, {})
    a2 = acc({"weight_bits": 2, "activation_bits": 8}, {})
    assert 0.0 <= a2["accuracy"] < a8["accuracy"] <= 1.0
    assert a8["accuracy_drop"] < a2["accuracy_drop"]


def test_an_all_2_4_ws_point_maps_onto_the_2_4_array_and_generates_sparse24(tmp_path):
    from codesign.accel.array import Dataflow as HwDataflow
    from codesign.accel.array import SystolicConfig

    params = {"pe_rows": 4, "pe_cols": 4, "dataflow": "ws", "pruning": "2:4", "glb_kib": 16}
    ev = DesignEvaluator(LAYERS, mapper_budget=300)
    dp = ev.design_point(params)
    arch = build_architecture(params, LAYERS)
    assert dp.arch == arch and arch.compute.nm == (2, 4)
    cycles = 0
    for nest, lay in zip(LAYERS, dp.layers, strict=True):
        pruned = nest.with_bits(inputs=8, weights=8, outputs=32).with_density(weights=0.5)
        rep = evaluate_one(pruned, arch, lay.mapping)
        assert (lay.cycles, lay.energy_pj) == (rep.cycles, pytest.approx(rep.energy_pj))
        cycles += rep.cycles
    # the mapper uses the 4 x 4 = 16 dense reduction lanes of the rows for some layer
    assert max(_prod(lay.mapping.rows) for lay in dp.layers) > 4
    macs = sum(n.macs for n in LAYERS)
    assert dp.metrics["utilization"] == pytest.approx(macs / (cycles * 16 * 4))
    cfg = SystolicConfig.from_design_json(dp.save(tmp_path / "best.json"))
    assert (cfg.rows, cfg.cols, cfg.dataflow) == (4, 4, HwDataflow.SPARSE_2_4)


def _prod(loops):
    out = 1
    for _, f in loops:
        out *= f
    return out
