"""The torch.export front end's convolutions (`codesign.workload.capture`): a convolution of any
rank as its loop nest, with a following inference BatchNorm folded into it, and a transposed
convolution as its GEMM into a column buffer plus the ``col2im`` overlap-add."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.fx as fx

from codesign.errors import SpecError, UnsupportedOperatorError
from codesign.workload import aten
from codesign.workload._builder import _arg
from codesign.workload.graph import OtherOp
from codesign.workload.loopnest import conv1d, conv2d, conv3d, einsum


class _ConvLayers:
    """The convolution handlers of `codesign.workload.capture._Builder` (a mixin: they build
    with its ``tensor``, ``put``, ``put_nest`` and the shared builder's methods)."""

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
