"""Per-layer cost breakdowns of design points: what the report plots (energy by memory level and
tensor, latency as compute, fill/drain, stalls and pipeline, each level's traffic for the
roofline), written by ``codesign explore`` as ``OUT/pareto_layers.json``.

Each MAC layer's `CostReport` is the cost model on the point's own architecture and the mapping
the explorer chose (``codesign.cost.evaluate_one``); a breakdown that does not add up to the
explorer's figure for the layer (cycles, energy) is an error, so the report never shows
numbers that disagree with ``best.json`` or ``pareto.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from codesign.errors import CodesignError
from codesign.workload.loopnest import LoopNest, TensorRole

__all__ = ["BREAKDOWN_VERSION", "layer_breakdown", "point_breakdown", "write_breakdowns"]

BREAKDOWN_VERSION = 1

_ROLES = (TensorRole.INPUTS, TensorRole.WEIGHTS, TensorRole.OUTPUTS)


def _stored_bits(nest: LoopNest, arch) -> dict[str, float]:
    """Stored bits per dense element of each tensor (the formats the cost model charges)."""
    from codesign.arch import CompressionFormat
    from codesign.cost.model import stored_bits_per_element

    fmts = {
        TensorRole.INPUTS: arch.input_format,
        TensorRole.WEIGHTS: arch.weight_format,
        TensorRole.OUTPUTS: CompressionFormat.DENSE,
    }
    nm = {TensorRole.WEIGHTS: arch.compute.nm}
    return {
        r.value: stored_bits_per_element(nest.tensor(r), fmts[r], arch.index_bits, nm.get(r))
        for r in _ROLES
    }


def layer_breakdown(nest: LoopNest, arch, mapping, *, pipeline_cycles: int = 0) -> dict:
    """The breakdown of one MAC layer: ``{macs, cycles, compute_cycles, fill_drain_cycles,
    stall_cycles, pipeline_cycles, min_cycles, energy_pj, mac_energy_pj, min_energy_pj,
    energy_by_level_pj: {level: {tensor: pJ}}, traffic_bits: {level: bits read + written}}``,
    levels innermost first. ``cycles`` includes ``pipeline_cycles`` (a generated accelerator's
    constant per layer) and equals the sum of the four latency parts."""
    from codesign.cost.model import evaluate_one

    rep = evaluate_one(nest, arch, mapping)
    bits = _stored_bits(nest, arch)
    traffic = {
        lv: sum((rep.reads[lv][t] + rep.writes[lv][t]) * bits[t] for t in bits) for lv in rep.reads
    }
    return {
        "macs": rep.macs,
        "cycles": rep.cycles + pipeline_cycles,
        "compute_cycles": rep.compute_cycles,
        "fill_drain_cycles": rep.fill_drain_cycles,
        "stall_cycles": rep.stall_cycles,
        "pipeline_cycles": pipeline_cycles,
        "min_cycles": rep.min_cycles,
        "energy_pj": rep.energy_pj,
        "mac_energy_pj": rep.mac_energy_pj,
        "min_energy_pj": float(rep.min_energy_pj),
        "energy_by_level_pj": rep.energy_by_level_pj,
        "traffic_bits": traffic,
    }


def point_breakdown(point, layers: Sequence[LoopNest], order: Sequence[str] | None = None) -> dict:
    """The breakdown of a `DesignPoint` whose MAC layers are ``layers`` (the workload's, in the
    point's order): ``{params, arch, layers}``; ``layers`` lists the MAC layers
    (`layer_breakdown` plus ``name, kind: "mac", unit: "array", lower_bound_gap``) and the
    non-MAC operators (``kind``: their category, ``unit``: ``vector`` or ``host``, ``cycles``,
    ``energy_pj``, ``element_ops``), in ``order`` (the workload's schedule) when given."""
    from codesign.accel.costview import layer_gemm, run_nest
    from codesign.explore.space import parse_pruning

    if [n.name for n in layers] != [lay.name for lay in point.layers]:
        raise CodesignError(
            f"breakdown: the workload's MAC layers {[n.name for n in layers]} are not the "
            f"design point's {[lay.name for lay in point.layers]}"
        )
    arch = point.arch
    rows: dict[str, dict] = {}
    for nest, lay in zip(layers, point.layers, strict=True):
        if point.buildable:
            config = point.accelerator  # the GEMM the array runs, as the explorer scored it
            nest_run = run_nest(config, *layer_gemm(nest), lay.pruning)
            extra = config.pipeline_cycles
        else:
            nest_run = nest.with_bits(
                inputs=lay.activation_bits, weights=lay.weight_bits, outputs=32
            ).with_density(inputs=1.0, weights=parse_pruning(lay.pruning)[1])
            extra = 0
        b = layer_breakdown(nest_run, arch, lay.mapping, pipeline_cycles=extra)
        if b["cycles"] != lay.cycles or not math.isclose(
            b["energy_pj"], lay.energy_pj, rel_tol=1e-9
        ):
            raise CodesignError(
                f"breakdown of layer {lay.name!r}: {b['cycles']} cycles and {b['energy_pj']} pJ, "
                f"the explorer's figures are {lay.cycles} and {lay.energy_pj}"
            )
        b["macs"] = lay.macs
        rows[lay.name] = {
            "name": lay.name,
            "kind": "mac",
            "unit": "array",
            **b,
            "lower_bound_gap": float(lay.lower_bound_gap),
        }
    for v in point.vector_layers:
        if v.category != "view":
            rows[v.name] = {
                "name": v.name,
                "kind": v.category,
                "unit": v.unit,
                "element_ops": v.element_ops,
                "cycles": v.cycles,
                "energy_pj": v.energy_pj,
            }
    names = list(rows) if order is None else [n for n in order if n in rows]
    return {
        "params": dict(point.params),
        "arch": {
            "name": arch.name,
            "clock_mhz": float(arch.clock_mhz),
            "peak_macs_per_cycle": arch.compute.pes * arch.compute.lanes,
            "levels": [
                {
                    "name": lv.name,
                    "read_bits_per_cycle": lv.read_bits_per_cycle,
                    "write_bits_per_cycle": lv.write_bits_per_cycle,
                }
                for lv in arch.levels
            ],
        },
        "layers": [rows[n] for n in names],
    }


def write_breakdowns(
    path: str | Path,
    evaluator,
    records: Sequence,
    layers: Sequence[LoopNest],
    order: Sequence[str] | None = None,
) -> Path:
    """``{"version", "points": [point_breakdown of each record's params]}`` as JSON, points in
    the order of ``records`` (the Pareto front: the order of ``pareto.json``)."""
    points = [point_breakdown(evaluator.design_point(r.params), layers, order) for r in records]
    path = Path(path)
    path.write_text(json.dumps({"version": BREAKDOWN_VERSION, "points": points}, indent=1) + "\n")
    return path
