"""Timeloop's input files read (`codesign.interop.timeloop`): the YAML with Timeloop's tags,
the problem as a `LoopNest`, the architecture tree as `MemoryLevel` s and a `ComputeArray` with
the ERT energies and ART areas, the mapping as a `Mapping`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from codesign.arch.dataflow import Dataflow
from codesign.arch.spec import ComputeArray, MemoryLevel
from codesign.errors import SpecError
from codesign.interop._timeloop_spec import UNBOUNDED_BW, TimeloopLevel
from codesign.mapping.mapping import LevelMapping, Mapping
from codesign.validation import construct_yaml, read_text_file
from codesign.workload.loopnest import LoopNest, TensorRole, TensorSpec

_ROLE_NAMES = {"weights": TensorRole.WEIGHTS, "inputs": TensorRole.INPUTS}

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
