"""Applying a policy to a copy of a model: originals untouched, densities, sizes, workload."""

import pytest
import torch
from torch import nn

from codesign.errors import SpecError
from codesign.quant.model import annotate_workload, quantizable_layers, quantize_model
from codesign.quant.policy import LayerPolicy, Pruning, QuantPolicy, WeightFormat
from codesign.workload import TensorRole, from_torch


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv2(self.features(x))).flatten(1))


def _calib() -> torch.Tensor:
    return torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 16


def test_original_model_is_never_modified():
    model = Net().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    types = [type(m) for m in model.modules()]
    policy = QuantPolicy.uniform(
        4, pruning=Pruning.UNSTRUCTURED, sparsity=0.5, weight_format=WeightFormat.INT
    )
    q = quantize_model(model, policy, _calib())
    q.module(_calib())
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [type(m) for m in model.modules()] == types
    assert q.module is not model


def test_layers_sizes_and_mac_weighted_bits_by_hand():
    model = Net().eval()
    policy = QuantPolicy.uniform(8).with_layer("conv2", LayerPolicy(weight_bits=4, act_bits=6))
    policy = policy.with_layer("fc", None)
    q = quantize_model(model, policy, _calib())
    assert quantizable_layers(model) == ["features.0", "conv2", "fc"]
    info = {i.name: i for i in q.layers}
    # MACs per sample by hand: 8*64*9, 16*64*72, 10*1024
    assert [i.macs_per_sample for i in q.layers] == [4608, 73728, 10240]
    assert (info["conv2"].weight_bits, info["conv2"].act_bits) == (4, 6)
    assert (info["fc"].weight_bits, info["fc"].act_bits) == (32, 32)
    assert q.model_size_bits == 72 * 8 + 1152 * 4 + 10240 * 32 + 32 * (8 + 16 + 10)
    w, a = q.mac_weighted_bits()
    total = 4608 + 73728 + 10240
    assert w == pytest.approx((4608 * 8 + 73728 * 4 + 10240 * 32) / total)
    assert a == pytest.approx((4608 * 8 + 73728 * 6 + 10240 * 32) / total)


def test_policy_naming_an_unknown_layer_is_an_error():
    policy = QuantPolicy(layers=(("conv9", LayerPolicy()),))
    with pytest.raises(
        SpecError,
        match=r"^policy names layer 'conv9' which is not a Conv1d/Conv2d/Linear of the model; "
        r"layers are \['features.0', 'conv2', 'fc'\]$",
    ):
        quantize_model(Net(), policy, _calib())


def test_pruning_densities_exact():
    model = Net().eval()
    policy = QuantPolicy(
        default=None,
        layers=(
            ("conv2", LayerPolicy(weight_bits=None, act_bits=None, pruning=Pruning.NM)),
            (
                "fc",
                LayerPolicy(
                    weight_bits=None, act_bits=None, pruning=Pruning.UNSTRUCTURED, sparsity=0.75
                ),
            ),
            (
                "features.0",
                LayerPolicy(
                    weight_bits=None, act_bits=None, pruning=Pruning.CHANNEL, sparsity=0.25
                ),
            ),
        ),
    )
    q = quantize_model(model, policy, _calib())
    info = {i.name: i for i in q.layers}
    assert info["conv2"].weight_density == 0.5
    assert info["fc"].weight_density == 0.25
    assert info["features.0"].weight_density == 0.75
    # 2:4 pattern on the pruned copy: two non-zeros in every group of four (reduction 72)
    groups = q.layer("conv2").weight.reshape(16, -1, 4)
    assert bool(((groups != 0).sum(dim=2) == 2).all())
    # channel pruning removed two whole filters and their biases: those outputs are zero
    with torch.no_grad():
        out = q.module.features(_calib())
    dead = (out.abs().sum(dim=(0, 2, 3)) == 0).sum()
    assert int(dead) == 2


def test_quantized_two_four_keeps_the_pattern():
    q = quantize_model(Net().eval(), QuantPolicy.uniform(8, pruning=Pruning.NM), _calib())
    groups = q.integer_layer("conv2").weight_q.reshape(16, -1, 4)
    assert bool(((groups != 0).sum(dim=2) <= 2).all())
    assert q.layers[1].weight_density <= 0.5


def test_densities_and_bits_flow_into_the_workload():
    model = Net().eval()
    x = _calib()[:1]
    workload = from_torch(model, x)
    policy = QuantPolicy.uniform(8).with_layer(
        "fc", LayerPolicy(weight_bits=4, act_bits=8, pruning=Pruning.NM, nm=(1, 4))
    )
    q = quantize_model(model, policy, _calib())
    annotated = annotate_workload(workload, q)
    nests = {n.name: n for n in annotated.loop_nests}
    assert set(nests) == {"features.0", "conv2", "fc"}
    fc = nests["fc"]
    assert fc.weights.bits == 4 and fc.inputs.bits == 8
    assert fc.weights.density == q.layers[2].weight_density <= 0.25
    assert nests["conv2"].tensor(TensorRole.WEIGHTS).bits == 8
    assert annotated.node("fc").weight_density == fc.weights.density
    assert annotated.node("fc").param_bits == 10240 * 4 + 32 * 10
    # MAC counts unchanged, and the original workload untouched
    assert annotated.total_macs == workload.total_macs
    assert {n.name: n.weights.bits for n in workload.loop_nests}["fc"] == 32


def test_calibration_must_reach_every_layer():
    class Unused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x)

    with pytest.raises(SpecError, match=r"^layer 'b' was not reached by the calibration"):
        quantize_model(Unused(), QuantPolicy.uniform(8), torch.randn(4, 4))


def test_string_padding_is_rejected_with_a_clear_error():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding="same"))
    with pytest.raises(SpecError, match=r"^layer '0': padding must be numeric zero padding"):
        quantize_model(model, QuantPolicy.uniform(8), torch.randn(2, 1, 5, 5))
