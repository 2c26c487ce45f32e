"""torch.fx front end against independent oracles: FlopCounterMode (total MACs), sum of
p.numel() (params), hand-derived per-layer counts, measured densities, and its error messages."""

import functools
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from codesign.errors import SpecError, TraceError, UnsupportedOperatorError
from codesign.workload import LoopNest, OtherOp, TensorRole, from_torch, import_file, load_model

models = import_file(Path(__file__).resolve().parents[1] / "examples" / "models.py")

# --- extra test models ---------------------------------------------------------------------------


class GroupedDilated(nn.Module):
    """Grouped + dilated + strided conv, depthwise conv, then a functional conv with a bias."""

    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv2d(8, 12, 3, stride=2, dilation=2, padding=1, groups=4)
        self.dw = nn.Conv2d(12, 12, 3, padding=1, groups=12, bias=False)
        self.w = nn.Parameter(torch.randn(6, 12, 1, 1))
        self.b = nn.Parameter(torch.randn(6))

    def forward(self, x):
        return F.conv2d(F.relu(self.dw(self.grouped(x))), self.w, self.b)


class Conv1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 5, stride=3)
        self.c2 = nn.Conv1d(6, 6, 3, padding="same", dilation=2, groups=3)

    def forward(self, x):
        return self.c2(torch.tanh(self.c1(x)))


class Linear3d(nn.Module):
    """Linear on a (batch, tokens, features) input and a matmul with a parameter on each side."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 10)
        self.proj = nn.Parameter(torch.randn(10, 5))
        self.left = nn.Parameter(torch.randn(3, 7))

    def forward(self, x):
        y = self.fc(x) @ self.proj  # (2, 7, 5): weights are the parameter
        return torch.matmul(self.left, y)  # (3, 7) @ (2, 7, 5): parameter on the left


class Attention(nn.Module):
    """Attention with torch.bmm and Tensor.matmul, heads split with chunk."""

    def __init__(self, dim=8):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        a = torch.softmax(torch.bmm(q, k.transpose(1, 2)), dim=-1)
        return a.matmul(v)


def _seeded(cls, *inputs_shapes):
    def make():
        torch.manual_seed(0)
        return cls().eval(), tuple(torch.randn(s) for s in inputs_shapes)

    return make


EXTRA = {
    "grouped_dilated": _seeded(GroupedDilated, (2, 8, 11, 13)),
    "conv1d": _seeded(Conv1dNet, (3, 4, 20)),
    "linear3d": _seeded(Linear3d, (2, 7, 16)),
    "attention": _seeded(Attention, (2, 5, 8)),
}
EXAMPLES = {
    name: (lambda n=name: (getattr(models, n)(), getattr(models, f"{n}_inputs")()))
    for name in ("digits_cnn", "resnet18", "mobilenet_v2", "transformer_encoder", "residual_block")
}


def _flop_counter_macs(module, inputs):
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


@functools.cache
def _analyzed(name, fold):
    """Each model traced once per test process (ResNet-18 and MobileNetV2 are the slow ones)."""
    module, inputs = {**EXAMPLES, **EXTRA}[name]()
    return module, inputs, from_torch(module, *inputs, fold_batchnorm=fold)


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "unfolded"])
@pytest.mark.parametrize("name", list(EXAMPLES) + list(EXTRA))
def test_total_macs_and_params_equal_torch(name, fold):
    module, inputs, workload = _analyzed(name, fold)
    assert workload.total_macs == _flop_counter_macs(module, inputs)
    assert workload.total_params == sum(p.numel() for p in module.parameters())
    assert sum(n.macs for n in workload.loop_nests) == workload.total_macs


def test_resnet18_matches_torchvision_figures():
    workload = _analyzed("resnet18", True)[2]
    assert workload.total_macs == 1_814_073_344
    assert workload.total_params == 11_689_512
    assert len(workload.loop_nests) == 21  # 20 convolutions + fc
    # Per layer, by hand: K*C*P*Q*R*S. A stage's first 3x3 conv halves P, Q and doubles K.
    by_name = {n.name: n.macs for n in workload.loop_nests}
    assert by_name["conv1"] == 64 * 3 * 112 * 112 * 7 * 7 == 118_013_952
    for stage, (k, p) in enumerate([(64, 56), (128, 28), (256, 14), (512, 7)], start=1):
        assert by_name[f"layer{stage}.1.conv2"] == k * k * p * p * 9
        if stage > 1:
            assert by_name[f"layer{stage}.0.conv1"] == k * (k // 2) * p * p * 9
            assert by_name[f"layer{stage}.0.downsample.0"] == k * (k // 2) * p * p
    assert by_name["fc"] == 512 * 1000
    # Folding: no BatchNorm left, every conv has a bias of K elements.
    assert not any(layer.op == "batch_norm" for layer in workload.layers)
    stem = workload.loop_nests[0]
    assert stem.name == "conv1" and stem.bias_elements == 64
    assert workload.node("conv1").folded == ("bn1",)
    # Deployed storage: every conv weight, one bias per conv output channel, and fc.
    conv_weights = sum(n.elements(TensorRole.WEIGHTS) for n in workload.loop_nests[:-1])
    conv_biases = sum(n.sizes.get("K", 0) * n.sizes.get("G", 1) for n in workload.loop_nests[:-1])
    assert workload.weight_bits == 32 * (conv_weights + conv_biases + 512 * 1000 + 1000)


def test_mobilenet_v2_matches_torchvision_params():
    workload = _analyzed("mobilenet_v2", True)[2]
    assert workload.total_params == 3_504_872
    depthwise = [n for n in workload.loop_nests if n.sizes.get("G", 1) > 1]
    assert len(depthwise) == 17 and all(n.sizes["K"] == n.sizes["C"] == 1 for n in depthwise)


def test_digits_cnn_per_layer_counts_by_hand():
    workload = from_torch(models.digits_cnn(), *models.digits_cnn_inputs())
    nests = {n.name: n for n in workload.loop_nests}
    assert list(nests) == ["conv1", "conv2", "fc"]
    assert nests["conv1"].macs == 8 * 1 * 8 * 8 * 3 * 3  # K C P Q R S
    assert nests["conv2"].macs == 16 * 8 * 8 * 8 * 3 * 3
    assert nests["fc"].macs == 10 * 256
    assert nests["fc"].sizes == {"M": 1, "N": 10, "K": 256}
    assert [n.params for n in nests.values()] == [8 * 9 + 8, 16 * 8 * 9 + 16, 2560 + 10]
    ops = [layer.op for layer in workload.layers]
    assert ops == ["input", "conv2d", "relu", "conv2d", "relu", "max_pool2d", "flatten", "linear"]
    pool = workload.layers[5]
    assert pool.output_shape == (1, 16, 4, 4) and pool.element_ops == 16 * 16 * 4


def test_extra_models_per_layer_counts_by_hand():
    module, inputs = EXTRA["grouped_dilated"]()
    nests = from_torch(module, *inputs).loop_nests
    # grouped: out rows (11 + 2 - 5)//2 + 1 = 5, cols (13 + 2 - 5)//2 + 1 = 6
    assert nests[0].sizes == {"N": 2, "G": 4, "K": 3, "C": 2, "P": 5, "Q": 6, "R": 3, "S": 3}
    assert nests[0].macs == 2 * 12 * 2 * 5 * 6 * 9
    assert nests[1].sizes == {"N": 2, "G": 12, "K": 1, "C": 1, "P": 5, "Q": 6, "R": 3, "S": 3}
    assert nests[2].op == "conv2d" and nests[2].macs == 2 * 6 * 12 * 5 * 6
    assert nests[2].params == 6 * 12 + 6

    module, inputs = EXTRA["conv1d"]()
    c1, c2 = from_torch(module, *inputs).loop_nests
    assert c1.sizes == {"N": 3, "K": 6, "C": 4, "P": 6, "R": 5}  # (20 - 5)//3 + 1
    assert c2.sizes == {"N": 3, "G": 3, "K": 2, "C": 2, "P": 6, "R": 3}  # 'same', padding 2
    assert c2.attr("padding") == (2,)

    module, inputs = EXTRA["linear3d"]()
    fc, proj, left = from_torch(module, *inputs).loop_nests
    assert fc.sizes == {"M": 14, "N": 10, "K": 16} and fc.params == 170
    assert proj.sizes == {"M": 14, "N": 5, "K": 10} and proj.weights.is_parameter
    assert left.sizes == {"B": 2, "M": 3, "N": 5, "K": 7} and left.weights.is_parameter
    # The parameter (3, 7) plays the weights role, indexed [m, k]; no batch dim.
    assert left.weights.dims == {"M", "K"} and left.inputs.dims == {"B", "K", "N"}

    module, inputs = EXTRA["attention"]()
    workload = from_torch(module, *inputs)
    qkv, qk, av = workload.loop_nests
    assert qkv.sizes == {"M": 10, "N": 24, "K": 8}
    assert qk.sizes == {"B": 2, "M": 5, "N": 5, "K": 8} and not qk.weights.is_parameter
    assert av.sizes == {"B": 2, "M": 5, "N": 8, "K": 5} and qk.params == av.params == 0
    softmax = next(layer for layer in workload.layers if layer.op == "softmax")
    assert softmax.element_ops == 4 * 2 * 5 * 5


def test_transformer_attention_matmuls():
    workload = _analyzed("transformer_encoder", True)[2]
    matmuls = [n for n in workload.loop_nests if n.op == "matmul"]
    # 2 layers x (Q K^T, A V); batch 2 x 4 heads, 16 tokens, head dim 16
    assert [n.sizes for n in matmuls] == [
        {"B": 8, "M": 16, "N": 16, "K": 16},
        {"B": 8, "M": 16, "N": 16, "K": 16},
    ] * 2
    linears = [n for n in workload.loop_nests if n.op == "linear"]
    assert len(linears) == 1 + 2 * 6 + 1 and linears[0].sizes == {"M": 32, "N": 64, "K": 32}
    norms = [layer for layer in workload.layers if layer.op == "layer_norm"]
    assert len(norms) == 4 and norms[0].element_ops == 7 * 2 * 16 * 64


def test_batchnorm_folding_and_unfolded():
    class ConvBN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1, bias=False)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x):
            return self.bn(self.conv(x))

    torch.manual_seed(0)
    model = ConvBN().eval()
    with torch.no_grad():
        model.bn.weight.copy_(torch.tensor([1.0, 0.0, 2.0, 0.0]))  # two channels scaled to 0
    x = torch.randn(1, 3, 5, 5)
    folded = from_torch(model, x)
    assert [layer.op for layer in folded.layers] == ["input", "conv2d"]
    conv = folded.loop_nests[0]
    assert conv.bias_elements == 4 and folded.node("conv").folded == ("bn",)
    assert conv.weights.density == 0.5  # half the folded weights are zero
    assert folded.node("conv").output_shape == (1, 4, 5, 5)
    assert folded.total_params == 12 + 8

    unfolded = from_torch(model, x, fold_batchnorm=False)
    assert [layer.op for layer in unfolded.layers] == ["input", "conv2d", "batch_norm"]
    assert unfolded.loop_nests[0].bias_elements == 0 and unfolded.loop_nests[0].weights.density == 1
    bn = unfolded.layers[2]
    assert isinstance(bn, OtherOp) and bn.element_ops == 2 * 100
    assert unfolded.node("bn").params == 8 and unfolded.total_params == 20


def test_measured_densities():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 4, bias=False)
            self.fc2 = nn.Linear(4, 2, bias=False)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    model = Net().eval()
    with torch.no_grad():
        model.fc1.weight.copy_(torch.diag(torch.tensor([1.0, -1.0, 2.0, 0.0])))  # 3/16 non-zero
        model.fc2.weight.fill_(1.0)
    x = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])  # 6/8 non-zero
    workload = from_torch(model, x)
    fc1, fc2 = workload.loop_nests
    assert fc1.weights.density == 3 / 16 and fc1.inputs.density == 6 / 8
    # fc1 out = [[0,-1,2,0],[1,-1,2,0]] -> relu keeps 3 of 8
    assert fc2.inputs.density == 3 / 8 and fc2.weights.density == 1.0
    assert workload.node("fc1").output_density == 5 / 8


def test_bit_widths_from_dtype_and_overrides():
    model, inputs = models.digits_cnn(), models.digits_cnn_inputs()
    conv1 = from_torch(model, *inputs).loop_nests[0]
    assert [conv1.tensor(r).bits for r in TensorRole] == [32, 32, 32]
    conv1 = from_torch(model.double(), inputs[0].double()).loop_nests[0]
    assert [conv1.tensor(r).bits for r in TensorRole] == [64, 64, 64]
    w = from_torch(
        models.digits_cnn(), *inputs, activation_bits=8, weight_bits=4, accumulator_bits=24
    )
    conv1 = w.loop_nests[0]
    assert (conv1.inputs.bits, conv1.weights.bits, conv1.outputs.bits) == (8, 4, 24)
    conv1 = from_torch(models.digits_cnn(), *inputs, activation_bits=8).loop_nests[0]
    assert (conv1.inputs.bits, conv1.weights.bits, conv1.outputs.bits) == (8, 32, 32)
    assert w.node("conv1").output_bits == 8 * 8 * 8 * 8
    assert w.weight_bits == 4 * 3818


def test_in_place_ops_do_not_corrupt_measured_densities():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2, bias=False)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.relu(self.fc(x))

    model = Net()
    with torch.no_grad():
        model.fc.weight.copy_(torch.eye(2))
    workload = from_torch(model, torch.tensor([[1.0, -1.0]]))
    assert workload.node("fc").output_density == 1.0  # measured before the in-place ReLU
    assert workload.node("relu").output_density == 0.5


# --- errors --------------------------------------------------------------------------------------


class DataDependent(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


class Sorting(nn.Module):
    def forward(self, x):
        return torch.sort(x).values


def test_data_dependent_control_flow_is_a_trace_error():
    with pytest.raises(
        TraceError,
        match=r"^cannot trace DataDependent with torch.fx: symbolically traced variables cannot "
        r"be used as inputs to control flow \(data-dependent control flow is not supported",
    ):
        from_torch(DataDependent(), torch.ones(2), frontend="fx")
    with pytest.raises(
        TraceError,
        match=r"^cannot capture DataDependent with torch.export at .*test_frontend.py:\d+ in "
        r"forward.*: .*data-dependent.* \(data-dependent "
        r"control flow: make branches depend on constructor arguments or shapes",
    ) as info:
        from_torch(DataDependent(), torch.ones(2))
    assert "\n" not in str(info.value)


def test_unsupported_op_names_node_op_and_supported_set():
    with pytest.raises(
        UnsupportedOperatorError,
        match=r"^node 'sort': operator torch.sort is not supported; supported operators: .*"
        r"Tensor.matmul.*torch.nn.Conv2d.*torch.nn.functional.linear",
    ):
        from_torch(Sorting(), torch.ones(2, 3), frontend="fx")
    with pytest.raises(
        UnsupportedOperatorError, match=r"^node 'mha': operator torch.nn.MultiheadAttention is"
    ):

        class Wrapped(nn.Module):
            def __init__(self):
                super().__init__()
                self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

            def forward(self, x):
                return self.mha(x, x, x)[0]

        from_torch(Wrapped(), torch.ones(1, 3, 8), frontend="fx")


def test_wrong_input_shape_and_count():
    model = models.digits_cnn()
    with pytest.raises(
        TraceError,
        match=r"^module 'conv1' \(Conv2d\) failed on example inputs of shapes "
        r"\[\(1, 3, 8, 8\)\]: .*expected input\[1, 3, 8, 8\] to have 1 channels",
    ):
        from_torch(model, torch.ones(1, 3, 8, 8))
    want = r"^module 'fc' \(Linear\) .*mat1 and mat2 shapes cannot be multiplied"
    with pytest.raises(TraceError, match=want):
        from_torch(model, torch.ones(1, 1, 16, 16))
    with pytest.raises(SpecError, match=r"^DigitsCNN.forward takes 1 inputs \['x'\], got 2"):
        from_torch(model, torch.ones(1, 1, 8, 8), torch.ones(1))
    with pytest.raises(SpecError, match=r"^module must be a torch.nn.Module, not function"):
        from_torch(models.digits_cnn, torch.ones(1, 1, 8, 8))
    with pytest.raises(SpecError, match=r"^example_inputs\[0\] must be a torch.Tensor, not list"):
        from_torch(model, [1, 2])
    with pytest.raises(SpecError, match=r"^weight_bits must be a positive integer or None, not 0"):
        from_torch(model, torch.ones(1, 1, 8, 8), weight_bits=0)


def test_load_model_forms_and_errors(tmp_path):
    module, inputs = load_model(f"{models.__file__}:digits_cnn")
    assert isinstance(module, models.DigitsCNN) and inputs[0].shape == (1, 1, 8, 8)
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\n"
        "def pair():\n    return torch.nn.ReLU(), torch.ones(3)\n"
        "def bare():\n    return torch.nn.ReLU()\n"
        "def wrong():\n    return 42\n"
    )
    module, inputs = load_model(f"{path}:pair")
    assert isinstance(module, nn.ReLU) and len(inputs) == 1 and inputs[0].shape == (3,)
    assert load_model(f"{path}:bare")[1] is None
    with pytest.raises(SpecError, match=r"^factory 'wrong' must return a torch.nn.Module or"):
        load_model(f"{path}:wrong")
    with pytest.raises(
        SpecError, match=r"^model file '.*m.py' has no factory 'nope'; callables defined there: "
        r"\['bare', 'pair', 'wrong'\]"
    ):  # fmt: skip
        load_model(f"{path}:nope")
    with pytest.raises(SpecError, match=r"^model file 'missing.py' does not exist"):
        load_model("missing.py:net")
    with pytest.raises(SpecError, match=r"^model must be MODULE_PATH:FACTORY"):
        load_model(models.__file__)
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(SpecError, match=r"^model file '.*bad.py' failed to import: boom"):
        load_model(f"{bad}:net")


def test_layers_are_in_program_order_and_complete():
    workload = from_torch(models.residual_block(), *models.residual_block_inputs())
    assert workload.schedule == ("x", "conv1", "relu", "conv2", "add", "flatten")
    assert all(isinstance(layer, (LoopNest, OtherOp)) for layer in workload.layers)
    assert sorted(workload.graph.edges) == sorted(
        [("x", "conv1"), ("conv1", "relu"), ("relu", "conv2"), ("x", "add"), ("conv2", "add"),
         ("add", "flatten")]
    )  # fmt: skip
    assert workload.node("flatten").is_view and workload.node("flatten").is_output
    assert math.prod(workload.node("flatten").output_shape) == 32


def test_names_stay_unique_and_index_gathers_are_new_buffers():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()
            self.fc = nn.Linear(4, 4)

        def forward(self, relu, idx):  # an input named like a module
            return self.fc(self.relu(relu))[idx]

    workload = from_torch(Net(), torch.randn(3, 4), torch.tensor([0, 2]))
    assert workload.schedule == ("relu", "idx", "relu_1", "fc", "index")
    assert [layer.op for layer in workload.layers] == [
        "input",
        "input",
        "relu",
        "linear",
        "index",
    ]
    gather = workload.node("index")
    assert not gather.is_view and gather.output_shape == (2, 4)
    assert workload.node("idx").activation_bits == 64  # int64 indices
