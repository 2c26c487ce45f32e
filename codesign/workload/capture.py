"""The torch.export front end: ``torch.nn.Module`` + example inputs -> :class:`Workload`.

The module is captured with ``torch.export`` (non-strict, ATen training IR: high-level ATen
operators such as ``aten.conv2d``, ``aten.linear``, ``aten.scaled_dot_product_attention``,
``aten.lstm``), then the captured graph runs once node by node on the example inputs to
record every activation's shape, dtype and measured density.

* MAC-bearing operators become :class:`LoopNest` objects: convolutions of any rank (transposed
  ones as their GEMM into a column buffer plus a ``col2im`` overlap-add node), ``linear``,
  ``mm``/``addmm``/``bmm``/``baddbmm``/``matmul``, ``einsum`` (from its equation; more than
  two operands are contracted left to right), attention (its two matmuls per head, Q.K^T and
  P.V, with the softmax between them), recurrent layers (per layer and direction, the input
  projection of every time step, the recurrent projection of every time step, and the gate
  arithmetic).
* Every other operator becomes an :class:`OtherOp` of a category (`codesign.workload.aten`);
  an operator outside the table is category ``other``, never an error and never dropped.
* Nodes computed from parameters only (``weight.t()``, also a weight-only subgraph with MACs
  such as Swin V2's position-bias MLP) and tensor factories (``zeros``) are constants; values
  that are not tensors (sizes) are not layers.
* An output holding tensors inside objects torch.export cannot flatten (a Hugging Face KV
  cache) is captured with those tensors as the graph outputs.

Layer names: the module path for a ``torch.nn`` module that is called once and produces one
operator (``layer1.0.conv1``), else the ATen node name (``relu_1``, ``add``); the loop nests of
one attention or recurrent operator carry its name plus a suffix (``.qk``, ``.pv``,
``.l0.ih``, ``.l0_reverse.hh``).

The convolution handlers are in ``_capture_conv``, the matrix-product handlers (linear, matmul,
einsum, attention, recurrent layers) in ``_capture_matmul``, the torch.export call in
``_capture_export``.
"""

from __future__ import annotations

import torch
import torch.fx as fx
from torch import nn

from codesign.workload import aten
from codesign.workload._builder import (
    _arg,
    _density,
    _execute,
    _GraphBuilder,
    _Options,
    _tensor_args,
)
from codesign.workload._capture_conv import _ConvLayers
from codesign.workload._capture_export import _export
from codesign.workload._capture_matmul import _RNN_GATES, _MatmulLayers
from codesign.workload.graph import Node, OtherOp, Workload
from codesign.workload.loopnest import LoopNest

__all__ = ["capture"]


def _is_torch_nn(typ: object) -> bool:
    """Whether a module class (or its qualified name, as torch.export records it) is one of
    ``torch.nn``'s."""
    qualname = typ if isinstance(typ, str) else f"{typ.__module__}.{typ.__qualname__}"
    return qualname.startswith("torch.nn.")


class _Builder(_ConvLayers, _MatmulLayers, _GraphBuilder):
    """Turns a captured, executed ATen graph into workload nodes (one pass in program order)."""

    def setup(self) -> None:
        self.used: set[str] = set()
        self.paths = self._module_names(self.gm)

    @staticmethod
    def _module_names(gm: fx.GraphModule) -> dict[fx.Node, str]:
        """Nodes named after their ``torch.nn`` module: the only operator of a module call.
        A module called once gives its path (``layer1.0.conv1``), the calls of a module
        called several times its path in torch.fx's spelling (``layer1_0_relu``,
        ``layer1_0_relu_1``)."""
        calls: dict[str, list[fx.Node]] = {}
        path_of: dict[str, str] = {}
        for node in gm.graph.nodes:
            stack = node.meta.get("nn_module_stack") or {}
            if node.op != "call_function" or not stack or aten.op_name(node.target) == "getitem":
                continue
            if all(a.op == "get_attr" for a in _tensor_args(node)):
                continue  # a tensor factory (an RNN's zero state) or a weight transform
            key, (path, typ) = list(stack.items())[-1][0], list(stack.values())[-1][:2]
            if path and _is_torch_nn(typ):
                calls.setdefault(key, []).append(node)
                path_of[key] = path
        per_path: dict[str, list[str]] = {}
        for key in calls:
            per_path.setdefault(path_of[key], []).append(key)
        names: dict[fx.Node, str] = {}
        for path, keys in per_path.items():
            for i, key in enumerate(keys):
                if len(calls[key]) != 1:
                    continue
                if len(keys) == 1:
                    names[calls[key][0]] = path
                else:
                    flat = path.replace(".", "_")
                    names[calls[key][0]] = flat if i == 0 else f"{flat}_{i}"
        return names

    # -- bits, values, names --
    def tensor(self, node: fx.Node) -> torch.Tensor:
        value = self.values[node]
        if isinstance(value, (tuple, list)):
            if aten.category(aten.op_name(node.target)) == "view":  # split/unbind: the input
                return self.tensor(_tensor_args(node)[0])
            return next(v for v in value if isinstance(v, torch.Tensor))
        return value

    def layer_name(self, node: fx.Node) -> str:
        for name in (self.paths.get(node), node.name):
            if name and name not in self.used:
                return name
        i = 1
        while f"{node.name}_{i}" in self.used:
            i += 1
        return f"{node.name}_{i}"

    def value(self, arg: object) -> object:
        return self.values[arg] if isinstance(arg, fx.Node) else arg

    # -- graph --
    def put(
        self,
        layer: LoopNest | OtherOp,
        inputs: list[str],
        *,
        shape: tuple[int, ...],
        bits: int,
        density: float = 1.0,
        params: int = 0,
        param_bits: int = 0,
        weight_density: float | None = None,
        is_view: bool = False,
        folded: tuple[str, ...] = (),
    ) -> str:
        self.used.add(layer.name)
        self.graph.add_node(
            layer.name,
            node=Node(
                layer=layer,
                output_shape=tuple(int(d) for d in shape),
                activation_bits=bits,
                params=params,
                param_bits=param_bits,
                output_density=density,
                weight_density=weight_density,
                is_view=is_view,
                folded=folded,
            ),
        )
        for u in dict.fromkeys(inputs):
            self.graph.add_edge(u, layer.name)
        return layer.name

    def sources(self, acts: list[fx.Node]) -> list[str]:
        return [self.alias[a] for a in acts if a in self.alias]

    def put_nest(
        self,
        nest: LoopNest,
        inputs: list[str],
        out: torch.Tensor,
        params: list,
        density: float,
        *,
        final: bool = False,
    ) -> str:
        """A loop nest; ``final``: it produces the operator's output tensor ``out`` (whose
        shape it takes), else an intermediate of the nest's own output shape."""
        return self.put(
            nest,
            inputs,
            shape=tuple(out.shape) if final else tuple(nest.outputs.shape(nest.sizes)),
            bits=self.act_bits(out),
            density=density,
            params=self.new_params(params),
            param_bits=nest.params * nest.weights.bits if nest.weights.is_parameter else 0,
            weight_density=nest.weights.density,
        )

    skip_modules = True

    def input(self, node: fx.Node, t: torch.Tensor) -> None:
        layer = OtherOp(
            name=node.name, op="input", input_shapes=(), output_shape=tuple(t.shape),
            category="input",
        )  # fmt: skip
        self.alias[node] = self.put(
            layer, [], shape=tuple(t.shape), bits=self.act_bits(t), density=self.density(node)
        )

    def call(self, node: fx.Node) -> None:
        if not self.is_layer(node, all_tensors=False):
            return
        args = _tensor_args(node)
        op = aten.op_name(node.target)
        acts = [a for a in args if a in self.alias]
        handler = self.MAC_HANDLERS.get(op)
        if handler is not None:
            getattr(self, handler)(node, op, acts)
        else:
            self.other(node, op, args, acts)

    # -- non-MAC layers --
    def other(self, node: fx.Node, op: str, args: list[fx.Node], acts: list[fx.Node]) -> None:
        out = self.tensor(node)
        cat = aten.category(op)
        params = [p for a in args if a in self.constants for p in self.const_params(a)]
        is_view = cat == "view" and len(acts) == 1
        if cat == "view" and not is_view:
            cat = "data_movement"  # x[index] with an index tensor: a gather into a new buffer
        in_elements = [self.tensor(a).numel() for a in acts]
        window = 1
        if cat == "pooling":
            window = aten.window(_arg(node, 1, "kernel_size", 1), max(out.dim() - 2, 1))
        ops = aten.element_ops(op, in_elements, out.numel(), window=window)
        if op in ("layer_norm", "native_layer_norm") and not params:
            ops = 5 * out.numel()
        count = self.new_params(params)
        layer = OtherOp(
            name=self.layer_name(node),
            op=op,
            input_shapes=tuple(tuple(self.tensor(a).shape) for a in acts),
            output_shape=tuple(out.shape),
            element_ops=ops,
            category=cat,
        )
        bits = sum(p.numel() * self.w_bits(p) for p in params) if count else 0
        self.alias[node] = self.put(
            layer,
            self.sources(acts),
            shape=tuple(out.shape),
            bits=self.act_bits(out),
            density=self.density(node),
            params=count,
            param_bits=bits,
            is_view=is_view,
        )

    # -- MAC layers --
    MAC_HANDLERS = {
        **dict.fromkeys(
            ("convolution", "_convolution", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
             "conv_transpose2d", "conv_transpose3d"),
            "conv",
        ),
        "linear": "linear",
        **dict.fromkeys(("mm", "bmm", "matmul", "addmm", "baddbmm"), "matmul"),
        "einsum": "einsum",
        "scaled_dot_product_attention": "attention",
        **dict.fromkeys(_RNN_GATES, "rnn"),
    }  # fmt: skip

    def _common(self, x: fx.Node, w: torch.Tensor, out: torch.Tensor, has_bias: bool) -> dict:
        return dict(
            input_bits=self.act_bits(self.tensor(x)),
            weight_bits=self.w_bits(w),
            output_bits=self.acc_bits(out),
            weight_density=_density(w),
            input_density=self.density(x),
            bias=has_bias,
        )


def capture(
    module: nn.Module, inputs: tuple[torch.Tensor, ...], opts: _Options, name: str
) -> Workload:
    """The workload of ``module`` on ``inputs`` through torch.export (see the module doc)."""
    gm = _export(module, inputs)
    values, densities = _execute(gm, inputs)
    graph = _Builder(gm, values, densities, opts).build()
    return Workload(graph=graph, name=name)
