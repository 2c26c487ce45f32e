"""The torch.export front end on the models people deploy (issue 19): MACs against torch's
own FLOP counter (``FlopCounterMode`` / 2, with the math SDPA backend and the MHA fast path
off, so that no fused kernel hides a matmul; LSTMs, whose CPU kernel the counter misses, by
hand), and no node ever dropped: every layer but the graph inputs reads another layer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from codesign.errors import TraceError
from codesign.workload import LoopNest, OtherOp, from_torch, import_file
from codesign.workload.aten import CATEGORIES


def flop_counter_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            with torch.no_grad():
                module(*inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
    return counter.get_total_flops() // 2


class Einsum(nn.Module):
    def __init__(self, equation: str, shape: tuple[int, ...]):
        super().__init__()
        self.equation, self.w = equation, nn.Parameter(torch.randn(*shape))

    def forward(self, x):
        return torch.einsum(self.equation, x, self.w)


class Chain(nn.Module):
    def forward(self, a, b, c):
        return torch.einsum("ij,jk,kl->il", a, b, c)


class Mixed(nn.Module):
    """Transposed grouped conv, bilinear resize, 3-D conv, unbind, amax, functional BN."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2)
        self.conv3 = nn.Conv3d(6, 4, 3, padding=1)

    def forward(self, x):
        y = F.interpolate(self.up(x), scale_factor=2.0, mode="bilinear")
        a, b = self.conv3(y.unsqueeze(2)).unbind(1)[:2]
        return (a + b).amax(dim=(-1, -2)), F.batch_norm(y, torch.zeros(6), torch.ones(6))


class Attention(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


class MHA(nn.Module):
    def __init__(self, need_weights: bool):
        super().__init__()
        self.attn, self.need_weights = nn.MultiheadAttention(16, 4, batch_first=True), need_weights

    def forward(self, x):
        return self.attn(x, x, x, need_weights=self.need_weights)[0]


class Recurrent(nn.Module):
    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


def r(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


CASES = {
    "mha_need_weights_false": (lambda: MHA(False), (r(2, 5, 16),)),
    "mha_need_weights_true": (lambda: MHA(True), (r(2, 5, 16),)),
    "transformer_encoder_layer": (
        lambda: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), (r(2, 5, 16),)
    ),
    "transformer": (lambda: nn.Transformer(16, 4, 1, 1, 32, batch_first=True),
                    (r(2, 5, 16), r(2, 3, 16))),
    "einsum": (lambda: Einsum("bik,kj->bij", (8, 16)), (r(2, 3, 8),)),
    "einsum_ellipsis_implicit": (lambda: Einsum("...ij,jk", (8, 4)), (r(2, 3, 5, 8),)),
    "einsum_three_operands": (Chain, (r(3, 4), r(4, 5), r(5, 6))),
    "mixed_convs_resize": (Mixed, (r(1, 4, 5, 5),)),
    "sdpa_causal": (Attention, (r(2, 4, 5, 8), r(2, 4, 6, 8), r(2, 4, 6, 8))),
    "gru_bidirectional": (lambda: Recurrent(nn.GRU(8, 16, bidirectional=True)), (r(7, 2, 8),)),
    "rnn_two_layers": (lambda: Recurrent(nn.RNN(8, 16, num_layers=2)), (r(7, 2, 8),)),
    "lstm_projection": (lambda: Recurrent(nn.LSTM(8, 16, proj_size=4)), (r(7, 2, 8),)),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(3, 5, 4, stride=2), (r(2, 3, 9),)),
}  # fmt: skip


def assert_no_orphans(workload) -> None:
    for layer in workload.layers:
        if not (isinstance(layer, OtherOp) and layer.op == "input"):
            assert workload.graph.in_degree(layer.name) > 0, layer.name
        if isinstance(layer, OtherOp):
            assert layer.category in CATEGORIES + ("input",), layer


@pytest.mark.parametrize("case", sorted(CASES))
def test_macs_equal_torch_flop_counter_and_no_node_is_dropped(case):
    factory, inputs = CASES[case]
    torch.manual_seed(0)
    module = factory().eval()
    workload = from_torch(module, *inputs)
    assert workload.total_macs == flop_counter_macs(module, *inputs) > 0
    assert_no_orphans(workload)


def test_lstm_is_its_gate_matmuls_per_time_step_by_hand():
    # the counter sees 0 MACs in mkldnn_rnn_layer; per layer: T*B*4H*(I + H)
    module = Recurrent(nn.LSTM(8, 16, num_layers=2, batch_first=True)).eval()
    workload = from_torch(module, r(2, 7, 8))
    t, b, h = 7, 2, 16
    assert workload.total_macs == t * b * 4 * h * (8 + h) + t * b * 4 * h * (h + h)
    nests = {n.name: n for n in workload.loop_nests}
    assert list(nests) == ["rnn.l0.ih", "rnn.l0.hh", "rnn.l1.ih", "rnn.l1.hh"]
    assert nests["rnn.l0.hh"].sizes == {"T": 7, "M": 2, "N": 64, "K": 16}
    assert workload.total_params == sum(p.numel() for p in module.parameters())
    assert_no_orphans(workload)


def test_attention_is_two_matmuls_per_head_with_the_softmax_between():
    q, k, v = r(2, 4, 5, 8), r(2, 4, 6, 8), r(2, 4, 6, 8)
    workload = from_torch(Attention(), q, k, v)
    qk, soft, pv = workload.layers[3:]
    assert isinstance(qk, LoopNest) and qk.sizes == {"B": 8, "L": 5, "S": 6, "E": 8}
    assert isinstance(soft, OtherOp) and soft.category == "softmax"
    assert isinstance(pv, LoopNest) and pv.sizes == {"B": 8, "L": 5, "S": 6, "F": 8}
    assert [e for e in workload.graph.edges if e[1] == soft.name] == [(qk.name, soft.name)]


def test_mha_params_are_counted_once():
    module = MHA(False).eval()
    workload = from_torch(module, r(2, 5, 16))
    assert workload.total_params == sum(p.numel() for p in module.parameters())


class BiasedAttention(nn.Module):
    """T5's relative position bias: a learned embedding of clamped offsets as the SDPA mask."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Embedding(9, 4)  # offsets -4..4 x heads

    def forward(self, q, k, v):
        pos = torch.arange(q.shape[-2])
        offsets = (pos[None, :] - pos[:, None]).clamp(-4, 4) + 4
        mask = self.bias(offsets).permute(2, 0, 1)[None]  # (1, heads, L, S)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def test_a_learned_attention_mask_counts_its_parameters_with_the_softmax():
    q, k, v = r(2, 4, 6, 8), r(2, 4, 6, 8), r(2, 4, 6, 8)
    module = BiasedAttention().eval()
    workload = from_torch(module, q, k, v)
    assert workload.total_macs == flop_counter_macs(module, q, k, v) == 2 * (8 * 6 * 6 * 8)
    assert workload.total_params == 36
    assert workload.node("scaled_dot_product_attention.softmax").params == 36
    assert_no_orphans(workload)


def test_forward_defaults_are_not_required_inputs():
    class WithMask(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x, mask=None, is_causal=False):
            return self.fc(x) if mask is None else self.fc(x) * mask

    assert from_torch(WithMask(), r(2, 4)).total_macs == 2 * 4 * 4


def test_unknown_operators_are_costed_layers():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.special.bessel_j0(x).cummax(0).values

    workload = from_torch(Odd(), r(3, 4))
    ops = {layer.op: layer for layer in workload.layers}
    assert ops["special_bessel_j0"].category == "other"
    assert ops["special_bessel_j0"].element_ops == 12
    assert_no_orphans(workload)


def test_batchnorm_still_folds_and_counts_like_torch_fx():
    models = import_file(Path(__file__).resolve().parents[1] / "examples" / "models.py")
    for name in ("digits_cnn", "residual_block"):
        module = getattr(models, name)()
        inputs = getattr(models, f"{name}_inputs")()
        a, b = from_torch(module, *inputs), from_torch(module, *inputs, frontend="fx")
        assert [lay.name for lay in a.layers] == [lay.name for lay in b.layers]
        assert (a.total_macs, a.total_params, a.peak_activation_bits) == (
            b.total_macs, b.total_params, b.peak_activation_bits
        )  # fmt: skip


def test_data_dependent_control_flow_names_the_line():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    want = r"^cannot capture Branchy with torch.export at .*test_capture.py:\d+ in forward, "
    with pytest.raises(TraceError, match=want + r"code: return x if x.sum\(\) > 0"):
        from_torch(Branchy(), torch.ones(3))


def test_the_example_vit_tiny_matches_the_flop_counter_and_its_parameters():
    models = import_file(Path(__file__).resolve().parents[1] / "examples" / "models.py")
    module, inputs = models.vit_tiny(), models.vit_tiny_inputs()
    workload = from_torch(module, *inputs)
    assert workload.total_macs == flop_counter_macs(module, *inputs)
    assert workload.total_params == sum(p.numel() for p in module.parameters())
    ops = {layer.op for layer in workload.layers}
    assert {"attention_qk", "attention_pv", "softmax", "layer_norm", "gelu"} <= ops
    assert_no_orphans(workload)


def test_explore_runs_on_the_example_vit_tiny(tmp_path):
    import json

    from codesign.cli import main

    argv = [
        "explore", "examples/models.py:vit_tiny", "--space", "examples/space_vit.yaml",
        "--objectives", "latency,energy", "--budget", "2", "--executor", "serial",
        "--no-progress", "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    assert main(argv) == 0
    best = json.loads((tmp_path / "out" / "best.json").read_text())
    names = {lay["name"] for lay in best["layers"]}
    assert "scaled_dot_product_attention.qk" in names and "encoder.layers.0.linear1" in names


def test_a_bad_frontend_names_the_field_and_the_choices():
    from codesign.errors import SpecError

    with pytest.raises(SpecError, match=r"^frontend must be 'export' or 'fx', not 'onnx'$"):
        from_torch(nn.ReLU(), r(2), frontend="onnx")


@pytest.mark.parametrize(
    ("mode", "antialias", "taps"),
    [("nearest", False, 1), ("bilinear", False, 4), ("bilinear", True, 4), ("bicubic", False, 16)],
)
def test_resize_element_ops_are_output_elements_times_taps(mode, antialias, taps):
    class Up(nn.Module):
        def forward(self, x):
            return F.interpolate(x, size=(6, 6), mode=mode, antialias=antialias)

    resize = from_torch(Up(), r(1, 2, 3, 3)).layers[-1]
    assert resize.category == "resize" and resize.element_ops == 2 * 6 * 6 * taps
