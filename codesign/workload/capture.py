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
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import math
import string
from dataclasses import replace

import torch
import torch.fx as fx
import torch.utils._pytree as pytree
from torch import nn

from codesign.errors import SpecError, TraceError, UnsupportedOperatorError
from codesign.workload import aten
from codesign.workload._builder import (
    _arg,
    _density,
    _execute,
    _first_line,
    _GraphBuilder,
    _Options,
    _tensor_args,
)
from codesign.workload.graph import Node, OtherOp, Workload
from codesign.workload.loopnest import LoopNest, conv1d, conv2d, conv3d, einsum, linear

__all__ = ["capture"]

_RNN_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
# nominal element ops per hidden element per time step of the gate arithmetic (docs/workload.md)
_RNN_CELL_OPS = {"lstm": 9, "gru": 11, "rnn_tanh": 1, "rnn_relu": 1}


def _is_torch_nn(typ: object) -> bool:
    """Whether a module class (or its qualified name, as torch.export records it) is one of
    ``torch.nn``'s."""
    qualname = typ if isinstance(typ, str) else f"{typ.__module__}.{typ.__qualname__}"
    return qualname.startswith("torch.nn.")


class _Builder(_GraphBuilder):
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

    def conv(self, node: fx.Node, op: str, acts: list[fx.Node]) -> None:
        x_node, w_node, b_node = node.args[0], node.args[1], _arg(node, 2, "bias")
        x, w = self.tensor(x_node), self.value(w_node).detach()
        nd = w.dim() - 2
        if op in ("convolution", "_convolution"):
            stride, padding, dilation = node.args[3], node.args[4], node.args[5]
            transposed, groups = bool(node.args[6]), node.args[8]
        elif op.startswith("conv_transpose"):
            stride = _arg(node, 3, "stride", 1)
            padding = _arg(node, 4, "padding", 0)
            groups = _arg(node, 6, "groups", 1)
            dilation = _arg(node, 7, "dilation", 1)
            transposed = True
        else:
            stride = _arg(node, 3, "stride", 1)
            padding = _arg(node, 4, "padding", 0)
            dilation = _arg(node, 5, "dilation", 1)
            groups = _arg(node, 6, "groups", 1)
            transposed = False

        def tup(v: object) -> tuple[int, ...]:
            v = tuple(v) if isinstance(v, (tuple, list)) else (v,)
            return v * nd if len(v) == 1 else v

        stride, dilation = tup(stride), tup(dilation)
        kernel = tuple(w.shape[2:])
        if isinstance(padding, str):  # "valid" / "same"
            spans = [d * (k - 1) for d, k in zip(dilation, kernel, strict=True)]
            if padding != "valid" and any(s % 2 for s in spans):
                raise UnsupportedOperatorError(
                    f"node {node.name!r}: padding='same' with an even kernel span {spans} pads "
                    f"asymmetrically; supported: symmetric padding (pad explicitly with F.pad)"
                )
            padding = (0,) * nd if padding == "valid" else tuple(s // 2 for s in spans)
        padding = tup(padding)
        params = self.const_params(w_node) + self.const_params(b_node)
        out_node, folded, bn_params = None, (), []
        if not transposed and self.opts.fold_batchnorm:
            bn = self._following_batchnorm(node)
            if bn is not None:
                bw, rv, eps = self.value(bn.args[1]), self.value(bn.args[4]), bn.args[7]
                scale = bw.detach() if bw is not None else torch.ones_like(rv)
                scale = scale / torch.sqrt(rv + eps)
                w = w * scale.reshape(-1, *([1] * (w.dim() - 1)))
                out_node, folded = bn, (self.layer_name(bn),)
                self.folded[bn] = node
                bn_params = self.const_params(bn.args[1]) + self.const_params(bn.args[2])
        out = self.tensor(out_node or node)
        name = self.layer_name(node)
        batch = x.shape[0] if x.dim() == nd + 2 else 1
        size = tuple(x.shape[-nd:])
        common = self._common(x_node, w, out, b_node is not None or bool(folded))
        if transposed:
            self._conv_transpose(node, name, x, w, groups, stride, dilation, common, params, acts)
            return
        channels = dict(in_channels=x.shape[-nd - 1], out_channels=w.shape[0], groups=groups)
        factory = {1: conv1d, 2: conv2d, 3: conv3d}.get(nd)
        if factory is None:
            raise SpecError(f"node {node.name!r}: a {nd}-D convolution has no loop-nest factory")
        geometry = dict(
            input_size=size, kernel_size=kernel, stride=stride, dilation=dilation,
            padding=padding,
        )  # fmt: skip
        if nd == 1:
            geometry = {k: v[0] for k, v in geometry.items()}
        nest = factory(name, batch=batch, **geometry, **channels, **common)
        self.alias[node] = self.put(
            nest,
            self.sources(acts),
            shape=tuple(out.shape),
            bits=self.act_bits(out),
            density=self.density(out_node or node),
            params=self.new_params(params + bn_params),
            param_bits=nest.params * nest.weights.bits,
            weight_density=nest.weights.density,
            folded=folded,
        )
        if out_node is not None:
            self.alias[out_node] = self.alias[node]

    def _conv_transpose(
        self, node, name, x, w, groups, stride, dilation, common, params, acts
    ) -> None:
        """A transposed convolution as the GEMM every input pixel makes with the kernel into
        a column buffer ``O[n, g, k, p.., r..]`` (MACs = inputs x kernel x channels, what
        ``FlopCounterMode`` counts) plus the ``col2im`` overlap-add into the output."""
        nd = w.dim() - 2
        cin, kg = w.shape[0], w.shape[1]
        cg = cin // groups
        batch = x.shape[0] if x.dim() == nd + 2 else 1
        pos = [f"p{i}" for i in range(nd)]
        ker = [f"r{i}" for i in range(nd)]
        sizes = {"n": batch, "g": groups, "k": kg, "c": cg}
        sizes |= {p: int(x.shape[-nd + i]) for i, p in enumerate(pos)}
        sizes |= {r: int(w.shape[2 + i]) for i, r in enumerate(ker)}
        ch = f"{cg}*g+c" if groups > 1 else "c"
        g_out = "g," if groups > 1 else ""
        if groups == 1:
            sizes.pop("g")
        spec = (
            f"O[n,{g_out}k,{','.join(pos + ker)}] += I[n,{ch},{','.join(pos)}] * "
            f"W[{ch},k,{','.join(ker)}]"
        )
        out = self.tensor(node)
        common = dict(common)
        has_bias = common.pop("bias")
        nest = einsum(spec, name=name, weights_are_parameters=True, **common, **sizes)
        nest = replace(
            nest,
            op=f"conv_transpose{nd}d",
            bias_elements=int(out.shape[-nd - 1]) if has_bias else 0,
            attrs=(("groups", groups), ("stride", stride), ("dilation", dilation)),
        )
        cols = self.put_nest(nest, self.sources(acts), out, params, 1.0)
        col_elems = math.prod(nest.outputs.shape(nest.sizes))
        layer = OtherOp(
            name=f"{name}.col2im",
            op="col2im",
            input_shapes=(tuple(nest.outputs.shape(nest.sizes)),),
            output_shape=tuple(out.shape),
            element_ops=col_elems,
            category="data_movement",
        )
        self.alias[node] = self.put(
            layer, [cols], shape=tuple(out.shape), bits=self.act_bits(out),
            density=self.density(node),
        )  # fmt: skip

    def _following_batchnorm(self, node: fx.Node) -> fx.Node | None:
        users = list(node.users)
        if len(users) != 1 or users[0].op != "call_function":
            return None
        bn = users[0]
        if aten.op_name(bn.target) != "batch_norm" or bn.args[0] is not node:
            return None
        training = _arg(bn, 5, "training", False)
        stats = (bn.args[3], bn.args[4])
        if training or not all(isinstance(s, fx.Node) and s in self.constants for s in stats):
            return None
        if any(isinstance(a, fx.Node) and a not in self.constants for a in bn.args[1:3]):
            return None
        return bn

    def linear(self, node: fx.Node, op: str, acts: list[fx.Node]) -> None:
        x_node, w_node, b_node = node.args[0], node.args[1], _arg(node, 2, "bias")
        x, w = self.tensor(x_node), self.value(w_node)
        if not (isinstance(w_node, fx.Node) and w_node in self.constants):
            self._gemm(node, op, x_node, w_node, acts, transpose_b=True)
            return
        w = w.detach()
        out = self.tensor(node)
        nest = linear(
            self.layer_name(node), in_features=w.shape[1], out_features=w.shape[0],
            leading=tuple(x.shape[:-1]) or (1,),
            **self._common(x_node, w, out, b_node is not None),
        )  # fmt: skip
        params = self.const_params(w_node) + self.const_params(b_node)
        self.alias[node] = self.put_nest(
            nest, self.sources(acts), out, params, self.density(node), final=True
        )

    def matmul(self, node: fx.Node, op: str, acts: list[fx.Node]) -> None:
        a, b = (node.args[1], node.args[2]) if op in ("addmm", "baddbmm") else node.args[:2]
        self._gemm(node, op, a, b, acts, bias=node.args[0] if op in ("addmm", "baddbmm") else None)

    def _gemm(self, node, op, a_node, b_node, acts, *, transpose_b=False, bias=None) -> None:
        """``A @ B`` (``A @ B^T`` for a linear with an activation weight) of two tensors, with
        batch dims broadcast: one operand without batch dims folds the other's into M."""
        a, b = self.value(a_node).detach(), self.value(b_node).detach()
        if transpose_b:
            b = b.transpose(-1, -2) if b.dim() > 1 else b
        a_const = isinstance(a_node, fx.Node) and a_node in self.constants
        b_const = isinstance(b_node, fx.Node) and b_node in self.constants
        a_shape = (1, *a.shape) if a.dim() == 1 else tuple(a.shape)
        b_shape = (*b.shape, 1) if b.dim() == 1 else tuple(b.shape)
        (m, k), n = a_shape[-2:], b_shape[-1]
        a_batch, b_batch = math.prod(a_shape[:-2]), math.prod(b_shape[:-2])
        batch = math.prod(torch.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
        if b_batch == 1:
            idx, sizes = ("m,k", "k,n", "m,n"), {"m": batch * m}
        elif a_batch == 1:
            idx, sizes = ("m,k", "b,k,n", "b,m,n"), {"b": batch, "m": m}
        else:  # both batched (broadcast: the loop nest indexes both by the broadcast batch)
            idx, sizes = ("b,m,k", "b,k,n", "b,m,n"), {"b": batch, "m": m}
        first, second = ("A", idx[0], a, a_node), ("B", idx[1], b, b_node)
        weights_are_params = b_const
        if a_const and not b_const:
            first, second, weights_are_params = second, first, True
        params = self.const_params(a_node) + self.const_params(b_node) + self.const_params(bias)
        out = self.tensor(node)
        wbits = self.w_bits(second[2]) if weights_are_params else self.act_bits(second[2])
        nest = einsum(
            f"Z[{idx[2]}] += {first[0]}[{first[1]}] * {second[0]}[{second[1]}]",
            name=self.layer_name(node),
            input_bits=self.act_bits(first[2]),
            weight_bits=wbits,
            output_bits=self.acc_bits(out),
            input_density=self._density_of(first[3]),
            weight_density=self._density_of(second[3], second[2]),
            weights_are_parameters=weights_are_params,
            **sizes,
            n=n,
            k=k,
        )
        has_bias = bias is not None or (op == "linear" and _arg(node, 2, "bias") is not None)
        nest = replace(nest, op="matmul", bias_elements=n if has_bias else 0)
        self.alias[node] = self.put_nest(
            nest, self.sources(acts), out, params, self.density(node), final=True
        )

    def _density_of(self, arg: object, value: torch.Tensor | None = None) -> float:
        if isinstance(arg, fx.Node) and arg in self.constants:
            return _density(value if value is not None else self.value(arg))
        return self.density(arg) if isinstance(arg, fx.Node) else 1.0

    def einsum(self, node: fx.Node, op: str, acts: list[fx.Node]) -> None:
        equation, operands = node.args[0], list(node.args[1])
        terms, rhs = _einsum_terms(equation, [tuple(self.value(o).shape) for o in operands])
        if len(operands) == 1:  # a pure reduction or permutation
            self.other(node, "sum" if len(rhs) < len(terms[0]) else "permute",
                       _tensor_args(node), acts)  # fmt: skip
            return
        size: dict[str, int] = {}
        for t, o in zip(terms, operands, strict=True):
            for c, d in zip(t, self.value(o).shape, strict=True):
                size[c] = max(size.get(c, 1), int(d))
        name, out = self.layer_name(node), self.tensor(node)
        src = [self.alias[operands[0]]] if operands[0] in self.alias else []
        left, a_node = terms[0], operands[0]
        for i in range(1, len(operands)):
            last = i == len(operands) - 1
            keep = set(rhs) | {c for t in terms[i + 1 :] for c in t}
            res = rhs if last else "".join(c for c in dict.fromkeys(left + terms[i]) if c in keep)
            part = name if len(operands) == 2 else f"{name}.{i - 1}"
            nest = self._einsum_nest(part, left, terms[i], res, size, a_node, operands[i], out)
            if operands[i] in self.alias:
                src.append(self.alias[operands[i]])
            params = self.const_params(operands[i]) + self.const_params(a_node)
            density = self.density(node) if last else 1.0
            put = self.put_nest(nest, src, out, params, density, final=last)
            src, left, a_node = [put], res, None
        self.alias[node] = src[0]

    def _einsum_nest(self, name, left, right, res, size, a_node, b_node, out) -> LoopNest:
        """One two-operand contraction ``res <- left, right``. A letter of one operand only
        that the result drops is summed out of that operand first (not MACs: torch does the
        same). ``a_node`` is ``None`` for an intermediate result."""
        left = "".join(c for c in left if c in right or c in res)
        right = "".join(c for c in right if c in left or c in res)
        order = dict.fromkeys(left + right + res)
        dims = _dim_names(order)
        consts = [n for n in (a_node, b_node) if isinstance(n, fx.Node) and n in self.constants]
        first, second = ("A", left, a_node), ("B", right, b_node)
        if a_node in consts and b_node not in consts:
            first, second = second, first

        def idx(t: str) -> str:
            return ",".join(dims[c] for c in t)

        def density(n: fx.Node | None) -> float:
            return self._density_of(n) if n is not None else 1.0

        bits = self.act_bits(out)
        return einsum(
            f"Z[{idx(res)}] += {first[0]}[{idx(first[1])}] * {second[0]}[{idx(second[1])}]",
            name=name,
            input_bits=bits,
            weight_bits=self.w_bits(self.value(consts[0])) if consts else bits,
            output_bits=self.acc_bits(out),
            input_density=density(first[2]),
            weight_density=density(second[2]),
            weights_are_parameters=bool(consts),
            **{dims[c]: size[c] for c in order},
        )

    def attention(self, node: fx.Node, op: str, acts: list[fx.Node]) -> None:
        """``softmax(Q K^T * scale + mask) V``: the Q.K^T matmul and the P.V matmul over every
        batch and head (dims ``B``: the query's leading dims), with the softmax between."""
        q_node, k_node, v_node = node.args[:3]
        mask = _arg(node, 3, "attn_mask")
        q, k, v = (self.tensor(a) for a in (q_node, k_node, v_node))
        out = self.tensor(node)
        lead = tuple(q.shape[:-2])
        batch, seq_q, e = math.prod(lead), q.shape[-2], q.shape[-1]
        seq_k, ev = k.shape[-2], v.shape[-1]
        name = self.layer_name(node)
        bits = self.act_bits(out)
        common = dict(output_bits=self.acc_bits(out), input_bits=bits, weight_bits=bits)
        qk = einsum(
            "S[b,l,s] += Q[b,l,e] * K[b,s,e]", name=f"{name}.qk", b=batch, l=seq_q, s=seq_k, e=e,
            input_density=self.density(q_node), weight_density=self.density(k_node), **common,
        )  # fmt: skip
        qk = replace(qk, op="attention_qk")
        src_q = [self.alias[a] for a in (q_node, k_node) if a in self.alias]
        scores = (*lead, seq_q, seq_k)
        qk_name = self.put(
            qk, src_q, shape=scores, bits=self.acc_bits(out), density=1.0,
            weight_density=qk.weights.density,
        )  # fmt: skip
        srcs = [qk_name] + ([self.alias[mask]] if isinstance(mask, fx.Node) and mask in self.alias
                            else [])  # fmt: skip
        n_scores = math.prod(scores)
        soft = OtherOp(
            name=f"{name}.softmax",
            op="softmax",
            input_shapes=(scores,),
            output_shape=scores,
            element_ops=(4 + 1 + (mask is not None)) * n_scores,  # scale, mask add, softmax
            category="softmax",
        )
        # a mask computed from parameters: a learned bias (T5's relative position bias)
        mask_params = self.const_params(mask) if mask in self.constants else []
        count = self.new_params(mask_params)
        soft_name = self.put(
            soft, srcs, shape=scores, bits=bits, params=count,
            param_bits=sum(p.numel() * self.w_bits(p) for p in mask_params) if count else 0,
        )  # fmt: skip
        pv = einsum(
            "O[b,l,f] += P[b,l,s] * V[b,s,f]", name=f"{name}.pv", b=batch, l=seq_q, s=seq_k, f=ev,
            input_density=1.0, weight_density=self.density(v_node), **common,
        )  # fmt: skip
        pv = replace(pv, op="attention_pv")
        srcs = [soft_name] + ([self.alias[v_node]] if v_node in self.alias else [])
        self.alias[node] = self.put(
            pv, srcs, shape=tuple(out.shape), bits=bits, density=self.density(node),
            weight_density=pv.weights.density,
        )  # fmt: skip

    def rnn(self, node: fx.Node, op: str, acts: list[fx.Node]) -> None:
        """A recurrent layer (``aten.lstm``/``gru``/``rnn_*``): per layer and direction, the
        input projection of every time step (one GEMM over ``T x B``), the recurrent projection
        of every time step (``h_{t-1} @ W_hh^T``, accumulated onto the input projection; its
        ``T`` loop is sequential in time), and the gate arithmetic; a bidirectional layer's two
        directions are concatenated."""
        x_node = node.args[0]
        params_nodes = list(node.args[2])
        has_biases, layers, bidir = node.args[3], node.args[4], node.args[7]
        batch_first = node.args[8] if len(node.args) > 8 else False
        x = self.tensor(x_node)
        if x.dim() == 2:
            steps, batch = x.shape[0], 1
        else:
            steps, batch = (x.shape[1], x.shape[0]) if batch_first else (x.shape[0], x.shape[1])
        gates, dirs = _RNN_GATES[op], 2 if bidir else 1
        per = len(params_nodes) // (layers * dirs)
        proj = per in (3, 5)
        name = self.layer_name(node)
        out = self.tensor(node)
        bits = self.act_bits(out)
        prev = [self.alias[x_node]] if x_node in self.alias else []
        feats = x.shape[-1]
        for layer in range(layers):
            cells = []
            for d in range(dirs):
                group = params_nodes[(layer * dirs + d) * per : (layer * dirs + d + 1) * per]
                w_ih, w_hh = (self.value(g) for g in group[:2])
                hidden = w_hh.shape[1] if not proj else self.value(group[-1]).shape[1]
                h_out = self.value(group[-1]).shape[0] if proj else hidden
                tag = f"{name}.l{layer}{'_reverse' if d else ''}"
                common = dict(input_bits=bits, weight_bits=self.w_bits(w_ih),
                              output_bits=self.acc_bits(out))  # fmt: skip
                ih = linear(
                    f"{tag}.ih", in_features=feats, out_features=gates * hidden,
                    leading=(steps, batch), bias=bool(has_biases),
                    weight_density=_density(w_ih), **common,
                )  # fmt: skip
                ih_params = [self.value(group[0])] + ([self.value(group[2])] if has_biases else [])
                ih_name = self.put_nest(ih, prev, out, ih_params, 1.0)
                hh = einsum(
                    "Z[t,m,n] += H[t,m,k] * W[n,k]", name=f"{tag}.hh", t=steps, m=batch,
                    n=gates * hidden, k=h_out, weights_are_parameters=True,
                    weight_density=_density(w_hh), **common,
                )  # fmt: skip
                hh = replace(hh, op=f"{op}_hh", bias_elements=gates * hidden if has_biases else 0)
                hh_params = [w_hh] + ([self.value(group[3])] if has_biases else [])
                last = ih_name = self.put_nest(hh, [ih_name], out, hh_params, 1.0)
                shape = (steps, batch, hidden)
                cell = OtherOp(
                    name=f"{tag}.cell", op=f"{op}_cell", input_shapes=((steps, batch,
                    gates * hidden),), output_shape=shape,
                    element_ops=_RNN_CELL_OPS[op] * steps * batch * hidden,
                    category="elementwise",
                )  # fmt: skip
                last = self.put(cell, [last], shape=shape, bits=bits)
                if proj:
                    w_hr = self.value(group[-1])
                    pr = linear(
                        f"{tag}.proj", in_features=hidden, out_features=h_out,
                        leading=(steps, batch), weight_density=_density(w_hr), **common,
                    )  # fmt: skip
                    last = self.put_nest(pr, [last], out, [w_hr], 1.0)
                cells.append(last)
            if dirs == 2:
                shape = (steps, batch, 2 * h_out)
                cat = OtherOp(
                    name=f"{name}.l{layer}.cat", op="cat",
                    input_shapes=((steps, batch, h_out),) * 2, output_shape=shape,
                    category="data_movement",
                )  # fmt: skip
                prev = [self.put(cat, cells, shape=shape, bits=bits)]
            else:
                prev = cells
            feats = dirs * h_out
        self.alias[node] = prev[0]


def _einsum_terms(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """The operand terms and the result of an einsum equation with every ``...`` spelled out
    in letters the equation does not use (right-aligned, as torch broadcasts them) and the
    implicit result (``...`` dims, then the letters seen once, sorted) made explicit."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise SpecError(f"einsum {equation!r}: {len(terms)} terms for {len(shapes)} operands")
    spans = [len(s) - (len(t) - 3) for t, s in zip(terms, shapes, strict=True) if "..." in t]
    width = max(spans, default=0)
    free = [c for c in string.ascii_letters[::-1] if c not in eq][:width][::-1]
    ell = "".join(free)

    def expand(t: str, n: int) -> str:
        return t.replace("...", ell[width - n :] if n else "")

    terms = [
        expand(t, len(s) - (len(t) - 3)) if "..." in t else t
        for t, s in zip(terms, shapes, strict=True)
    ]
    if arrow:
        rhs = expand(rhs, width)
    else:
        letters = "".join(terms)
        rhs = ell + "".join(sorted(c for c in set(letters) - set(ell) if letters.count(c) == 1))
    return terms, rhs


def _dim_names(letters: dict) -> dict[str, str]:
    """einsum letters -> loop-nest dim names (upper case, unique: ``i`` and ``I`` differ)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for c in letters:
        base = c.upper()
        name, i = base, 2
        while name in taken:
            name, i = f"{base}{i}", i + 1
        names[c] = name
        taken.add(name)
    return names


def _run_eagerly(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> object:
    """Run the module once as it is, so that an input it cannot take fails with the name of
    the innermost module that raised (torch.export would report a fake-tensor check); returns
    its output."""
    stack: list[str] = []
    names = {m: n for n, m in module.named_modules()}

    def enter(mod: nn.Module, _args: object) -> None:
        stack.append(names[mod])

    def leave(*_: object) -> None:
        stack.pop()

    hooks = [m.register_forward_pre_hook(enter) for m in names]
    hooks += [m.register_forward_hook(leave) for m in names]
    try:
        with torch.no_grad():
            return module(*inputs)
    except Exception as exc:
        path = stack[-1] if stack else ""
        where = (
            f"module {path!r} ({type(module.get_submodule(path)).__name__})"
            if path
            else f"{type(module).__name__}.forward"
        )
        shapes = [tuple(t.shape) for t in inputs]
        raise TraceError(
            f"{where} failed on example inputs of shapes {shapes}: {_first_line(exc)}"
        ) from exc
    finally:
        for h in hooks:
            h.remove()


def _export_reason(exc: BaseException) -> str:
    """One line of a torch.export failure: the line saying why (they often start with the
    generated code of the graph)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for key in ("data-dependent", "Could not guard", "control flow", "Unsupported", "Error"):
        hit = next((ln for ln in lines if key in ln), None)
        if hit is not None:
            return hit
    code = ("def ", "#", "return ", "File ")
    return next((ln for ln in lines if not ln.startswith(code)), type(exc).__name__)


_PLAIN = (torch.Tensor, int, float, bool, str, type(None))


def _output_tensors(value: object, seen: set[int]) -> list[torch.Tensor]:
    """The tensors of a module's output, in order: its pytree leaves (tuples, lists, dicts,
    Hugging Face ``ModelOutput``s) and, inside a leaf that is some other object (a Hugging Face
    ``DynamicCache``), the tensors of its attributes, found the same way."""
    found: list[torch.Tensor] = []
    for leaf in pytree.tree_leaves(value):
        if isinstance(leaf, torch.Tensor):
            found.append(leaf)
        elif not isinstance(leaf, (nn.Module, type)) and hasattr(leaf, "__dict__"):
            if id(leaf) not in seen:
                seen.add(id(leaf))
                found += _output_tensors(vars(leaf), seen)
    return found


class _TensorOutputs(nn.Module):
    """Exports a module whose output holds tensors inside objects torch.export cannot flatten
    (a KV cache) as the tuple of those tensors. Its ``forward`` has the module's signature (the
    graph inputs keep their names); `_unwrap` removes its level from the module paths."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

        def forward(*inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(_output_tensors(module(*inputs), set()))

        with contextlib.suppress(ValueError):  # a builtin forward has no signature
            forward.__signature__ = inspect.signature(module.forward)
        self.forward = forward


def _unwrap(gm: fx.GraphModule) -> None:
    """The module paths of a `_TensorOutputs` capture as if the module had been exported itself
    (``module.h.0.attn`` -> ``h.0.attn``)."""
    for node in gm.graph.nodes:
        stack = node.meta.get("nn_module_stack")
        if stack:
            node.meta["nn_module_stack"] = {
                key: (path.removeprefix("module").removeprefix("."), *rest)
                for key, (path, *rest) in list(stack.items())[1:]
            }


def _export(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> fx.GraphModule:
    """The module captured by torch.export, as a graph module."""
    label = type(module).__name__
    try:
        sig = inspect.signature(module.forward)
        sig.bind(*inputs)
    except TypeError as exc:
        params = [
            p.name for p in inspect.signature(module.forward).parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]  # fmt: skip
        raise SpecError(
            f"{label}.forward takes {len(params)} inputs {params}, got {len(inputs)} example "
            f"inputs ({_first_line(exc)})"
        ) from exc
    except ValueError:
        pass  # no signature (a builtin forward): let torch.export check the arguments
    output = _run_eagerly(module, inputs)
    wrap = not all(isinstance(v, _PLAIN) for v in pytree.tree_leaves(output))
    sink = io.StringIO()
    quiet = logging.getLogger("torch")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # torch logs the failing graph on stderr before raising
    try:
        # ... and prints the graph code of a failed guard
        with torch.no_grad(), contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            ep = torch.export.export(_TensorOutputs(module) if wrap else module, inputs,
                                     strict=False)  # fmt: skip
    except Exception as exc:  # torch raises many types; all mean "cannot capture"
        where = next(
            (ln.strip().removeprefix("# File: ") for ln in (str(exc) + "\n" + sink.getvalue())
             .splitlines() if ln.strip().startswith("# File:")),
            None,
        )  # fmt: skip
        at = f" at {where}" if where else ""
        raise TraceError(
            f"cannot capture {label} with torch.export{at}: {_export_reason(exc)} (data-dependent "
            f"control flow: make branches depend on constructor arguments or shapes, not on "
            f"tensor values; or try frontend='fx')"
        ) from exc
    finally:
        quiet.setLevel(level)
    try:
        gm = ep.module()
    except Exception as exc:  # noqa: BLE001 - torch regenerates Python code from the graph
        raise TraceError(
            f"cannot capture {label} with torch.export: its graph does not compile back to "
            f"Python ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); a module name "
            f"with quotes? rename it or try frontend='fx'"
        ) from exc
    if wrap:
        _unwrap(gm)
    return gm


def capture(
    module: nn.Module, inputs: tuple[torch.Tensor, ...], opts: _Options, name: str
) -> Workload:
    """The workload of ``module`` on ``inputs`` through torch.export (see the module doc)."""
    gm = _export(module, inputs)
    values, densities = _execute(gm, inputs)
    graph = _Builder(gm, values, densities, opts).build()
    return Workload(graph=graph, name=name)
