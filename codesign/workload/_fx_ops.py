"""The torch.fx front end's operator tables: every supported ``torch.nn`` module, function and
tensor method normalized to one op name, how each op is modeled (MAC-bearing, view, element ops
per element), :data:`SUPPORTED_OPS` and the error naming an unsupported operator."""

from __future__ import annotations

import operator
from collections.abc import Callable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from codesign.errors import UnsupportedOperatorError
from codesign.workload import aten

# --- operator tables -----------------------------------------------------------------------------
# Each supported operator is normalized to one op name; the op name decides how it is modeled.

_MODULES: dict[type, str] = {
    nn.Conv1d: "conv1d",
    nn.Conv2d: "conv2d",
    nn.Linear: "linear",
    nn.BatchNorm1d: "batch_norm",
    nn.BatchNorm2d: "batch_norm",
    nn.LayerNorm: "layer_norm",
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
    nn.Hardswish: "hardswish",
    nn.Hardsigmoid: "hardsigmoid",
    nn.LeakyReLU: "leaky_relu",
    nn.MaxPool1d: "max_pool",
    nn.MaxPool2d: "max_pool",
    nn.AvgPool1d: "avg_pool",
    nn.AvgPool2d: "avg_pool",
    nn.AdaptiveAvgPool1d: "adaptive_avg_pool",
    nn.AdaptiveAvgPool2d: "adaptive_avg_pool",
    nn.Flatten: "flatten",
    nn.Identity: "identity",
    nn.Dropout: "dropout",
    nn.Softmax: "softmax",
    nn.Embedding: "embedding",
}

_FUNCTIONS: dict[Callable, str] = {
    operator.add: "add",
    operator.iadd: "add",
    torch.add: "add",
    operator.sub: "sub",
    torch.sub: "sub",
    operator.mul: "mul",
    torch.mul: "mul",
    operator.truediv: "div",
    torch.div: "div",
    operator.neg: "neg",
    operator.matmul: "matmul",
    torch.matmul: "matmul",
    torch.bmm: "matmul",
    F.linear: "linear",
    F.conv1d: "conv1d",
    F.conv2d: "conv2d",
    F.relu: "relu",
    torch.relu: "relu",
    F.relu6: "relu6",
    F.gelu: "gelu",
    F.silu: "silu",
    torch.sigmoid: "sigmoid",
    torch.tanh: "tanh",
    torch.exp: "exp",
    torch.sqrt: "sqrt",
    F.softmax: "softmax",
    torch.softmax: "softmax",
    F.layer_norm: "layer_norm",
    torch.flatten: "flatten",
    torch.reshape: "reshape",
    torch.transpose: "transpose",
    torch.permute: "permute",
    torch.cat: "cat",
    torch.stack: "stack",
    torch.chunk: "chunk",
    torch.split: "split",
    operator.getitem: "getitem",
    F.dropout: "dropout",
    F.max_pool1d: "max_pool",
    F.max_pool2d: "max_pool",
    F.avg_pool1d: "avg_pool",
    F.avg_pool2d: "avg_pool",
    F.adaptive_avg_pool1d: "adaptive_avg_pool",
    F.adaptive_avg_pool2d: "adaptive_avg_pool",
    torch.mean: "mean",
    torch.sum: "sum",
}

_METHODS: dict[str, str] = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "div": "div",
    "neg": "neg",
    "matmul": "matmul",
    "bmm": "matmul",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "exp": "exp",
    "sqrt": "sqrt",
    "softmax": "softmax",
    "masked_fill": "masked_fill",
    "view": "view",
    "reshape": "reshape",
    "flatten": "flatten",
    "permute": "permute",
    "transpose": "transpose",
    "t": "transpose",
    "contiguous": "contiguous",
    "unsqueeze": "unsqueeze",
    "squeeze": "squeeze",
    "expand": "expand",
    "chunk": "chunk",
    "split": "split",
    "mean": "mean",
    "sum": "sum",
}

_MAC_OPS = {"conv1d", "conv2d", "linear", "matmul"}
# Output shares the input's storage: no new buffer, no element ops.
_VIEW_OPS = {
    "flatten", "reshape", "view", "permute", "transpose", "contiguous", "unsqueeze", "squeeze",
    "expand", "identity", "dropout", "getitem", "chunk", "split",
}  # fmt: skip
# Element ops per output element.
_PER_OUTPUT_ELEMENT = {
    "add": 1, "sub": 1, "mul": 1, "div": 1, "neg": 1, "relu": 1, "relu6": 1, "gelu": 1,
    "silu": 1, "sigmoid": 1, "tanh": 1, "hardswish": 1, "hardsigmoid": 1, "leaky_relu": 1,
    "exp": 1, "sqrt": 1, "masked_fill": 1, "batch_norm": 2, "softmax": 4, "layer_norm": 7,
    "cat": 0, "stack": 0, "embedding": 0,
}  # fmt: skip
# Element ops per input element (reductions).
_PER_INPUT_ELEMENT = {"adaptive_avg_pool": 1, "mean": 1, "sum": 1}
_POOL_OPS = {"max_pool", "avg_pool"}  # output elements x kernel area


def _fx_category(op: str, is_view: bool) -> str:
    """The `codesign.workload.aten` category of a torch.fx front-end operator."""
    if op in _VIEW_OPS:
        return "view" if is_view else "data_movement"
    if op in _POOL_OPS or op == "adaptive_avg_pool":
        return "pooling"
    return aten.category(op)


def _function_name(fn: Callable) -> str:
    """The public spelling of a function: ``torch.nn.functional.relu``, ``torch.add``,
    ``operator.add``."""
    name = getattr(fn, "__name__", repr(fn))
    for prefix, namespace in (("torch.nn.functional", F), ("torch", torch), ("operator", operator)):
        if getattr(namespace, name, None) is fn:
            return f"{prefix}.{name}"
    return f"{getattr(fn, '__module__', None) or '?'}.{name}"


SUPPORTED_OPS: tuple[str, ...] = tuple(
    sorted(
        {f"torch.nn.{t.__name__}" for t in _MODULES}
        | {_function_name(f) for f in _FUNCTIONS}
        | {f"Tensor.{m}" for m in _METHODS}
    )
)
"""Every operator the front end understands, as ``torch.nn.X``, ``module.function`` or
``Tensor.method``."""


def _describe(node: fx.Node, gm: fx.GraphModule) -> str:
    if node.op == "call_module":
        cls = type(gm.get_submodule(node.target))
        return f"torch.nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else cls.__name__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    return _function_name(node.target)


def _unsupported(node: fx.Node, gm: fx.GraphModule) -> UnsupportedOperatorError:
    return UnsupportedOperatorError(
        f"node {node.name!r}: operator {_describe(node, gm)} is not supported; supported "
        f"operators: {', '.join(SUPPORTED_OPS)}"
    )
