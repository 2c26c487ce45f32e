"""Scoreboard: compares what a design produced with what the reference says, counting every
mismatch and keeping the first few with their indices."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from codesign.errors import SpecError

__all__ = ["Mismatch", "Scoreboard", "verify_json"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Mismatch:
    """One wrong value.

    Parameters
    ----------
    where : str
        What was compared (a tensor or a stream, e.g. ``"O"`` or ``"tile 3 o"``).
    index : tuple of int
        Position within it.
    expected : int
        The reference value.
    actual : int or None
        The design's value (None when the design produced nothing there).
    """

    where: str
    index: tuple[int, ...]
    expected: int
    actual: int | None

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "where": self.where,
            "index": list(self.index),
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass(kw_only=True, slots=True)
class Scoreboard:
    """Accumulates comparisons.

    Parameters
    ----------
    max_reported : int
        How many mismatches to keep in :attr:`mismatches` (all are counted).
    """

    max_reported: int = 10
    compared: int = 0
    mismatch_count: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when something was compared and nothing differed."""
        return self.compared > 0 and self.mismatch_count == 0

    def _record(self, m: Mismatch) -> None:
        self.mismatch_count += 1
        if len(self.mismatches) < self.max_reported:
            self.mismatches.append(m)

    def record_missing(self, where: str, *, received: int, expected: int) -> None:
        """Count one failed comparison: only ``received`` of the ``expected`` items arrived (a
        timeout or a short stream)."""
        self.compared += 1
        self._record(Mismatch(where=where, index=(received,), expected=expected, actual=None))

    def compare_items(self, where: str, expected: Iterable[int], actual: Iterable[int]) -> int:
        """Compare two sequences item by item (a missing or extra item is a mismatch); returns
        the number of mismatches found."""
        exp, act = list(expected), list(actual)
        before = self.mismatch_count
        for i in range(max(len(exp), len(act))):
            e = exp[i] if i < len(exp) else None
            a = act[i] if i < len(act) else None
            self.compared += 1
            if e != a:
                self._record(Mismatch(where=where, index=(i,), expected=e, actual=a))
        return self.mismatch_count - before

    def compare_arrays(self, where: str, expected: object, actual: object) -> int:
        """Compare two integer arrays element by element (torch tensors or numpy arrays of the
        same shape); returns the number of mismatches found.

        Raises
        ------
        SpecError
            If the shapes differ.
        """
        exp = np.asarray(expected, dtype=np.int64)
        act = np.asarray(actual, dtype=np.int64)
        if exp.shape != act.shape:
            raise SpecError(
                f"{where}: actual shape {tuple(act.shape)} differs from expected {tuple(exp.shape)}"
            )
        self.compared += exp.size
        bad = np.argwhere(exp != act)
        for idx in bad[: max(0, self.max_reported - len(self.mismatches))]:
            t = tuple(int(i) for i in idx)
            self.mismatches.append(
                Mismatch(where=where, index=t, expected=int(exp[t]), actual=int(act[t]))
            )
        self.mismatch_count += len(bad)
        return len(bad)


def verify_json(result: object, cycles: dict) -> dict:
    """The ``verify.json`` content shared by every verification result (arrays and the
    accelerator): what was run, the comparison, ``cycles`` (the result kind's cycle figures,
    in order) and the simulation facts. ``result`` has the attributes named below."""
    return {
        "what": result.what,
        "passed": result.passed,
        "compared": result.compared,
        "mismatches": {
            "count": result.mismatch_count,
            "first": [m.to_json() for m in result.mismatches],
        },
        **cycles,
        "stalled": result.stalled,
        "simulator": result.simulator,
        "simulator_version": result.simulator_version,
        "seconds": round(result.seconds, 3),
        "work_dir": result.work_dir,
        "waves": result.waves_path,
    }
