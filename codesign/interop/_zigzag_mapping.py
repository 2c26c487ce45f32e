"""ZigZag mapping files in (`codesign.interop.zigzag`): the memory operand links and the array's
dataflow (with which array dimension is rows and which cols) from a ``spatial_mapping``, the
layer-specific entries checked against that dataflow."""

from __future__ import annotations

import math
import re
from typing import Any

from codesign.arch.dataflow import Dataflow
from codesign.errors import SpecError
from codesign.interop._zigzag_fields import (
    _DEFAULT_LINKS,
    _I,
    _MEMORY_OPERANDS,
    _O,
    _W,
    _fields,
    _list,
    _str,
)
from codesign.interop._zigzag_workload import SKIPPED_OPERATORS
from codesign.mapping.dataflow import TEMPLATES

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
