"""The torch.export front end's matrix products (`codesign.workload.capture`): ``linear``,
``mm``/``addmm``/``bmm``/``baddbmm``/``matmul``, ``einsum`` (from its equation, contracted left
to right), attention (Q.K^T, softmax, P.V) and recurrent layers (input projection, recurrent
projection and gate arithmetic per layer and direction) as loop nests."""

from __future__ import annotations

import math
import string
from dataclasses import replace

import torch
import torch.fx as fx

from codesign.errors import SpecError
from codesign.workload._builder import _arg, _density, _tensor_args
from codesign.workload.graph import OtherOp
from codesign.workload.loopnest import LoopNest, einsum, linear

_RNN_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
# nominal element ops per hidden element per time step of the gate arithmetic (docs/workload.md)
_RNN_CELL_OPS = {"lstm": 9, "gru": 11, "rnn_tanh": 1, "rnn_relu": 1}


class _MatmulLayers:
    """The matrix-product handlers of `codesign.workload.capture._Builder` (a mixin: they build
    with its ``tensor``, ``put``, ``put_nest``, ``other`` and the shared builder's methods)."""

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
