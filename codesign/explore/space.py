"""`DesignSpace`: the typed axes a joint hardware/quantization search ranges over.

Every axis is finite: a tuple of allowed values. Axis names are a closed set (``AXIS_NAMES``),
each with a value type checked at construction:

==========================  ===================================================================
``pe_rows``, ``pe_cols``    PE array shape (positive integers; non-square arrays allowed)
``dataflow``                ``ws`` (weight-), ``os`` (output-), ``is`` (input-), ``rs`` (row-
                            stationary)
``glb_kib``                 global buffer capacity in KiB (positive integer)
``rf_bytes``                register file per PE in bytes (positive integer)
``dram_bw_bits_per_cycle``  DRAM bandwidth in bits per cycle (positive integer)
``clock_mhz``               clock frequency in MHz (positive number)
``weight_bits``             weight bit-width, 2..16
``activation_bits``         activation bit-width, 2..16
``pruning``                 ``none``, ``2:4`` or ``unstructured:F`` with ``F`` the pruned
                            fraction in [0, 1)
``acc_buf_rows``            accelerator only: rows of the accumulator buffer (``max_tile_m``)
``overlap_passes``          accelerator only (``ws``): overlapped passes (true / false)
``zero_gate``               accelerator only (``ws``): zero-weight operand isolation in the PEs
                            (true / false): a layer's pruned weights cost no multiplier energy
``vector_lanes``            model only: lanes of the vector unit running the non-MAC operators
                            (positive integer)
==========================  ===================================================================

``fpga: ecp5-85f`` (``target: accelerator`` only) takes each point's clock from the
place-and-route Fmax model (``codesign.accel.fpga_fmax``) instead of a ``clock_mhz`` axis,
which otherwise remains the *assumed* clock (ASIC-style studies).

``target: accelerator`` makes the space *buildable* (`TARGETS`): only the generator's
parameters (no ``glb_kib``, ``rf_bytes``, ``vector_lanes``: the generated accelerator runs
the MAC layers and its host runtime the rest; dataflows ``ws``, ``os`` and ``sparse24``,
the 2:4-sparse accelerator, which runs its ``2:4`` layers compressed and every other layer as
two 2:4 halves; one ``activation_bits`` for every layer). The default ``target: model`` is
*model only*.

``weight_bits``, ``activation_bits`` and ``pruning`` may be *per layer*: ``expand(layers)``
turns such an axis into one axis per layer, named ``weight_bits@<layer>``.

The YAML form is strict (unknown or duplicate keys, empty axes and bad values are
``SpecError``\\ s naming the field)::

    version: 1
    axes:
      pe_rows: [8, 16, 32]
      pe_cols: [8, 16, 32]
      dataflow: [ws, os]
      weight_bits: {values: [4, 8], per_layer: true}
    constraints:              # optional
      max_area_mm2: 2.0
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from codesign.accel.array import Dataflow as BuildableDataflow
from codesign.arch.dataflow import Dataflow
from codesign.errors import SpecError
from codesign.quant.policy import parse_pruning
from codesign.validation import read_spec_file

__all__ = [
    "AXIS_NAMES",
    "PER_LAYER_AXES",
    "DATAFLOWS",
    "TARGETS",
    "Axis",
    "Constraints",
    "DesignSpace",
    "load_space",
    "parse_pruning",
    "split_param",
]

_BUILDABLE_DATAFLOWS: tuple[str, ...] = tuple(d.value for d in BuildableDataflow)
"""What ``target: accelerator`` builds: the generators' dataflows (``codesign.accel.array``)."""

DATAFLOWS: tuple[str, ...] = tuple(
    d.value for d in Dataflow if d is not Dataflow.UNCONSTRAINED
) + tuple(v for v in _BUILDABLE_DATAFLOWS if v not in {d.value for d in Dataflow})
"""Dataflow short names: the cost model's templates (``codesign.arch.dataflow.Dataflow``:
weight-, output-, input-, row-stationary) and the generator-only ``sparse24`` (the 2:4-sparse
weight-stationary accelerator, with ``target: accelerator`` only)."""

PER_LAYER_AXES: frozenset[str] = frozenset({"weight_bits", "activation_bits", "pruning"})
"""Axes that may take one value per layer."""


def _positive_int(field_name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SpecError(f"{field_name} must be a positive integer, not {value!r}")
    return value


def _positive_number(field_name: str, value: object) -> float | int:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise SpecError(f"{field_name} must be a positive number, not {value!r}")
    return value


def _bits(field_name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 2 <= value <= 16:
        raise SpecError(f"{field_name} must be an integer bit-width in 2..16, not {value!r}")
    return value


def _dataflow(field_name: str, value: object) -> str:
    if value not in DATAFLOWS:
        raise SpecError(f"{field_name} must be one of {list(DATAFLOWS)}, not {value!r}")
    return str(value)


def _pruning(field_name: str, value: object) -> str:
    try:
        parse_pruning(value)
    except SpecError:
        hint = " (quote '2:4' in YAML, which reads 2:4 as the number 124)" if value == 124 else ""
        raise SpecError(
            f"{field_name} must be 'none', '2:4' or 'unstructured:F' with F the pruned fraction "
            f"in [0, 1), not {value!r}{hint}"
        ) from None
    return str(value)


def _bool(field_name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{field_name} must be true or false, not {value!r}")
    return value


_VALIDATORS = {
    "pe_rows": _positive_int,
    "pe_cols": _positive_int,
    "dataflow": _dataflow,
    "glb_kib": _positive_int,
    "rf_bytes": _positive_int,
    "dram_bw_bits_per_cycle": _positive_int,
    "clock_mhz": _positive_number,
    "weight_bits": _bits,
    "activation_bits": _bits,
    "pruning": _pruning,
    "acc_buf_rows": _positive_int,
    "overlap_passes": _bool,
    "zero_gate": _bool,
    "vector_lanes": _positive_int,
}

TARGETS: tuple[str, ...] = ("model", "accelerator")
"""``model``: the cost model's idealized architectures (generic memory hierarchy, any mapping
the mapper finds; *model only*, nothing is generated). ``accelerator``: a buildable space,
every point an accelerator ``codesign generate`` builds, scored with the schedules its
controller executes (``codesign.explore.buildable``)."""

_MODEL_ONLY_AXES = frozenset({"glb_kib", "rf_bytes", "vector_lanes"})
_ACCELERATOR_ONLY_AXES = frozenset({"acc_buf_rows", "overlap_passes", "zero_gate"})

AXIS_NAMES: tuple[str, ...] = tuple(_VALIDATORS)
"""Every axis name a design space may use."""


def split_param(name: str) -> tuple[str, str | None]:
    """``"weight_bits@conv1"`` -> ``("weight_bits", "conv1")``; ``"pe_rows"`` -> ``("pe_rows",
    None)``."""
    base, sep, layer = name.partition("@")
    return (base, layer if sep else None)


@dataclass(frozen=True, kw_only=True, slots=True)
class Axis:
    """One finite axis of a design space.

    Parameters
    ----------
    name : str
        One of ``AXIS_NAMES``, or ``<axis>@<layer>`` for an expanded per-layer axis.
    values : tuple
        The allowed values, at least one, no repeats, each valid for the axis.
    per_layer : bool
        Whether ``DesignSpace.expand`` gives every layer its own copy of this axis (only for
        ``PER_LAYER_AXES``).
    """

    name: str
    values: tuple
    per_layer: bool = False

    def __post_init__(self) -> None:
        base, layer = split_param(self.name) if isinstance(self.name, str) else (None, None)
        if base not in _VALIDATORS:
            raise SpecError(f"axis name must be one of {list(AXIS_NAMES)}, not {self.name!r}")
        if (self.per_layer or layer is not None) and base not in PER_LAYER_AXES:
            raise SpecError(
                f"axis {base}: only {sorted(PER_LAYER_AXES)} may be per layer, not {base!r}"
            )
        if layer == "":
            raise SpecError(f"axis {self.name!r}: the layer name after '@' is empty")
        if not isinstance(self.values, tuple):
            raise SpecError(f"axis {self.name}: values must be a tuple, not {self.values!r}")
        if not self.values:
            raise SpecError(f"axis {self.name}: values must not be empty")
        for v in self.values:
            _VALIDATORS[base](f"axis {self.name}: value", v)
        if len(set(self.values)) != len(self.values):
            raise SpecError(f"axis {self.name}: values must not repeat, got {list(self.values)}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Constraints:
    """Feasibility limits on a design point; ``None`` means unconstrained.

    Parameters
    ----------
    max_area_mm2 : float or None
        Largest allowed accelerator area in mm^2.
    max_latency_s : float or None
        Largest allowed end-to-end latency of the workload in seconds.
    min_accuracy : float or None
        Smallest allowed accuracy in [0, 1] (needs an accuracy evaluator).
    """

    max_area_mm2: float | None = None
    max_latency_s: float | None = None
    min_accuracy: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_area_mm2", "max_latency_s"):
            v = getattr(self, name)
            if v is not None:
                _positive_number(name, v)
        if self.min_accuracy is not None and not (
            isinstance(self.min_accuracy, (int, float))
            and not isinstance(self.min_accuracy, bool)
            and 0.0 <= self.min_accuracy <= 1.0
        ):
            raise SpecError(f"min_accuracy must be a number in [0, 1], not {self.min_accuracy!r}")

    def violations(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """How far ``metrics`` break each limit, relative to the limit (only broken ones)."""
        out: dict[str, float] = {}
        pairs = (
            ("max_area_mm2", "area_mm2", 1.0),
            ("max_latency_s", "latency_s", 1.0),
            ("min_accuracy", "accuracy", -1.0),
        )
        for name, metric, sign in pairs:
            limit = getattr(self, name)
            if limit is None:
                continue
            if metric not in metrics:
                raise SpecError(
                    f"constraint {name} needs the metric {metric!r}, which this exploration does "
                    f"not compute (metrics: {sorted(metrics)})"
                )
            excess = sign * (metrics[metric] - limit)
            if excess > 0:
                out[name] = excess / max(abs(limit), 1e-12)
        return out

    def to_dict(self) -> dict[str, float]:
        """The set limits as a plain dict."""
        return {
            k: getattr(self, k)
            for k in ("max_area_mm2", "max_latency_s", "min_accuracy")
            if getattr(self, k) is not None
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class DesignSpace:
    """A product of finite axes; a point is a ``{axis name: value}`` dict.

    Parameters
    ----------
    axes : tuple of Axis
        At least one axis, names unique.
    constraints : Constraints
        Limits that filter points (not part of the product).
    """

    axes: tuple[Axis, ...]
    constraints: Constraints = Constraints()
    target: str = "model"
    fpga: str | None = None

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise SpecError(f"target must be one of {list(TARGETS)}, not {self.target!r}")
        if self.fpga is not None:
            from codesign.accel.fpga_fmax import DEVICES

            if self.fpga not in DEVICES:
                raise SpecError(f"fpga must be one of {list(DEVICES)}, not {self.fpga!r}")
            if self.target != "accelerator":
                raise SpecError(
                    "fpga needs target: accelerator (the clock model is fitted to place-and-"
                    "route runs of the generated accelerators)"
                )
            if any(split_param(a.name)[0] == "clock_mhz" for a in self.axes):
                raise SpecError(
                    f"axis clock_mhz cannot be given with fpga: {self.fpga} (each point's clock "
                    f"is its Fmax from the place-and-route model); drop one of them"
                )
        if not isinstance(self.axes, tuple) or not all(isinstance(a, Axis) for a in self.axes):
            raise SpecError(f"axes must be a tuple of Axis, not {self.axes!r}")
        if not self.axes:
            raise SpecError("axes must not be empty: a design space needs at least one axis")
        names = [a.name for a in self.axes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"axes: axis names must be unique, {dup} repeat")
        for a in self.axes:
            base, _ = split_param(a.name)
            if self.target == "accelerator":
                if base in _MODEL_ONLY_AXES:
                    raise SpecError(
                        f"axis {base} is model only: the accelerator generator has no such "
                        f"parameter (target: accelerator takes "
                        f"{sorted(set(_VALIDATORS) - _MODEL_ONLY_AXES)})"
                    )
                bad = [v for v in a.values if base == "dataflow" and v not in _BUILDABLE_DATAFLOWS]
                if bad:
                    raise SpecError(
                        f"axis dataflow: {bad[0]!r} is model only; target: accelerator builds "
                        f"{list(_BUILDABLE_DATAFLOWS)}"
                    )
                if base == "activation_bits" and (a.per_layer or split_param(a.name)[1]):
                    raise SpecError(
                        "axis activation_bits cannot be per layer with target: accelerator (the "
                        "requantizer has one output range); give one list of values"
                    )
            elif base in _ACCELERATOR_ONLY_AXES:
                raise SpecError(
                    f"axis {base} is a parameter of the accelerator generator; it needs "
                    f"target: accelerator"
                )
            elif base == "dataflow" and "sparse24" in a.values:
                raise SpecError(
                    "axis dataflow: 'sparse24' needs target: accelerator (with target: model a "
                    "'ws' point whose every layer is pruned 2:4 is the 2:4 array)"
                )

    @property
    def names(self) -> tuple[str, ...]:
        """Axis names in order."""
        return tuple(a.name for a in self.axes)

    @property
    def size(self) -> int:
        """Number of points (the product of the axis lengths)."""
        return math.prod(len(a.values) for a in self.axes)

    def axis(self, name: str) -> Axis:
        """The axis called ``name``."""
        for a in self.axes:
            if a.name == name:
                return a
        raise SpecError(f"design space has no axis {name!r}; axes are {list(self.names)}")

    def expand(self, layers: Iterable[str]) -> DesignSpace:
        """A copy where every per-layer axis becomes one axis per layer (``<axis>@<layer>``)."""
        layers = list(layers)
        axes: list[Axis] = []
        for a in self.axes:
            if a.per_layer:
                if not layers:
                    raise SpecError(f"axis {a.name} is per layer but the workload has no layers")
                axes += [Axis(name=f"{a.name}@{layer}", values=a.values) for layer in layers]
            else:
                axes.append(a)
        return DesignSpace(
            axes=tuple(axes), constraints=self.constraints, target=self.target, fpga=self.fpga
        )

    def points(self) -> Iterator[dict[str, object]]:
        """Every point, in row-major order (the last axis varies fastest)."""
        for combo in itertools.product(*(a.values for a in self.axes)):
            yield dict(zip(self.names, combo, strict=True))

    def point(self, index: int) -> dict[str, object]:
        """The ``index``-th point of ``points()`` without enumerating the others."""
        if not isinstance(index, int) or not 0 <= index < self.size:
            raise SpecError(f"point index must be an integer in [0, {self.size}), not {index!r}")
        out: dict[str, object] = {}
        for a in reversed(self.axes):
            index, r = divmod(index, len(a.values))
            out[a.name] = a.values[r]
        return {n: out[n] for n in self.names}

    def check(self, params: Mapping[str, object]) -> dict[str, object]:
        """``params`` as a point of this space, or a SpecError naming the bad field."""
        extra = sorted(set(params) - set(self.names))
        missing = [n for n in self.names if n not in params]
        if extra or missing:
            raise SpecError(
                f"point does not match the design space: unknown {extra}, missing {missing}"
            )
        for a in self.axes:
            if params[a.name] not in a.values:
                raise SpecError(f"{a.name} must be one of {list(a.values)}, not {params[a.name]!r}")
        return {n: params[n] for n in self.names}

    # --- serialization ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The YAML/JSON form (``version: 1``)."""
        axes: dict[str, object] = {}
        for a in self.axes:
            axes[a.name] = (
                {"values": list(a.values), "per_layer": True} if a.per_layer else list(a.values)
            )
        out: dict[str, object] = {"version": 1, "axes": axes}
        if self.target != "model":
            out["target"] = self.target
        if self.fpga is not None:
            out["fpga"] = self.fpga
        if self.constraints.to_dict():
            out["constraints"] = self.constraints.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: object, *, source: str = "design space") -> DesignSpace:
        """Parse the YAML/JSON form strictly (see the module docstring)."""
        if not isinstance(data, dict):
            raise SpecError(f"{source}: must be a mapping with 'axes', not {type(data).__name__}")
        _only(source, data, {"version", "axes", "constraints", "target", "fpga"})
        if data.get("version", 1) != 1:
            raise SpecError(f"{source}: version must be 1, not {data['version']!r}")
        raw_axes = data.get("axes")
        if not isinstance(raw_axes, dict) or not raw_axes:
            raise SpecError(f"{source}: axes must be a non-empty mapping of axis name to values")
        axes = []
        for name, spec in raw_axes.items():
            per_layer = False
            if isinstance(spec, dict):
                _only(f"{source}: axis {name}", spec, {"values", "per_layer"})
                per_layer = spec.get("per_layer", False)
                if not isinstance(per_layer, bool):
                    raise SpecError(
                        f"axis {name}: per_layer must be true or false, not {per_layer!r}"
                    )
                if "values" not in spec:
                    raise SpecError(f"axis {name}: values is missing")
                spec = spec["values"]
            if not isinstance(spec, list):
                raise SpecError(f"axis {name}: values must be a list, not {spec!r}")
            axes.append(Axis(name=name, values=tuple(spec), per_layer=per_layer))
        raw_c = data.get("constraints", {}) or {}
        if not isinstance(raw_c, dict):
            raise SpecError(f"{source}: constraints must be a mapping, not {raw_c!r}")
        _only(f"{source}: constraints", raw_c, {"max_area_mm2", "max_latency_s", "min_accuracy"})
        target = data.get("target", "model")
        if target not in TARGETS:
            raise SpecError(f"{source}: target must be one of {list(TARGETS)}, not {target!r}")
        return cls(
            axes=tuple(axes), constraints=Constraints(**raw_c), target=target, fpga=data.get("fpga")
        )


def _only(where: str, data: dict, allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in set(data) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown keys {unknown}; allowed keys are {sorted(allowed)}")


def load_space(path: str | Path) -> DesignSpace:
    """Read a design space from a strict YAML (or JSON) file
    (`codesign.validation.read_spec_file`)."""
    data = read_spec_file(path, "design space file")
    return DesignSpace.from_dict(data, source=str(path))
