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
    assert AcceleratorConfig.from_architecture(gated.architecture()).zero_gate
    assert not AcceleratorConfig.from_architecture(dense.architecture()).zero_gate
    with pytest.raises(SpecError, match="zero_gate applies to 'ws' accelerators only"):
        AcceleratorConfig(array=SystolicConfig(rows=4, cols=4, dataflow="os"), zero_gate=True)
    with pytest.raises(SpecError, match="zero_gate must be true or false"):
        AcceleratorConfig(array=_ARRAY, zero_gate=1)


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
