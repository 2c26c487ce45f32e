"""Timeloop specs in, Timeloop-style statistics out: a user switching tools keeps their files.

`load_timeloop(folder)` reads a Timeloop v0.4 (or v0.3: the same ``subtree``/``local``
architecture) run: the problem, the architecture and the
mapping from ``parsed-processed-input.yaml`` (what every Timeloop run writes beside its
outputs) or from the three input files (``*.prob.yaml``, ``*.arch.yaml``, ``*.map.yaml``), and
the energies from Accelergy's ``*.ERT.yaml`` (there is no Accelergy here: the ERT is required)
and the areas from ``*.ART.yaml`` (optional). It returns the codesign `LoopNest`,
`Architecture` and `Mapping` they describe:

==========================  =====================================================================
Timeloop                    codesign
==========================  =====================================================================
problem dimensions,         ``LoopNest`` dims and sizes; each data space's projection (terms
instance, data_spaces       ``[dim]`` or ``[coefficient, dim]``) becomes a ``TensorSpec`` axis;
                            ``read_write`` marks the outputs, ``Weights``/``Inputs`` (or the
                            first and second read-only space) the weights and inputs
storage component           ``MemoryLevel`` (innermost first): ``size_bits = depth * width``
                            (DRAM unbounded), ``word_bits = width`` (a block of
                            ``width / datawidth`` scalars), ERT ``read`` and ``write`` energies
                            per block, ``holds`` every tensor, ``sliding_window`` on (Timeloop
                            reuses the overlap of consecutive tiles), bandwidths in words per
                            cycle (unbounded when not given)
``name[1..N]`` instances    ``instances``: 1 (shared) or the number of MACs (per PE)
arithmetic component        ``ComputeArray`` with ``meshX`` columns and ``meshY`` rows, ERT
                            ``compute`` energy, dataflow ``any`` (no template), not systolic
mapping temporal            ``LevelMapping.loops`` (Timeloop's ``permutation`` lists loops
                            innermost first; codesign's are outermost first)
mapping spatial             ``Mapping.cols`` (``permutation[:split]``, Spatial-X) and
                            ``Mapping.rows`` (the rest, Spatial-Y)
mapping bypass              ``LevelMapping.keep``
==========================  =====================================================================

Only what the codesign model represents is accepted: one spatial fan-out (between the per-PE
and the shared levels), storage levels of 1 or ``meshX * meshY`` instances, 0.4 specs. Anything
else is a `SpecError` naming the field.

`timeloop_stats(report, spec)` converts a codesign `CostReport` of that mapping into Timeloop's
statistics, field by field as ``timeloop-model.stats.txt`` prints them (`parse_stats` reads such
a file), under Timeloop's conventions (docs/cost_model.md, "Conventions: codesign and
Timeloop"): an output drained to the parent is not a read of the level, a level's reads of a
tensor it bypasses are charged to the next level that keeps it, updates and fills are counted
separately, energy is the ERT's per-block energy over the block's scalars.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codesign.arch.dataflow import Dataflow
from codesign.arch.spec import Architecture, ComputeArray, MemoryLevel
from codesign.errors import SpecError
from codesign.mapping.mapping import LevelMapping, Mapping
from codesign.validation import construct_yaml, read_text_file
from codesign.workload.loopnest import LoopNest, TensorRole, TensorSpec

__all__ = [
    "TimeloopSpec",
    "load_timeloop",
    "timeloop_stats",
    "parse_stats",
    "compare_stats",
    "format_stats",
    "UNBOUNDED_BW",
]

UNBOUNDED_BW = 1 << 40
"""Bits per cycle of a level whose Timeloop spec gives no bandwidth (unbounded)."""

_ROLE_NAMES = {"weights": TensorRole.WEIGHTS, "inputs": TensorRole.INPUTS}


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeloopLevel:
    """What Timeloop knows of a storage level beyond the codesign `MemoryLevel`."""

    name: str
    instances: int
    block: int
    datawidth: int
    energy: dict[str, float]
    area_um2: float
    depth: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeloopSpec:
    """A Timeloop run as codesign objects (`load_timeloop`).

    Attributes
    ----------
    nest : LoopNest
    arch : Architecture
    mapping : Mapping
    levels : tuple of TimeloopLevel
        The storage levels, innermost first (parallel to ``arch.levels``).
    tensor_names : dict of TensorRole to str
        The data-space names.
    mac_energy_pj, mac_area_um2 : float
        The arithmetic unit's ERT and ART figures.
    macs_instances : int
        Number of MAC units.
    source : str
        What was read.
    """

    nest: LoopNest
    arch: Architecture
    mapping: Mapping
    levels: tuple[TimeloopLevel, ...]
    tensor_names: dict[TensorRole, str]
    mac_name: str
    mac_energy_pj: float
    mac_area_um2: float
    mac_instances: int
    cycle_seconds: float = 1e-9
    source: str = ""
    notes: tuple[str, ...] = field(default=())


# ----------------------------------------------------------------------------- YAML reading


class _Loader(yaml.SafeLoader):
    """Safe YAML with Timeloop's node tags (``!Container``, ``!Component``, ...) read as plain
    mappings carrying their tag under ``_tag``."""


def _tagged(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        data = loader.construct_mapping(node, deep=True)
        return {"_tag": suffix, **data}
    raise SpecError(f"Timeloop tag !{suffix} must mark a mapping")


_Loader.add_multi_constructor("!", _tagged)


def _read_yaml(path: Path) -> Any:
    text = read_text_file(path, "Timeloop file")
    return construct_yaml(_Loader(text), f"Timeloop file {str(path)!r}")


def _find(folder: Path, patterns: tuple[str, ...], what: str, required: bool = True) -> Path | None:
    for pattern in patterns:
        hits = sorted(folder.glob(pattern))
        if len(hits) > 1:
            raise SpecError(
                f"Timeloop folder {str(folder)!r} has several {what} files "
                f"({', '.join(h.name for h in hits)}); keep one"
            )
        if hits:
            return hits[0]
    if required:
        raise SpecError(
            f"Timeloop folder {str(folder)!r} has no {what} file (looked for "
            f"{', '.join(patterns)})"
        )
    return None


# ----------------------------------------------------------------------------- problem


def _problem(data: Any) -> tuple[LoopNest, dict[TensorRole, str]]:
    if not isinstance(data, dict) or not isinstance(data.get("shape"), dict):
        raise SpecError("problem must have a 'shape' mapping")
    shape, inst = data["shape"], data.get("instance")
    if not isinstance(inst, dict):
        raise SpecError("problem.instance must map each dimension to its size")
    dims = shape.get("dimensions")
    if not isinstance(dims, list) or not dims:
        raise SpecError("problem.shape.dimensions must be a non-empty list")
    coef = {}
    for c in shape.get("coefficients") or []:
        if not isinstance(c, dict) or "name" not in c:
            raise SpecError("problem.shape.coefficients entries need a 'name'")
        coef[c["name"]] = c.get("default", 1)
    for k, v in inst.items():
        if k in coef:
            coef[k] = v
    sizes = {}
    for d in dims:
        v = inst.get(d)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise SpecError(f"problem.instance.{d} must be a positive integer, not {v!r}")
        sizes[d] = v
    spaces = shape.get("data_spaces")
    if not isinstance(spaces, list) or len(spaces) != 3:
        raise SpecError("problem.shape.data_spaces must list exactly three data spaces")
    roles: dict[TensorRole, dict] = {}
    read_only = []
    for i, ds in enumerate(spaces):
        if not isinstance(ds, dict) or "name" not in ds or "projection" not in ds:
            raise SpecError(f"problem.shape.data_spaces[{i}] needs a name and a projection")
        if ds.get("read_write"):
            if TensorRole.OUTPUTS in roles:
                raise SpecError("problem: only one data space may be read_write (the outputs)")
            roles[TensorRole.OUTPUTS] = ds
        else:
            read_only.append(ds)
    if TensorRole.OUTPUTS not in roles:
        raise SpecError("problem: one data space must be read_write: True (the outputs)")
    named = {_ROLE_NAMES.get(str(ds["name"]).lower()): ds for ds in read_only}
    if set(named) == {TensorRole.WEIGHTS, TensorRole.INPUTS}:
        roles.update(named)
    else:  # positional: the first read-only space is the weights, the second the inputs
        roles[TensorRole.WEIGHTS], roles[TensorRole.INPUTS] = read_only

    def axes(ds: dict) -> tuple:
        out = []
        for a, axis in enumerate(ds["projection"]):
            terms = []
            for term in axis:
                if not isinstance(term, list) or len(term) not in (1, 2):
                    raise SpecError(
                        f"problem: data space {ds['name']!r} projection[{a}] terms must be "
                        f"[dim] or [coefficient, dim], not {term!r}"
                    )
                d = term[-1]
                c = 1 if len(term) == 1 else coef.get(term[0])
                if d not in sizes or not isinstance(c, int) or c < 1:
                    raise SpecError(
                        f"problem: data space {ds['name']!r} projection[{a}] term {term!r} "
                        f"needs a dimension of {list(sizes)} and a known positive coefficient"
                    )
                terms.append((d, c))
            out.append(tuple(terms))
        return tuple(out)

    tensors = tuple(
        TensorSpec(name=str(roles[r]["name"]), role=r, axes=axes(roles[r]), bits=8)
        for r in (TensorRole.INPUTS, TensorRole.WEIGHTS, TensorRole.OUTPUTS)
    )
    nest = LoopNest(
        name=str(shape.get("name", "timeloop")),
        op="einsum",
        dims=tuple(sizes.items()),
        tensors=tensors,
    )
    return nest, {r: str(roles[r]["name"]) for r in roles}


# ----------------------------------------------------------------------------- architecture

_NAME = re.compile(r"^(?P<name>[^\[\]]+)(\[(?P<lo>\d+)\.\.(?P<hi>\d+)\])?$")


def _flatten_nodes(arch: Any) -> list[dict]:
    """The components of a v0.4 architecture, outermost first, each with its instance count.

    Accepts the input form (``nodes`` with ``!Container``/``!Component`` tags, a container's
    ``spatial: {meshX, meshY}`` multiplying what follows) and the processed form Timeloop
    dumps (``subtree``/``local`` with ``name[1..N]``)."""
    if not isinstance(arch, dict) or "architecture" not in arch:
        raise SpecError("Timeloop architecture spec must have a top-level 'architecture' key")
    arch = arch["architecture"]
    if str(arch.get("version")) not in ("0.3", "0.4"):
        raise SpecError(f"architecture.version must be 0.3 or 0.4, not {arch.get('version')!r}")
    out: list[dict] = []
    if "nodes" in arch:
        fan_x = fan_y = 1
        for node in arch["nodes"]:
            tag = node.get("_tag", "")
            if tag == "Container":
                sp = node.get("spatial") or {}
                fan_x *= int(sp.get("meshX", 1))
                fan_y *= int(sp.get("meshY", 1))
                if sp:
                    out.append({"name": f"{node['name']}_spatial", "class": "dummy_storage",
                                "attributes": {}, "meshX": fan_x, "meshY": fan_y})  # fmt: skip
            elif tag == "Component":
                out.append({**node, "meshX": fan_x, "meshY": fan_y})
            else:
                raise SpecError(f"architecture node {node.get('name')!r}: unknown tag !{tag}")
        return out

    def walk(tree: dict) -> None:
        for local in tree.get("local") or []:
            m = _NAME.match(str(local.get("name", "")))
            if not m:
                raise SpecError(f"architecture component name {local.get('name')!r} is malformed")
            attrs = local.get("attributes") or {}
            n = int(m["hi"]) - int(m["lo"]) + 1 if m["hi"] else 1
            mx, my = int(attrs.get("meshX", n)), int(attrs.get("meshY", 1))
            if mx * my != n:
                raise SpecError(f"component {m['name']!r}: meshX * meshY must be {n}")
            out.append({**local, "name": m["name"], "meshX": mx, "meshY": my})
        for sub in tree.get("subtree") or []:
            walk(sub)

    for tree in arch.get("subtree") or []:
        walk(tree)
    return out


def _leaf(name: object) -> str:
    """``System.PE.Buffer[1..16]`` -> ``Buffer``."""
    return re.sub(r"\[\d+\.\.\d+\]$", "", str(name)).split(".")[-1]


def _ert(data: Any) -> dict[str, dict[str, float]]:
    if not isinstance(data, dict) or "ERT" not in data:
        raise SpecError("ERT file must have a top-level 'ERT' key (Accelergy's energy table)")
    out = {}
    for t in data["ERT"].get("tables") or []:
        out[_leaf(t["name"])] = {a["name"]: float(a["energy"]) for a in t.get("actions") or []}
    return out


def _art(data: Any) -> dict[str, float]:
    if not isinstance(data, dict) or "ART" not in data:
        raise SpecError("ART file must have a top-level 'ART' key (Accelergy's area table)")
    return {
        _leaf(t["name"]): float(t["area"])
        for t in data["ART"].get("tables") or []
    }


def _architecture(
    nodes: list[dict], ert: dict, art: dict
) -> tuple[list[dict], dict, ComputeArray]:
    macs = [n for n in nodes if "mac" in str(n.get("class", "")).lower()]
    if len(macs) != 1:
        raise SpecError(
            f"architecture must have exactly one arithmetic component (class ...mac), found "
            f"{[n['name'] for n in macs]}"
        )
    mac = macs[0]
    if nodes[-1] is not mac:
        raise SpecError(f"the arithmetic component {mac['name']!r} must be the innermost node")
    rows, cols = mac["meshY"], mac["meshX"]
    pes = rows * cols
    storage = nodes[:-1]
    for n in storage:
        inst = n["meshX"] * n["meshY"]
        if inst not in (1, pes):
            raise SpecError(
                f"component {n['name']!r}: {inst} instances; codesign levels are shared (1) or "
                f"one per MAC ({pes})"
            )
    name = mac["name"]
    if name not in ert or "compute" not in ert[name]:
        raise SpecError(f"the ERT has no 'compute' energy for {name!r}")
    width = int((mac.get("attributes") or {}).get("width", 8))
    compute = ComputeArray(
        rows=rows,
        cols=cols,
        input_bits=width,
        weight_bits=width,
        accum_bits=max(width, 8),
        mac_energy_pj=ert[name]["compute"],
        mac_area_um2=art.get(name, 0.0),
        dataflow=Dataflow.UNCONSTRAINED,
        systolic=False,
    )
    return storage, mac, compute


def _level(node: dict, ert: dict, art: dict, outermost: bool) -> tuple[MemoryLevel, TimeloopLevel]:
    a = node.get("attributes") or {}
    name = node["name"]
    width = a.get("width", a.get("word-bits"))
    dw = a.get("datawidth", a.get("word-bits", 8))
    if not isinstance(width, int) or not isinstance(dw, int) or width % dw:
        raise SpecError(
            f"component {name!r}: width ({width!r}) must be a multiple of datawidth ({dw!r})"
        )
    if name not in ert or "read" not in ert[name]:
        raise SpecError(f"the ERT has no 'read' energy for {name!r}")
    e = ert[name]
    depth = a.get("depth")
    is_dram = str(node.get("class", "")).upper() == "DRAM"
    if depth is None and not (outermost or is_dram):
        raise SpecError(f"component {name!r}: depth is required (only DRAM is unbounded)")
    size = None if (is_dram or depth is None) and outermost else int(depth) * width
    inst = node["meshX"] * node["meshY"]

    def bw(key: str) -> int:
        v = a.get(key, a.get("shared_bandwidth"))
        return UNBOUNDED_BW if v is None else max(1, int(float(v) * width))

    lv = MemoryLevel(
        name=name,
        size_bits=size,
        instances=inst,
        word_bits=width,
        read_bits_per_cycle=bw("read_bandwidth"),
        write_bits_per_cycle=bw("write_bandwidth"),
        read_energy_pj=e["read"],
        write_energy_pj=e.get("write", e["read"]),
        holds=frozenset(TensorRole),
        area_um2=art.get(name, 0.0),
        sliding_window=True,
    )
    info = TimeloopLevel(
        name=name,
        instances=inst,
        block=width // dw,
        datawidth=dw,
        energy=e,
        area_um2=art.get(name, 0.0),
        depth=None if depth is None else int(depth),
    )
    return lv, info


# ----------------------------------------------------------------------------- mapping


def _factors(text: Any, where: str, dims: list[str]) -> dict[str, int]:
    if isinstance(text, dict):
        items = text.items()
    else:
        items = []
        for tok in re.split(r"[\s,]+", str(text or "").strip()):
            if not tok:
                continue
            d, eq, v = tok.partition("=")
            if not eq or not v.isdigit():
                raise SpecError(f"{where}.factors: {tok!r} is not DIM=integer")
            items.append((d, int(v)))
    out = {}
    for d, v in items:
        if d not in dims:
            raise SpecError(f"{where}.factors: {d!r} is not a problem dimension {dims}")
        out[d] = int(v)
    return out


def _mapping(
    entries: Any, nest: LoopNest, storage: list[dict], pes_name: set[str], tensor_names: dict
) -> Mapping:
    if isinstance(entries, dict) and "mapping" in entries:
        entries = entries["mapping"]
    if not isinstance(entries, list):
        raise SpecError("mapping must be a list of {target, type, factors, permutation}")
    dims = [d for d, _ in nest.dims]
    names = [n["name"] for n in storage]
    by_name = {v: k for k, v in tensor_names.items()}
    temporal: dict[str, list[tuple[str, int]]] = {}
    keep: dict[str, frozenset] = {}
    spatial: tuple[list, list] = ([], [])
    spatial_at = None
    for i, e in enumerate(entries):
        where = f"mapping[{i}]"
        if not isinstance(e, dict) or "target" not in e or "type" not in e:
            raise SpecError(f"{where} needs a target and a type")
        tgt, kind = e["target"], e["type"]
        if tgt not in names:
            raise SpecError(f"{where}.target {tgt!r} is not a storage level {names}")
        if kind == "bypass":
            kept = set(tensor_names.values())
            for n in e.get("bypass") or []:
                kept.discard(n)
            if "keep" in e:
                kept = set(e["keep"] or [])
            bad = kept - set(by_name)
            if bad:
                raise SpecError(f"{where}: unknown data spaces {sorted(bad)}")
            keep[tgt] = frozenset(by_name[n] for n in kept)
            continue
        f = _factors(e.get("factors"), where, dims)
        perm = str(e.get("permutation", "".join(dims))).replace(" ", "")
        if sorted(perm) != sorted(dims) and not set(perm) <= set(dims):
            raise SpecError(f"{where}.permutation {perm!r} must list dims of {dims}")
        order = [d for d in perm if d in dims] + [d for d in dims if d not in perm]
        if kind == "temporal":
            if tgt in pes_name and any(v > 1 for v in f.values()):
                raise SpecError(f"{where}: temporal loops at the spatial node {tgt!r}")
            # Timeloop lists loops innermost first; codesign outermost first
            temporal[tgt] = [(d, f.get(d, 1)) for d in reversed(order) if f.get(d, 1) > 1]
        elif kind == "spatial":
            if any(v > 1 for v in f.values()):
                if spatial_at is not None:
                    raise SpecError(f"{where}: codesign supports one spatial fan-out")
                spatial_at = tgt
            split = int(e.get("split", len(order)))
            xs = [(d, f[d]) for d in order[:split] if f.get(d, 1) > 1]
            ys = [(d, f[d]) for d in order[split:] if f.get(d, 1) > 1]
            spatial = (xs, ys)
        else:
            raise SpecError(f"{where}.type must be temporal, spatial or bypass, not {kind!r}")
    levels = tuple(
        LevelMapping(name=n, loops=tuple(temporal.get(n, ())), keep=keep.get(n))
        for n in reversed(names)
        if n not in pes_name
    )
    return Mapping(levels=levels, rows=tuple(spatial[1]), cols=tuple(spatial[0]))


# ----------------------------------------------------------------------------- loading


def load_timeloop(folder: str | Path) -> TimeloopSpec:
    """Read a Timeloop v0.4 run from ``folder`` (see the module docstring)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SpecError(f"Timeloop folder {str(folder)!r} is not a directory")
    parsed = _find(folder, ("parsed-processed-input.yaml",), "processed input", required=False)
    if parsed is not None:
        top = _read_yaml(parsed)
        arch_doc, prob_doc, map_doc = top, top.get("problem"), top.get("mapping")
        source = parsed.name
    else:
        arch_doc = _read_yaml(_find(folder, ("*.arch.yaml", "arch/*.yaml"), "architecture"))
        prob_doc = _read_yaml(_find(folder, ("*.prob.yaml", "prob/*.yaml"), "problem"))
        map_doc = _read_yaml(_find(folder, ("*.map.yaml", "map/*.yaml"), "mapping"))
        prob_doc = prob_doc.get("problem") if isinstance(prob_doc, dict) else prob_doc
        source = "arch/prob/map YAML"
    ert = _ert(_read_yaml(_find(folder, ("*.ERT.yaml",), "ERT (Accelergy energy table)")))
    art_path = _find(folder, ("*.ART.yaml",), "ART", required=False)
    art = _art(_read_yaml(art_path)) if art_path else {}
    if str((prob_doc or {}).get("version", "0.4")) not in ("0.3", "0.4"):
        raise SpecError(f"problem.version must be 0.3 or 0.4, not {prob_doc.get('version')!r}")
    nest, names = _problem(prob_doc)
    nodes = _flatten_nodes(arch_doc)
    storage, mac, compute = _architecture(nodes, ert, art)
    dummies = {n["name"] for n in storage if n.get("class") == "dummy_storage"}
    real = [n for n in storage if n["name"] not in dummies]
    levels, info = [], []
    for i, n in enumerate(reversed(real)):
        lv, tl = _level(n, ert, art, outermost=i == len(real) - 1)
        levels.append(lv)
        info.append(tl)
    bits = {TensorRole(r): info[0].datawidth for r in ("inputs", "weights", "outputs")}
    nest = nest.with_bits(
        inputs=bits[TensorRole.INPUTS], weights=bits[TensorRole.WEIGHTS],
        outputs=bits[TensorRole.OUTPUTS],
    )  # fmt: skip
    arch = Architecture(
        name=str(folder.name or "timeloop"), compute=compute, levels=tuple(levels),
        clock_mhz=1e-6 / float(_attr(nodes, "global_cycle_seconds", 1e-9)),
    )  # fmt: skip
    mapping = _mapping(map_doc, nest, storage, dummies, names)
    return TimeloopSpec(
        nest=nest, arch=arch, mapping=mapping, levels=tuple(info), tensor_names=names,
        mac_name=mac["name"], mac_energy_pj=compute.mac_energy_pj,
        mac_area_um2=compute.mac_area_um2, mac_instances=compute.pes, source=source,
    )  # fmt: skip


def _attr(nodes: list[dict], key: str, default: Any) -> Any:
    for n in nodes:
        v = (n.get("attributes") or {}).get(key)
        if v is not None:
            return v
    return default


# ----------------------------------------------------------------------------- statistics


def parse_stats(text: str) -> dict:
    """The numbers of a ``timeloop-model.stats.txt``: ``{"levels": {name: {"Cycles": ...,
    tensor: {field: value}}}, "macc": {field: value}, "summary": {...}, "fJ/Compute": {...}}``
    (fields as Timeloop spells them, values as numbers; units dropped)."""
    out: dict = {"levels": {}, "macc": {}, "summary": {}, "fJ/Compute": {}, "accesses": {}}
    level = None
    section = None
    tensor = None
    stage = "levels"
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Operational Intensity Stats"):
            stage, level = "intensity", None
            continue
        if line.startswith("Summary Stats"):
            stage = "summary"
            continue
        m = re.match(r"^=== (.+) ===$", line)
        if m:
            level, tensor, section = m.group(1), None, None
            if stage == "levels":
                out["levels"].setdefault(level, {})
            continue
        if stage == "summary":
            if line.startswith("fJ/Compute"):
                section = "fJ"
                continue
            m = re.match(r"^(.+?)\s*[:=]\s*([-+]?[0-9][0-9.eE+-]*)", line)
            if m:
                key = m.group(1).strip()
                target = out["fJ/Compute"] if section == "fJ" else out["summary"]
                target[key] = float(m.group(2))
            continue
        if stage == "intensity":
            m = re.match(r"^(.+?)\s*:\s*([-+]?[0-9][0-9.eE+-]*)", line)
            if m:
                target = out["summary"] if level is None else out["accesses"].setdefault(level, {})
                target[m.group(1).strip()] = float(m.group(2))
            continue
        if line in ("SPECS", "STATS", "MAPPING"):
            section, tensor = line, None
            continue
        if level is None or section == "MAPPING":
            continue
        m = re.match(r"^(\w+):$", line)
        if m and section == "STATS":
            tensor = m.group(1)
            continue
        m = re.match(r"^(.+?)\s*:\s*([-+]?[0-9][0-9.eE+-]*)", line)
        if not m:
            continue
        key, value = m.group(1).strip(), float(m.group(2))
        node = out["levels"][level]
        if section == "SPECS":
            node.setdefault("specs", {})[key] = value
        elif tensor is None:
            node[key] = value
        else:
            node.setdefault(tensor, {})[key] = value
    return out


def _loops(spec: TimeloopSpec):
    """The mapping as one loop list, outermost first: ``(level, dim, bound)`` with level -1
    for the spatial loops (which sit just above the per-PE levels)."""
    arch, m = spec.arch, spec.mapping
    s = arch.num_per_pe_levels
    by_name = {lm.name: lm for lm in m.levels}
    out = []
    for i in range(len(arch.levels) - 1, -1, -1):
        lm = by_name.get(arch.levels[i].name)
        for d, f in lm.loops if lm else ():
            out.append((i, d, f))
        if i == s:  # with no per-PE level (s = 0) the spatial loops come last
            out += [(-1, d, f) for d, f in (*m.rows, *m.cols)]
    return out


def _extent(tensor: TensorSpec, sizes: dict[str, int]) -> int:
    from codesign.workload.loopnest import axis_extent

    return math.prod(axis_extent(ax, sizes) for ax in tensor.axes)


def timeloop_stats(report, spec: TimeloopSpec) -> dict:
    """``report`` (a `CostReport` of ``spec``'s mapping) as Timeloop statistics, in the layout
    of `parse_stats` (per level and data space the per-instance counts, energies and
    bandwidths; the arithmetic level; the operational-intensity and summary figures).

    Conventions (docs/cost_model.md): reads of outputs exclude the drain of a tile to its
    parent (a read-modify-write of the child is an *update*); fills and updates are written
    separately; a tensor's *partition* is what one instance ever holds, its *utilized
    capacity* the tile; temporal reductions are the updates that meet a value already there;
    energy is charged per block (``ceil(scalars / block)`` accesses of the ERT's per-block
    energy, per action); leakage is the ERT's ``leak`` per cycle and instance."""
    arch, nest = spec.arch, spec.nest
    s = arch.num_per_pe_levels
    loops = _loops(spec)
    spatial = {}
    for lv, d, f in loops:
        if lv == -1:
            spatial[d] = spatial.get(d, 1) * f
    pes_used = math.prod(spatial.values()) if spatial else 1
    cycles = report.cycles
    keep = {lm.name: lm.keep for lm in spec.mapping.levels}
    sizes = dict(nest.dims)
    ops_elem = nest.macs
    out_elems = nest.elements(TensorRole.OUTPUTS)
    ops_total = ops_elem + (ops_elem - out_elems)
    levels: dict = {}
    totals: dict[str, float] = {}
    accesses: dict[str, dict] = {}
    for i, (lv, info) in enumerate(zip(arch.levels, spec.levels, strict=True)):
        inst_used = pes_used if lv.instances > 1 else 1
        kept = keep.get(lv.name) or frozenset(TensorRole)
        node: dict = {"Cycles": float(cycles), "Bandwidth throttling": 1.0}
        energy_level = 0.0
        scalar_total = 0
        # tile: every loop at this level and below (and the spatial ones for a shared level);
        # partition: every temporal loop (and the spatial ones for a shared level)
        below = {d: 1 for d in sizes}
        part = {d: 1 for d in sizes}
        for lvl, d, f in loops:
            if lvl == -1 and i < s:
                continue
            part[d] *= f
            if lvl <= i:
                below[d] *= f
        for role, tname in spec.tensor_names.items():
            if role not in kept and i < len(arch.levels) - 1:
                continue
            t = nest.tensor(role)
            tile = _extent(t, below)
            partition = _extent(t, part)
            r = report.reads[lv.name][role.value] / inst_used
            w = report.writes[lv.name][role.value] / inst_used
            f = report.fills[lv.name][role.value] / inst_used
            if role is TensorRole.OUTPUTS:
                drain = _drains(loops, i, t, below) if i < len(arch.levels) - 1 else 0
                reads, fills, updates = r - drain, f, w - f
                reductions = max(updates - partition, 0) if updates else 0
                addr = updates + fills
            else:
                reads, fills, updates, reductions = r, f, 0.0, 0.0
                addr = reads + fills
            e = info.energy
            blk = info.block
            energy = (
                math.ceil(round(reads) / blk) * e["read"]
                + math.ceil(round(fills) / blk) * e.get("write", e["read"])
                + math.ceil(round(updates) / blk) * e.get("update", e.get("write", e["read"]))
            )
            n_acc = reads + fills + updates
            node[tname] = {
                "Partition size": float(partition),
                "Utilized capacity": float(tile),
                "Utilized instances (max)": float(inst_used),
                "Utilized clusters (max)": float(inst_used),
                "Scalar reads (per-instance)": reads,
                "Scalar fills (per-instance)": fills,
                "Scalar updates (per-instance)": updates,
                "Temporal reductions (per-instance)": float(reductions),
                "Address generations (per-cluster)": addr,
                "Energy (per-scalar-access)": energy / n_acc if n_acc else 0.0,
                "Energy (per-instance)": energy,
                "Energy (total)": energy * inst_used,
                "Temporal Reduction Energy (per-instance)": 0.0,
                "Temporal Reduction Energy (total)": 0.0,
                "Address Generation Energy (per-cluster)": 0.0,
                "Address Generation Energy (total)": 0.0,
                "Bandwidth Consumption Scale": 1.0,
                "Shared Bandwidth (per-instance)": n_acc / cycles,
                "Shared Bandwidth (total)": n_acc / cycles * inst_used,
                "Read Bandwidth (per-instance)": reads / cycles,
                "Read Bandwidth (total)": reads / cycles * inst_used,
                "Write Bandwidth (per-instance)": (fills + updates) / cycles,
                "Write Bandwidth (total)": (fills + updates) / cycles * inst_used,
            }
            energy_level += energy * inst_used
            scalar_total += n_acc * inst_used
        leak = info.energy.get("leak", 0.0) * cycles * lv.instances
        size = None if info.depth is None else info.depth * info.block
        node["specs"] = {
            **({} if size is None else {"Size": float(size), "Effective size": float(size)}),
            "Word bits": float(info.datawidth),
            "Block size": float(info.block),
            "Cluster size": 1.0,
            "Instances": float(lv.instances),
            "Multiple buffering": 1.0,
            "Min utilization": 0.0,
            "Vector access energy": max(
                v for k, v in info.energy.items() if k in ("read", "write", "update")
            ),
            "Per-instance-cycle leakage": info.energy.get("leak", 0.0),
            "Instances sharing power gating": 1.0,
            "Non-power-gated utilization": 100.0,
            "Leakage energy (total)": leak,
            "Area": info.area_um2,
        }
        levels[lv.name] = node
        totals[lv.name] = energy_level + leak
        bytes_ = scalar_total * info.datawidth / 8
        accesses[lv.name] = {
            "Total scalar accesses": float(scalar_total),
            "Op per Byte": ops_total / bytes_ if bytes_ else 0.0,
        }
    mac_energy = nest.macs * spec.mac_energy_pj
    totals_all = sum(totals.values()) + mac_energy
    required = sum(nest.elements(r) for r in TensorRole)
    dw = spec.levels[-1].datawidth
    summary = {
        "Total elementwise ops": float(ops_elem),
        "Total reduction ops": float(ops_elem - out_elems),
        "Total ops": float(ops_total),
        "Total memory accesses required": float(required),
        "Optimal Op per Byte": ops_total / (required * dw / 8),
        "GFLOPs (@1GHz)": ops_total / cycles,
        "Utilization": 100.0 * nest.macs / (cycles * spec.mac_instances),
        "Cycles": float(cycles),
        "Energy": totals_all * 1e-6,
        "EDP(J*cycle)": totals_all * 1e-12 * cycles,
        "Computes": float(nest.macs),
    }
    fj = {spec.mac_name: 1000 * mac_energy / nest.macs}
    for name in reversed([lv.name for lv in arch.levels]):
        fj[name] = 1000 * totals[name] / nest.macs
    fj = {spec.mac_name: fj.pop(spec.mac_name), **dict(reversed(list(fj.items())))}
    fj["Total"] = 1000 * totals_all / nest.macs
    macc = {
        "Word bits": 16.0,
        "Instances": float(spec.mac_instances),
        "Compute energy": spec.mac_energy_pj,
        "Utilized instances": float(pes_used),
        "Computes (total)": float(nest.macs),
        "Cycles": float(cycles),
        "Energy (total)": mac_energy,
        "Area (total)": spec.mac_area_um2 * spec.mac_instances,
    }
    return {"levels": levels, "macc": macc, "summary": summary, "fJ/Compute": fj,
            "accesses": accesses}  # fmt: skip


def _drains(loops: list, level: int, tensor: TensorSpec, below: dict[str, int]) -> int:
    """Outputs one instance of ``level`` writes back to its parent: one tile per fill event
    (the loops above the level, outermost first, down to the innermost that indexes the
    outputs)."""
    dims = {d for ax in tensor.axes for d, _ in ax}
    above = [(d, f) for lvl, d, f in loops if lvl > level]
    last = max((k for k, (d, f) in enumerate(above) if d in dims and f > 1), default=-1)
    events = math.prod(f for _, f in above[: last + 1])
    return events * _extent(tensor, below)


_ENERGY_WORDS = ("energy", "leak", "edp", "area", "fj")
_PRINTED_WORDS = ("bandwidth", "op per byte", "gflops", "utilization")
NOT_REPRODUCED = {("summary", "Area"): "Timeloop 0.4 prints 0.00 mm^2 here whatever the areas"}
"""Fields of Timeloop's statistics `compare_stats` leaves out, with the reason."""


def compare_stats(mine: dict, ref: dict) -> tuple[int, list[tuple[str, float | None, float]]]:
    """Compare `timeloop_stats` output with `parse_stats` of Timeloop's own file, field by
    field: counts exactly, energies to 0.1 % (or the 0.005 of Timeloop's two printed
    decimals), rates to the printed decimals. Returns ``(fields compared, mismatches)``, each
    mismatch ``(path, mine or None when missing, Timeloop's)``; `NOT_REPRODUCED` fields are
    skipped."""
    checked = 0
    bad: list[tuple[str, float | None, float]] = []

    def close(a: float, b: float, path: tuple[str, ...]) -> bool:
        k = path[-1].lower()
        if path[0] == "fJ/Compute" or any(w in k for w in _ENERGY_WORDS):
            return abs(a - b) <= 0.0051 + 1e-3 * abs(b)
        if any(w in k for w in _PRINTED_WORDS):
            return abs(a - b) <= 0.0051
        return a == b

    def walk(a: Any, b: Any, path: tuple[str, ...]) -> None:
        nonlocal checked
        if isinstance(b, dict):
            for k, v in b.items():
                if (path[-1], k) in NOT_REPRODUCED:
                    continue
                if not isinstance(a, dict) or k not in a:
                    bad.append(("/".join((*path, k)), None, v))
                    continue
                walk(a[k], v, (*path, k))
            return
        checked += 1
        if not close(float(a), float(b), path):
            bad.append(("/".join(path), float(a), float(b)))

    levels = dict(ref.get("levels", {}))
    macc = {}
    for name in list(levels):
        if name in mine.get("levels", {}):
            continue
        macc = levels.pop(name)  # the arithmetic level
    walk(mine["levels"], levels, ("levels",))
    walk(mine["macc"], {k: v for k, v in macc.items() if k != "specs"}, ("macc",))
    walk(mine["macc"], macc.get("specs", {}), ("macc",))
    for key in ("summary", "fJ/Compute", "accesses"):
        walk(mine[key], ref.get(key, {}), (key,))
    return checked, bad


def format_stats(stats: dict, spec: TimeloopSpec) -> str:
    """A compact table of `timeloop_stats` (per level and data space: reads, fills, updates,
    energy), then the summary."""
    lines = [
        f"Timeloop convention ({spec.source}): {spec.nest.name}, "
        f"{int(stats['summary']['Cycles']):,} cycles, {stats['summary']['Energy']:.4g} uJ, "
        f"utilization {stats['summary']['Utilization']:.2f} %",
        f"  {'level':<14} {'data space':<10} {'reads':>10} {'fills':>10} {'updates':>10} "
        f"{'capacity':>9} {'instances':>9} {'energy pJ':>12}",
    ]
    for name, node in stats["levels"].items():
        for tname in spec.tensor_names.values():
            t = node.get(tname)
            if t is None:
                continue
            lines.append(
                f"  {name:<14} {tname:<10} {t['Scalar reads (per-instance)']:>10,.0f} "
                f"{t['Scalar fills (per-instance)']:>10,.0f} "
                f"{t['Scalar updates (per-instance)']:>10,.0f} "
                f"{t['Utilized capacity']:>9,.0f} {t['Utilized instances (max)']:>9,.0f} "
                f"{t['Energy (total)']:>12,.2f}"
            )
    fj = stats["fJ/Compute"]
    lines.append("  fJ/Compute: " + ", ".join(f"{k} {v:.2f}" for k, v in fj.items()))
    return "\n".join(lines)
