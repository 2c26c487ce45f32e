"""A study read back from its files: what ``codesign report`` shows, read and never recomputed.

A *study folder* is the ``--out`` of ``codesign explore``: ``pareto.json`` (the front),
``pareto_layers.json`` (each front point's per-layer breakdown), ``best.json`` (the knee) and the
result store ``study.db`` (every evaluated point and the study's objectives; with ``--store``
elsewhere, give its path). A *store* alone (``study.db``) has every evaluated point but no
breakdowns: its front is the non-dominated set of its feasible points (`non_dominated`, the rule
of ``codesign.explore.pareto.pareto_indices``, tested against it). ``verify.json`` files
(``codesign verify``) add predicted against measured cycles.

Every failure to read names the path: a missing folder, a folder that is not a study, a file
that is not JSON or not of the expected shape.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codesign.errors import SpecError
from codesign.validation import read_text_file

__all__ = ["OBJECTIVE_METRICS", "Study", "read_study", "read_verify", "non_dominated"]

OBJECTIVE_METRICS: dict[str, tuple[str, bool]] = {
    "latency": ("latency_s", True),
    "cycles": ("latency_cycles", True),
    "energy": ("energy_pj", True),
    "area": ("area_mm2", True),
    "edp": ("edp_pj_s", True),
    "accuracy": ("accuracy", False),
    "accuracy_drop": ("accuracy_drop", True),
}
"""``--objectives`` name -> (metric, minimized): the table of ``codesign.explore.pareto``
(a test keeps the two equal; the report reads files and does not import the explorer)."""

_MAX_JSON_BYTES = 256 * 2**20


@dataclass(frozen=True, kw_only=True, slots=True)
class Study:
    """One exploration, as its files hold it.

    Parameters
    ----------
    source : Path
        The study folder or the store that was read.
    model : str
        The explored model (``MODULE_PATH:FACTORY``).
    objectives : tuple of (str, str, bool)
        ``(name, metric, minimized)`` of each objective, in the study's order.
    points : tuple of dict
        Every evaluated point without error, ``{"params", "metrics"}``, in store order.
    front : tuple of dict
        The Pareto front, ``{"params", "metrics", "build", "clock"}`` (``pareto.json``).
    knee : int or None
        Index of the knee in ``front`` (``best.json``'s point), None for a store alone.
    breakdowns : tuple of dict
        Per front point (same order) its ``pareto_layers.json`` entry; empty for a store.
    best : dict or None
        ``best.json``.
    verify : tuple of (str, dict)
        Each ``verify.json`` read, with its path.
    """

    source: Path
    model: str
    objectives: tuple[tuple[str, str, bool], ...]
    points: tuple[dict, ...] = field(hash=False)
    front: tuple[dict, ...] = field(hash=False)
    knee: int | None = None
    breakdowns: tuple[dict, ...] = field(default=(), hash=False)
    best: dict | None = field(default=None, hash=False)
    verify: tuple[tuple[str, dict], ...] = field(default=(), hash=False)


def _read_json(path: Path, what: str) -> object:
    text = read_text_file(path, what, max_bytes=_MAX_JSON_BYTES)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{what} {str(path)!r} is not valid JSON: {exc}") from None


def _point(row: object, path: Path, i: int) -> dict:
    if (
        not isinstance(row, dict)
        or not isinstance(row.get("params"), dict)
        or not isinstance(row.get("metrics"), dict)
    ):
        raise SpecError(f"{str(path)!r}: entry {i} must be an object with params and metrics")
    return row


def _read_store(path: Path) -> tuple[dict, list[dict]]:
    """``(study configuration, ok points)`` of a result store, opened read-only."""
    if not path.is_file():
        raise SpecError(f"store {str(path)!r} does not exist")
    try:
        db = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            rows = db.execute(
                "SELECT params, metrics FROM points WHERE error IS NULL ORDER BY id"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise SpecError(f"store {str(path)!r} is not a codesign result store ({exc})") from None
    if meta.get("kind") != "codesign-explore" or "study" not in meta:
        raise SpecError(f"store {str(path)!r} is not a codesign result store with a study")
    try:
        study = json.loads(meta["study"])
        points = [{"params": json.loads(p), "metrics": json.loads(m)} for p, m in rows]
    except json.JSONDecodeError as exc:
        raise SpecError(f"store {str(path)!r} holds corrupt JSON: {exc}") from None
    names = study.get("objectives") if isinstance(study, dict) else None
    if not isinstance(names, list) or not names or any(n not in OBJECTIVE_METRICS for n in names):
        raise SpecError(
            f"store {str(path)!r}: the study's objectives must be a list of "
            f"{list(OBJECTIVE_METRICS)}, not {names!r}"
        )
    return study, points


def non_dominated(values: Sequence[Sequence[float]]) -> list[int]:
    """Indices (ascending) of the rows no other row dominates (every column minimized; of equal
    rows the first is kept): the rule of ``codesign.explore.pareto.pareto_indices``."""
    rows = [tuple(float(v) for v in r) for r in values]
    keep = []
    for i, a in enumerate(rows):
        dominated = any(
            (b == a and j < i) or (b != a and all(x <= y for x, y in zip(b, a, strict=True)))
            for j, b in enumerate(rows)
            if j != i
        )
        if not dominated:
            keep.append(i)
    return keep


def _feasible(points: list[dict], constraints: dict) -> list[dict]:
    limits = (
        ("max_area_mm2", "area_mm2", lambda v, lim: v <= lim),
        ("max_latency_s", "latency_s", lambda v, lim: v <= lim),
        ("min_accuracy", "accuracy", lambda v, lim: v >= lim),
    )
    out = []
    for p in points:
        ok = True
        for key, metric, test in limits:
            lim = constraints.get(key)
            if lim is not None:
                v = p["metrics"].get(metric)
                ok = ok and v is not None and test(float(v), float(lim))
        if ok:
            out.append(p)
    return out


def read_verify(path: str | Path) -> dict:
    """A ``verify.json`` of ``codesign verify``: a network's (``layers`` with predicted and
    measured cycles, and totals) or one run's (``cycles_predicted``, ``cycles_measured``)."""
    path = Path(path)
    data = _read_json(path, "verification")
    layered = isinstance(data, dict) and isinstance(data.get("layers"), list)
    keys = ("cycles_predicted_total", "cycles_measured_total") if layered else (
        "cycles_predicted", "cycles_measured"
    )  # fmt: skip
    if not isinstance(data, dict) or any(not isinstance(data.get(k), (int, float)) for k in keys):
        raise SpecError(
            f"verification {str(path)!r} has no predicted and measured cycles (keys {list(keys)})"
        )
    for i, lay in enumerate(data.get("layers", [])):
        if not isinstance(lay, dict) or not all(
            isinstance(lay.get(k), (int, float)) for k in ("cycles_predicted", "cycles_measured")
        ):
            raise SpecError(f"verification {str(path)!r}: layers[{i}] has no predicted cycles")
    return data


def read_study(
    source: str | Path, *, store: str | Path | None = None, verify: Sequence[str | Path] = ()
) -> Study:
    """Read a study folder (its store is ``store`` or ``source/study.db``) or a store file."""
    source = Path(source)
    if not source.exists():
        raise SpecError(f"study {str(source)!r} does not exist")
    checks = tuple((str(p), read_verify(p)) for p in verify)
    if source.is_file():
        study, points = _read_store(source)
        objectives = tuple((n, *OBJECTIVE_METRICS[n]) for n in study["objectives"])
        constraints = (study.get("space") or {}).get("constraints") or {}
        feasible = [
            p for p in _feasible(points, constraints)
            if all(m in p["metrics"] for _, m, _ in objectives)
        ]  # fmt: skip
        values = [
            [p["metrics"][m] if lo else -p["metrics"][m] for _, m, lo in objectives]
            for p in feasible
        ]
        target = (study.get("space") or {}).get("target", "model")
        build = "accelerator" if target == "accelerator" else "model only"
        front = tuple({**feasible[i], "build": build} for i in non_dominated(values))
        return Study(
            source=source,
            model=str(study.get("model", "")),
            objectives=objectives,
            points=tuple(points),
            front=front,
            verify=checks,
        )
    pareto_path = source / "pareto.json"
    if not pareto_path.is_file():
        raise SpecError(
            f"study folder {str(source)!r} has no pareto.json: it is not the --out of "
            "`codesign explore`"
        )
    front = _read_json(pareto_path, "Pareto front")
    if not isinstance(front, list) or not front:
        raise SpecError(f"Pareto front {str(pareto_path)!r} must be a non-empty JSON list")
    front = [_point(r, pareto_path, i) for i, r in enumerate(front)]
    store_path = Path(store) if store is not None else source / "study.db"
    if store is None and not store_path.is_file():
        raise SpecError(
            f"study folder {str(source)!r} has no study.db: give the store with --store"
        )
    study, points = _read_store(store_path)
    best_path = source / "best.json"
    best = _read_json(best_path, "design point")
    if not isinstance(best, dict) or not isinstance(best.get("params"), dict):
        raise SpecError(f"design point {str(best_path)!r} has no params")
    knee = next((i for i, r in enumerate(front) if r["params"] == best["params"]), None)
    if knee is None:
        raise SpecError(f"design point {str(best_path)!r} is not a point of {str(pareto_path)!r}")
    layers_path = source / "pareto_layers.json"
    breakdowns: tuple[dict, ...] = ()
    if layers_path.is_file():
        data = _read_json(layers_path, "breakdowns")
        entries = data.get("points") if isinstance(data, dict) else None
        if (
            not isinstance(entries, list)
            or len(entries) != len(front)
            or any(
                not isinstance(e, dict) or e.get("params") != r["params"]
                for e, r in zip(entries, front, strict=False)
            )
        ):
            raise SpecError(
                f"breakdowns {str(layers_path)!r} must list the points of {str(pareto_path)!r} "
                "in its order"
            )
        breakdowns = tuple(entries)
    return Study(
        source=source,
        model=str(study.get("model", "")),
        objectives=tuple((n, *OBJECTIVE_METRICS[n]) for n in study["objectives"]),
        points=tuple(points),
        front=tuple(front),
        knee=knee,
        breakdowns=breakdowns,
        best=best,
        verify=checks,
    )
