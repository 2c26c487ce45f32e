"""FPGA resources of an architecture from a Yosys-calibrated table (``fpga_area.json``).

The table is fitted by ``benchmarks/calibrate_area.py`` to Yosys runs of the generated arrays
(``codesign.hw``, ``codesign.synth``): per group ``target/dataflow/multipliers`` (e.g.
``xilinx/ws/dsp``) and per resource (``luts``, ``ffs``, ``dsps``) one linear model

    count = sum_f coefficient[f] * feature_f(rows, cols, act_bits, weight_bits, acc_bits)

over the physically motivated features of `FEATURES`: a per-array constant, per-PE terms
linear in the operand and accumulator widths (plus their product for LUT multipliers), the
edge registers and the skew / de-skew register triangles of the systolic array. The estimate
of a count is the model rounded to the nearest integer (at least 0); the stored fit error is
the relative error ``|estimate - yosys| / max(yosys, 1)`` over the sweep points (the fit is a
least-squares fit weighted to minimize exactly these relative errors). Each group may also
hold ``holdout`` points: Yosys runs of shapes and widths outside the sweep, not fitted, whose
errors (``holdout_max_rel``) show how well the model generalizes.

Which group applies: on ``xilinx`` with DSPs, Yosys maps a multiplier to one DSP48E1 when its
product is at least 9 bits wide (``act_bits + weight_bits >= 9``, ``mul2dsp``
``DSP_Y_MINWIDTH=9``) and the operands fit 25 x 18 bits; narrower products stay in LUTs (the
``lut`` group, fitted to ``-nodsp`` runs and the DSP flow's sub-threshold runs).

Block RAM is not fitted: it is computed from the capacity and word width of every shared
on-chip memory level (`bram_blocks`, 7-series RAMB18/RAMB36 aspect ratios). Per-PE levels
(weight or accumulator registers) are flip-flops inside the array and are already in the fit.

This module reads JSON only (no numpy at import; `fit` imports it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from codesign.arch.spec import Architecture, MemoryLevel
from codesign.errors import SpecError

__all__ = [
    "TABLE_PATH",
    "TABLE_FORMAT_VERSION",
    "RESOURCES",
    "FEATURES",
    "FpgaArea",
    "GroupFit",
    "AreaTable",
    "features",
    "fit",
    "relative_error",
    "load_table",
    "default_table",
    "multiplier_kind",
    "group_for",
    "bram_blocks",
    "is_fpga",
    "estimate",
]

TABLE_PATH = Path(__file__).with_name("fpga_area.json")
"""The fitted table shipped with the package."""

TABLE_FORMAT_VERSION = 1
"""Version of the table's JSON schema."""

RESOURCES = ("luts", "ffs", "dsps")
"""Resources the table fits (block RAM is computed, see `bram_blocks`)."""


def _tri(n: int) -> int:
    return n * (n - 1) // 2


FEATURES: dict[str, Callable[[int, int, int, int, int], float]] = {
    "array": lambda r, c, a, w, acc: 1.0,
    "pe": lambda r, c, a, w, acc: r * c,
    "pe_act_bits": lambda r, c, a, w, acc: r * c * a,
    "pe_weight_bits": lambda r, c, a, w, acc: r * c * w,
    "pe_acc_bits": lambda r, c, a, w, acc: r * c * acc,
    "pe_act_x_weight_bits": lambda r, c, a, w, acc: r * c * a * w,
    "rows": lambda r, c, a, w, acc: r,
    "cols": lambda r, c, a, w, acc: c,
    "rows_act_bits": lambda r, c, a, w, acc: r * a,
    "cols_weight_bits": lambda r, c, a, w, acc: c * w,
    "cols_acc_bits": lambda r, c, a, w, acc: c * acc,
    "row_skew_act_bits": lambda r, c, a, w, acc: _tri(r) * a,
    "col_skew_weight_bits": lambda r, c, a, w, acc: _tri(c) * w,
    "col_skew_acc_bits": lambda r, c, a, w, acc: _tri(c) * acc,
}
"""Feature name -> function of ``(rows, cols, act_bits, weight_bits, acc_bits)``. ``pe_*``:
per-PE registers and logic; ``rows``/``cols``: per-row and per-column control (valid and last
flags); ``rows_*``/``cols_*``: registers at the array's edges;
``*_skew_*``: the triangles of skew registers (``n (n - 1) / 2`` stages of ``n`` lanes)."""

_POINT_KEYS = ("rows", "cols", "act_bits", "weight_bits", "acc_bits")
_OPTIONAL_ERRORS = ("loo_max_rel", "holdout_max_rel")


def features(names: Sequence[str], rows: int, cols: int, a: int, w: int, acc: int) -> list[float]:
    """The values of the features ``names`` for one array."""
    return [float(FEATURES[n](rows, cols, a, w, acc)) for n in names]


def relative_error(estimate: int, measured: int) -> float:
    """``|estimate - measured| / max(measured, 1)``."""
    return abs(estimate - measured) / max(measured, 1)


@dataclass(frozen=True, kw_only=True, slots=True)
class FpgaArea:
    """FPGA resources of one architecture.

    Attributes
    ----------
    luts, ffs, dsps : int
        LUTs, flip-flops and DSP blocks of the PE array (fitted to Yosys).
    brams : float
        Block RAMs of the shared on-chip buffers: 36 Kb units on ``xilinx`` (a RAMB18 counts
        0.5), SB_RAM40_4K (4 Kb) blocks on ``ice40``.
    target : str
        Synthesis target of the table (``"xilinx"``: 7-series).
    group : str
        The fitted group used, e.g. ``"xilinx/ws/dsp"``.
    max_rel_error : dict
        The group's maximum relative fit error per resource (how far its sweep points were
        from Yosys).
    """

    luts: int
    ffs: int
    dsps: int
    brams: float
    target: str
    group: str
    max_rel_error: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__slots__}

    def format(self) -> str:
        """One line, e.g. ``FPGA xilinx/ws/dsp: 75 LUTs, 1726 FFs, 64 DSPs, 20 BRAM36``."""
        return (
            f"FPGA {self.group}: {self.luts:,} LUTs, {self.ffs:,} FFs, {self.dsps:,} DSPs, "
            f"{self.brams:g} {'BRAM36' if self.target == 'xilinx' else 'BRAM4K'} "
            f"(Yosys-calibrated, max fit error "
            + ", ".join(f"{k} {v:.1%}" for k, v in self.max_rel_error.items())
            + ")"
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupFit:
    """One fitted group of the table.

    Attributes
    ----------
    name : str
        ``target/dataflow/multipliers``.
    target, dataflow, multipliers : str
        ``multipliers`` is ``"dsp"`` or ``"lut"``.
    features : tuple of str
        Names from `FEATURES`.
    coefficients : dict
        ``{resource: {feature: coefficient}}``.
    fit_error : dict
        ``{resource: {"max_rel": float, "mean_rel": float}}`` over the fitted points, plus
        when measured ``"loo_max_rel"`` (leave-one-out: each point predicted by a fit of the
        others) and ``"holdout_max_rel"`` (the `holdout` runs).
    points : tuple of dict
        The sweep points: ``rows cols act_bits weight_bits acc_bits use_dsp`` and the Yosys
        counts ``luts ffs dsps``.
    holdout : tuple of dict
        Yosys runs of the same form that were not fitted (validation of the model).
    """

    name: str
    target: str
    dataflow: str
    multipliers: str
    features: tuple[str, ...]
    coefficients: dict[str, dict[str, float]]
    fit_error: dict[str, dict[str, float]]
    points: tuple[dict[str, Any], ...]
    holdout: tuple[dict[str, Any], ...] = ()

    def predict(self, resource: str, rows: int, cols: int, a: int, w: int, acc: int) -> int:
        """The rounded model of ``resource`` (at least 0)."""
        x = features(self.features, rows, cols, a, w, acc)
        coef = self.coefficients[resource]
        value = sum(coef[f] * v for f, v in zip(self.features, x, strict=True))
        return max(0, round(value))


@dataclass(frozen=True, kw_only=True, slots=True)
class AreaTable:
    """The whole fitted table.

    Attributes
    ----------
    format_version : int
    tool_version : str
        Yosys' version line of the sweep.
    generator : dict
        Versions of the RTL generator used in the sweep.
    groups : dict
        ``{name: GroupFit}``.
    """

    format_version: int
    tool_version: str
    generator: dict[str, str]
    groups: dict[str, GroupFit]


def fit(
    points: Sequence[Mapping[str, Any]], feature_names: Sequence[str]
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Least-squares fit of every resource in `RESOURCES` over ``points``, weighted by
    ``1 / max(count, 1)`` so that it minimizes the relative errors (the figure reported).

    Returns ``(coefficients, fit_error)``: ``{resource: {feature: coefficient}}`` and
    ``{resource: {"max_rel": ..., "mean_rel": ...}}`` of the rounded estimates.
    """
    import numpy as np

    names = list(feature_names)
    x = np.array(
        [features(names, *(int(p[k]) for k in _POINT_KEYS)) for p in points], dtype=np.float64
    )
    coefficients: dict[str, dict[str, float]] = {}
    errors: dict[str, dict[str, float]] = {}
    for res in RESOURCES:
        y = np.array([float(p[res]) for p in points])
        weight = 1.0 / np.maximum(y, 1.0)
        sol, *_ = np.linalg.lstsq(x * weight[:, None], y * weight, rcond=None)
        coefficients[res] = {n: float(v) for n, v in zip(names, sol, strict=True)}
        est = [max(0, round(float(v))) for v in x @ sol]
        rel = [relative_error(e, int(p[res])) for e, p in zip(est, points, strict=True)]
        errors[res] = {"max_rel": max(rel), "mean_rel": sum(rel) / len(rel)}
    return coefficients, errors


# ---------------------------------------------------------------- strict loading


def _field(where: str, data: Mapping[str, Any], key: str, kind: type | tuple, what: str) -> Any:
    if key not in data:
        raise SpecError(f"{where}: field {key!r} is missing; it must be {what}")
    value = data[key]
    bad_bool = isinstance(value, bool) and kind is not bool
    if bad_bool or not isinstance(value, kind):
        raise SpecError(f"{where}: field {key!r} must be {what}, not {value!r}")
    return value


def _number(where: str, data: Mapping[str, Any], key: str) -> float:
    value = _field(where, data, key, (int, float), "a finite number")
    if not math.isfinite(value):
        raise SpecError(f"{where}: field {key!r} must be a finite number, not {value!r}")
    return float(value)


def _group(name: str, data: Any) -> GroupFit:
    where = f"fpga area table: groups[{name!r}]"
    if not isinstance(data, Mapping):
        raise SpecError(f"{where} must be an object, not {data!r}")
    target = _field(where, data, "target", str, "a string")
    dataflow = _field(where, data, "dataflow", str, "'ws' or 'os'")
    if dataflow not in ("ws", "os"):
        raise SpecError(f"{where}: field 'dataflow' must be 'ws' or 'os', not {dataflow!r}")
    mult = _field(where, data, "multipliers", str, "'dsp' or 'lut'")
    if mult not in ("dsp", "lut"):
        raise SpecError(f"{where}: field 'multipliers' must be 'dsp' or 'lut', not {mult!r}")
    if name != f"{target}/{dataflow}/{mult}":
        raise SpecError(
            f"{where}: the name must be target/dataflow/multipliers = "
            f"{target + '/' + dataflow + '/' + mult!r}"
        )
    feats = _field(where, data, "features", list, f"a non-empty list of {sorted(FEATURES)}")
    if not feats or not all(f in FEATURES for f in feats) or len(set(feats)) != len(feats):
        raise SpecError(
            f"{where}: field 'features' must be a non-empty list of distinct names from "
            f"{sorted(FEATURES)}, not {feats!r}"
        )
    coefs = _field(where, data, "coefficients", Mapping, "an object {resource: {feature: c}}")
    coefficients: dict[str, dict[str, float]] = {}
    for res in RESOURCES:
        per = _field(f"{where}.coefficients", coefs, res, Mapping, "an object {feature: c}")
        if set(per) != set(feats):
            raise SpecError(
                f"{where}.coefficients[{res!r}] must have exactly the keys {feats}, "
                f"not {sorted(per)}"
            )
        coefficients[res] = {f: _number(f"{where}.coefficients[{res!r}]", per, f) for f in feats}
    errs = _field(where, data, "fit_error", Mapping, "an object {resource: {max_rel, mean_rel}}")
    fit_error: dict[str, dict[str, float]] = {}
    for res in RESOURCES:
        per = _field(f"{where}.fit_error", errs, res, Mapping, "an object {max_rel, mean_rel}")
        fit_error[res] = {}
        for key in ("max_rel", "mean_rel", "loo_max_rel", "holdout_max_rel"):
            if key in _OPTIONAL_ERRORS and per.get(key) is None:
                continue  # optional: null when not measured
            v = _number(f"{where}.fit_error[{res!r}]", per, key)
            if v < 0:
                raise SpecError(
                    f"{where}.fit_error[{res!r}]: field {key!r} must be >= 0, not {v!r}"
                )
            fit_error[res][key] = v
    pts = _field(where, data, "points", list, "a non-empty list of sweep points")
    if not pts:
        raise SpecError(f"{where}: field 'points' must be a non-empty list of sweep points")
    points = _points(f"{where}.points", pts)
    holdout = (
        _points(f"{where}.holdout", _field(where, data, "holdout", list, "a list"))
        if ("holdout" in data)
        else []
    )
    return GroupFit(
        name=name,
        target=target,
        dataflow=dataflow,
        multipliers=mult,
        features=tuple(feats),
        coefficients=coefficients,
        fit_error=fit_error,
        points=tuple(points),
        holdout=tuple(holdout),
    )


def _points(where: str, pts: list) -> list[dict[str, Any]]:
    points = []
    for i, p in enumerate(pts):
        pw = f"{where}[{i}]"
        if not isinstance(p, Mapping):
            raise SpecError(f"{pw} must be an object, not {p!r}")
        point: dict[str, Any] = {}
        for key in (*_POINT_KEYS, *RESOURCES):
            v = _field(pw, p, key, int, "a non-negative integer")
            if v < 0 or (key in _POINT_KEYS and v < 1):
                what = "a positive" if key in _POINT_KEYS else "a non-negative"
                raise SpecError(f"{pw}: field {key!r} must be {what} integer, not {v!r}")
            point[key] = v
        point["use_dsp"] = _field(pw, p, "use_dsp", bool, "true or false")
        points.append(point)
    return points


def load_table(path: str | Path = TABLE_PATH) -> AreaTable:
    """Read and validate a fitted table; a malformed one is a `SpecError` naming the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"fpga area table {str(path)!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"fpga area table {str(path)!r} is not valid JSON: {exc}") from None
    where = "fpga area table"
    if not isinstance(data, Mapping):
        raise SpecError(f"{where} must be a JSON object, not {type(data).__name__}")
    version = _field(where, data, "format_version", int, f"{TABLE_FORMAT_VERSION}")
    if version != TABLE_FORMAT_VERSION:
        raise SpecError(
            f"{where}: field 'format_version' must be {TABLE_FORMAT_VERSION}, not {version!r}"
        )
    tool = _field(where, data, "tool_version", str, "Yosys' version line")
    generator = _field(where, data, "generator", Mapping, "an object of versions")
    groups = _field(where, data, "groups", Mapping, "an object {name: group}")
    if not groups:
        raise SpecError(f"{where}: field 'groups' must name at least one fitted group")
    return AreaTable(
        format_version=version,
        tool_version=tool,
        generator={str(k): str(v) for k, v in generator.items()},
        groups={str(n): _group(str(n), g) for n, g in groups.items()},
    )


@cache
def default_table() -> AreaTable:
    """The shipped table (`TABLE_PATH`), loaded once."""
    return load_table(TABLE_PATH)


# ---------------------------------------------------------------- estimates


def multiplier_kind(target: str, act_bits: int, weight_bits: int, use_dsp: bool) -> str:
    """``"dsp"`` when Yosys maps an ``act_bits x weight_bits`` product to one DSP block,
    ``"lut"`` otherwise. ``xilinx`` (7-series DSP48E1, ``mul2dsp`` with ``DSP_Y_MINWIDTH=9``):
    ``act_bits + weight_bits >= 9`` and operands within 25 x 18 bits; ``ice40`` (``-dsp``,
    SB_MAC16: ``DSP_Y_MINWIDTH=11``): ``act_bits + weight_bits >= 11``, both within 16 bits."""
    lo, hi = sorted((act_bits, weight_bits))
    if not use_dsp:
        return "lut"
    if target == "xilinx" and act_bits + weight_bits >= 9 and hi <= 25 and lo <= 18:
        return "dsp"
    if target == "ice40" and act_bits + weight_bits >= 11 and hi <= 16:
        return "dsp"
    return "lut"


def group_for(
    table: AreaTable, target: str, dataflow: str, act_bits: int, weight_bits: int, use_dsp: bool
) -> GroupFit:
    """The group that models an array: ``target/dataflow/`` plus `multiplier_kind`."""
    kind = multiplier_kind(target, act_bits, weight_bits, use_dsp)
    name = f"{target}/{dataflow}/{kind}"
    if name not in table.groups:
        raise SpecError(
            f"fpga area: no fitted group {name!r} for compute.dataflow {dataflow!r}, "
            f"input_bits {act_bits}, weight_bits {weight_bits} on target {target!r}; the table "
            f"has {sorted(table.groups)}"
        )
    return table.groups[name]


_RAMB18 = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
_RAMB36 = ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72))


_SB_RAM40_4K = ((2048, 2), (1024, 4), (512, 8), (256, 16))


def bram_blocks(depth: int, width_bits: int, target: str = "xilinx") -> float:
    """Block RAMs for a ``depth x width_bits`` memory: the cheapest tiling of one aspect ratio.

    ``xilinx``: 7-series, in 36 Kb units (a RAMB18 counts 0.5), RAMB18 16K x 1 ... 512 x 36 or
    RAMB36 32K x 1 ... 512 x 72 (simple dual port). ``ice40``: SB_RAM40_4K (4 Kb) blocks of
    2K x 2 ... 256 x 16."""
    for name, v in (("depth", depth), ("width_bits", width_bits)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise SpecError(f"bram_blocks: {name} must be a positive integer, not {v!r}")
    if target == "ice40":
        return float(min(math.ceil(depth / d) * math.ceil(width_bits / w) for d, w in _SB_RAM40_4K))
    if target != "xilinx":
        raise SpecError(f"bram_blocks: target must be 'ice40' or 'xilinx', not {target!r}")
    halves = min(
        [math.ceil(depth / d) * math.ceil(width_bits / w) for d, w in _RAMB18]
        + [2 * math.ceil(depth / d) * math.ceil(width_bits / w) for d, w in _RAMB36]
    )
    return halves / 2


def _level_brams(level: MemoryLevel, target: str) -> float:
    depth = math.ceil(level.size_bits / level.word_bits)
    return bram_blocks(depth, level.word_bits, target) * level.instances


def is_fpga(arch: Architecture) -> bool:
    """Whether ``arch`` is an FPGA design: its name starts with ``"fpga"`` (as the
    ``fpga_edge`` preset names its architectures, ``fpga8x8``)."""
    return isinstance(arch, Architecture) and arch.name.startswith("fpga")


def estimate(
    arch: Architecture,
    *,
    target: str = "xilinx",
    use_dsp: bool = True,
    table: AreaTable | None = None,
) -> FpgaArea:
    """FPGA resources of ``arch``: LUTs, FFs and DSPs of its PE array from the fitted table
    (the group of `group_for`), block RAMs of its shared on-chip levels (`bram_blocks` of
    ``size_bits / word_bits`` words of ``word_bits`` for the target; the outermost level is
    off-chip, per-PE levels are registers inside the fitted array).

    Parameters
    ----------
    arch : Architecture
        A systolic ``ws`` or ``os`` array (what ``codesign.hw`` generates).
    target : str
        A target of the table (``"xilinx"``).
    use_dsp : bool
        Whether multipliers may use DSP blocks.
    table : AreaTable, optional
        Default: the shipped table.
    """
    if not isinstance(arch, Architecture):
        raise SpecError(f"arch must be a codesign.arch.Architecture, not {type(arch).__name__}")
    if not isinstance(use_dsp, bool):
        raise SpecError(f"use_dsp must be true or false, not {use_dsp!r}")
    table = default_table() if table is None else table
    targets = sorted({g.target for g in table.groups.values()})
    if target not in targets:
        raise SpecError(f"target must be one of {targets}, not {target!r}")
    c = arch.compute
    if not c.systolic or c.dataflow.value not in ("ws", "os"):
        raise SpecError(
            f"compute.dataflow {c.dataflow.value!r} (systolic {c.systolic}) of {arch.name!r} has "
            f"no FPGA area model; the table covers the systolic 'ws' and 'os' arrays"
        )
    nm = getattr(c, "nm", None)
    if nm is not None:
        raise SpecError(
            f"compute.nm {list(nm)} of {arch.name!r} has no FPGA area model; the table covers "
            f"the dense 'ws' and 'os' arrays (the N:M sparse array is not calibrated)"
        )
    group = group_for(table, target, c.dataflow.value, c.input_bits, c.weight_bits, use_dsp)
    shape = (c.rows, c.cols, c.input_bits, c.weight_bits, c.accum_bits)
    counts = {res: group.predict(res, *shape) for res in RESOURCES}
    brams = sum(_level_brams(lv, target) for lv in arch.levels[arch.num_per_pe_levels : -1])
    return FpgaArea(
        luts=counts["luts"],
        ffs=counts["ffs"],
        dsps=counts["dsps"],
        brams=brams,
        target=target,
        group=group.name,
        max_rel_error={res: group.fit_error[res]["max_rel"] for res in RESOURCES},
    )
