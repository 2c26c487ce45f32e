"""Result stores: every evaluated design point with its parameters and metrics.

`SQLiteStore` is the default (one file per study). A point is committed as soon as its result
arrives, so a killed run loses only the points in flight; reopening the file with the same study
configuration lets the explorer skip every point already evaluated. A file that is not a codesign
store, or belongs to another study, is an error and is never overwritten.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from codesign.errors import SpecError

__all__ = ["Record", "ResultStore", "MemoryStore", "SQLiteStore", "open_store"]

_SCHEMA_VERSION = "1"


def _key(params: dict[str, object]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, kw_only=True, slots=True)
class Record:
    """One evaluated design point.

    Parameters
    ----------
    params : dict
        The point, ``{axis name: value}``.
    metrics : dict of str to float
        Everything measured (``latency_s``, ``energy_pj``, ``area_mm2``, ...); empty on error.
    error : str or None
        Why the evaluation failed (no valid mapping, ...), or ``None``.
    eval_s : float
        Wall time of the evaluation in seconds.
    """

    params: dict[str, object] = field(hash=False)
    metrics: dict[str, float] = field(hash=False, default_factory=dict)
    error: str | None = None
    eval_s: float = 0.0

    @property
    def key(self) -> str:
        """Canonical JSON of ``params``: the identity of the point in a store."""
        return _key(self.params)

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class ResultStore(Protocol):
    """Where evaluated points go; at most one record per point."""

    def get(self, params: dict[str, object]) -> Record | None:
        """The record of ``params``, or ``None`` if not evaluated yet."""
        ...

    def put(self, record: Record) -> None:
        """Save a record (durably, before returning); a point already stored is an error."""
        ...

    def records(self) -> list[Record]:
        """Every record, in insertion order."""
        ...

    def bind(self, study: dict) -> None:
        """Tie the store to a study configuration (JSON-able); a store bound to a different
        configuration is a SpecError."""
        ...

    def close(self) -> None: ...


class MemoryStore:
    """An in-memory store (tests, throw-away runs)."""

    def __init__(self) -> None:
        self._records: dict[str, Record] = {}
        self._study: dict | None = None

    def get(self, params: dict[str, object]) -> Record | None:
        return self._records.get(_key(params))

    def put(self, record: Record) -> None:
        if record.key in self._records:
            raise SpecError(f"store: point {record.key} is already stored")
        self._records[record.key] = record

    def records(self) -> list[Record]:
        return list(self._records.values())

    def bind(self, study: dict) -> None:
        if self._study is not None and self._study != study:
            raise SpecError("store: already bound to a different study configuration")
        if self._study is None and self._records:
            raise SpecError(f"store: holds {len(self)} points of no study; bind before putting")
        self._study = study

    def __len__(self) -> int:
        return len(self._records)

    def close(self) -> None:
        """Nothing to release."""


class SQLiteStore:
    """One SQLite file per study.

    Parameters
    ----------
    path : str or Path
        The database file; created if missing (with its parent folder).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise SpecError(f"store {str(self.path)!r} exists and is not a file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpecError(
                f"store {str(self.path)!r}: its folder cannot be created: {exc.strerror}"
            ) from None
        is_new = not self.path.exists() or self.path.stat().st_size == 0
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            if is_new:
                self._db.executescript(
                    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                    "CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                    "key TEXT UNIQUE NOT NULL, params TEXT NOT NULL, metrics TEXT NOT NULL, "
                    "error TEXT, eval_s REAL NOT NULL);"
                )
                self._db.execute(
                    "INSERT INTO meta VALUES ('schema', ?), ('kind', 'codesign-explore')",
                    (_SCHEMA_VERSION,),
                )
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            self._db.execute("SELECT count(*) FROM points").fetchone()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise SpecError(
                f"store {str(self.path)!r} is not a codesign result store ({exc}); it was left "
                "untouched: move it away or choose another --store path"
            ) from None
        if meta.get("kind") != "codesign-explore" or meta.get("schema") != _SCHEMA_VERSION:
            self._close_quietly()
            raise SpecError(
                f"store {str(self.path)!r} is not a codesign result store of schema "
                f"{_SCHEMA_VERSION} (meta {meta}); it was left untouched"
            )
        try:  # a store that cannot be written fails here, before anything is evaluated
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            self._close_quietly()
            raise SpecError(
                f"store {str(self.path)!r} cannot be written ({exc}); it was left untouched: "
                "check its permissions or choose another --store path"
            ) from None

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None

    def bind(self, study: dict) -> None:
        text = json.dumps(study, sort_keys=True)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'study'").fetchone()
        if row is None:
            n = len(self)
            if n:
                raise SpecError(
                    f"store {str(self.path)!r} holds {n} points but no study configuration (its "
                    "study row was deleted?); it is not adopted: choose another --store path"
                )
            self._db.execute("INSERT INTO meta VALUES ('study', ?)", (text,))
        elif row[0] != text:
            try:
                old, new = dict(json.loads(row[0])), study
            except (TypeError, ValueError):
                raise SpecError(
                    f"store {str(self.path)!r} has a corrupt study configuration; it was left "
                    "untouched: choose another --store path"
                ) from None
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise SpecError(
                f"store {str(self.path)!r} holds a different study (differs in {diff}); resume "
                "with the same settings or choose another --store path"
            )
        self.records()  # a corrupt point fails now, before anything is evaluated

    def study(self) -> dict | None:
        """The study configuration bound to this store, if any."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'study'").fetchone()
        return None if row is None else json.loads(row[0])

    def get(self, params: dict[str, object]) -> Record | None:
        row = self._db.execute(
            "SELECT params, metrics, error, eval_s FROM points WHERE key = ?", (_key(params),)
        ).fetchone()
        return None if row is None else self._record(row)

    def _record(self, row: tuple) -> Record:
        try:
            params, metrics = json.loads(row[0]), json.loads(row[1])
            if not isinstance(params, dict) or not isinstance(metrics, dict):
                raise ValueError("params and metrics must be JSON objects")
            return Record(params=params, metrics=metrics, error=row[2], eval_s=float(row[3]))
        except (TypeError, ValueError) as exc:
            raise SpecError(
                f"store {str(self.path)!r} has a corrupt point ({' '.join(str(exc).split())}); it "
                "was left untouched: choose another --store path"
            ) from None

    def put(self, record: Record) -> None:
        try:
            self._db.execute(
                "INSERT INTO points (key, params, metrics, error, eval_s) VALUES (?, ?, ?, ?, ?)",
                (
                    record.key,
                    json.dumps(record.params),
                    json.dumps(record.metrics),
                    record.error,
                    float(record.eval_s),
                ),
            )
        except sqlite3.IntegrityError:
            raise SpecError(f"store: point {record.key} is already stored") from None

    def records(self) -> list[Record]:
        rows = self._db.execute(
            "SELECT params, metrics, error, eval_s FROM points ORDER BY id"
        ).fetchall()
        return [self._record(r) for r in rows]

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM points").fetchone()[0]

    def close(self) -> None:
        self._close_quietly()


def open_store(path: str | Path | None, *, resume: bool) -> MemoryStore | SQLiteStore:
    """The store for ``codesign explore --store PATH [--resume]``: an existing non-empty store
    without ``--resume`` is an error (never overwritten); ``None`` is an in-memory store."""
    if path is None:
        return MemoryStore()
    path = Path(path)
    if resume and not path.exists():
        raise SpecError(f"--resume: store {str(path)!r} does not exist")
    if not resume and path.exists() and path.stat().st_size > 0:
        raise SpecError(
            f"store {str(path)!r} already exists; pass --resume to continue it or choose "
            "another --store path"
        )
    return SQLiteStore(path)
