"""Design points: from a point of the design space to an architecture, per-layer mappings and
metrics; the `DesignPoint` JSON handed to the hardware generators; the accuracy objective.

A point's parameters (`codesign.explore.space`) build an `Architecture` from the presets of
``codesign.arch`` (``ws`` and ``os`` systolic arrays, ``rs`` Eyeriss-like, and ``is``: the
weight-stationary array with an input register per PE instead of a weight register). Axes not
in the space take `DEFAULT_PARAMS`. The array's multipliers are as wide as the widest layer; a
layer's weights and input activations get the point's bit-widths (outputs stay 32-bit partial
sums) and its pruning sets the weight density. A ``ws`` point whose every layer is pruned 2:4
builds the N:M array ``weight_stationary(..., nm=(2, 4))`` (``ComputeArray.nm``: the 2:4 RTL
array of ``codesign.hw``, dataflow ``sparse24``, with a dense reduction depth of ``4 * rows``
per pass and 2-bit indices). Other pruned designs skip zero weights on a ``ws`` array when every
pruned layer is 2:4 (an idealized skipping array; CSR storage with 2-bit indices), otherwise
they gate them (bitmask storage).

Every MAC layer of the workload is mapped (identical layer shapes once, ``LoopNest.shape_key``)
and the costs are summed, layers running one after another: latency (cycles and seconds),
energy, area, EDP and utilization. The non-MAC operators run on the point's vector unit
(``vector_lanes`` lanes, 16 bits; `codesign.cost.vector`), after one another and between the
MAC layers: their cycles and energy are part of the totals and are reported on their own
(``vector_cycles``, ``vector_energy_pj``; ``mac_cycles`` is the MAC layers' share).
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import LayerSchedule
from codesign.cost.vector import VectorCost, evaluate_vector
from codesign.errors import SpecError
from codesign.explore.mapper import MapperResult, make_mapper
from codesign.explore.space import parse_pruning, split_param
from codesign.mapping.mapping import Mapping, mapping_from_dict, mapping_to_dict
from codesign.workload.graph import OtherOp
from codesign.workload.loopnest import LoopNest, TensorRole

__all__ = [
    "DEFAULT_PARAMS",
    "LayerDesign",
    "DesignPoint",
    "DesignEvaluator",
    "AccuracyObjective",
    "build_architecture",
    "layer_params",
]

DEFAULT_PARAMS: dict[str, object] = {
    "pe_rows": 16,
    "pe_cols": 16,
    "dataflow": "ws",
    "glb_kib": 256,
    "rf_bytes": 512,
    "dram_bw_bits_per_cycle": 64,
    "clock_mhz": 1000,
    "weight_bits": 8,
    "activation_bits": 8,
    "pruning": "none",
    "acc_buf_rows": 64,
    "overlap_passes": False,
    "zero_gate": False,
    "vector_lanes": 16,
}
"""Value of every axis a design space leaves out."""

_FORMAT_VERSION = 3

_ACCELERATOR_ONLY = ("acc_buf_rows", "overlap_passes", "zero_gate")


def layer_params(params: dict, layer: str) -> tuple[int, int, str]:
    """``(weight_bits, activation_bits, pruning)`` of ``layer`` under ``params``: the per-layer
    value (``weight_bits@layer``) if any, else the global one, else the default."""

    def get(axis: str) -> object:
        return params.get(f"{axis}@{layer}", params.get(axis, DEFAULT_PARAMS[axis]))

    return get("weight_bits"), get("activation_bits"), get("pruning")


def _param(params: dict, name: str) -> object:
    return params.get(name, DEFAULT_PARAMS[name])


def build_architecture(params: dict, layers: Sequence[LoopNest]):
    """The `Architecture` of a design point for ``layers`` (see the module docstring)."""
    from codesign.arch import (
        CompressionFormat,
        Sparsity,
        eyeriss,
        output_stationary,
        weight_stationary,
    )
    from codesign.arch import technology as tech
    from codesign.arch.dataflow import Dataflow
    from codesign.arch.presets import vector_unit, with_sparsity

    for name in params:
        base, _ = split_param(name)
        if base not in DEFAULT_PARAMS or base in _ACCELERATOR_ONLY:
            allowed = [p for p in DEFAULT_PARAMS if p not in _ACCELERATOR_ONLY]
            raise SpecError(
                f"parameter of a model-only point must be one of {allowed}, not {name!r}"
            )
    if not layers:
        raise SpecError("the workload has no MAC layers to map")
    per_layer = [layer_params(params, n.name) for n in layers]
    w_bits = max(w for w, _, _ in per_layer)
    a_bits = max(a for _, a, _ in per_layer)
    pruned = [parse_pruning(p)[0] for _, _, p in per_layer if p != "none"]
    rows, cols = _param(params, "pe_rows"), _param(params, "pe_cols")
    dataflow = _param(params, "dataflow")
    glb, dram = _param(params, "glb_kib"), _param(params, "dram_bw_bits_per_cycle")
    clock = float(_param(params, "clock_mhz"))
    nm = dataflow == "ws" and all(p == "2:4" for _, _, p in per_layer)
    skip = bool(pruned) and dataflow == "ws" and all(k == "2:4" for k in pruned)
    sparsity = Sparsity.SKIP if skip else (Sparsity.GATE if pruned else Sparsity.DENSE)
    operands = frozenset({TensorRole.WEIGHTS}) if pruned else frozenset()
    if nm:  # the 2:4 array: its N:M structure is its only sparsity
        sparsity, operands = Sparsity.DENSE, frozenset()
    if dataflow in ("ws", "is", "os"):
        preset = (
            output_stationary
            if dataflow == "os"
            else functools.partial(weight_stationary, nm=(2, 4) if nm else None)
        )
        arch = preset(
            rows,
            cols,
            input_bits=a_bits,
            weight_bits=w_bits,
            scratchpad_kib=glb,
            dram_bits_per_cycle=dram,
            clock_mhz=clock,
            sparsity=sparsity,
            sparse_operands=operands,
        )
        if dataflow == "is":
            reg = arch.levels[0]
            e = tech.sram_access_energy_pj(a_bits, a_bits)
            arch = replace(
                arch,
                name=f"is{rows}x{cols}",
                compute=replace(arch.compute, dataflow=Dataflow.INPUT_STATIONARY),
                levels=(
                    replace(
                        reg,
                        name="input_reg",
                        size_bits=a_bits,
                        word_bits=a_bits,
                        read_bits_per_cycle=a_bits,
                        write_bits_per_cycle=a_bits,
                        read_energy_pj=e,
                        write_energy_pj=e,
                        holds=frozenset({TensorRole.INPUTS}),
                        area_um2=tech.register_area_um2(a_bits),
                    ),
                    *arch.levels[1:],
                ),
            )
    else:  # rs
        bits = max(w_bits, a_bits)
        arch = eyeriss(
            rows,
            cols,
            bits=bits,
            spad_words=max(1, _param(params, "rf_bytes") * 8 // bits),
            glb_kib=glb,
            dram_bits_per_cycle=dram,
            clock_mhz=clock,
        )
        if pruned:
            arch = replace(arch, compute=with_sparsity(arch.compute, sparsity, operands))
    if pruned and not nm:
        all_24 = all(k == "2:4" for k in pruned)
        arch = replace(
            arch,
            weight_format=CompressionFormat.CSR if all_24 else CompressionFormat.BITMASK,
            index_bits=2 if all_24 else arch.index_bits,
        )
    return replace(arch, vector=vector_unit(_param(params, "vector_lanes")))


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerDesign:
    """One layer of a design point.

    Parameters
    ----------
    name : str
        Layer name (the workload's).
    weight_bits, activation_bits : int
        Bit-widths of the layer's weights and input activations.
    pruning : str
        ``none``, ``2:4`` or ``unstructured:F``.
    mapping : Mapping
        The mapping the mapper chose.
    macs : int
        Useful MACs.
    cycles : float
        Latency of the layer in cycles.
    energy_pj : float
        Energy of the layer.
    lower_bound_gap : float
        The mapping's objective over the cost model's lower bound, minus 1.
    """

    name: str
    weight_bits: int
    activation_bits: int
    pruning: str
    mapping: Mapping
    macs: int
    cycles: float
    energy_pj: float
    lower_bound_gap: float

    def to_dict(self) -> dict:
        """Plain data (the mapping as ``mapping_to_dict``)."""
        return {
            "name": self.name,
            "weight_bits": self.weight_bits,
            "activation_bits": self.activation_bits,
            "pruning": self.pruning,
            "macs": self.macs,
            "cycles": self.cycles,
            "energy_pj": self.energy_pj,
            "lower_bound_gap": self.lower_bound_gap,
            "mapping": mapping_to_dict(self.mapping),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class DesignPoint:
    """Architecture + per-layer mappings + per-layer quantization and sparsity: what the
    explorer hands to ``codesign.hw`` (``SystolicConfig.from_design_json`` reads ``arch``).

    Parameters
    ----------
    params : dict
        The design-space point.
    arch : Architecture
        The architecture.
    layers : tuple of LayerDesign
        Every MAC layer, in workload order.
    metrics : dict of str to float
        Totals (``latency_cycles``, ``latency_s``, ``energy_pj``, ``area_mm2``, ``edp_pj_s``,
        ``utilization``, ``macs``; ``accuracy`` when evaluated).
    accelerator : AcceleratorConfig or None
        Buildable points (``target: accelerator`` spaces): the configuration
        ``codesign generate`` builds; None for a model-only point.
    schedules : tuple of LayerSchedule
        Buildable points: each layer's schedule on the accelerator, in layer order.
    vector_layers : tuple of VectorCost
        Every non-MAC operator, in workload order: its cost on the vector unit (model-only
        points) or, unit ``host``, its element operations on the host (buildable points).
    """

    params: dict = field(hash=False)
    arch: object
    layers: tuple[LayerDesign, ...]
    metrics: dict = field(hash=False)
    accelerator: AcceleratorConfig | None = None
    schedules: tuple[LayerSchedule, ...] = ()
    vector_layers: tuple[VectorCost, ...] = ()

    def __post_init__(self) -> None:
        if self.accelerator is not None and len(self.schedules) != len(self.layers):
            raise SpecError(
                f"a buildable design point needs one schedule per layer: {len(self.layers)} "
                f"layers, {len(self.schedules)} schedules"
            )
        if self.accelerator is None and self.schedules:
            raise SpecError("schedules apply only to a buildable point (with an accelerator)")

    @property
    def buildable(self) -> bool:
        """Whether ``codesign generate`` builds this point (``target: accelerator``);
        otherwise it is *model only*."""
        return self.accelerator is not None

    def to_dict(self) -> dict:
        """The JSON form: ``{version, target, params, arch, accelerator, layers, vector_layers,
        metrics}``;
        ``target`` is ``"accelerator"`` (buildable: ``accelerator`` is the generator's
        configuration and every layer has its ``schedule``) or ``"model"`` (model only:
        ``accelerator`` is null)."""
        from codesign.arch import architecture_to_dict

        layers = [lay.to_dict() for lay in self.layers]
        for lay, sched in zip(layers, self.schedules, strict=False):
            lay["schedule"] = sched.to_dict()
        return {
            "version": _FORMAT_VERSION,
            "target": "accelerator" if self.buildable else "model",
            "params": dict(self.params),
            "arch": architecture_to_dict(self.arch),
            "accelerator": None if self.accelerator is None else self.accelerator.to_dict(),
            "layers": layers,
            "vector_layers": [v.to_dict() for v in self.vector_layers],
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: object) -> DesignPoint:
        """Inverse of `to_dict` (version 1 files, written before buildable spaces, read as
        model-only points; versions 1 and 2 have no ``vector_layers``); unknown or missing
        keys are SpecErrors."""
        from codesign.arch import architecture_from_dict

        if not isinstance(data, dict):
            raise SpecError(f"design point must be a JSON object, not {type(data).__name__}")
        version = data.get("version")
        if version not in (1, 2, _FORMAT_VERSION):
            raise SpecError(
                f"design point version must be 1, 2 or {_FORMAT_VERSION}, not {version!r}"
            )
        keys = {"version", "params", "arch", "layers", "metrics"}
        if version >= 2:
            keys |= {"target", "accelerator"}
        if version >= 3:
            keys.add("vector_layers")
        if set(data) != keys:
            raise SpecError(
                f"design point keys must be {sorted(keys)}: unknown {sorted(set(data) - keys)}, "
                f"missing {sorted(keys - set(data))}"
            )
        target = data.get("target", "model")
        if target not in ("accelerator", "model"):
            raise SpecError(f"design point target must be 'accelerator' or 'model', not {target!r}")
        buildable = target == "accelerator"
        if buildable != (data.get("accelerator") is not None):
            raise SpecError(
                "design point: target 'accelerator' needs an accelerator object and target "
                "'model' a null one"
            )
        layer_keys = {
            "name", "weight_bits", "activation_bits", "pruning", "macs", "cycles", "energy_pj",
            "lower_bound_gap", "mapping",
        }  # fmt: skip
        if buildable:
            layer_keys.add("schedule")
        layers, schedules = [], []
        if not isinstance(data["layers"], list):
            raise SpecError("design point layers must be a list")
        for i, lay in enumerate(data["layers"]):
            if not isinstance(lay, dict) or set(lay) != layer_keys:
                raise SpecError(f"layers[{i}] must be an object with keys {sorted(layer_keys)}")
            lay = dict(lay)
            if buildable:
                schedules.append(LayerSchedule.from_dict(lay.pop("schedule")))
            layers.append(LayerDesign(**{**lay, "mapping": mapping_from_dict(lay["mapping"])}))
        vector = data.get("vector_layers", [])
        if not isinstance(vector, list):
            raise SpecError("design point vector_layers must be a list")
        return cls(
            params=dict(data["params"]),
            arch=architecture_from_dict(data["arch"]),
            layers=tuple(layers),
            metrics=dict(data["metrics"]),
            accelerator=AcceleratorConfig.from_dict(data["accelerator"]) if buildable else None,
            schedules=tuple(schedules),
            vector_layers=tuple(
                VectorCost.from_dict(v, f"vector_layers[{i}]") for i, v in enumerate(vector)
            ),
        )

    def layer_rows(self, order: Sequence[str] | None = None) -> list[dict]:
        """Every layer, MAC and non-MAC, as table rows ``{name, kind, unit, macs, element_ops,
        cycles, energy_pj}``: ``kind`` is ``mac`` or the operator's category, ``unit`` is
        ``array``, ``vector`` or ``host`` (listed, not costed). ``order`` (the workload's
        schedule) interleaves them; without it the MAC layers come first. Views (free aliases)
        are left out."""
        rows = {
            lay.name: {
                "name": lay.name, "kind": "mac", "unit": "array", "macs": lay.macs,
                "element_ops": 0, "cycles": lay.cycles, "energy_pj": lay.energy_pj,
            }  # fmt: skip
            for lay in self.layers
        }
        for v in self.vector_layers:
            if v.category != "view":
                rows[v.name] = {
                    "name": v.name, "kind": v.category, "unit": v.unit, "macs": 0,
                    "element_ops": v.element_ops, "cycles": v.cycles, "energy_pj": v.energy_pj,
                }  # fmt: skip
        if order is None:
            return list(rows.values())
        return [rows[n] for n in order if n in rows]

    def save(self, path: str | Path) -> Path:
        """Write the JSON form."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> DesignPoint:
        """Read a design point written by `save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise SpecError(f"design point {str(path)!r} cannot be read: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise SpecError(f"design point {str(path)!r} is not valid JSON: {exc}") from None
        return cls.from_dict(data)


def point_metrics(layers: Sequence[LayerDesign], vector: Sequence[VectorCost], arch) -> dict:
    """A point's totals, layers one after another: the MAC layers and, on an architecture with
    a vector unit, its operators (``mac_cycles``, ``vector_cycles``, ``vector_energy_pj``
    apart); host operators only count their element ops."""
    mac_cycles = sum(lay.cycles for lay in layers)
    vector_cycles = sum(v.cycles for v in vector)
    vector_energy = sum(v.energy_pj for v in vector)
    cycles = mac_cycles + vector_cycles
    energy = sum(lay.energy_pj for lay in layers) + vector_energy
    macs = sum(lay.macs for lay in layers)
    latency_s = cycles / (arch.clock_mhz * 1e6)
    metrics = {
        "latency_cycles": cycles,
        "latency_s": latency_s,
        "energy_pj": energy,
        "area_mm2": arch.area_um2 / 1e6,
        "edp_pj_s": energy * latency_s,
        "utilization": macs / (cycles * arch.compute.pes * arch.compute.lanes),
        "macs": float(macs),
        "clock_mhz": float(arch.clock_mhz),
    }
    if arch.vector is not None:
        metrics.update(
            mac_cycles=mac_cycles,
            vector_cycles=float(vector_cycles),
            vector_energy_pj=float(vector_energy),
        )
    metrics["non_mac_element_ops"] = float(sum(v.element_ops for v in vector))
    return metrics


def check_others(others: Sequence[OtherOp]) -> tuple[OtherOp, ...]:
    """``others`` as a tuple, each an `OtherOp` (a SpecError names the first that is not)."""
    others = tuple(others)
    for i, op in enumerate(others):
        if not isinstance(op, OtherOp):
            raise SpecError(f"others[{i}] must be an OtherOp, not {type(op).__name__}")
    return others


class DesignEvaluator:
    """Evaluates design points of one workload: picklable, so it is shipped once to each worker.

    Parameters
    ----------
    layers : sequence of LoopNest
        The workload's MAC layers, in order (names unique).
    others : sequence of OtherOp
        The workload's non-MAC operators, costed on the vector unit (graph inputs cost
        nothing).
    mapper : str
        ``exhaustive``, ``random`` or ``local``.
    mapper_objective : str
        What each layer's mapping minimizes: ``latency``, ``energy`` or ``edp``.
    mapper_budget : int
        Mappings evaluated per distinct layer.
    seed : int
        Mapper seed.
    cache_size : int
        Layer mappings remembered across design points (same layer shape, same architecture).
    """

    def __init__(
        self,
        layers: Sequence[LoopNest],
        others: Sequence[OtherOp] = (),
        *,
        mapper: str = "local",
        mapper_objective: str = "edp",
        mapper_budget: int = 1000,
        seed: int = 0,
        cache_size: int = 4096,
    ) -> None:
        self.layers = tuple(layers)
        self.others = check_others(others)
        names = [n.name for n in self.layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"layer names must be unique, {dup} repeat")
        self._mapper = make_mapper(
            mapper, objective=mapper_objective, budget=mapper_budget, seed=seed
        )
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size

    def _map(self, nest: LoopNest, arch) -> MapperResult:
        key = (nest.shape_key(), arch)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        result = self._mapper.map(nest, arch)
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    def design_point(self, params: dict) -> DesignPoint:
        """Map every layer under ``params`` and total the costs."""
        arch = build_architecture(params, self.layers)
        out = []
        for nest in self.layers:
            w, a, p = layer_params(params, nest.name)
            # the explored designs never exploit activation sparsity: normalizing the input
            # density lets layers of equal shape share one mapping
            layer = nest.with_bits(inputs=a, weights=w, outputs=32).with_density(
                inputs=1.0, weights=parse_pruning(p)[1]
            )
            r = self._map(layer, arch)
            out.append(
                LayerDesign(
                    name=nest.name,
                    weight_bits=w,
                    activation_bits=a,
                    pruning=p,
                    mapping=r.mapping,
                    macs=nest.macs,
                    cycles=r.cycles,
                    energy_pj=r.energy_pj,
                    lower_bound_gap=r.gap_to_bound,
                )
            )
        vector = tuple(evaluate_vector(op, arch) for op in self.others)
        return DesignPoint(
            params=dict(params),
            arch=arch,
            layers=tuple(out),
            metrics=point_metrics(out, vector, arch),
            vector_layers=vector,
        )

    def __call__(self, params: dict) -> dict:
        """The metrics of ``params`` (the executors' evaluate callable)."""
        return self.design_point(params).metrics


class AccuracyObjective:
    """The accuracy of a point's quantization and pruning policy, from
    ``codesign.quant.evaluate_policy`` (cached there by policy: identical policies are
    evaluated once). Called in the exploring process with ``(params, metrics)``.

    Parameters
    ----------
    model_spec : str
        ``path/to/file.py:factory`` of the model.
    layers : sequence of str
        The MAC layer names (module paths) the policy covers.
    dataset : str
        Passed to ``evaluate_policy`` (``auto``, ``digits`` or ``none``).
    """

    def __init__(self, model_spec: str, layers: Sequence[str], *, dataset: str = "auto") -> None:
        self.model_spec = model_spec
        self.layers = tuple(layers)
        self.dataset = dataset

    def policy(self, params: dict):
        """The ``QuantPolicy`` of a design point."""
        from codesign.quant.policy import QuantPolicy, layer_policy

        entries = [(name, layer_policy(*layer_params(params, name))) for name in self.layers]
        return QuantPolicy(default=None, layers=tuple(entries))

    def __call__(self, params: dict, metrics: dict) -> dict:
        from codesign.quant import evaluate_policy

        res = evaluate_policy(self.model_spec, self.policy(params), dataset=self.dataset)
        if res.accuracy is None:
            raise SpecError(
                f"model {self.model_spec!r} has no labelled data for the accuracy objective "
                f"(dataset {self.dataset!r}); use objectives without accuracy"
            )
        return {"accuracy": res.accuracy, "accuracy_drop": res.float_accuracy - res.accuracy}
