"""Objectives, the Pareto front (non-dominated set), the knee point and CSV/JSON export."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.errors import SpecError
from codesign.explore.store import Record

__all__ = [
    "OBJECTIVES",
    "Objective",
    "parse_objectives",
    "objective_matrix",
    "pareto_indices",
    "knee_index",
    "clock_label",
    "write_csv",
    "write_json",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Objective:
    """One objective: the metric it reads and whether smaller is better.

    Parameters
    ----------
    name : str
        The name users write (``latency``).
    metric : str
        The metric it reads from a record (``latency_s``).
    minimize : bool
        ``True`` when smaller is better.
    """

    name: str
    metric: str
    minimize: bool = True


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective(name="latency", metric="latency_s"),
        Objective(name="cycles", metric="latency_cycles"),
        Objective(name="energy", metric="energy_pj"),
        Objective(name="area", metric="area_mm2"),
        Objective(name="edp", metric="edp_pj_s"),
        Objective(name="accuracy", metric="accuracy", minimize=False),
        Objective(name="accuracy_drop", metric="accuracy_drop"),
    )
}
"""Objective names accepted by ``--objectives``."""


def parse_objectives(text: str | Sequence[str]) -> tuple[Objective, ...]:
    """``"latency,energy,area"`` (or a list of names) -> objectives; unknown or repeated names
    are SpecErrors listing the allowed names."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    if not names or any(not n for n in names):
        raise SpecError(f"objectives must be a comma-separated list of {list(OBJECTIVES)}")
    for n in names:
        if n not in OBJECTIVES:
            raise SpecError(f"objective must be one of {list(OBJECTIVES)}, not {n!r}")
    if len(set(names)) != len(names):
        raise SpecError(f"objectives must not repeat, got {names}")
    return tuple(OBJECTIVES[n] for n in names)


def objective_matrix(records: Sequence[Record], objectives: Sequence[Objective]) -> np.ndarray:
    """``(len(records), len(objectives))`` array of values to *minimize* (maximized objectives
    negated)."""
    out = np.empty((len(records), len(objectives)))
    for i, r in enumerate(records):
        for j, o in enumerate(objectives):
            v = float(r.metrics[o.metric])
            out[i, j] = v if o.minimize else -v
    return out


def pareto_indices(values: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the non-dominated rows of ``values`` (all columns minimized).

    Row ``a`` dominates row ``b`` when ``a <= b`` everywhere and ``a < b`` somewhere. Of rows
    with identical values only the first is kept.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise SpecError(f"values must be a 2-D array, not shape {values.shape}")
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=int)
    # Sort lexicographically: a row can only be dominated by rows before it in this order.
    order = np.lexsort(values.T[::-1])
    front: list[int] = []
    for i in order:
        if front and np.any(np.all(values[front] <= values[i], axis=1)):
            continue
        front.append(int(i))
    return np.array(sorted(front), dtype=int)


def knee_index(values: np.ndarray) -> int:
    """Index of the knee of a front: after min-max normalization of every column, the row
    closest (Euclidean) to the ideal point (the column minima). Ties go to the first row."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or len(values) == 0:
        raise SpecError(f"knee_index needs a non-empty 2-D array, not shape {values.shape}")
    lo, hi = values.min(axis=0), values.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    dist = np.linalg.norm((values - lo) / span, axis=1)
    return int(np.argmin(dist))


def _columns(records: Sequence[Record]) -> tuple[list[str], list[str]]:
    params = sorted({k for r in records for k in r.params})
    metrics = sorted({k for r in records for k in r.metrics})
    return params, metrics


BUILD_LABELS = {"accelerator": "accelerator", "model": "model only"}
"""The ``build`` column of the tables: what ``codesign generate`` makes of a point of a space
of each target (``model only``: nothing; it is refused)."""


def clock_label(fpga: str | None) -> str:
    """The ``clock`` column: where a point's ``clock_mhz`` comes from (``assumed``: the space's
    ``clock_mhz`` axis or its default; ``fmax model <device>``: the place-and-route model)."""
    return "assumed" if fpga is None else f"fmax model {fpga}"


def write_csv(
    path: str | Path,
    records: Sequence[Record],
    *,
    target: str = "model",
    clock: str = "assumed",
) -> Path:
    """One row per record: parameters, then metrics (sorted by name), then ``build``
    (`BUILD_LABELS` of the space's ``target``) and ``clock`` (`clock_label`)."""
    path = Path(path)
    params, metrics = _columns(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*params, *metrics, "build", "clock"])
        for r in records:
            w.writerow(
                [r.params.get(k, "") for k in params]
                + [r.metrics.get(k, "") for k in metrics]
                + [BUILD_LABELS[target], clock]
            )
    return path


def write_json(
    path: str | Path,
    records: Sequence[Record],
    *,
    target: str = "model",
    clock: str = "assumed",
) -> Path:
    """A JSON list of ``{"params": ..., "metrics": ..., "build": ..., "clock": ...}``
    (`BUILD_LABELS`, `clock_label`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"params": r.params, "metrics": r.metrics, "build": BUILD_LABELS[target], "clock": clock}
        for r in records
    ]
    path.write_text(json.dumps(rows, indent=1) + "\n")
    return path
