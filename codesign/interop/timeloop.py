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

The problem, architecture and mapping readers are in ``_timeloop_input``, the statistics in
``_timeloop_stats``, the `TimeloopSpec` they share in ``_timeloop_spec``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.arch.spec import Architecture
from codesign.errors import SpecError
from codesign.interop._timeloop_input import (
    _architecture,
    _art,
    _ert,
    _find,
    _flatten_nodes,
    _level,
    _mapping,
    _problem,
    _read_yaml,
)
from codesign.interop._timeloop_spec import UNBOUNDED_BW, TimeloopSpec
from codesign.interop._timeloop_spec import TimeloopLevel as TimeloopLevel  # re-exported
from codesign.interop._timeloop_stats import NOT_REPRODUCED as NOT_REPRODUCED  # re-exported
from codesign.interop._timeloop_stats import (
    compare_stats,
    format_stats,
    parse_stats,
    timeloop_stats,
)
from codesign.workload.loopnest import TensorRole

__all__ = [
    "TimeloopSpec",
    "load_timeloop",
    "timeloop_stats",
    "parse_stats",
    "compare_stats",
    "format_stats",
    "UNBOUNDED_BW",
]

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
