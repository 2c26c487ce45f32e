"""The torch.fx front end: ``torch.nn.Module`` + example inputs -> :class:`Workload`.

The module is traced symbolically with ``torch.fx`` (modules from ``torch.nn`` are leaves, user
modules are traced through), then run once node by node on the example inputs to record every
activation's shape, dtype and measured density. MAC-bearing operators (convolutions, linear
layers, matmuls) become :class:`LoopNest` objects; every other tensor operator becomes an
:class:`OtherOp` with its tensor sizes and element-op count. An operator outside the supported
set is an error naming the node, the operator and the supported set, never a silent zero.

Values that are not tensors (``x.shape``, sizes, Python numbers) are not layers. Nodes computed
from parameters only (``self.weight.t()``) are constants: a matmul reading one treats it as a
trained weight.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import operator
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

import networkx as nx
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from codesign.errors import SpecError, TraceError, UnsupportedOperatorError
from codesign.workload import aten
from codesign.workload.graph import Node, OtherOp, Workload
from codesign.workload.loopnest import LoopNest, conv1d, conv2d, einsum, linear

__all__ = [
    "from_torch",
    "load_model",
    "import_file",
    "SUPPORTED_OPS",
]

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


# --- helpers -------------------------------------------------------------------------------------


def _dtype_bits(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size() * 8


def _density(t: torch.Tensor) -> float:
    """Fraction of non-zeros, at least one element's worth (a density must be positive)."""
    n = t.numel()
    return max(int(torch.count_nonzero(t)), 1) / n if n else 1.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _tensor_args(node: fx.Node) -> list[fx.Node]:
    """Node arguments of ``node`` in order, without duplicates."""
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), lambda a: found.append(a) if a not in found else a)
    return found


def _arg(node: fx.Node, index: int, key: str, default: object = None) -> object:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(key, default)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Options:
    fold_batchnorm: bool
    activation_bits: int | None
    weight_bits: int | None
    accumulator_bits: int | None


class _GraphBuilder:
    """What both front ends' builders share: the executed graph, the bits of a tensor, the
    attribution of parameters (each once), constants, and marking graph outputs."""

    def __init__(
        self,
        gm: fx.GraphModule,
        values: dict[fx.Node, object],
        densities: dict[fx.Node, float],
        opts: _Options,
    ):
        self.gm, self.values, self.densities, self.opts = gm, values, densities, opts
        self.graph = nx.DiGraph()
        self.alias: dict[fx.Node, str] = {}  # fx node -> workload node producing its value
        self.counted: set[int] = set()  # ids of parameters already attributed
        self.param_ids = {id(p) for p in gm.parameters()}
        self.constants: set[fx.Node] = set()
        self.folded: dict[fx.Node, fx.Node] = {}  # batch norm node -> conv node
        self.setup()

    def setup(self) -> None:
        """What a front end's builder prepares before the pass (nothing here)."""

    # -- bits and values --
    def act_bits(self, t: torch.Tensor) -> int:
        return self.opts.activation_bits or _dtype_bits(t.dtype)

    def acc_bits(self, out: torch.Tensor) -> int:
        """Bits of a loop nest's output tensor (the partial sums)."""
        return self.opts.accumulator_bits or max(32, self.act_bits(out))

    def w_bits(self, t: torch.Tensor) -> int:
        return self.opts.weight_bits or _dtype_bits(t.dtype)

    def new_params(self, tensors: list[object]) -> int:
        """Elements of the parameters among ``tensors`` not yet attributed to a layer."""
        total = 0
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            if id(t) in self.param_ids and id(t) not in self.counted:
                self.counted.add(id(t))
                total += t.numel()
        return total

    def const_params(self, node: object) -> list[torch.Tensor]:
        """The parameters a constant node is computed from, each once (none for a non-node).
        Memoized per node: constants built from shared constants (Swin's relative-position
        index and shifted-window mask) form a DAG with exponentially many paths."""
        if not isinstance(node, fx.Node):
            return []
        memo = self.__dict__.setdefault("_const_params", {})
        if node not in memo:
            if node.op == "get_attr":
                value = self.values[node]
                found = [value] if isinstance(value, torch.Tensor) else []
            else:
                found = [p for a in _tensor_args(node) for p in self.const_params(a)]
            memo[node] = list({id(p): p for p in found}.values())
        return memo[node]

    def build(self) -> nx.DiGraph:
        """One pass over the graph in program order."""
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                if isinstance(self.values[node], torch.Tensor):
                    self.input(node, self.values[node])
            elif node.op == "get_attr":
                self.constants.add(node)
            elif node.op == "output":
                self.mark_output(node)
            elif node in self.folded or (node.op == "call_module" and self.skip_modules):
                continue
            else:
                self.call(node)
        return self.graph

    skip_modules = False  # call_module nodes are torch.export's input guards, not layers

    def input(self, node: fx.Node, t: torch.Tensor) -> None:
        raise NotImplementedError

    def call(self, node: fx.Node) -> None:
        raise NotImplementedError

    def density(self, node: fx.Node) -> float:
        """Measured density of an activation (of the whole input for a multi-output node such
        as chunk/split; 1.0 when nothing was measured)."""
        if node in self.densities:
            return self.densities[node]
        args = _tensor_args(node)
        return self.density(args[0]) if args else 1.0

    def mark_output(self, node: fx.Node) -> None:
        """The workload nodes producing the graph outputs stay live to the end."""
        for a in _tensor_args(node):
            name = self.alias.get(a)
            if name is not None:
                old = self.graph.nodes[name]["node"]
                self.graph.nodes[name]["node"] = replace(old, is_output=True)

    def is_layer(self, node: fx.Node, *, all_tensors: bool) -> bool:
        """Whether a call node is a layer: not computed from constants only (then it is a
        constant itself) and producing tensors (not sizes or Python numbers)."""
        if all(a in self.constants for a in _tensor_args(node)):
            self.constants.add(node)
            return False
        value = self.values[node]
        if isinstance(value, torch.Tensor):
            return True
        if not isinstance(value, (tuple, list)) or not value:
            return False
        test = all if all_tensors else any
        return test(isinstance(v, torch.Tensor) for v in value)


class _Builder(_GraphBuilder):
    """Turns a traced, executed graph into workload nodes (one pass in program order)."""

    def setup(self) -> None:
        calls: dict[str, int] = {}
        for node in self.gm.graph.nodes:
            if node.op == "call_module":
                calls[node.target] = calls.get(node.target, 0) + 1
        # a module called once is named by its path, as the export front end and the
        # quantizer (``named_modules``) name it, unless another node already has that name
        node_names = {node.name for node in self.gm.graph.nodes}
        self.paths: dict[fx.Node, str] = {
            node: str(node.target)
            for node in self.gm.graph.nodes
            if node.op == "call_module"
            and calls[node.target] == 1
            and (node.name == node.target or node.target not in node_names)
        }

    def layer_name(self, node: fx.Node) -> str:
        """The module path for a module called once (its name in ``named_modules``, hence in
        quantization policies), else the torch.fx node name."""
        return self.paths.get(node, node.name)

    def tensor(self, node: fx.Node) -> torch.Tensor:
        value = self.values[node]
        if isinstance(value, (tuple, list)):  # chunk/split: the view of the whole input
            return self.tensor(_tensor_args(node)[0])
        return value

    # -- graph --
    def add(
        self,
        node: fx.Node,
        layer: LoopNest | OtherOp,
        inputs: list[fx.Node],
        *,
        params: int = 0,
        param_bits: int = 0,
        weight_density: float | None = None,
        is_view: bool = False,
        folded: tuple[str, ...] = (),
        out_node: fx.Node | None = None,
    ) -> None:
        out = self.tensor(out_node or node)
        self.graph.add_node(
            layer.name,
            node=Node(
                layer=layer,
                output_shape=tuple(out.shape),
                activation_bits=self.act_bits(out),
                params=params,
                param_bits=param_bits,
                output_density=self.density(out_node or node),
                weight_density=weight_density,
                is_view=is_view,
                folded=folded,
            ),
        )
        for a in inputs:
            if a in self.alias:
                self.graph.add_edge(self.alias[a], layer.name)
        self.alias[node] = layer.name
        if out_node is not None:
            self.alias[out_node] = layer.name

    def op_name(self, node: fx.Node) -> str | None:
        if node.op == "call_module":
            return _MODULES.get(type(self.gm.get_submodule(node.target)))
        if node.op == "call_method":
            return _METHODS.get(node.target)
        return _FUNCTIONS.get(node.target)

    def input(self, node: fx.Node, t: torch.Tensor) -> None:
        layer = OtherOp(
            name=node.name,
            op="input",
            input_shapes=(),
            output_shape=tuple(t.shape),
            category="input",
        )
        self.add(node, layer, [])

    def call(self, node: fx.Node) -> None:
        if not self.is_layer(node, all_tensors=True):
            return
        args = _tensor_args(node)
        op = self.op_name(node)
        if op is None:
            raise _unsupported(node, self.gm)
        acts = [a for a in args if a in self.alias]
        if op in _MAC_OPS:
            self.mac(node, op, args, acts)
        else:
            self.other(node, op, args, acts)

    # -- non-MAC layers --
    def other(self, node: fx.Node, op: str, args: list[fx.Node], acts: list[fx.Node]) -> None:
        out = self.tensor(node)
        in_shapes = tuple(tuple(self.tensor(a).shape) for a in acts)
        params: list[torch.Tensor] = []
        if node.op == "call_module":
            params = list(self.gm.get_submodule(node.target).parameters())
        params += [p for a in args if a in self.constants for p in self.const_params(a)]
        is_view = op in _VIEW_OPS and len(acts) == 1
        kind = _fx_category(op, is_view)
        if op in _VIEW_OPS:  # with several activations (x[index]): a gather into a new buffer
            element_ops = 0
        elif op in _PER_OUTPUT_ELEMENT:
            per = _PER_OUTPUT_ELEMENT[op]
            if op == "layer_norm" and not params:
                per = 5
            element_ops = per * out.numel()
        elif op in _PER_INPUT_ELEMENT:
            element_ops = self.tensor(acts[0]).numel()
        elif op in _POOL_OPS:
            element_ops = out.numel() * _kernel_area(node, self.gm, out.dim() - 2)
        else:
            raise _unsupported(node, self.gm)
        count = self.new_params(params)
        layer = OtherOp(
            name=self.layer_name(node),
            op=op,
            input_shapes=in_shapes,
            output_shape=tuple(out.shape),
            element_ops=element_ops,
            category=kind,
        )
        bits = sum(p.numel() * self.w_bits(p) for p in params) if count else 0
        self.add(node, layer, acts, params=count, param_bits=bits, is_view=is_view)

    # -- MAC layers --
    def mac(self, node: fx.Node, op: str, args: list[fx.Node], acts: list[fx.Node]) -> None:
        name = self.layer_name(node)
        out_node, folded = None, ()
        if op == "matmul":
            nest, params = self.matmul(node, name)
        else:
            nest, params, out_node, folded = self.weighted(node, name, op, args)
        self.add(
            node,
            nest,
            acts,
            params=self.new_params(params),
            param_bits=nest.params * nest.weights.bits,
            weight_density=nest.weights.density,
            folded=folded,
            out_node=out_node,
        )

    def weighted(
        self, node: fx.Node, name: str, op: str, args: list[fx.Node]
    ) -> tuple[LoopNest, list[torch.Tensor], fx.Node | None, tuple[str, ...]]:
        """A convolution or linear layer: its loop nest, the parameters it reads, and the
        BatchNorm folded into it (its node and name), if any."""
        x = self.tensor(node.args[0])
        if node.op == "call_module":
            mod = self.gm.get_submodule(node.target)
            weight, bias = mod.weight, mod.bias
            params = [p for p in mod.parameters()]
        else:
            weight, bias = self.values[node.args[1]], _arg(node, 2, "bias")
            bias = self.values[bias] if isinstance(bias, fx.Node) else bias
            params = [p for a in args if a in self.constants for p in self.const_params(a)]
        weight = weight.detach()
        out_node, folded, extra = None, (), []
        if op in ("conv1d", "conv2d") and self.opts.fold_batchnorm:
            bn = _following_batchnorm(node, self.gm)
            if bn is not None:
                mod_bn = self.gm.get_submodule(bn.target)
                scale = mod_bn.weight if mod_bn.affine else torch.ones_like(mod_bn.running_var)
                scale = scale.detach() / torch.sqrt(mod_bn.running_var + mod_bn.eps)
                weight = weight * scale.reshape(-1, *([1] * (weight.dim() - 1)))
                out_node, folded = bn, (self.layer_name(bn),)
                self.folded[bn] = node
                extra = list(mod_bn.parameters())
        has_bias = bias is not None or bool(folded)
        wbits = self.w_bits(weight)
        out = self.tensor(out_node or node)
        common = dict(
            input_bits=self.act_bits(x),
            weight_bits=wbits,
            output_bits=self.acc_bits(out),
            weight_density=_density(weight),
            input_density=self.density(node.args[0]),
            bias=has_bias,
        )
        if op == "linear":
            lead = tuple(x.shape[:-1]) or (1,)
            nest = linear(
                name, in_features=weight.shape[1], out_features=weight.shape[0], leading=lead,
                **common,
            )  # fmt: skip
        else:
            nest = self.conv(node, name, op, x, weight, common)
        return nest, params + extra, out_node, folded

    def conv(
        self, node: fx.Node, name: str, op: str, x: torch.Tensor, w: torch.Tensor, common: dict
    ) -> LoopNest:
        nd = 1 if op == "conv1d" else 2
        if node.op == "call_module":
            mod = self.gm.get_submodule(node.target)
            stride, padding, dilation, groups = mod.stride, mod.padding, mod.dilation, mod.groups
        else:
            stride = _arg(node, 3, "stride", 1)
            padding = _arg(node, 4, "padding", 0)
            dilation = _arg(node, 5, "dilation", 1)
            groups = _arg(node, 6, "groups", 1)

        def tup(v: object) -> tuple[int, ...]:
            return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd

        kernel = tuple(w.shape[2:])
        stride, dilation = tup(stride), tup(dilation)
        if isinstance(padding, str):
            if padding == "valid":
                padding = (0,) * nd
            else:  # "same": symmetric only when the dilated kernel span is odd
                spans = [d * (k - 1) for d, k in zip(dilation, kernel, strict=True)]
                if any(s % 2 for s in spans):
                    raise UnsupportedOperatorError(
                        f"node {node.name!r}: padding='same' with an even kernel span {spans} "
                        f"pads asymmetrically; supported: symmetric padding"
                    )
                padding = tuple(s // 2 for s in spans)
        padding = tup(padding)
        batch = x.shape[0] if x.dim() == nd + 2 else 1
        size = tuple(x.shape[-nd:])
        channels = dict(in_channels=x.shape[-nd - 1], out_channels=w.shape[0], groups=groups)
        if op == "conv1d":
            return conv1d(
                name, input_size=size[0], kernel_size=kernel[0], stride=stride[0],
                dilation=dilation[0], padding=padding[0], batch=batch, **channels, **common,
            )  # fmt: skip
        return conv2d(
            name, input_size=size, kernel_size=kernel, stride=stride, dilation=dilation,
            padding=padding, batch=batch, **channels, **common,
        )  # fmt: skip

    def matmul(self, node: fx.Node, name: str) -> tuple[LoopNest, list[torch.Tensor]]:
        """A matmul of two activations or of an activation and a parameter: its loop nest and
        the parameters it reads."""
        a_node, b_node = node.args[0], node.args[1]
        a, b = self.values[a_node].detach(), self.values[b_node].detach()
        a_const, b_const = a_node in self.constants, b_node in self.constants
        a_shape = (1, *a.shape) if a.dim() == 1 else tuple(a.shape)
        b_shape = (*b.shape, 1) if b.dim() == 1 else tuple(b.shape)
        (m, k), n = a_shape[-2:], b_shape[-1]
        a_batch, b_batch = math.prod(a_shape[:-2]), math.prod(b_shape[:-2])
        batch = math.prod(torch.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
        if b_batch == 1:  # B shared by every batch: fold A's batch into M
            a_idx, b_idx, z_idx, sizes = "m,k", "k,n", "m,n", {"m": batch * m}
        elif a_batch == 1:
            a_idx, b_idx, z_idx, sizes = "m,k", "b,k,n", "b,m,n", {"b": batch, "m": m}
        elif a_batch == b_batch == batch:
            a_idx, b_idx, z_idx, sizes = "b,m,k", "b,k,n", "b,m,n", {"b": batch, "m": m}
        else:
            raise UnsupportedOperatorError(
                f"node {node.name!r}: matmul of shapes {tuple(a.shape)} and {tuple(b.shape)} "
                f"broadcasts both operands' batch dims; supported: equal batch dims or one "
                f"operand without batch dims"
            )
        first, second = ("A", a_idx, a, a_node), ("B", b_idx, b, b_node)
        weights_are_params = b_const
        if a_const and not b_const:  # W @ x: the parameter plays the weights role
            first, second, weights_are_params = second, first, True
        params = self.const_params(a_node if a_const else b_node) if (a_const or b_const) else []
        out = self.tensor(node)
        wbits = self.w_bits(second[2]) if weights_are_params else self.act_bits(second[2])
        nest = einsum(
            f"Z[{z_idx}] += {first[0]}[{first[1]}] * {second[0]}[{second[1]}]",
            name=name,
            input_bits=self.act_bits(first[2]),
            weight_bits=wbits,
            output_bits=self.acc_bits(out),
            input_density=self.density(first[3]),
            weight_density=self.density(second[3]),
            weights_are_parameters=weights_are_params,
            **sizes,
            n=n,
            k=k,
        )
        return replace(nest, op="matmul"), params


def _kernel_area(node: fx.Node, gm: fx.GraphModule, rank: int) -> int:
    if node.op == "call_module":
        k = gm.get_submodule(node.target).kernel_size
    else:
        k = _arg(node, 1, "kernel_size")
    return math.prod(k) if isinstance(k, (tuple, list)) else k**rank


def _following_batchnorm(node: fx.Node, gm: fx.GraphModule) -> fx.Node | None:
    """The BatchNorm module that is the only reader of a convolution's output, if any."""
    users = list(node.users)
    if len(users) != 1 or users[0].op != "call_module":
        return None
    bn = users[0]
    mod = gm.get_submodule(bn.target)
    if not isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)) or mod.running_var is None:
        return None
    return bn if bn.args and bn.args[0] is node else None


# --- entry points --------------------------------------------------------------------------------


def _trace(module: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(module)
    except Exception as exc:  # torch raises several types; all mean "cannot trace"
        raise TraceError(
            f"cannot trace {type(module).__name__} with torch.fx: {_first_line(exc)} "
            f"(data-dependent control flow is not supported; make branches depend on "
            f"constructor arguments, not on tensor values)"
        ) from exc


def _execute(
    gm: fx.GraphModule, inputs: tuple[torch.Tensor, ...]
) -> tuple[dict[fx.Node, object], dict[fx.Node, float]]:
    """Run the graph node by node, keeping every node's value and the density of every tensor
    value measured right after it is computed (before any in-place op changes it)."""
    interp = fx.Interpreter(gm)
    interp.env = {}
    interp.args_iter = iter(inputs)
    shapes = [tuple(t.shape) for t in inputs]
    densities: dict[fx.Node, float] = {}
    with torch.no_grad():
        for node in gm.graph.nodes:
            try:
                value = interp.env[node] = interp.run_node(node)
            except Exception as exc:
                target = getattr(node.target, "__name__", node.target)
                raise TraceError(
                    f"node {node.name!r} ({node.op} {target}) failed on example inputs of "
                    f"shapes {shapes}: {_first_line(exc)}"
                ) from exc
            if isinstance(value, torch.Tensor):
                densities[node] = _density(value)
    return interp.env, densities


def from_torch(
    module: nn.Module,
    *example_inputs: torch.Tensor,
    fold_batchnorm: bool = True,
    activation_bits: int | None = None,
    weight_bits: int | None = None,
    accumulator_bits: int | None = None,
    name: str | None = None,
    frontend: str = "export",
) -> Workload:
    """Capture a module on example inputs into a :class:`Workload`.

    Parameters
    ----------
    module : torch.nn.Module
        The model; evaluated as is (put it in eval mode for inference statistics).
    *example_inputs : torch.Tensor
        One tensor per ``forward`` argument; their shapes fix every layer's size.
    fold_batchnorm : bool
        Fold a BatchNorm that is the only reader of a convolution into it (the convolution
        gets a bias and scaled weights; the BatchNorm disappears from the graph and its
        parameters are counted with the convolution).
    activation_bits, weight_bits : int, optional
        Bits per activation / weight element; default from each tensor's dtype (float32 -> 32).
    accumulator_bits : int, optional
        Bits of the output tensor of each loop nest (partial sums); default
        ``max(32, output activation bits)``, the 32-bit accumulator the LoopNest factories
        assume. Activation buffers between layers use ``activation_bits``.
    name : str, optional
        Workload name (default: the module's class name).
    frontend : {"export", "fx"}
        ``"export"`` (default): ``torch.export`` at the ATen level (`codesign.workload.capture`);
        every operator is accepted, MAC-bearing ones become loop nests. ``"fx"``: the older
        ``torch.fx`` symbolic tracer with its fixed operator table (:data:`SUPPORTED_OPS`), for
        models torch.export cannot capture but torch.fx can.

    Raises
    ------
    TraceError
        The module cannot be traced (data-dependent control flow) or fails on the example
        inputs (wrong shape).
    UnsupportedOperatorError
        An operator outside :data:`SUPPORTED_OPS`.
    SpecError
        Bad arguments.
    """
    if not isinstance(module, nn.Module):
        raise SpecError(f"module must be a torch.nn.Module, not {type(module).__name__}")
    for i, t in enumerate(example_inputs):
        if not isinstance(t, torch.Tensor):
            raise SpecError(f"example_inputs[{i}] must be a torch.Tensor, not {type(t).__name__}")
    for field_name, value in (
        ("activation_bits", activation_bits),
        ("weight_bits", weight_bits),
        ("accumulator_bits", accumulator_bits),
    ):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value <= 0
        ):
            raise SpecError(f"{field_name} must be a positive integer or None, not {value!r}")
    if frontend not in ("export", "fx"):
        raise SpecError(f"frontend must be 'export' or 'fx', not {frontend!r}")
    opts = _Options(
        fold_batchnorm=fold_batchnorm,
        activation_bits=activation_bits,
        weight_bits=weight_bits,
        accumulator_bits=accumulator_bits,
    )
    if frontend == "export":
        from codesign.workload.capture import capture

        return capture(module, tuple(example_inputs), opts, name or type(module).__name__)
    gm = _trace(module)
    placeholders = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(example_inputs):
        raise SpecError(
            f"{type(module).__name__}.forward takes {len(placeholders)} inputs {placeholders}, "
            f"got {len(example_inputs)} example inputs"
        )
    values, densities = _execute(gm, example_inputs)
    graph = _Builder(gm, values, densities, opts).build()
    return Workload(graph=graph, name=name or type(module).__name__)


def import_file(path: str | Path) -> ModuleType:
    """Import a Python file by path (once per process: later calls return the same module).

    Raises
    ------
    SpecError
        The file does not exist or fails to import.
    """
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise SpecError(f"model file {str(path)!r} does not exist")
    mod_name = "_codesign_file_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:16]
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    loader_spec = importlib.util.spec_from_file_location(mod_name, resolved)
    if loader_spec is None or loader_spec.loader is None:
        raise SpecError(f"model file {str(path)!r} is not a Python file")
    py = importlib.util.module_from_spec(loader_spec)
    sys.modules[mod_name] = py
    try:
        loader_spec.loader.exec_module(py)
    except SystemExit as exc:
        del sys.modules[mod_name]
        raise SpecError(
            f"model file {str(path)!r} called sys.exit({exc.code!r}) on import"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any failure of the user's file
        del sys.modules[mod_name]
        raise SpecError(f"model file {str(path)!r} failed to import: {_first_line(exc)}") from exc
    return py


def _call_user(fn: Callable, label: str) -> object:
    """``fn()`` for a function of the user's model file: required parameters, an exception,
    ``sys.exit`` and endless recursion are `SpecError` s naming ``label``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: just call it
        params = []
    required = [
        p.name for p in params
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]  # fmt: skip
    if required:
        raise SpecError(f"{label} must take no arguments, but it requires {required}")
    try:
        return fn()
    except SystemExit as exc:
        raise SpecError(f"{label} called sys.exit({exc.code!r})") from None
    except RecursionError:
        raise SpecError(f"{label} recursed endlessly (RecursionError)") from None
    except Exception as exc:  # noqa: BLE001 - any failure of the user's code
        raise SpecError(f"{label} raised {type(exc).__name__}: {_first_line(exc)}") from exc


def load_model(spec: str) -> tuple[nn.Module, tuple[torch.Tensor, ...] | None]:
    """Resolve ``"MODULE_PATH:FACTORY"`` (e.g. ``"examples/models.py:resnet18"``).

    The factory is called without arguments and returns a ``torch.nn.Module`` or a
    ``(module, inputs)`` pair (``inputs`` a tensor or a tuple of tensors). Without inputs from
    the factory, a function ``FACTORY_inputs`` in the same file supplies them if present.

    Returns
    -------
    (module, inputs)
        ``inputs`` is ``None`` when neither the factory nor ``FACTORY_inputs`` gives any.
    """
    path_text, sep, factory_name = spec.rpartition(":")
    if not sep or not path_text or not factory_name:
        raise SpecError(
            f"model must be MODULE_PATH:FACTORY (e.g. models.py:resnet18), not {spec!r}"
        )
    py = import_file(path_text)
    mod_name = py.__name__
    factory = getattr(py, factory_name, None)
    if not callable(factory):
        available = sorted(
            n for n, v in vars(py).items() if callable(v) and not n.startswith("_")
            and getattr(v, "__module__", None) == mod_name
        )  # fmt: skip
        raise SpecError(
            f"model file {path_text!r} has no factory {factory_name!r}; callables defined "
            f"there: {available}"
        )
    result = _call_user(factory, f"factory {factory_name!r} of {path_text!r}")
    inputs = None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], nn.Module):
        result, inputs = result
    if not isinstance(result, nn.Module):
        raise SpecError(
            f"factory {factory_name!r} must return a torch.nn.Module or (module, inputs), "
            f"not {type(result).__name__}"
        )
    if inputs is None and callable(getattr(py, f"{factory_name}_inputs", None)):
        inputs = _call_user(getattr(py, f"{factory_name}_inputs"), f"{factory_name}_inputs")
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if inputs is not None:
        if not isinstance(inputs, (tuple, list)) or not all(
            isinstance(t, torch.Tensor) for t in inputs
        ):
            raise SpecError(
                f"the example inputs of {factory_name!r} must be a tensor or a tuple of tensors, "
                f"not {type(inputs).__name__}"
            )
        inputs = tuple(inputs)
    return result, inputs
