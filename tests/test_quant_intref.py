"""Integer arithmetic of quantized layers against float64 torch and exact rationals."""

import json
from fractions import Fraction

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from codesign.errors import SpecError
from codesign.quant.export import export_integer, integer_layer_from_dict
from codesign.quant.fakequant import quantize
from codesign.quant.intref import (
    check_int32,
    int_conv,
    int_linear,
    quantize_multiplier,
    requantize,
)
from codesign.quant.model import (
    int_layer_io,
    integer_forward,
    integer_layer_forward,
    quantize_model,
)
from codesign.quant.policy import Calibration, LayerPolicy, Pruning, QuantPolicy, WeightFormat


@pytest.mark.parametrize(
    "groups,stride,padding,dilation",
    [(1, (1, 1), (1, 1), (1, 1)), (2, (2, 1), (0, 2), (2, 1)), (4, (1, 2), (1, 0), (1, 3))],
)
def test_int_conv2d_equals_float64_conv(groups, stride, padding, dilation):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-128, 128, (2, 4, 9, 11), generator=g)
    w = torch.randint(-128, 128, (8, 4 // groups, 3, 2), generator=g)
    got = int_conv(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    ref = F.conv2d(
        x.double(), w.double(), stride=stride, padding=padding, dilation=dilation, groups=groups
    )
    assert got.dtype == torch.int64
    assert torch.equal(got, ref.to(torch.int64))


def test_int_conv1d_and_linear_do_not_wrap():
    x = torch.full((1, 3, 5), -128, dtype=torch.int8)
    w = torch.full((2, 3, 3), -128, dtype=torch.int8)
    acc = int_conv(x, w, stride=(1,), padding=(0,), dilation=(1,), groups=1)
    assert int(acc.max()) == 9 * 128 * 128  # an int8 matmul would have wrapped
    xl = torch.full((2, 64), 127, dtype=torch.int8)
    wl = torch.full((3, 64), -128, dtype=torch.int8)
    assert int(int_linear(xl, wl).min()) == -64 * 127 * 128


def test_multiplier_and_requantize_against_exact_rationals():
    real = torch.tensor([0.3, 1e-3, 1.7, 2.0**-20, 0.75])
    m, shift = quantize_multiplier(real)
    assert bool(((m >= 2**30) & (m < 2**31)).all())
    for r, mi, si in zip(real.tolist(), m.tolist(), shift.tolist(), strict=True):
        assert abs(mi * 2.0**-si - r) <= 2.0 ** -(si + 1)  # the nearest 31-bit multiplier
    g = torch.Generator().manual_seed(1)
    acc = torch.randint(-(2**31), 2**31, (200, 5), generator=g, dtype=torch.int64)
    acc[0] = torch.tensor([-(2**31), 2**31 - 1, 0, 1, -1])
    out = requantize(acc, m, shift, 3, 8, channel_axis=1)
    for row_acc, row_out in zip(acc.tolist(), out.tolist(), strict=True):
        for a, mi, si, o in zip(row_acc, m.tolist(), shift.tolist(), row_out, strict=True):
            exact = Fraction(a * mi, 2**si)
            rounded = (exact + Fraction(1, 2)).__floor__()  # half up
            assert o == max(-128, min(127, rounded + 3))
    # ties round up, also for negative values: -2.5 -> -2, 2.5 -> 3
    half_m, half_s = quantize_multiplier(torch.tensor([0.5]))
    assert requantize(torch.tensor([[-5], [5]]), half_m, half_s, 0, 8, channel_axis=1).tolist() == [
        [-2],
        [3],
    ]


def test_multiplier_and_accumulator_errors():
    with pytest.raises(SpecError, match=r"^requantization multiplier must be a positive number"):
        quantize_multiplier(torch.tensor([0.0]))
    with pytest.raises(SpecError, match=r"^requantization multiplier 1e\+20 needs shift"):
        quantize_multiplier(torch.tensor([1e20], dtype=torch.float64))
    with pytest.raises(SpecError, match=r"^layer 'x': accumulator range \[0, 2147483648\] does"):
        check_int32(torch.tensor([0, 2**31]), "layer 'x'")


class Tiny(nn.Module):
    """conv1d, strided/dilated grouped conv2d and linear, with ReLU and pooling between."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c1 = nn.Conv1d(2, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(6 * 4 * 4, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.c1(x))  # (N, 4, 64)
        y = y.reshape(-1, 4, 8, 8)
        y = F.max_pool2d(torch.relu(self.c2(y)), 1)
        return self.head(y)


def _tiny_data():
    g = torch.Generator().manual_seed(7)
    return torch.randn(64, 2, 64, generator=g), torch.randn(16, 2, 64, generator=g)


@pytest.mark.parametrize(
    "layer_policy",
    [
        LayerPolicy(),
        LayerPolicy(act_symmetric=True, per_channel=False),
        LayerPolicy(weight_bits=4, act_bits=6, weight_symmetric=False),
        LayerPolicy(weight_bits=12, act_bits=12, pruning=Pruning.NM),
        LayerPolicy(weight_bits=3, act_bits=3),
        LayerPolicy(calibration=Calibration.PERCENTILE, percentile=99.0),
        LayerPolicy(weight_bits=4, weight_format=WeightFormat.POW2),
        LayerPolicy(weight_bits=2, weight_format=WeightFormat.POW2, per_channel=False),
    ],
)
def test_integer_reference_matches_fake_quant_within_one_lsb(layer_policy):
    model = Tiny().eval()
    calib, x = _tiny_data()
    q = quantize_model(model, QuantPolicy(default=layer_policy), calib)
    total = exact = 0
    for name in ("c1", "c2", "head.1"):
        seen = []
        hook = q.layer(name).register_forward_hook(lambda _m, _a, out, seen=seen: seen.append(out))
        io = int_layer_io(q, name, x)
        hook.remove()
        layer = q.layer(name)
        fake_q = quantize(seen[0], layer.output_qp)
        diff = (io.output_q.to(torch.int64) - fake_q).abs()
        assert int(diff.max()) <= 1, name
        total += diff.numel()
        exact += int((diff == 0).sum())
        # the accumulators are the exact integer sums (oracle: float64 torch on the integers)
        xi = io.input_q.to(torch.float64) - io.layer.input_zero_point
        zp_w = io.layer.weight_zero_point.reshape([-1] + [1] * (io.weight_q.dim() - 1))
        wi = io.weight_q.to(torch.float64) - zp_w
        if io.layer.op == "linear":
            ref = xi @ wi.T + io.layer.bias_int32.double()
        else:
            fn = F.conv1d if io.layer.op == "conv1d" else F.conv2d
            ref = fn(
                xi,
                wi,
                io.layer.bias_int32.double(),
                io.layer.stride,
                io.layer.padding,
                io.layer.dilation,
                io.layer.groups,
            )
        assert torch.equal(io.acc.to(torch.float64), ref)
        assert io.acc.dtype == torch.int32
        assert (
            io.input_q.dtype
            == io.output_q.dtype
            == (torch.int8 if layer_policy.act_bits <= 8 else torch.int16)
        )
    assert exact / total > 0.99
    # whole model: integer layers vs fake-quant layers
    out_int = integer_forward(q, x)
    with torch.no_grad():
        out_fake = q.module(x)
    step = q.layer("head.1").output_qp.scale
    assert float(((out_int - out_fake).abs() / step).max()) <= 2.0


def test_integer_form_needs_int_weights_and_quantized_activations():
    model = Tiny().eval()
    calib, x = _tiny_data()
    q = quantize_model(
        model,
        QuantPolicy(layers=(("c1", LayerPolicy(act_bits=None)), ("c2", None))),
        calib,
    )
    with pytest.raises(SpecError, match=r"^layer 'c1' has no integer form: it needs"):
        int_layer_io(q, "c1", x)
    with pytest.raises(SpecError, match=r"^layer 'nope' is not a quantized layer of the model"):
        int_layer_io(q, "nope", x)
    assert q.integer_layer("head.1").weight_q.dtype == torch.int8


def test_integer_export_round_trips_through_json():
    model = Tiny().eval()
    calib, x = _tiny_data()
    q = quantize_model(model, QuantPolicy(default=LayerPolicy(weight_symmetric=False)), calib)
    data = json.loads(json.dumps(export_integer(q)))
    assert data["version"] == 1 and data["policy_hash"] == q.policy.hash()
    assert [d["name"] for d in data["layers"]] == ["c1", "c2", "head.1"]
    for d in data["layers"]:
        rebuilt = integer_layer_from_dict(d)
        original = q.integer_layer(d["name"])
        io = int_layer_io(q, d["name"], x)
        acc, out = integer_layer_forward(rebuilt, io.input_q)
        assert torch.equal(acc, io.acc.to(torch.int64))
        assert torch.equal(out, io.output_q.to(torch.int64))
        assert torch.equal(rebuilt.weight_q, original.weight_q)
        assert rebuilt.weight_q.dtype == torch.int8
        assert torch.equal(rebuilt.weight_scale, original.weight_scale)
        assert rebuilt.output_scale == original.output_scale
    with pytest.raises(SpecError, match=r"^integer layer: keys must be .*missing \['shift'\]"):
        integer_layer_from_dict({k: v for k, v in data["layers"][0].items() if k != "shift"})


def test_pow2_integer_weights_are_powers_of_two():
    model = Tiny().eval()
    calib, _ = _tiny_data()
    pol = LayerPolicy(weight_bits=5, weight_format=WeightFormat.POW2)
    q = quantize_model(model, QuantPolicy(default=pol), calib)
    for name in ("c1", "c2", "head.1"):
        layer = q.integer_layer(name)
        assert layer.weight_bits == 16 and layer.weight_q.dtype == torch.int16
        mags = layer.weight_q.to(torch.int64).abs()
        nonzero = mags[mags != 0]
        assert bool(((nonzero & (nonzero - 1)) == 0).all())  # powers of two
        assert int(mags.max()) == 2**14
        scale = layer.weight_scale.reshape([-1] + [1] * (layer.weight_q.dim() - 1))
        assert torch.equal(layer.weight_q.to(torch.float32) * scale, q.layer(name).weight)
    six = QuantPolicy(default=LayerPolicy(weight_bits=6, weight_format=WeightFormat.POW2))
    with pytest.raises(SpecError, match=r"^layer 'c1' has no integer form: it needs weight_bits"):
        quantize_model(model, six, calib).integer_layer("c1")
