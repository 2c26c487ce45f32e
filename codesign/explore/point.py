"""A design point as data: `LayerDesign` (one layer's quantization, mapping and costs),
`DesignPoint` (the architecture, the layers and the totals; its JSON is what ``codesign
generate --design`` reads) and `point_metrics` (the totals of a point's layers)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import LayerSchedule
from codesign.cost.vector import VectorCost
from codesign.errors import SpecError
from codesign.mapping.mapping import Mapping, mapping_from_dict, mapping_to_dict

__all__ = ["LayerDesign", "DesignPoint", "point_metrics", "FORMAT_VERSION"]

FORMAT_VERSION = 3
"""Version of the design point JSON."""


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
            "version": FORMAT_VERSION,
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
        if version not in (1, 2, FORMAT_VERSION):
            raise SpecError(
                f"design point version must be 1, 2 or {FORMAT_VERSION}, not {version!r}"
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
