"""ZigZag workloads in (`codesign.interop.zigzag`): the multiply-accumulate layers of a ZigZag
3.x YAML workload as loop nests (`conv2d` for ZigZag's convolution equation, `einsum` for any
other), non-MAC layers skipped with a note."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from codesign.errors import SpecError
from codesign.interop._zigzag_fields import (
    _ROLE_OF_OPERAND,
    _fields,
    _in_file,
    _int,
    _list,
    _read_yaml,
    _report,
    _str,
)
from codesign.workload.loopnest import LoopNest, conv2d, einsum

MAC_OPERATORS: tuple[str, ...] = ("Conv", "Conv_downsample", "Gemm")
"""ZigZag operator types imported as loop nests."""

SKIPPED_OPERATORS: tuple[str, ...] = (
    "Max",
    "Pooling",
    "Add",
    "Pool",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
)
"""ZigZag operator types that are not multiply-accumulates (skipped, with a note)."""

_LAYER_REQUIRED = (
    "id",
    "operator_type",
    "equation",
    "loop_dims",
    "loop_sizes",
    "operand_precision",
    "operand_source",
)
_LAYER_OPTIONAL = ("name", "dimension_relations", "pr_loop_dims", "pr_loop_sizes", "padding")
_OPERAND = r"\s*([A-Za-z]\w*)\s*((?:\[[^\]]*\])+)\s*"
_EQUATION = re.compile(rf"^{_OPERAND}(\+?=){_OPERAND}([*+]){_OPERAND}$")
_RELATION = re.compile(
    r"^\s*([A-Za-z]\w*)\s*=\s*(?:(\d+)\s*\*\s*)?([A-Za-z]\w*)\s*\+\s*(?:(\d+)\s*\*\s*)?"
    r"([A-Za-z]\w*)\s*$"
)
_EQUATION_EXAMPLE = "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]"


def load_zigzag_workload(path: str | Path, *, notes: list[str] | None = None) -> list[LoopNest]:
    """The multiply-accumulate layers of a ZigZag 3.x YAML workload, in file order.

    Parameters
    ----------
    path : str or Path
        The workload YAML (a list of layers, e.g. ZigZag's ``inputs/workload/resnet18.yaml``).
    notes : list of str, optional
        Receives one line per approximation made (skipped non-MAC layers, output widths,
        padding; see the module docstring), each prefixed with the file's path; the same lines
        are logged at INFO level.

    Returns
    -------
    list of LoopNest
        One nest per ``Conv``, ``Conv_downsample`` or ``Gemm`` layer.
    """
    p = Path(path)
    found: list[str] = []
    with _in_file(p):
        data = _read_yaml(p, found)
        nests = _workload(data, found)
    _report(p, found, notes)
    return nests


def _workload(data: Any, notes: list[str]) -> list[LoopNest]:
    if not isinstance(data, list) or not data:
        raise SpecError(f"a ZigZag workload must be a non-empty list of layers, not {data!r}")
    layers = []
    for i, raw in enumerate(data):
        where = f"layers[{i}]"
        layer = _fields(raw, where, "layer", _LAYER_REQUIRED, _LAYER_OPTIONAL)
        layers.append((where, _int(layer["id"], f"{where}.id", minimum=0), layer))
    ids = [lid for _, lid, _ in layers]
    names: dict[str, int] = {}
    nests: list[LoopNest] = []
    skipped: dict[str, list[int]] = {}
    wide_outputs = []
    for where, lid, layer in layers:
        where = f"{where} (id {lid})"
        if ids.count(lid) > 1:
            raise SpecError(f"{where}: id {lid} is used by {ids.count(lid)} layers; ids are unique")
        name = layer.get("name")
        name = f"Layer{lid}" if name is None else _str(name, f"{where}.name")
        if name in names:
            raise SpecError(f"{where}: name {name!r} is also layer id {names[name]}'s")
        names[name] = lid
        sources = _fields(
            layer["operand_source"], f"{where}.operand_source", "operand_source", (), ("I", "W")
        )
        for operand, src in sources.items():
            src = _int(src, f"{where}.operand_source.{operand}", minimum=0)
            if src not in ids:
                raise SpecError(
                    f"{where}.operand_source.{operand} refers to layer id {src}, which is not "
                    f"in the file"
                )
        op_type = layer["operator_type"]
        if op_type in SKIPPED_OPERATORS:
            skipped.setdefault(op_type, []).append(lid)
            continue
        if op_type not in MAC_OPERATORS:
            raise SpecError(
                f"{where}.operator_type must be one of {list(MAC_OPERATORS + SKIPPED_OPERATORS)}, "
                f"not {op_type!r}"
            )
        nest, o_bits, o_final = _mac_layer(where, lid, name, layer, sources, notes)
        if o_final != o_bits:
            wide_outputs.append((name, o_bits, o_final))
        nests.append(nest)
    if skipped:
        listed = "; ".join(f"{t}: ids {v}" for t, v in skipped.items())
        notes.append(
            f"skipped {sum(map(len, skipped.values()))} layers that are not multiply-"
            f"accumulates ({listed}); codesign costs such operators on a vector unit, not the "
            f"PE array"
        )
    if wide_outputs:
        bits = sorted({(o, f) for _, o, f in wide_outputs})
        notes.append(
            f"outputs are operand_precision.O bits wide at every level in {len(wide_outputs)} "
            f"layers ((O, O_final) = {bits}): codesign has one output width, ZigZag writes final "
            f"outputs at O_final bits"
        )
    return nests


def _mac_layer(
    where: str, lid: int, name: str, layer: dict, sources: dict, notes: list[str]
) -> tuple[LoopNest, int, int]:
    """One ``Conv``/``Conv_downsample``/``Gemm`` layer as a loop nest; also its O and O_final
    widths."""
    # dims and sizes
    loop_dims = _list(layer["loop_dims"], f"{where}.loop_dims")
    loop_sizes = _list(layer["loop_sizes"], f"{where}.loop_sizes")
    if len(loop_dims) != len(loop_sizes):
        raise SpecError(
            f"{where}: loop_dims has {len(loop_dims)} entries and loop_sizes {len(loop_sizes)}; "
            f"they must match"
        )
    sizes: dict[str, int] = {}
    for j, (d, n) in enumerate(zip(loop_dims, loop_sizes, strict=True)):
        d = _str(d, f"{where}.loop_dims[{j}]").upper()
        if d in sizes:
            raise SpecError(f"{where}.loop_dims lists {d} twice")
        sizes[d] = _int(n, f"{where}.loop_sizes[{j}]")
    # relations: derived dim -> two (dim, coefficient) terms
    derived: dict[str, tuple[tuple[str, int], ...]] = {}
    relations = layer.get("dimension_relations") or []
    for j, text in enumerate(_list(relations, f"{where}.dimension_relations")):
        w = f"{where}.dimension_relations[{j}]"
        m = _RELATION.match(text) if isinstance(text, str) else None
        if not m:
            raise SpecError(f"{w} must look like 'ix=2*ox+1*fx', not {text!r}")
        dim, c2, d2, c3, d3 = m.groups()
        dim, d2, d3 = dim.upper(), d2.upper(), d3.upper()
        if dim in sizes or dim in derived:
            raise SpecError(f"{w}: {dim} is already a loop dim or defined by another relation")
        for d in (d2, d3):
            if d not in sizes:
                raise SpecError(f"{w}: {d} is not one of loop_dims {list(sizes)}")
        if d2 == d3:
            raise SpecError(f"{w}: the two terms must be different dims, not {d2} twice")
        coefs = [int(c or 1) for c in (c2, c3)]
        if 0 in coefs:
            raise SpecError(f"{w}: coefficients must be positive, not {text!r}")
        derived[dim] = ((d2, coefs[0]), (d3, coefs[1]))
    # equation
    equation = layer["equation"]
    m = _EQUATION.match(equation) if isinstance(equation, str) else None
    if not m:
        raise SpecError(f"{where}.equation must look like {_EQUATION_EXAMPLE!r}, not {equation!r}")
    out, assign, a, op, b = m.group(1), m.group(3), m.group(4), m.group(6), m.group(7)
    if assign != "+=" or op != "*":
        raise SpecError(
            f"{where}.equation {equation!r}: a {layer['operator_type']} layer must be a "
            f"multiply-accumulate 'O[..]+=W[..]*I[..]'"
        )
    groups = {m.group(1): m.group(2), m.group(4): m.group(5), m.group(7): m.group(8)}
    for operand in (out, a, b):
        if operand not in _ROLE_OF_OPERAND:
            raise SpecError(
                f"{where}.equation {equation!r}: unknown operand {operand!r}; ZigZag layers "
                f"use O (output), I and W (inputs), the names memory_operand_links maps"
            )
    if out != "O" or {a, b} != {"I", "W"}:
        raise SpecError(
            f"{where}.equation {equation!r}: must assign O from I and W, not {out} from {a}, {b}"
        )
    axes: dict[str, tuple] = {}
    for operand, text in groups.items():
        indices = [s.upper() for s in re.findall(r"\[([^\]]*)\]", text)]
        for idx in indices:
            if not re.fullmatch(r"\s*[A-Za-z]\w*\s*", idx):
                raise SpecError(
                    f"{where}.equation {equation!r}: operand {operand} index [{idx}] must be "
                    f"one dim name"
                )
        axes[operand] = tuple(s.strip() for s in indices)
    for operand, idx in axes.items():
        for d in idx:
            if d not in sizes and d not in derived:
                raise SpecError(
                    f"{where}.equation: operand {operand} index {d.lower()} is neither in "
                    f"loop_dims {list(sizes)} nor defined by dimension_relations"
                )
            if operand == "O" and d in derived:
                raise SpecError(
                    f"{where}.equation: output index {d.lower()} is a dimension_relations dim; "
                    f"output indices must be loop dims"
                )
    used = set()
    for idx in axes.values():
        for d in idx:
            used.update([t for t, _ in derived[d]] if d in derived else [d])
    for d, n in list(sizes.items()):
        if d not in used:
            if n > 1:
                raise SpecError(
                    f"{where}.loop_dims: {d} (size {n}) indexes no operand of the equation"
                )
            del sizes[d]  # a size-1 loop over nothing changes nothing
    # precisions
    prec = _fields(
        layer["operand_precision"], f"{where}.operand_precision", "operand_precision",
        ("I", "W", "O", "O_final"),
    )  # fmt: skip
    bits = {k: _int(v, f"{where}.operand_precision.{k}") for k, v in prec.items()}
    # padding and explicit input sizes
    pads, pr_sizes = _pr_info(where, layer, derived)
    is_param = sources.get("W") == lid
    attrs = (("zigzag_id", lid), ("zigzag_operator", layer["operator_type"]))
    nest = None
    if layer["operator_type"] != "Gemm":
        nest = _as_conv2d(name, axes, sizes, derived, pads, bits, is_param, attrs)
    if nest is None:
        nest = _as_einsum(name, axes, sizes, derived, bits, is_param, attrs, pads)
    for d, terms in derived.items():
        if not any(d in idx for idx in axes.values()):
            continue  # a relation no operand uses
        extent = sum(c * (sizes[t] - 1) for t, c in terms) + 1
        stored = extent - sum(pads.get(d, (0, 0)))
        if d in pr_sizes:
            stored = min(stored, pr_sizes[d])
        if stored < extent:
            notes.append(
                f"layer {name!r}: ZigZag stores {stored} of the {extent} {d} positions the "
                f"projection spans (padding {list(pads.get(d, (0, 0)))}"
                f"{f', pr_loop_sizes {pr_sizes[d]}' if d in pr_sizes else ''}); codesign's "
                f"traffic and occupancy count all {extent}"
            )
    return nest, bits["O"], bits["O_final"]


def _pr_info(
    where: str, layer: dict, derived: dict
) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """``padding`` and ``pr_loop_sizes`` per relation dim (both keyed by ``pr_loop_dims``)."""
    pr_dims = layer.get("pr_loop_dims")
    padding, pr_sizes = layer.get("padding"), layer.get("pr_loop_sizes")
    if pr_dims is None:
        for key, value in (("padding", padding), ("pr_loop_sizes", pr_sizes)):
            if value is not None:
                raise SpecError(f"{where}.{key} needs pr_loop_dims (the dims it applies to)")
        return {}, {}
    dims = [
        _str(d, f"{where}.pr_loop_dims[{j}]").upper()
        for j, d in enumerate(_list(pr_dims, f"{where}.pr_loop_dims"))
    ]
    for j, d in enumerate(dims):
        if d not in derived:
            raise SpecError(
                f"{where}.pr_loop_dims[{j}]: {d} is not a dimension_relations dim {sorted(derived)}"
            )
    pads: dict[str, tuple[int, int]] = {}
    if padding is not None:
        padding = _list(padding, f"{where}.padding")
        if len(padding) != len(dims):
            raise SpecError(f"{where}.padding needs one [start, end] pair per pr_loop_dims entry")
        for j, (d, pair) in enumerate(zip(dims, padding, strict=True)):
            w = f"{where}.padding[{j}]"
            if not isinstance(pair, list) or len(pair) != 2:
                raise SpecError(f"{w} must be a pair [start, end], not {pair!r}")
            pads[d] = (_int(pair[0], f"{w}[0]", minimum=0), _int(pair[1], f"{w}[1]", minimum=0))
    sizes: dict[str, int] = {}
    if pr_sizes is not None:
        pr_sizes = _list(pr_sizes, f"{where}.pr_loop_sizes")
        if len(pr_sizes) != len(dims):
            raise SpecError(f"{where}.pr_loop_sizes needs one size per pr_loop_dims entry")
        for j, (d, n) in enumerate(zip(dims, pr_sizes, strict=True)):
            sizes[d] = _int(n, f"{where}.pr_loop_sizes[{j}]")
    return pads, sizes


def _as_conv2d(
    name: str,
    axes: dict[str, tuple],
    sizes: dict[str, int],
    derived: dict,
    pads: dict,
    bits: dict[str, int],
    is_param: bool,
    attrs: tuple,
) -> LoopNest | None:
    """The layer as codesign's `conv2d` when it has the form
    ``O[b][k][oy][ox] += W[k][c][fy][fx] * I[b][c][iy][ix]`` (``iy = s*oy + d*fy``), else None."""
    o, w, i = axes["O"], axes["W"], axes["I"]
    if len(o) != 4 or len(w) != 4 or len(i) != 4 or len(set(o + w[1:])) != 7:
        return None
    b, k, oy, ox = o
    _, c, fy, fx = w
    if w[0] != k or i[0] != b or i[1] != c or any(d in derived for d in (b, k, c, fy, fx)):
        return None
    if len(sizes) != 7:
        return None
    geometry = []
    for out_dim, kernel_dim, in_dim in ((oy, fy, i[2]), (ox, fx, i[3])):
        terms = dict(derived.get(in_dim, ()))
        if set(terms) != {out_dim, kernel_dim}:
            return None
        stride, dilation = terms[out_dim], terms[kernel_dim]
        extent = stride * (sizes[out_dim] - 1) + dilation * (sizes[kernel_dim] - 1) + 1
        lo, hi = pads.get(in_dim, (0, 0))
        pad = lo if lo == hi and extent - 2 * lo > 0 else 0  # asymmetric: folded into the input
        geometry.append((extent - 2 * pad, sizes[kernel_dim], stride, dilation, pad))
    (hy, ky, sy, dy, py), (hx, kx, sx, dx, px) = geometry
    nest = conv2d(
        name,
        in_channels=sizes[c],
        out_channels=sizes[k],
        input_size=(hy, hx),
        kernel_size=(ky, kx),
        stride=(sy, sx),
        dilation=(dy, dx),
        padding=(py, px),
        batch=sizes[b],
        input_bits=bits["I"],
        weight_bits=bits["W"],
        output_bits=bits["O"],
    )
    if not is_param:
        tensors = tuple(replace(t, is_parameter=False) for t in nest.tensors)
        nest = replace(nest, tensors=tensors)
    names = (("N", b), ("K", k), ("C", c), ("P", oy), ("Q", ox), ("R", fy), ("S", fx))
    zigzag_dims = tuple((zz, cd) for cd, zz in names)
    return replace(nest, attrs=nest.attrs + attrs + (("zigzag_dims", zigzag_dims),))


def _as_einsum(
    name: str,
    axes: dict[str, tuple],
    sizes: dict[str, int],
    derived: dict,
    bits: dict[str, int],
    is_param: bool,
    attrs: tuple,
    pads: dict,
) -> LoopNest:
    """The layer through `einsum`, keeping ZigZag's dim names."""

    def operand(letter: str) -> str:
        parts = [
            "+".join(f"{c}*{t}" for t, c in derived[d]) if d in derived else d for d in axes[letter]
        ]
        return f"{letter}[{','.join(parts)}]"

    spec = f"{operand('O')} += {operand('I')} * {operand('W')}"
    nest = einsum(
        spec,
        name=name,
        input_bits=bits["I"],
        weight_bits=bits["W"],
        output_bits=bits["O"],
        weights_are_parameters=is_param,
        **sizes,
    )
    zigzag_dims = tuple((d, d) for d in nest.dim_names)
    extra = (("zigzag_padding", tuple(sorted(pads.items()))),) if pads else ()
    return replace(nest, attrs=attrs + (("zigzag_dims", zigzag_dims),) + extra)
