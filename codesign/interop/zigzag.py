"""ZigZag specs in: a user switching from ZigZag keeps their workload, accelerator, mapping.

`load_zigzag_workload(path)` reads a ZigZag 3.x YAML workload (a list of layers) and returns one
codesign `LoopNest` per multiply-accumulate layer; `load_zigzag_accelerator(path, mapping)` reads
a ZigZag 3.x accelerator YAML and, optionally, its mapping YAML, and returns an `Architecture`.
ONNX workloads are not read. docs/zigzag.md has the walk-through and measured figures.

==============================  ==================================================================
ZigZag                          codesign
==============================  ==================================================================
layer ``equation``,             ``LoopNest``: each operand's indices become ``TensorSpec`` axes;
``dimension_relations``         a relation ``ix=2*ox+1*fx`` becomes the axis ``2*OX + 1*FX``
                                (exact projection). ``O`` is the outputs, ``W`` the weights (a
                                parameter when ``operand_source.W`` is the layer's own id), ``I``
                                the inputs
``loop_dims``, ``loop_sizes``   dims and sizes. A ``Conv``/``Conv_downsample`` layer of the form
                                ``O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]`` is built
                                with `conv2d` (dims ``N K C P Q R S``, op ``conv2d``, the same
                                nest codesign builds for that convolution; attribute
                                ``zigzag_dims`` maps ZigZag's dim names to codesign's); any other
                                MAC layer with `einsum`, keeping ZigZag's dim names (op
                                ``einsum``)
``name`` / ``id``               layer name (``name``, else ``Layer{id}`` as ZigZag names it);
                                attribute ``zigzag_id``
``operand_precision``           ``I`` -> input bits, ``W`` -> weight bits, ``O`` -> output bits
                                (see the approximations)
``padding``                     ``conv2d`` padding (symmetric); the projection is unchanged
``operational_array``           ``ComputeArray``: the two array dimensions -> rows and cols
                                (which is which follows the dataflow), ``unit_energy`` ->
                                ``mac_energy_pj``, ``unit_area`` -> ``mac_area_um2``,
                                ``input_precision`` -> ``input_bits``/``weight_bits`` (default 8)
memory (in file order,          ``MemoryLevel`` (innermost first): ``size`` -> ``size_bits``,
lowest first)                   ``served_dimensions`` -> ``instances`` (none served: one per PE,
                                ``rows*cols``; all served: 1, shared), ``operands`` -> ``holds``
                                through the mapping's ``memory_operand_links`` (default ``I: I1,
                                W: I2, O: O``), ``area`` -> ``area_um2`` (per instance)
memory ports                    ``word_bits`` = the ports' ``bandwidth_min``; read (write)
                                bandwidth = the sum of ``bandwidth_max`` over the ports with a
                                read (write) allocation; ``read_energy_pj`` = ``r_cost *
                                bandwidth_min / bandwidth_max`` (ZigZag charges ``r_cost`` per
                                ``bandwidth_max`` access and pro rata in ``bandwidth_min`` steps:
                                the same energy per word); likewise ``w_cost``
mapping ``spatial_mapping``     ``ComputeArray.dataflow``: the first of ``ws``, ``os``, ``is``,
(entry ``default``)             ``rs`` whose row and column templates admit the dims unrolled on
                                the two array dimensions (``K`` on D1 and ``C`` on D2, as in
                                tpu_like: ``ws``, reduction on the rows = D2, ``K`` on the
                                columns = D1); none fits: ``any``
==============================  ==================================================================

Approximations, each reported as a note when the file uses it (``notes`` list and the
``codesign.interop.zigzag`` logger at INFO level):

* Non-MAC layers (``Pooling``, ``Add``, ``Max``, ...) are skipped: codesign costs such
  operators on a vector unit, not the PE array.
* Outputs have one width in codesign: ``operand_precision.O`` (ZigZag's partial-sum width) at
  every level, where ZigZag writes final outputs at ``O_final``.
* Padding and ``pr_loop_sizes`` shrink ZigZag's stored input; codesign's traffic and
  occupancy count every position the projection spans (the zero padding is fetched like data).
  Asymmetric padding is folded into the input (``conv2d`` padding 0).
* A memory serving a subset of the array dimensions (one per column, say) becomes one shared
  level with the total size, bandwidth and area of its instances (energy per word unchanged).
* Several ports are pooled into one read and one write bandwidth; a ``read_write`` port counts
  towards both.
* The array is not systolic (ZigZag models no fill/drain); the clock is codesign's default
  1000 MHz (ZigZag has none); areas keep the file's numbers and unit, labelled um^2.
* The mapping file fixes ZigZag's spatial unrolling factors (and, optionally, loop orders);
  codesign's mapper searches both within the dataflow. Layer-specific entries whose unrolling
  the dataflow does not admit are noted; ``temporal_ordering`` and ``spatial_mapping_hint``
  are not imposed.
* Duplicate YAML keys: the last one wins (PyYAML, which ZigZag uses, does the same; tpu_like's
  ``sram_2MB`` lists ``ports`` twice).
* Each ZigZag operand has its own chain of memories; codesign has one chain, in file order with
  the per-PE levels first (a reordering that would change an operand's chain is an error).

Strict otherwise: unknown or missing keys, operands other than ``O``/``I``/``W``, a malformed
equation or relation, in-memory computing, CACTI cost extraction, arrays with more than two
dimensions larger than 1, and an outermost memory that does not serve every operand are
`SpecError`s naming the file and the field.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import Hashable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from codesign.arch.dataflow import Dataflow
from codesign.arch.spec import Architecture, ComputeArray, MemoryLevel
from codesign.errors import SpecError
from codesign.mapping.dataflow import TEMPLATES
from codesign.validation import construct_yaml, read_text_file
from codesign.workload.loopnest import LoopNest, TensorRole, conv2d, einsum

__all__ = [
    "MAC_OPERATORS",
    "SKIPPED_OPERATORS",
    "load_zigzag_workload",
    "load_zigzag_accelerator",
]

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

_LOG = logging.getLogger(__name__)
_I, _W, _O = TensorRole.INPUTS, TensorRole.WEIGHTS, TensorRole.OUTPUTS
_ROLE_OF_OPERAND = {"I": _I, "W": _W, "O": _O}
_MEMORY_OPERANDS = ("I1", "I2", "O")
_DEFAULT_LINKS = {"O": "O", "I": "I1", "W": "I2"}
# Roles of ZigZag's conventional dims, from its convolution O[b][k][oy][ox]+=W[k][c][fy][fx]*
# I[b][c][iy][ix] and depthwise O[b][g][oy][ox]+=W[g][fy][fx]*I[b][g][iy][ix] equations: the
# mapping file names these dims without an equation.
_DIM_ROLES = {
    "B": frozenset({_I, _O}),
    "K": frozenset({_W, _O}),
    "C": frozenset({_I, _W}),
    "OY": frozenset({_I, _O}),
    "OX": frozenset({_I, _O}),
    "FY": frozenset({_I, _W}),
    "FX": frozenset({_I, _W}),
    "G": frozenset({_I, _W, _O}),
}
_DATAFLOWS = (
    Dataflow.WEIGHT_STATIONARY,
    Dataflow.OUTPUT_STATIONARY,
    Dataflow.INPUT_STATIONARY,
    Dataflow.ROW_STATIONARY,
)

# --- YAML and field checks ---------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (ZigZag's: the last of duplicate keys wins) recording duplicates."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[object, int, int]] = []


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    first: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports it
        if key in first:
            loader.duplicates.append((key, first[key], line))
        else:
            first[key] = line
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path, notes: list[str]) -> Any:
    if not path.is_file():
        raise SpecError("file does not exist" if not path.exists() else "is a folder, not a file")
    loader = _Loader(read_text_file(path, "file"))
    data = construct_yaml(loader, "file")
    for key, line1, line2 in loader.duplicates:
        notes.append(
            f"key {key!r} appears twice (lines {line1} and {line2}); the last one is used, as "
            f"ZigZag's YAML loader does"
        )
    return data


@contextlib.contextmanager
def _in_file(path: Path) -> Iterator[None]:
    """Prefix every SpecError raised inside with the file's path."""
    try:
        yield
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def _report(path: Path, found: list[str], notes: list[str] | None) -> None:
    for note in found:
        _LOG.info("%s: %s", path, note)
    if notes is not None:
        notes.extend(f"{path}: {n}" for n in found)


def _fields(data: Any, where: str, what: str, required: tuple, optional: tuple = ()) -> dict:
    """``data`` as a mapping with every ``required`` key and no key outside both tuples."""
    if not isinstance(data, dict):
        raise SpecError(f"{where} must be a mapping of {what} fields, not {data!r}")
    allowed = required + optional
    for key in data:
        if key not in allowed:
            raise SpecError(
                f"{where}.{key} is not a ZigZag {what} field; allowed: {sorted(allowed)}"
            )
    for key in required:
        if key not in data:
            raise SpecError(f"{where}.{key} is missing (required ZigZag {what} field)")
    return data


def _int(value: Any, where: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise SpecError(f"{where} must be a {kind} integer, not {value!r}")
    return value


def _num(value: Any, where: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise SpecError(f"{where} must be a non-negative number, not {value!r}")
    return float(value)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(f"{where} must be a non-empty string, not {value!r}")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise SpecError(f"{where} must be a list, not {value!r}")
    return value


# --- workload ----------------------------------------------------------------------------------

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


# --- mapping -----------------------------------------------------------------------------------

_ENTRY_OPTIONAL = (
    "spatial_mapping",
    "memory_operand_links",
    "spatial_mapping_hint",
    "temporal_ordering",
)
_UNROLL = re.compile(r"^\s*([A-Za-z]\w*)\s*,\s*(\d+)\s*$")


def _spatial(value: Any, where: str, array: dict[str, int]) -> dict[str, dict[str, int]]:
    """``{array dim: {layer dim: factor}}`` of a ``spatial_mapping`` (or ``dataflows``)."""
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be a mapping of array dimensions, not {value!r}")
    out: dict[str, dict[str, int]] = {}
    for oa, unrolls in value.items():
        if oa not in array:
            raise SpecError(
                f"{where}.{oa} is not a dimension of the operational array {list(array)}"
            )
        factors: dict[str, int] = {}
        for j, text in enumerate(_list(unrolls, f"{where}.{oa}")):
            m = _UNROLL.match(text) if isinstance(text, str) else None
            if not m:
                raise SpecError(f"{where}.{oa}[{j}] must look like 'K, 32', not {text!r}")
            dim, factor = m.group(1).upper(), int(m.group(2))
            if factor < 1:
                raise SpecError(f"{where}.{oa}[{j}]: the factor must be positive, not {factor}")
            factors[dim] = factors.get(dim, 1) * factor
        if math.prod(factors.values()) > array[oa]:
            raise SpecError(
                f"{where}.{oa} unrolls {math.prod(factors.values())} ways ({factors}); the "
                f"array dimension has {array[oa]} units"
            )
        out[oa] = {d: f for d, f in factors.items() if f > 1}
    return out


def _unknown_dims(spatial: dict) -> list[str]:
    """Unrolled dims outside ZigZag's convolution vocabulary (whose roles are unknown)."""
    return sorted({d for s in spatial.values() for d in s if d not in _DIM_ROLES})


def _orientations(array: dict[str, int]) -> list[tuple[str | None, str | None]]:
    """(rows dim, cols dim) candidates: the array dims larger than 1, both ways round."""
    big = [d for d, n in array.items() if n > 1]
    if len(big) == 2:
        return [(big[0], big[1]), (big[1], big[0])]
    if len(big) == 1:
        return [(big[0], None), (None, big[0])]
    return [(None, None)]


def _fits(dataflow: Dataflow, spatial: dict, rows: str | None, cols: str | None) -> bool:
    template = TEMPLATES[dataflow]
    for oa, allowed in ((rows, template.rows), (cols, template.cols)):
        if oa is not None and any(_DIM_ROLES[d] not in allowed for d in spatial.get(oa, {})):
            return False
    return True


def _describe(spatial: dict) -> str:
    """``D1: K 32, D2: C 32``."""
    parts = [" ".join(f"{d} {f}" for d, f in s.items()) or "-" for s in spatial.values()]
    return ", ".join(f"{oa}: {part}" for oa, part in zip(spatial, parts, strict=True))


def _choose_dataflow(
    spatial: dict, array: dict[str, int], where: str, notes: list[str]
) -> tuple[Dataflow, str | None, str | None]:
    """The first dataflow (and orientation) whose templates admit ``spatial``; ``any`` when
    none does."""
    if _unknown_dims(spatial):
        raise SpecError(
            f"{where} unrolls {_unknown_dims(spatial)}, not ZigZag's convolution dims "
            f"{sorted(_DIM_ROLES)} from which codesign derives the dataflow"
        )
    for dataflow in _DATAFLOWS:
        for rows, cols in _orientations(array):
            if _fits(dataflow, spatial, rows, cols):
                return dataflow, rows, cols
    rows, cols = _orientations(array)[0]
    notes.append(
        f"{where} ({_describe(spatial)}) fits none of the dataflows "
        f"{[d.value for d in _DATAFLOWS]}; the array gets dataflow 'any' (no template)"
    )
    return Dataflow.UNCONSTRAINED, rows, cols


def _links(value: Any, where: str) -> dict[str, str]:
    links = _fields(value, where, "memory_operand_links", ("O", "W", "I"))
    for k, v in links.items():
        if v not in _MEMORY_OPERANDS:
            raise SpecError(f"{where}.{k} must be one of {list(_MEMORY_OPERANDS)}, not {v!r}")
    if links["O"] != "O" or {links["I"], links["W"]} != {"I1", "I2"}:
        raise SpecError(f"{where} must link O to O and I, W to I1 and I2 (either way), not {links}")
    return dict(links)


def _mapping(
    data: Any, array: dict[str, int], notes: list[str]
) -> tuple[dict[str, str], Dataflow, str | None, str | None]:
    """Operand links and dataflow (with the rows and cols array dims) from a mapping file."""
    if not isinstance(data, list) or not data:
        raise SpecError(f"a ZigZag mapping must be a non-empty list of entries, not {data!r}")
    entries: dict[str, dict] = {}
    for i, raw in enumerate(data):
        entry = _fields(raw, f"entries[{i}]", "mapping", ("name",), _ENTRY_OPTIONAL)
        name = _str(entry["name"], f"entries[{i}].name")
        if name in entries:
            raise SpecError(f"entries[{i}]: name {name!r} is used twice")
        entries[name] = entry
    if "default" not in entries:
        raise SpecError(f"needs an entry named 'default' (ZigZag's rule), not only {list(entries)}")
    default = entries["default"]
    links = _links(
        default.get("memory_operand_links", _DEFAULT_LINKS), "default.memory_operand_links"
    )
    if default.get("spatial_mapping") is None:
        raise SpecError(
            "default.spatial_mapping is missing; codesign derives the array's dataflow from it"
        )
    spatial = _spatial(default["spatial_mapping"], "default.spatial_mapping", array)
    dataflow, rows, cols = _choose_dataflow(spatial, array, "default.spatial_mapping", notes)
    notes.append(
        f"dataflow {dataflow.value!r} from default.spatial_mapping ({_describe(spatial)}): "
        f"rows = {rows or '-'}, cols = {cols or '-'}; codesign's mapper searches each layer's "
        f"unrolling factors and loop orders within it (the file's factors are not imposed)"
    )
    for name, entry in entries.items():
        if name == "default":
            continue
        if name in SKIPPED_OPERATORS:
            continue  # ZigZag's mapping of non-MAC layers, which the workload import skips
        w = f"{name}.memory_operand_links"
        if _links(entry.get("memory_operand_links", _DEFAULT_LINKS), w) != links:
            raise SpecError(
                f"{w} differs from default's {links}; a codesign architecture links each "
                f"memory operand to one tensor for every layer"
            )
        if entry.get("spatial_mapping") is not None:
            s = _spatial(entry["spatial_mapping"], f"{name}.spatial_mapping", array)
            if _unknown_dims(s):
                notes.append(
                    f"mapping entry {name!r} unrolls {_unknown_dims(s)}, whose roles are not "
                    f"known without the layer; not checked against dataflow {dataflow.value!r}"
                )
            elif not _fits(dataflow, s, rows, cols):
                square = rows and cols and array[rows] == array[cols]
                how = (
                    "the same dataflow on the transposed array, which on this square array is "
                    "the same hardware"
                    if square and _fits(dataflow, s, cols, rows)
                    else f"which dataflow {dataflow.value!r} does not admit"
                )
                notes.append(
                    f"mapping entry {name!r} unrolls {_describe(s)}: {how}; codesign maps that "
                    f"layer with rows = {rows}, cols = {cols} like every layer"
                )
        for key in ("temporal_ordering", "spatial_mapping_hint"):
            if entry.get(key):
                notes.append(f"mapping entry {name!r}: {key} is not imposed (the mapper searches)")
    return links, dataflow, rows, cols


# --- accelerator -------------------------------------------------------------------------------

_ACCEL_REQUIRED = ("name", "memories", "operational_array")
_ARRAY_REQUIRED = ("dimensions", "sizes", "unit_energy", "unit_area")
_IMC = ("is_imc", "imc_type", "adc_resolution", "bit_serial_precision")
_ARRAY_OPTIONAL = ("input_precision", *_IMC)
_MEMORY_REQUIRED = (
    "size",
    "r_cost",
    "w_cost",
    "area",
    "latency",
    "operands",
    "ports",
    "served_dimensions",
)
_MEMORY_OPTIONAL = ("mem_type", "auto_cost_extraction", "force_double_buffering")
_PORT_REQUIRED = ("name", "type", "bandwidth_min", "bandwidth_max", "allocation")
_PORT_TYPES = ("read", "write", "read_write")
_READS, _WRITES = ("tl", "th"), ("fh", "fl")


def load_zigzag_accelerator(
    path: str | Path, mapping: str | Path | None = None, *, notes: list[str] | None = None
) -> Architecture:
    """The `Architecture` of a ZigZag 3.x accelerator YAML.

    Parameters
    ----------
    path : str or Path
        The accelerator YAML (e.g. ZigZag's ``inputs/hardware/tpu_like.yaml``).
    mapping : str or Path, optional
        Its ZigZag mapping YAML (e.g. ``inputs/mapping/tpu_like.yaml``): the ``default`` entry's
        ``memory_operand_links`` say which memory operand holds which tensor and its
        ``spatial_mapping`` gives the dataflow. Without it, the links are ZigZag's default
        (``I: I1, W: I2, O: O``) and the accelerator's own ``dataflows`` key must give the
        spatial mapping.
    notes : list of str, optional
        Receives one line per approximation made (see the module docstring), each prefixed
        with the path of the file it concerns; the same lines are logged at INFO level.

    Returns
    -------
    Architecture
        Levels innermost first (per-PE levels, then shared ones, the last memory of the file
        outermost).
    """
    p = Path(path)
    found: list[str] = []
    with _in_file(p):
        raw = _read_yaml(p, found)
        data = _fields(raw, "accelerator", "accelerator", _ACCEL_REQUIRED, ("dataflows",))
        name = _str(data["name"], "name")
        array, unit = _operational_array(data["operational_array"], found)
    if mapping is not None:
        m = Path(mapping)
        found_m: list[str] = []
        with _in_file(m):
            links, dataflow, rows, cols = _mapping(_read_yaml(m, found_m), array, found_m)
        _report(m, found_m, notes)
        if data.get("dataflows") is not None:
            found.append(
                "dataflows is not used: the mapping file's default entry gives the dataflow"
            )
    else:
        with _in_file(p):
            if data.get("dataflows") is None:
                raise SpecError(
                    "dataflows is missing and no mapping file was given; codesign derives the "
                    "array's dataflow from the spatial mapping (pass the ZigZag mapping YAML)"
                )
            links = dict(_DEFAULT_LINKS)
            spatial = _spatial(data["dataflows"], "dataflows", array)
            dataflow, rows, cols = _choose_dataflow(spatial, array, "dataflows", found)
            found.append(
                f"no mapping file: memory operands linked as ZigZag's default {links}, "
                f"dataflow {dataflow.value!r} from dataflows ({_describe(spatial)})"
            )
    with _in_file(p):
        compute = ComputeArray(
            rows=array[rows] if rows else 1,
            cols=array[cols] if cols else 1,
            input_bits=unit["input_bits"],
            weight_bits=unit["weight_bits"],
            mac_energy_pj=unit["energy"],
            mac_area_um2=unit["area"],
            dataflow=dataflow,
            systolic=False,
        )
        role = {mem: _ROLE_OF_OPERAND[layer_op] for layer_op, mem in links.items()}
        levels = _memories(data["memories"], array, role, found)
        arch = Architecture(name=name, compute=compute, levels=levels)
    found.append(
        "not systolic (ZigZag models no fill/drain); clock 1000 MHz (ZigZag has none); areas "
        "are the file's numbers in its own unit, labelled um^2"
    )
    _report(p, found, notes)
    return arch


def _operational_array(value: Any, notes: list[str]) -> tuple[dict[str, int], dict]:
    oa = _fields(value, "operational_array", "operational_array", _ARRAY_REQUIRED, _ARRAY_OPTIONAL)
    if any(oa.get(k) not in (None, False, 0) for k in _IMC):
        raise SpecError(
            "operational_array: in-memory computing (is_imc, imc_type, adc_resolution, "
            "bit_serial_precision) is not supported; codesign models MAC arrays"
        )
    dims = _list(oa["dimensions"], "operational_array.dimensions")
    sizes = _list(oa["sizes"], "operational_array.sizes")
    if len(dims) != len(sizes):
        raise SpecError(
            f"operational_array: dimensions {dims} and sizes {sizes} must have the same length"
        )
    array: dict[str, int] = {}
    for j, (d, n) in enumerate(zip(dims, sizes, strict=True)):
        if not isinstance(d, str) or not re.fullmatch(r"D\d", d) or d in array:
            raise SpecError(
                f"operational_array.dimensions[{j}] must be a new name D1, D2, ..., not {d!r}"
            )
        array[d] = _int(n, f"operational_array.sizes[{j}]")
    if sum(n > 1 for n in array.values()) > 2:
        raise SpecError(
            f"operational_array: codesign models a 2-D PE array (rows x cols); dimensions "
            f"{dims} have sizes {sizes} (at most two may exceed 1)"
        )
    unit = {
        "energy": _num(oa["unit_energy"], "operational_array.unit_energy"),
        "area": _num(oa["unit_area"], "operational_array.unit_area"),
    }
    precision = oa.get("input_precision")
    if precision is None:
        unit["input_bits"] = unit["weight_bits"] = 8
        notes.append(
            "operational_array gives no input_precision: the multipliers take 8-bit inputs "
            "and weights (layers with wider operands do not fit)"
        )
    else:
        precision = _list(precision, "operational_array.input_precision")
        if len(precision) != 2:
            raise SpecError(
                f"operational_array.input_precision must be [input bits, weight bits], "
                f"not {precision!r}"
            )
        unit["input_bits"] = _int(precision[0], "operational_array.input_precision[0]")
        unit["weight_bits"] = _int(precision[1], "operational_array.input_precision[1]")
    return array, unit


def _memories(
    value: Any, array: dict[str, int], role: dict[str, TensorRole], notes: list[str]
) -> tuple[MemoryLevel, ...]:
    if not isinstance(value, dict) or not value:
        raise SpecError(f"memories must be a non-empty mapping of memories, not {value!r}")
    pes = math.prod(array.values())
    built = []  # (level, operands, per PE, copies)
    for name, raw in value.items():
        built.append(_memory(_str(name, "memories (a name)"), raw, array, pes, role, notes))
    order = [b for b in built if b[2]] + [b for b in built if not b[2]]
    if order != built:
        for op in _MEMORY_OPERANDS:
            chain = [b[0].name for b in built if op in b[1]]
            if chain != [b[0].name for b in order if op in b[1]]:
                raise SpecError(
                    f"memories: operand {op}'s hierarchy {chain} puts a shared memory below a "
                    f"per-PE one; codesign needs the per-PE levels innermost"
                )
        notes.append(
            f"memories reordered per-PE first: {[b[0].name for b in order]} (each operand's "
            f"hierarchy is unchanged)"
        )
    top, top_ops, _, top_copies = order[-1]
    top_name = top.name
    if set(top_ops) != set(_MEMORY_OPERANDS):
        raise SpecError(
            f"memories.{top_name}.operands: the outermost memory (last in the file) must serve "
            f"{list(_MEMORY_OPERANDS)}, not {top_ops}"
        )
    if top_copies != 1:
        raise SpecError(
            f"memories.{top_name}.served_dimensions: the outermost memory must serve the whole "
            f"array {list(array)}"
        )
    return tuple(b[0] for b in order)


def _memory(
    name: str,
    raw: Any,
    array: dict[str, int],
    pes: int,
    role: dict[str, TensorRole],
    notes: list[str],
) -> tuple[MemoryLevel, list[str], bool, int]:
    """One memory as a level; also its memory operands, whether it is per PE and how many
    copies ZigZag makes of it (the product of the array dimensions it does not serve)."""
    w = f"memories.{name}"
    mem = _fields(raw, w, "memory", _MEMORY_REQUIRED, _MEMORY_OPTIONAL)
    if mem.get("auto_cost_extraction", False) is not False:
        raise SpecError(
            f"{w}.auto_cost_extraction: CACTI is not available here; give r_cost, w_cost and "
            f"area and set it false"
        )
    _str(mem.get("mem_type", "sram"), f"{w}.mem_type")  # CACTI's memory kind: unused here
    size = _int(mem["size"], f"{w}.size")
    r_cost, w_cost = _num(mem["r_cost"], f"{w}.r_cost"), _num(mem["w_cost"], f"{w}.w_cost")
    area = _num(mem["area"], f"{w}.area")
    latency = _int(mem["latency"], f"{w}.latency", minimum=0)
    if latency != 1:
        notes.append(f"memory {name!r}: latency {latency} cycles is not modelled by codesign")
    double_buffering = mem.get("force_double_buffering", False)
    if not isinstance(double_buffering, bool):
        raise SpecError(
            f"{w}.force_double_buffering must be true or false, not {double_buffering!r}"
        )
    if double_buffering:
        notes.append(
            f"memory {name!r}: force_double_buffering: codesign assumes double buffering "
            f"everywhere without charging capacity for it"
        )
    operands = _list(mem["operands"], f"{w}.operands")
    if not operands:
        raise SpecError(f"{w}.operands must name at least one of {list(_MEMORY_OPERANDS)}")
    for j, op in enumerate(operands):
        if op not in _MEMORY_OPERANDS:
            raise SpecError(
                f"{w}.operands[{j}] must be one of {list(_MEMORY_OPERANDS)}, not {op!r}"
            )
        if operands.count(op) > 1:
            raise SpecError(f"{w}.operands lists {op} twice")
    served = _list(mem["served_dimensions"], f"{w}.served_dimensions")
    for j, d in enumerate(served):
        if d not in array:
            raise SpecError(
                f"{w}.served_dimensions[{j}] must be one of the array's dimensions "
                f"{list(array)}, not {d!r}"
            )
    copies = math.prod(n for d, n in array.items() if d not in served)
    word, read_bw, write_bw, r_max, w_max = _ports(w, name, mem["ports"], operands, notes)
    per_pe = copies == pes and pes > 1
    scale = 1 if per_pe else copies
    if copies not in (1, pes):
        notes.append(
            f"memory {name!r} serves {sorted(served)} only: {copies} instances of {size} bits; "
            f"codesign has shared or per-PE levels, so it is one shared level with {copies} x "
            f"the size, bandwidth and area (energy per word unchanged)"
        )
    level = MemoryLevel(
        name=name,
        size_bits=size * scale,
        instances=pes if per_pe else 1,
        word_bits=word,
        read_bits_per_cycle=read_bw * scale,
        write_bits_per_cycle=write_bw * scale,
        read_energy_pj=r_cost * word / r_max,
        write_energy_pj=w_cost * word / w_max,
        holds=frozenset(role[op] for op in operands),
        area_um2=area * scale,
    )
    return level, operands, per_pe, copies


def _ports(
    w: str, name: str, value: Any, operands: list[str], notes: list[str]
) -> tuple[int, int, int, int, int]:
    """Word (``bandwidth_min``), total read and write bandwidths and the ``bandwidth_max`` of
    the read and of the write accesses of a memory's ports."""
    ports = _list(value, f"{w}.ports")
    names: set[str] = set()
    words: set[int] = set()
    reads: list[tuple[str, int]] = []
    writes: list[tuple[str, int]] = []
    for j, raw in enumerate(ports):
        pw = f"{w}.ports[{j}]"
        port = _fields(raw, pw, "port", _PORT_REQUIRED)
        pname = _str(port["name"], f"{pw}.name")
        if pname in names:
            raise SpecError(f"{pw}.name {pname!r} is used twice")
        names.add(pname)
        if port["type"] not in _PORT_TYPES:
            raise SpecError(f"{pw}.type must be one of {list(_PORT_TYPES)}, not {port['type']!r}")
        bw_min = _int(port["bandwidth_min"], f"{pw}.bandwidth_min")
        bw_max = _int(port["bandwidth_max"], f"{pw}.bandwidth_max")
        if bw_min > bw_max:
            raise SpecError(f"{pw}: bandwidth_min {bw_min} exceeds bandwidth_max {bw_max}")
        directions = set()
        for k, text in enumerate(_list(port["allocation"], f"{pw}.allocation")):
            m = re.fullmatch(r"\s*(\w+)\s*,\s*(\w+)\s*", text) if isinstance(text, str) else None
            if not m or m.group(2) not in _READS + _WRITES:
                raise SpecError(
                    f"{pw}.allocation[{k}] must look like 'I1, tl' (direction fh, tl, fl or "
                    f"th), not {text!r}"
                )
            if m.group(1) not in operands:
                raise SpecError(
                    f"{pw}.allocation[{k}]: {m.group(1)} is not one of the memory's operands "
                    f"{operands}"
                )
            d = m.group(2)
            wrong = "write" if d in _READS else "read"
            if port["type"] == wrong:
                raise SpecError(f"{pw}.allocation[{k}]: a {port['type']} port cannot serve {d}")
            directions.add(d)
        if not directions:
            continue  # ZigZag drops ports without an allocation
        words.add(bw_min)
        if directions & set(_READS):
            reads.append((pname, bw_max))
        if directions & set(_WRITES):
            writes.append((pname, bw_max))
        if directions & set(_READS) and directions & set(_WRITES):
            notes.append(
                f"memory {name!r}: port {pname} ({port['type']}, {bw_max} b/cycle) serves reads "
                f"and writes; it counts towards both codesign bandwidths"
            )
    if len(words) != 1:
        raise SpecError(
            f"{w}.ports: codesign has one word width per level; the allocated ports have "
            f"bandwidth_min {sorted(words) or 'none'}"
        )
    for kind, group in (("read", reads), ("write", writes)):
        if not group:
            raise SpecError(f"{w}.ports: no port is allocated a {kind} direction")
        if len({bw for _, bw in group}) > 1:
            raise SpecError(
                f"{w}.ports: the {kind} ports have different bandwidth_max {group}; codesign "
                f"has one energy per {kind} word"
            )
    if len(reads) > 1 or len(writes) > 1:
        notes.append(
            f"memory {name!r}: ports pooled into one read bandwidth "
            f"({' + '.join(str(b) for _, b in reads)} b/cycle) and one write bandwidth "
            f"({' + '.join(str(b) for _, b in writes)} b/cycle); ZigZag dedicates each port "
            f"to its allocated operand directions"
        )
    return (
        words.pop(),
        sum(b for _, b in reads),
        sum(b for _, b in writes),
        reads[0][1],
        writes[0][1],
    )
