"""Apply a `QuantPolicy` to a copy of a model: pruning, fake quantization with calibrated
activation ranges, and the integer export used as the golden model of the RTL.

`quantize_model` deep-copies the model (the original is never modified) and replaces every
``Conv1d``/``Conv2d``/``Linear`` by a `QuantLayer`. Calibration is one forward pass of the
calibration batch through the copy: each layer, in execution order, fixes its input range from
what reaches it (already quantized upstream), quantizes its bias to int32 at scale
``s_x * s_w``, then fixes its output range. The fake-quant layer computes::

    y = fake_quant_out(conv(fake_quant_in(x), w_fq) + bias_q * s_x * s_w)

and its integer twin (`IntegerLayer`, `int_layer_io`) computes the same layer in integer
arithmetic with integer-only requantization (formula in `codesign.quant.intref`). Non-MAC
operators between layers (ReLU, pooling, flatten) run in float on dequantized values in both.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from codesign.errors import SpecError
from codesign.quant.fakequant import (
    QParams,
    calibrate_range,
    dequantize,
    fake_quantize,
    pow2_fake_quantize,
    pow2_weight_qparams,
    qparams_from_range,
    quantize,
    weight_qparams,
)
from codesign.quant.intref import check_int32, int_conv, int_linear, quantize_multiplier, requantize
from codesign.quant.policy import LayerPolicy, Pruning, QuantPolicy, WeightFormat
from codesign.quant.prune import channel_mask, density, magnitude_mask, nm_mask
from codesign.workload import LoopNest, Workload

__all__ = [
    "QUANTIZABLE_TYPES",
    "quantizable_layers",
    "IntegerLayer",
    "LayerInfo",
    "LayerIO",
    "QuantLayer",
    "QuantizedModel",
    "quantize_model",
    "integer_layer_forward",
    "int_layer_io",
    "integer_forward",
    "annotate_workload",
    "int_dtype",
]

QUANTIZABLE_TYPES = (nn.Conv1d, nn.Conv2d, nn.Linear)
"""Module types a policy applies to (the MAC-bearing layers)."""

_FLOAT_BITS = 32


def quantizable_layers(model: nn.Module) -> list[str]:
    """Module paths of the ``Conv1d``/``Conv2d``/``Linear`` layers, in registration order."""
    return [name for name, m in model.named_modules() if isinstance(m, QUANTIZABLE_TYPES)]


def int_dtype(bits: int) -> torch.dtype:
    """Smallest signed torch integer dtype holding ``bits`` bits."""
    return torch.int8 if bits <= 8 else torch.int16 if bits <= 16 else torch.int32


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class IntegerLayer:
    """The integer form of one quantized layer: what the accelerator stores and computes.

    Parameters
    ----------
    name : str
        Module path in the model.
    op : str
        ``conv1d``, ``conv2d`` or ``linear``.
    stride, padding, dilation : tuple of int
        Convolution geometry (empty for ``linear``); zero padding of ``x_q - zp_x``.
    groups : int
        Convolution groups (1 for ``linear``).
    weight_q : torch.Tensor
        Integer weights, ``int_dtype(weight_bits)``, the module's weight shape.
    weight_bits : int
        Width of the integers in ``weight_q``. For power-of-two weights of ``b`` bits these are
        ``0`` or ``±2**j`` as plain integers, ``2**(b-1)`` bits wide (the stored code is
        ``b`` bits; an RTL shifts instead of multiplying).
    weight_zero_point : torch.Tensor
        int64 ``(out_channels,)`` (all 0 for symmetric weights).
    weight_scale : torch.Tensor
        float32 ``(out_channels,)``.
    bias_int32 : torch.Tensor
        int32 ``(out_channels,)``, at scale ``input_scale * weight_scale`` (0 without bias).
    input_scale, output_scale : float
        Activation scales.
    input_zero_point, output_zero_point : int
        Activation zero points.
    act_bits : int
        Width of input and output activations.
    multiplier, shift : torch.Tensor
        int64 ``(out_channels,)``: requantization ``M`` and ``shift`` (`codesign.quant.intref`).
    """

    name: str
    op: str
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    weight_q: torch.Tensor
    weight_bits: int
    weight_zero_point: torch.Tensor
    weight_scale: torch.Tensor
    bias_int32: torch.Tensor
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    act_bits: int
    multiplier: torch.Tensor
    shift: torch.Tensor


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class LayerIO:
    """Integer tensors of one layer for one real input (what a test bench drives and checks).

    Parameters
    ----------
    layer : IntegerLayer
        The layer's integer parameters.
    input_q : torch.Tensor
        Input activations, ``int_dtype(act_bits)``, ``(N, C, ...)`` or ``(..., in_features)``.
    weight_q : torch.Tensor
        Integer weights (``layer.weight_q``).
    acc : torch.Tensor
        int32 accumulators including the bias, the layer's output shape.
    output_q : torch.Tensor
        Requantized outputs, ``int_dtype(act_bits)``.
    """

    layer: IntegerLayer
    input_q: torch.Tensor
    weight_q: torch.Tensor
    acc: torch.Tensor
    output_q: torch.Tensor


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerInfo:
    """What a policy did to one MAC layer.

    Parameters
    ----------
    name : str
        Module path.
    op : str
        ``conv1d``, ``conv2d`` or ``linear``.
    policy : LayerPolicy or None
        Its policy (``None``: float).
    weight_bits, act_bits : int
        Widths, 32 for float.
    weight_elements : int
        Number of weights (dense).
    bias_elements : int
        Number of biases.
    weight_density : float
        Fraction of non-zero weights after pruning and quantization.
    macs_per_sample : int
        MACs per input sample, counted on the calibration pass.
    """

    name: str
    op: str
    policy: LayerPolicy | None
    weight_bits: int
    act_bits: int
    weight_elements: int
    bias_elements: int
    weight_density: float
    macs_per_sample: int

    @property
    def size_bits(self) -> int:
        """Dense weight storage at ``weight_bits`` plus 32-bit biases."""
        return self.weight_elements * self.weight_bits + 32 * self.bias_elements


def _op_name(module: nn.Module) -> str:
    if isinstance(module, nn.Conv1d):
        return "conv1d"
    return "conv2d" if isinstance(module, nn.Conv2d) else "linear"


class QuantLayer(nn.Module):
    """Fake-quant replacement of a ``Conv1d``/``Conv2d``/``Linear`` (weights already pruned and
    quantized; activation ranges fixed by the first forward call, the calibration pass)."""

    def __init__(self, name: str, module: nn.Module, policy: LayerPolicy | None) -> None:
        super().__init__()
        self.name = name
        self.op = _op_name(module)
        self.policy = policy
        if self.op != "linear":
            if module.padding_mode != "zeros" or isinstance(module.padding, str):
                raise SpecError(
                    f"layer {name!r}: padding must be numeric zero padding to quantize, not "
                    f"padding={module.padding!r}, padding_mode={module.padding_mode!r}"
                )
            self.geometry = {
                "stride": tuple(module.stride),
                "padding": tuple(module.padding),
                "dilation": tuple(module.dilation),
                "groups": module.groups,
            }
        else:
            self.geometry = {}
        w = module.weight.detach().clone()
        b = None if module.bias is None else module.bias.detach().clone()
        self.bias_elements = 0 if b is None else b.numel()
        self.bias_q: torch.Tensor | None = None  # int32 values at scale s_x * s_w, calibrated
        self.weight_qp: QParams | None = None
        self.weight_q: torch.Tensor | None = None
        if policy is not None:
            mask = _prune_mask(w, policy)
            if mask is not None:
                w = w * mask
                if policy.pruning is Pruning.CHANNEL and b is not None:
                    b = b * mask.reshape(w.shape[0], -1)[:, 0]
            if policy.weight_bits is not None:
                if policy.weight_format is WeightFormat.POW2:
                    w = pow2_fake_quantize(w, policy.weight_bits, per_channel=policy.per_channel)
                    self.weight_qp = pow2_weight_qparams(
                        w, policy.weight_bits, per_channel=policy.per_channel
                    )
                    if self.weight_qp is not None:  # exact: w == dequantize(weight_q)
                        self.weight_q = quantize(w, self.weight_qp)
                else:
                    self.weight_qp = weight_qparams(
                        w,
                        policy.weight_bits,
                        per_channel=policy.per_channel,
                        symmetric=policy.weight_symmetric,
                    )
                    self.weight_q = quantize(w, self.weight_qp)
                    w = dequantize(self.weight_q, self.weight_qp)
        self.register_buffer("weight", w)
        self.register_buffer("bias", b)
        self.input_qp: QParams | None = None
        self.output_qp: QParams | None = None
        self.integer: IntegerLayer | None = None
        self.calibrated = False
        self.macs_per_sample = 0
        self.integer_mode = False
        self.integer_executor: Callable[[IntegerLayer, torch.Tensor], torch.Tensor] | None = None

    def _linear_op(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.op == "linear":
            return F.linear(x, self.weight, bias)
        fn = F.conv1d if self.op == "conv1d" else F.conv2d
        g = self.geometry
        return fn(x, self.weight, bias, g["stride"], g["padding"], g["dilation"], g["groups"])

    def _calibrate(self, x: torch.Tensor) -> None:
        pol = self.policy
        if pol is not None and pol.act_bits is not None:
            lo, hi = calibrate_range(x, pol.calibration, pol.percentile)
            self.input_qp = qparams_from_range(lo, hi, pol.act_bits, symmetric=pol.act_symmetric)
            x = fake_quantize(x, self.input_qp)
            if self.weight_qp is not None:
                k = self.weight.shape[0]
                s = self.input_qp.scale * _per_channel(self.weight_qp, k)
                if self.bias is None:
                    self.bias_q = torch.zeros(k, dtype=torch.int64)
                else:
                    self.bias_q = torch.round(self.bias / s).clamp(-(2**31), 2**31 - 1).long()
                    self.bias = self.bias_q * s
        y = self._linear_op(x, self.bias)
        # MACs per sample: each output element reduces over one output channel's weights
        self.macs_per_sample = y.numel() // x.shape[0] * self.weight[0].numel()
        if pol is not None and pol.act_bits is not None:
            lo, hi = calibrate_range(y, pol.calibration, pol.percentile)
            self.output_qp = qparams_from_range(lo, hi, pol.act_bits, symmetric=pol.act_symmetric)
            if self.weight_qp is not None:
                self.integer = self._integer_layer()
        self.calibrated = True

    def _integer_layer(self) -> IntegerLayer:
        wqp, iqp, oqp = self.weight_qp, self.input_qp, self.output_qp
        k = self.weight.shape[0]
        w_scale = _per_channel(wqp, k)
        w_zp = wqp.zero_point.expand(k).clone() if wqp.axis is None else wqp.zero_point
        real = iqp.scale.double() * w_scale.double() / oqp.scale.double()
        multiplier, shift = quantize_multiplier(real)
        g = self.geometry
        return IntegerLayer(
            name=self.name,
            op=self.op,
            stride=g.get("stride", ()),
            padding=g.get("padding", ()),
            dilation=g.get("dilation", ()),
            groups=g.get("groups", 1),
            weight_q=self.weight_q.to(int_dtype(wqp.bits)),
            weight_bits=wqp.bits,
            weight_zero_point=w_zp,
            weight_scale=w_scale,
            bias_int32=self.bias_q.to(torch.int32),
            input_scale=float(iqp.scale),
            input_zero_point=int(iqp.zero_point),
            output_scale=float(oqp.scale),
            output_zero_point=int(oqp.zero_point),
            act_bits=iqp.bits,
            multiplier=multiplier,
            shift=shift,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.calibrated:
            self._calibrate(x)
        if self.integer_mode and self.integer is not None:
            x_q = quantize(x, self.input_qp)
            if self.integer_executor is not None:
                out_q = self.integer_executor(self.integer, x_q)
            else:
                _, out_q = integer_layer_forward(self.integer, x_q)
            return dequantize(out_q, self.output_qp)
        if self.input_qp is not None:
            x = fake_quantize(x, self.input_qp)
        y = self._linear_op(x, self.bias)
        if self.output_qp is not None:
            y = fake_quantize(y, self.output_qp)
        return y

    def extra_repr(self) -> str:
        pol = self.policy
        if pol is None:
            return f"{self.name}: float"
        return f"{self.name}: w{pol.weight_bits} a{pol.act_bits} pruning={pol.pruning.value}"


def _per_channel(qp: QParams, channels: int) -> torch.Tensor:
    return qp.scale.expand(channels).clone() if qp.axis is None else qp.scale


def _prune_mask(w: torch.Tensor, policy: LayerPolicy) -> torch.Tensor | None:
    if policy.pruning is Pruning.UNSTRUCTURED:
        return magnitude_mask(w, policy.sparsity)
    if policy.pruning is Pruning.CHANNEL:
        return channel_mask(w, policy.sparsity)
    if policy.pruning is Pruning.NM:
        return nm_mask(w, *policy.nm)
    return None


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class QuantizedModel:
    """A fake-quantized copy of a model and what the policy did to each layer.

    Parameters
    ----------
    module : torch.nn.Module
        The copy, with every MAC layer replaced by a `QuantLayer` (eval mode).
    policy : QuantPolicy
        The policy applied.
    layers : tuple of LayerInfo
        Every MAC layer, in execution order of the calibration pass.
    """

    module: nn.Module
    policy: QuantPolicy
    layers: tuple[LayerInfo, ...]

    def layer(self, name: str) -> QuantLayer:
        """The `QuantLayer` at module path ``name``."""
        found = dict(self.module.named_modules()).get(name)
        if not isinstance(found, QuantLayer):
            raise SpecError(
                f"layer {name!r} is not a quantized layer of the model; layers are "
                f"{[info.name for info in self.layers]}"
            )
        return found

    def integer_layer(self, name: str) -> IntegerLayer:
        """The integer form of one layer (needs integer weights and quantized activations)."""
        layer = self.layer(name)
        if layer.integer is None:
            raise SpecError(
                f"layer {name!r} has no integer form: it needs weight_bits and act_bits set "
                f"(and pow2 weights at most 5 bits), not policy {layer.policy!r}"
            )
        return layer.integer

    @property
    def model_size_bits(self) -> int:
        """Dense weight storage at each layer's width (float layers at 32 bits) plus 32-bit
        biases, over the MAC layers."""
        return sum(i.size_bits for i in self.layers)

    @property
    def macs_per_sample(self) -> int:
        return sum(i.macs_per_sample for i in self.layers)

    def mac_weighted_bits(self) -> tuple[float, float]:
        """``(weight_bits, act_bits)`` averaged over the MAC layers weighted by their MACs
        (float layers count as 32)."""
        total = self.macs_per_sample
        if total == 0:
            return float(_FLOAT_BITS), float(_FLOAT_BITS)
        w = sum(i.macs_per_sample * i.weight_bits for i in self.layers) / total
        a = sum(i.macs_per_sample * i.act_bits for i in self.layers) / total
        return w, a


def quantize_model(
    model: nn.Module, policy: QuantPolicy, calibration_inputs: torch.Tensor | Sequence
) -> QuantizedModel:
    """Prune, quantize and calibrate a copy of ``model`` under ``policy``.

    Parameters
    ----------
    model : torch.nn.Module
        The float model; never modified.
    policy : QuantPolicy
        Per-layer policy; naming a layer the model does not have is a `SpecError`.
    calibration_inputs : torch.Tensor or sequence of torch.Tensor
        One batch of representative inputs (positional arguments of ``model``), e.g. a few
        hundred samples.

    Returns
    -------
    QuantizedModel
    """
    if not isinstance(policy, QuantPolicy):
        raise SpecError(f"policy must be a QuantPolicy, not {type(policy).__name__}")
    names = quantizable_layers(model)
    unknown = [n for n in policy.layer_names() if n not in names]
    if unknown:
        raise SpecError(
            f"policy names layer {unknown[0]!r} which is not a Conv1d/Conv2d/Linear of the "
            f"model; layers are {names}"
        )
    qmodule = copy.deepcopy(model).eval()
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = qmodule.get_submodule(parent_name) if parent_name else qmodule
        original = getattr(parent, attr)
        setattr(parent, attr, QuantLayer(name, original, policy.for_layer(name)))
    inputs = _inputs_tuple(calibration_inputs)
    order: list[str] = []
    hooks = [
        m.register_forward_pre_hook(lambda mod, _args: order.append(mod.name))
        for m in qmodule.modules()
        if isinstance(m, QuantLayer)
    ]
    try:
        with torch.no_grad():
            qmodule(*inputs)
    finally:
        for h in hooks:
            h.remove()
    never = [n for n in names if n not in order]
    if never:
        raise SpecError(
            f"layer {never[0]!r} was not reached by the calibration forward pass; every "
            f"Conv1d/Conv2d/Linear must be used by forward()"
        )
    infos = []
    for name in dict.fromkeys(order):
        layer = qmodule.get_submodule(name)
        pol = layer.policy
        infos.append(
            LayerInfo(
                name=name,
                op=layer.op,
                policy=pol,
                weight_bits=_FLOAT_BITS
                if pol is None or pol.weight_bits is None
                else pol.weight_bits,
                act_bits=_FLOAT_BITS if pol is None or pol.act_bits is None else pol.act_bits,
                weight_elements=layer.weight.numel(),
                bias_elements=layer.bias_elements,
                weight_density=density(layer.weight),
                macs_per_sample=layer.macs_per_sample,
            )
        )
    return QuantizedModel(module=qmodule, policy=policy, layers=tuple(infos))


def integer_layer_forward(
    layer: IntegerLayer, x_q: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(acc, out_q)`` of one layer in integer arithmetic: int64 tensors holding the int32
    accumulators (bias included) and the requantized outputs (see `codesign.quant.intref`)."""
    x = x_q.to(torch.int64) - layer.input_zero_point
    zp_w = layer.weight_zero_point.reshape([-1] + [1] * (layer.weight_q.dim() - 1))
    w = layer.weight_q.to(torch.int64) - zp_w
    if layer.op == "linear":
        acc = int_linear(x, w) + layer.bias_int32.to(torch.int64)
        channel_axis = acc.dim() - 1
    else:
        acc = int_conv(
            x,
            w,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            groups=layer.groups,
        )
        acc = acc + layer.bias_int32.to(torch.int64).reshape([-1] + [1] * (acc.dim() - 2))
        channel_axis = 1
    check_int32(acc, f"layer {layer.name!r}")
    out = requantize(
        acc,
        layer.multiplier,
        layer.shift,
        layer.output_zero_point,
        layer.act_bits,
        channel_axis=channel_axis,
    )
    return acc, out


def _inputs_tuple(x: torch.Tensor | Sequence) -> tuple:
    return (x,) if isinstance(x, torch.Tensor) else tuple(x)


def int_layer_io(qmodel: QuantizedModel, layer_name: str, x: torch.Tensor | Sequence) -> LayerIO:
    """Run the fake-quant model on the model input ``x`` and return the integer tensors of
    one layer: its int input activations, int weights, int32 accumulators and requantized
    outputs, computed in integer arithmetic from the activations that reach the layer."""
    integer = qmodel.integer_layer(layer_name)
    layer = qmodel.layer(layer_name)
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    try:
        with torch.no_grad():
            qmodel.module(*_inputs_tuple(x))
    finally:
        hook.remove()
    x_q = quantize(seen[0], layer.input_qp)
    acc, out = integer_layer_forward(integer, x_q)
    dtype = int_dtype(integer.act_bits)
    return LayerIO(
        layer=integer,
        input_q=x_q.to(dtype),
        weight_q=integer.weight_q,
        acc=acc.to(torch.int32),
        output_q=out.to(dtype),
    )


@contextlib.contextmanager
def _integer_mode(module: nn.Module, executor: Callable | None = None) -> Iterator[None]:
    layers = [m for m in module.modules() if isinstance(m, QuantLayer)]
    for m in layers:
        m.integer_mode = True
        m.integer_executor = executor
    try:
        yield
    finally:
        for m in layers:
            m.integer_mode = False
            m.integer_executor = None


def integer_forward(
    qmodel: QuantizedModel,
    x: torch.Tensor | Sequence,
    *,
    executor: Callable[[IntegerLayer, torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """The model's output with every layer that has an integer form computed in integer
    arithmetic (input quantized, int32 accumulate, integer requantization, output
    dequantized); other layers and non-MAC operators run as in the fake-quant model.

    ``executor(layer, x_q) -> out_q``, when given, computes each such layer instead of
    `integer_layer_forward` (the host runtime passes the accelerator here)."""
    with torch.no_grad(), _integer_mode(qmodel.module, executor):
        return qmodel.module(*_inputs_tuple(x))


def annotate_workload(workload: Workload, qmodel: QuantizedModel) -> Workload:
    """The workload with ``qmodel``'s bit-widths and weight densities on its MAC layers.

    Each loop nest named like a MAC layer of the model gets inputs/weights bits from the
    layer's policy (32 for float) and the layer's weight density after pruning and
    quantization; its node gets the same weight density, the requantized output activation
    width and the deployed parameter storage. Other nodes are unchanged. Layers are matched by
    module path, the names `codesign.workload.from_torch` gives them (without BatchNorm
    folding: `quantize_model` does not fold).
    """
    by_name = {info.name: info for info in qmodel.layers}
    graph = workload.graph.copy()
    for name in graph.nodes:
        node = graph.nodes[name]["node"]
        info = by_name.get(name)
        if info is None or not isinstance(node.layer, LoopNest):
            continue
        nest = node.layer.with_bits(inputs=info.act_bits, weights=info.weight_bits)
        if info.weight_density > 0:
            nest = nest.with_density(weights=info.weight_density)
        graph.nodes[name]["node"] = replace(
            node,
            layer=nest,
            activation_bits=info.act_bits,
            weight_density=info.weight_density,
            param_bits=info.size_bits,
        )
    return Workload(graph=graph, name=workload.name)
