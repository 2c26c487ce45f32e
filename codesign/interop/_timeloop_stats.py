"""Timeloop-style statistics (`codesign.interop.timeloop`): a codesign `CostReport` as the
fields ``timeloop-model.stats.txt`` prints, under Timeloop's conventions; reading such a file,
comparing two sets of statistics, printing them."""

from __future__ import annotations

import math
import re
from typing import Any

from codesign.interop._timeloop_spec import TimeloopSpec
from codesign.workload.loopnest import TensorRole, TensorSpec


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
