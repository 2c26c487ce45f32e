"""Per-layer quantization and pruning policy: what to do to each MAC layer of a model.

A `QuantPolicy` is data (no torch): a default `LayerPolicy` plus per-layer overrides, loaded
from strict YAML/JSON or built in Python, with a stable hash so that identical policies are
evaluated once.

YAML form (version 1); a layer entry overrides fields of ``default``, ``null`` keeps the layer
in float::

    version: 1
    default: {weight_bits: 8, act_bits: 8}
    layers:
      conv1: {weight_bits: 4}
      fc: {pruning: nm, nm: [2, 4]}
      conv2: null
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from codesign.errors import SpecError

__all__ = [
    "WeightFormat",
    "Calibration",
    "Pruning",
    "LayerPolicy",
    "QuantPolicy",
    "MIN_BITS",
    "MAX_BITS",
    "MAX_POW2_BITS",
    "layer_policy",
    "parse_pruning",
]

MIN_BITS = 2
"""Smallest supported integer bit-width."""
MAX_BITS = 16
"""Largest supported integer bit-width."""
MAX_POW2_BITS = 8
"""Largest supported power-of-two weight code width (1 sign bit + exponent code)."""


class WeightFormat(enum.Enum):
    """How weights are represented: uniform integers or signed powers of two."""

    INT = "int"
    POW2 = "pow2"


class Calibration(enum.Enum):
    """How activation ranges are found from sample data."""

    MINMAX = "minmax"
    PERCENTILE = "percentile"


class Pruning(enum.Enum):
    """Which weights are set to zero."""

    NONE = "none"
    UNSTRUCTURED = "unstructured"  # smallest |w| of the whole layer, a given sparsity
    NM = "nm"  # N:M, at most N non-zeros in every group of M along the reduction axis
    CHANNEL = "channel"  # whole output channels with the smallest L2 norm, a given sparsity


def _check_bits(name: str, value: object, high: int) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_BITS <= value <= high:
        raise SpecError(
            f"{name} must be an integer in {MIN_BITS}..{high} or null (float), not {value!r}"
        )


def _check_enum(name: str, value: object, enum_type: type[enum.Enum]) -> None:
    if not isinstance(value, enum_type):
        raise SpecError(f"{name} must be one of {[e.value for e in enum_type]}, not {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerPolicy:
    """Quantization and pruning of one MAC layer (convolution or linear).

    Parameters
    ----------
    weight_bits : int or None
        Weight bit-width in 2..16 (2..8 for ``pow2``); ``None`` keeps weights in float.
    act_bits : int or None
        Bit-width of the layer's input and output activations in 2..16; ``None`` keeps
        activations in float (weight-only quantization, no integer export).
    per_channel : bool
        One weight scale per output channel (``True``) or one per tensor.
    weight_symmetric : bool
        Symmetric weights (zero point 0) or asymmetric (a zero point per scale).
    act_symmetric : bool
        Symmetric activations (zero point 0) or asymmetric. Activations are always per tensor.
    weight_format : WeightFormat
        ``int`` (uniform) or ``pow2`` (0 and ``±scale * 2**-k``; always symmetric).
    calibration : Calibration
        ``minmax`` or ``percentile`` range of the activations on the calibration data.
    percentile : float
        For ``percentile`` calibration: the range is ``[q(100 - p), q(p)]``, ``p`` in (50, 100].
    pruning : Pruning
        ``none``, ``unstructured``, ``nm`` or ``channel``.
    sparsity : float
        Fraction of weights (``unstructured``) or output channels (``channel``) set to zero, in
        [0, 1). Must be 0 for ``none`` and ``nm``.
    nm : tuple of (int, int)
        ``(N, M)`` for ``nm`` pruning: at most N non-zeros in every group of M consecutive
        weights along the reduction axis (torch's ``(C, R, S)`` order), ``1 <= N < M <= 16``.
    """

    weight_bits: int | None = 8
    act_bits: int | None = 8
    per_channel: bool = True
    weight_symmetric: bool = True
    act_symmetric: bool = False
    weight_format: WeightFormat = WeightFormat.INT
    calibration: Calibration = Calibration.MINMAX
    percentile: float = 99.99
    pruning: Pruning = Pruning.NONE
    sparsity: float = 0.0
    nm: tuple[int, int] = (2, 4)

    def __post_init__(self) -> None:
        _check_enum("weight_format", self.weight_format, WeightFormat)
        _check_enum("calibration", self.calibration, Calibration)
        _check_enum("pruning", self.pruning, Pruning)
        high = MAX_POW2_BITS if self.weight_format is WeightFormat.POW2 else MAX_BITS
        _check_bits("weight_bits", self.weight_bits, high)
        _check_bits("act_bits", self.act_bits, MAX_BITS)
        for name in ("per_channel", "weight_symmetric", "act_symmetric"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"{name} must be true or false, not {getattr(self, name)!r}")
        p = self.percentile
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 50.0 < p <= 100.0:
            raise SpecError(f"percentile must be a number in (50, 100], not {p!r}")
        s = self.sparsity
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 <= s < 1.0:
            raise SpecError(f"sparsity must be a number in [0, 1), not {s!r}")
        if s > 0 and self.pruning not in (Pruning.UNSTRUCTURED, Pruning.CHANNEL):
            raise SpecError(
                f"sparsity {s!r} needs pruning 'unstructured' or 'channel', "
                f"not {self.pruning.value!r}"
            )
        nm = self.nm
        if (
            not isinstance(nm, tuple)
            or len(nm) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in nm)
            or not 1 <= nm[0] < nm[1] <= 16
        ):
            raise SpecError(
                f"nm must be a pair (N, M) of integers with 1 <= N < M <= 16, not {nm!r}"
            )

    def to_dict(self) -> dict[str, object]:
        """Plain JSON/YAML-ready values (enums as strings, ``nm`` as a list)."""
        out: dict[str, object] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.value if isinstance(v, enum.Enum) else list(v) if f.name == "nm" else v
        return out

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, object],
        *,
        base: LayerPolicy | None = None,
        where: str = "layer policy",
    ) -> LayerPolicy:
        """Fields of ``data`` override those of ``base`` (default: ``LayerPolicy()``); unknown
        keys are errors."""
        if not isinstance(data, Mapping):
            raise SpecError(f"{where} must be a mapping of fields, not {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"{where}: unknown keys {unknown}; allowed keys are {sorted(known)}")
        kwargs: dict[str, object] = {}
        converters = {
            "weight_format": WeightFormat,
            "calibration": Calibration,
            "pruning": Pruning,
        }
        for key, value in data.items():
            if key in converters:
                try:
                    value = converters[key](value)
                except ValueError:
                    allowed = [e.value for e in converters[key]]
                    raise SpecError(
                        f"{where}: {key} must be one of {allowed}, not {value!r}"
                    ) from None
            elif key == "nm" and isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        try:
            return replace(base or cls(), **kwargs)
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from None


_DEFAULT = LayerPolicy()


@dataclass(frozen=True, kw_only=True, slots=True)
class QuantPolicy:
    """A policy for a whole model: a default for every MAC layer plus per-layer overrides.

    Parameters
    ----------
    default : LayerPolicy or None
        Applied to every quantizable layer not listed in ``layers``; ``None`` keeps unlisted
        layers in float.
    layers : tuple of (str, LayerPolicy or None)
        Per-layer policies by module path (``"conv1"``, ``"features.0"``); ``None`` keeps the
        layer in float. Applying the policy to a model without one of these layers is an error.
    """

    default: LayerPolicy | None = _DEFAULT
    layers: tuple[tuple[str, LayerPolicy | None], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.default is not None and not isinstance(self.default, LayerPolicy):
            raise SpecError(f"default must be a LayerPolicy or None, not {self.default!r}")
        seen: set[str] = set()
        for entry in self.layers:
            if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
                raise SpecError(f"layers entries must be (name, LayerPolicy) pairs, not {entry!r}")
            name, pol = entry
            if name in seen:
                raise SpecError(f"layers: layer {name!r} is listed twice")
            seen.add(name)
            if pol is not None and not isinstance(pol, LayerPolicy):
                raise SpecError(f"layers: {name!r} must map to a LayerPolicy or None, not {pol!r}")

    @classmethod
    def uniform(cls, bits: int | None, **overrides: object) -> QuantPolicy:
        """Every layer at ``bits`` for weights and activations (``overrides`` are further
        `LayerPolicy` fields)."""
        return cls(default=LayerPolicy(weight_bits=bits, act_bits=bits, **overrides))

    def layer_names(self) -> tuple[str, ...]:
        """Names listed explicitly in ``layers``."""
        return tuple(name for name, _ in self.layers)

    def for_layer(self, name: str) -> LayerPolicy | None:
        """The policy of one layer (``None``: keep it in float)."""
        for n, pol in self.layers:
            if n == name:
                return pol
        return self.default

    def with_layer(self, name: str, policy: LayerPolicy | None) -> QuantPolicy:
        """A copy with one layer's policy set (added or replaced)."""
        rest = tuple((n, p) for n, p in self.layers if n != name)
        return replace(self, layers=(*rest, (name, policy)))

    def to_dict(self) -> dict[str, object]:
        """The resolved policy as plain data (every layer entry complete)."""
        return {
            "version": 1,
            "default": None if self.default is None else self.default.to_dict(),
            "layers": {n: None if p is None else p.to_dict() for n, p in sorted(self.layers)},
        }

    def hash(self) -> str:
        """Stable 16-hex-digit hash of the resolved policy (equal policies, equal hashes)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> QuantPolicy:
        """Strict parse of the version-1 form (see the module docstring)."""
        if not isinstance(data, Mapping):
            raise SpecError(f"a policy must be a mapping, not {type(data).__name__}")
        unknown = sorted(set(data) - {"version", "default", "layers"})
        if unknown:
            raise SpecError(
                f"policy: unknown keys {unknown}; allowed keys are ['default', 'layers', 'version']"
            )
        if data.get("version", 1) != 1:
            raise SpecError(f"policy: version must be 1, not {data.get('version')!r}")
        raw_default = data.get("default", {})
        default = (
            None
            if raw_default is None
            else LayerPolicy.from_dict(raw_default, where="policy default")
        )
        raw_layers = data.get("layers", {}) or {}
        if not isinstance(raw_layers, Mapping):
            raise SpecError(
                f"policy: layers must be a mapping of layer name to policy, not {raw_layers!r}"
            )
        layers = []
        for name, entry in raw_layers.items():
            if entry is None:
                layers.append((str(name), None))
            else:
                layers.append(
                    (
                        str(name),
                        LayerPolicy.from_dict(entry, base=default, where=f"policy layer {name!r}"),
                    )
                )
        return cls(default=default, layers=tuple(layers))

    @classmethod
    def load(cls, path: str | Path) -> QuantPolicy:
        """Read a policy from a ``.yaml``/``.yml`` or ``.json`` file, strictly (duplicate keys
        are errors; `codesign.arch.io.read_spec_file`)."""
        from codesign.arch.io import read_spec_file

        return cls.from_dict(read_spec_file(path))


_PRUNING_SPEC = re.compile(r"^unstructured:(\d*\.?\d+)$")


def parse_pruning(value: object) -> tuple[str, float]:
    """``(kind, weight_density)`` of a pruning value: ``none`` -> ``("none", 1.0)``, ``2:4`` ->
    ``("2:4", 0.5)``, ``unstructured:0.7`` -> ``("unstructured", 0.3)`` (70 % of the weights
    pruned)."""
    if value == "none":
        return ("none", 1.0)
    if value == "2:4":
        return ("2:4", 0.5)
    m = _PRUNING_SPEC.match(value) if isinstance(value, str) else None
    if m and float(m.group(1)) < 1.0:
        return ("unstructured", 1.0 - float(m.group(1)))
    raise SpecError(
        f"pruning must be 'none', '2:4' or 'unstructured:F' with F the pruned fraction in "
        f"[0, 1), not {value!r}"
    )


def layer_policy(weight_bits: int, act_bits: int, pruning: str) -> LayerPolicy:
    """The `LayerPolicy` of a design point's layer: ``weight_bits``, ``act_bits`` and a
    pruning spec (`parse_pruning`), with the defaults otherwise (symmetric per-channel
    weights, asymmetric activations)."""
    kind, density = parse_pruning(pruning)
    if kind == "none":
        return LayerPolicy(weight_bits=weight_bits, act_bits=act_bits)
    if kind == "2:4":
        return LayerPolicy(
            weight_bits=weight_bits, act_bits=act_bits, pruning=Pruning.NM, nm=(2, 4)
        )
    return LayerPolicy(
        weight_bits=weight_bits,
        act_bits=act_bits,
        pruning=Pruning.UNSTRUCTURED,
        sparsity=1 - density,
    )
