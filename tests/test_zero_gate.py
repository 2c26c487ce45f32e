"""Zero-weight gating (``AcceleratorConfig.zero_gate``): the cost model's view gates MAC energy
with the layer's weight density and keeps the dense cycles; the RTL (Icarus) is bit-exact with
the same cycles as the ungated design, and its multipliers toggle less in proportion to the
pruned fraction (the VCD is the oracle)."""

from __future__ import annotations

import shutil

import pytest

from codesign.accel.array import SystolicConfig
from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import predict
from codesign.errors import SpecError

_ARRAY = SystolicConfig(rows=4, cols=4)


def test_cost_view_gates_mac_energy_not_cycles():
    gated = AcceleratorConfig(array=_ARRAY, zero_gate=True)
    dense = AcceleratorConfig(array=_ARRAY)
    base = predict(dense, 64, 16, 72, 16)
    for fraction in (0.5, 0.75):
        pruning = f"unstructured:{fraction}"
        g = predict(gated, 64, 16, 72, 16, pruning=pruning)
        u = predict(dense, 64, 16, 72, 16, pruning=pruning)
        assert g.cycles == u.cycles == base.cycles
        # GATE on weights: MAC energy only on the (1 - fraction) non-zero weights, by hand
        assert g.mac_energy_pj == pytest.approx((1 - fraction) * u.mac_energy_pj)
        assert u.mac_energy_pj == pytest.approx(base.mac_energy_pj)  # ungated: no saving
    # the gate's area: a hold mux per activation bit, a zero detect and its flag per PE (NanGate)
    from codesign.arch.technology import operand_gate_area_um2

    extra = gated.architecture().area_um2 - dense.architecture().area_um2
    assert extra == pytest.approx(16 * (8 * 1.862 + 7 * 1.064 + 4.522))
    assert operand_gate_area_um2(8, 8) == pytest.approx(8 * 1.862 + 7 * 1.064 + 4.522)
    assert AcceleratorConfig.from_architecture(gated.architecture()).zero_gate
    assert not AcceleratorConfig.from_architecture(dense.architecture()).zero_gate
    with pytest.raises(SpecError, match="zero_gate applies to 'ws' accelerators only"):
        AcceleratorConfig(array=SystolicConfig(rows=4, cols=4, dataflow="os"), zero_gate=True)
    with pytest.raises(SpecError, match="zero_gate must be true or false"):
        AcceleratorConfig(array=_ARRAY, zero_gate=1)


def test_a_gate_architecture_pays_the_gate_area_in_every_preset():
    from codesign.arch import Sparsity, output_stationary, weight_stationary
    from codesign.arch.technology import operand_gate_area_um2
    from codesign.workload.loopnest import TensorRole

    w, i = TensorRole.WEIGHTS, TensorRole.INPUTS
    for preset in (weight_stationary, output_stationary):
        dense = preset(4, 4, input_bits=8, weight_bits=4)
        on_w = preset(4, 4, input_bits=8, weight_bits=4, sparsity=Sparsity.GATE,
                      sparse_operands=frozenset({w}))  # fmt: skip
        both = preset(4, 4, input_bits=8, weight_bits=4, sparsity=Sparsity.GATE,
                      sparse_operands=frozenset({w, i}))  # fmt: skip
        # weights gated: the 8-bit activation is held, a 4-input zero detect; inputs gated:
        # the 4-bit weight is held, an 8-input zero detect
        assert on_w.area_um2 - dense.area_um2 == pytest.approx(16 * operand_gate_area_um2(8, 4))
        assert both.area_um2 - on_w.area_um2 == pytest.approx(16 * operand_gate_area_um2(4, 8))
        skip = preset(4, 4, input_bits=8, weight_bits=4, sparsity=Sparsity.SKIP,
                      sparse_operands=frozenset({w}))  # fmt: skip
        assert skip.area_um2 == dense.area_um2  # skipping hardware is not priced (model only)


def test_ws_gated_preset_is_the_gated_accelerators_compute_model():
    from codesign.arch import preset, ws_gated
    from codesign.cost import evaluate_one
    from codesign.mapping.sampling import random_mappings
    from codesign.workload.loopnest import linear

    gated, dense = preset("ws-gated"), preset("ws")
    assert gated.name == "ws16x16-gated" and ws_gated(4, 8).name == "ws4x8-gated"
    layer = linear("g", in_features=64, out_features=64, leading=64, weight_density=0.25)
    mapping = random_mappings(layer, dense, 1, seed=0).mapping(0, dense)
    g, d = evaluate_one(layer, gated, mapping), evaluate_one(layer, dense, mapping)
    assert g.cycles == d.cycles and g.mac_energy_pj == pytest.approx(0.25 * d.mac_energy_pj)
    # the accelerator's cost view gates the same way: same compute model, same gate area
    view = AcceleratorConfig(array=_ARRAY, zero_gate=True).architecture().compute
    ref = ws_gated(4, 4).compute
    assert (view.sparsity, view.sparse_operands) == (ref.sparsity, ref.sparse_operands)
    assert view.mac_area_um2 == pytest.approx(ref.mac_area_um2)


# --- the explorer: a zero_gate axis of a buildable space ---------------------------------------

MODEL = "examples/models.py:digits_cnn"


def _layers():
    from codesign.workload import from_torch, load_model

    module, inputs = load_model(MODEL)
    return from_torch(module, *inputs).loop_nests  # conv1, conv2, fc


def test_space_takes_a_zero_gate_axis_on_accelerator_targets_only(tmp_path):
    from codesign.explore import load_space

    def space(text):
        (tmp_path / "s.yaml").write_text(text)
        return load_space(tmp_path / "s.yaml")

    ok = space("version: 1\ntarget: accelerator\naxes:\n  zero_gate: [false, true]\n")
    assert ok.axis("zero_gate").values == (False, True)
    with pytest.raises(SpecError, match=r"^axis zero_gate: value must be true or false"):
        space("version: 1\ntarget: accelerator\naxes:\n  zero_gate: [1]\n")
    with pytest.raises(SpecError, match=r"^axis zero_gate is a parameter of the accelerator"):
        space("version: 1\naxes:\n  zero_gate: [true]\n")


def test_explorer_point_with_zero_gate_saves_the_pruned_mac_energy_only():
    from codesign.accel.config import AcceleratorConfig as Config
    from codesign.accel.costview import layer_gemm
    from codesign.explore.buildable import AcceleratorEvaluator

    layers = _layers()
    evaluator = AcceleratorEvaluator(layers)
    params = {"pe_rows": 4, "pe_cols": 4, "dataflow": "ws", "acc_buf_rows": 16,
              "pruning@conv2": "unstructured:0.75", "pruning@fc": "unstructured:0.5"}  # fmt: skip
    dense = evaluator.design_point(params)
    gated = evaluator.design_point({**params, "zero_gate": True})
    assert gated.accelerator.zero_gate and not dense.accelerator.zero_gate
    assert gated.schedules == dense.schedules
    saved = {"conv1": 0.0, "conv2": 0.75, "fc": 0.5}
    for nest, d, g, sched in zip(layers, dense.layers, gated.layers, dense.schedules, strict=True):
        assert g.cycles == d.cycles  # gating saves energy, never cycles
        m, n, k = layer_gemm(nest)
        macs = predict(dense.accelerator, m, n, k, sched.tile_m)  # the ungated MAC energy
        expected = d.energy_pj - saved[nest.name] * macs.mac_energy_pj
        assert g.energy_pj == pytest.approx(expected, rel=1e-9)
    assert gated.metrics["energy_pj"] < dense.metrics["energy_pj"]
    assert gated.metrics["latency_cycles"] == dense.metrics["latency_cycles"]
    # what `codesign generate --design` reads back is the gated accelerator
    assert Config.from_dict(gated.to_dict()["accelerator"]) == gated.accelerator
    # os and the 2:4 accelerator have no gated PEs: the point's accelerator says so
    for flow in ("os", "sparse24"):
        other = evaluator.design_point(
            {**params, "dataflow": flow, "zero_gate": True, "dram_bw_bits_per_cycle": 256}
        )
        assert not other.accelerator.zero_gate


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_gated_point_runs_the_pruned_network_with_the_explorers_cycles(tmp_path):
    """The closed loop on the gated design: explorer point (unstructured pruning, zero_gate)
    -> generate -> the whole pruned digits CNN in RTL, bit-exact, cycles = the explorer's."""
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator
    from codesign.sim.network import verify_network

    from codesign.accel.costview import NetworkPlan
    from codesign.explore.buildable import AcceleratorEvaluator

    params = {"pe_rows": 4, "pe_cols": 4, "dataflow": "ws", "acc_buf_rows": 16,
              "dram_bw_bits_per_cycle": 32, "zero_gate": True,
              "pruning@conv2": "unstructured:0.5", "pruning@fc": "unstructured:0.75"}  # fmt: skip
    point = AcceleratorEvaluator(_layers()).design_point(params)
    export_accelerator(
        point.accelerator, tmp_path / "rtl", network=NetworkPlan.from_design_json(point.to_dict())
    )
    design = load_accelerator(tmp_path / "rtl")
    assert design.config.zero_gate
    res = verify_network(design, MODEL, images=2, work_dir=tmp_path / "sim")
    assert res.passed and res.outputs_bit_exact
    for check, lay in zip(res.layers, point.layers, strict=True):
        assert check.bit_exact
        assert check.cycles_measured == check.cycles_predicted == lay.cycles
    assert res.cycles_measured_total == point.metrics["latency_cycles"]


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_gated_rtl_is_exact_and_its_multipliers_toggle_less(tmp_path):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_layer

    layer = "examples/models.py:digits_cnn:conv2"
    macs = {}
    for gate in (False, True):
        cfg = AcceleratorConfig(array=_ARRAY, zero_gate=gate)
        export_accelerator(cfg, tmp_path / f"g{gate}")
        design = load_accelerator(tmp_path / f"g{gate}")
        res = verify_accelerator_layer(
            design,
            layer,
            pruning="unstructured:0.75",
            activity=True,
            work_dir=tmp_path / f"s{gate}",
        )
        assert res.passed and res.mismatch_count == 0
        assert res.cycles_measured == res.cycles_predicted
        macs[gate] = next(a for a in res.activity if a.level == "MACs")
    assert macs[True].accesses == macs[False].accesses  # same MACs issued: gating, not skipping
    ratio = macs[True].toggles / macs[False].toggles
    # 75 % of the weights are zero: a gated multiplier's operands hold on them, so at most about
    # a quarter of the ungated toggles remain (measured 0.253; 0.20..0.32 allows the toggles
    # at the boundaries between zero and non-zero weights)
    assert 0.20 <= ratio <= 0.32, ratio
    model = macs[True].model_energy_pj / macs[False].model_energy_pj
    assert model == pytest.approx(0.25)
    assert abs(ratio - model) <= 0.07
    # the activity estimate counts the gating once (through the toggles), not again through
    # the model's density-scaled MAC energy
    estimate = macs[True].activity_energy_pj / macs[False].activity_energy_pj
    assert estimate == pytest.approx(ratio, rel=1e-9)


@pytest.mark.synth
@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs Yosys")
def test_the_gate_costs_a_few_luts_per_pe_and_no_dsp_or_bram(tmp_path):
    """Yosys (ECP5) is the oracle of the gate's FPGA cost: LUTs and flip-flops only, a few per
    PE (measured about 3 LUTs and 5-8 FFs per int8 PE on the 4x4 and 8x8 accelerators)."""
    from codesign.hw.accel_export import export_accelerator

    from codesign.synth import synthesize

    stats = {}
    for gate in (False, True):
        cfg = AcceleratorConfig(
            array=SystolicConfig(rows=2, cols=2), max_tile_m=16, max_n_tiles=2, fifo_depth=4,
            zero_gate=gate,
        )  # fmt: skip
        export_accelerator(cfg, tmp_path / f"g{gate}")
        stats[gate] = synthesize(tmp_path / f"g{gate}", "ecp5", timeout_s=900)
    dense, gated = stats[False], stats[True]
    assert gated.dsps == dense.dsps and gated.brams == dense.brams
    pes = 4
    assert 0 < gated.luts - dense.luts <= 24 * pes, (dense.luts, gated.luts)
    assert 0 <= gated.ffs - dense.ffs <= 2 * 8 * pes, (dense.ffs, gated.ffs)


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
@pytest.mark.parametrize("rows", [1, 2])
def test_gated_arrays_without_the_two_ahead_retiming_are_exact(tmp_path, rows):
    """A one-row array (no PE retimed: the gate is a mux on the registered weight != 0) and a
    two-row one (its first PE likewise), on a pruned layer: bit-exact at the model's cycles."""
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_layer

    cfg = AcceleratorConfig(array=SystolicConfig(rows=rows, cols=4), zero_gate=True)
    export_accelerator(cfg, tmp_path / "g")
    res = verify_accelerator_layer(
        load_accelerator(tmp_path / "g"),
        "examples/models.py:digits_cnn:conv1",
        pruning="unstructured:0.5",
        work_dir=tmp_path / "s",
    )
    assert res.passed and res.mismatch_count == 0
    assert res.cycles_measured == res.cycles_predicted
