"""The torch.fx front end's builder: a traced, executed graph -> workload nodes, its MAC-bearing
operators (convolutions, linear layers, matmuls) -> loop nests, a BatchNorm that only reads a
convolution folded into it."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.fx as fx
from torch import nn

from codesign.errors import UnsupportedOperatorError
from codesign.workload._builder import _arg, _density, _GraphBuilder, _tensor_args
from codesign.workload._fx_ops import (
    _FUNCTIONS,
    _MAC_OPS,
    _METHODS,
    _MODULES,
    _PER_INPUT_ELEMENT,
    _PER_OUTPUT_ELEMENT,
    _POOL_OPS,
    _VIEW_OPS,
    _fx_category,
    _unsupported,
)
from codesign.workload.graph import Node, OtherOp
from codesign.workload.loopnest import LoopNest, conv1d, conv2d, einsum, linear


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
