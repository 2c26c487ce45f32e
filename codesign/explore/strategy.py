"""Search strategies behind one ask/tell protocol.

A strategy proposes points of a `DesignSpace` (``ask``) and learns their objective values
(``tell``); every objective is *minimized* (the explorer negates objectives to maximize).
Strategies are seeded: for a given seed and the same sequence of ``tell`` calls, ``ask`` returns
the same points, which is what makes ``--resume`` reproduce an interrupted run.

Implementations: `RandomStrategy` (uniform, without replacement), `GridStrategy` (row-major
enumeration), and `OptunaStrategy` wrapping optuna's NSGA-II and TPE samplers (not
re-implemented here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from codesign.errors import SpecError
from codesign.explore.space import DesignSpace

__all__ = [
    "STRATEGIES",
    "Trial",
    "Strategy",
    "RandomStrategy",
    "GridStrategy",
    "OptunaStrategy",
    "make_strategy",
    "param_key",
]


def param_key(params: dict[str, object]) -> tuple:
    """Hashable identity of a point (sorted ``(name, value)`` pairs)."""
    return tuple(sorted(params.items()))


@dataclass(frozen=True, kw_only=True, slots=True)
class Trial:
    """One proposal of a strategy.

    Parameters
    ----------
    number : int
        Sequence number of the proposal within the strategy, from 0.
    params : dict
        The point, ``{axis name: value}``.
    """

    number: int
    params: dict[str, object] = field(hash=False)


@runtime_checkable
class Strategy(Protocol):
    """Ask/tell search over a finite design space (all objectives minimized)."""

    def ask(self) -> Trial | None:
        """The next point to evaluate, or ``None`` when the strategy has nothing left."""
        ...

    def tell(self, trial: Trial, values: Sequence[float] | None, *, violation: float = 0.0) -> None:
        """Report a trial's objective values (``None``: evaluation failed) and its total
        constraint violation (``0`` when feasible)."""
        ...


def _check_seed(seed: object) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, not {seed!r}")
    return seed


class RandomStrategy:
    """Uniform random points, never the same point twice; exhausted after ``space.size``.

    Parameters
    ----------
    space : DesignSpace
        The (expanded) space.
    seed : int
        Seed of the numpy generator.
    """

    def __init__(self, space: DesignSpace, *, seed: int = 0) -> None:
        self._space = space
        self._rng = np.random.default_rng(_check_seed(seed))
        self._seen: set[tuple] = set()
        self._number = 0

    def ask(self) -> Trial | None:
        if len(self._seen) >= self._space.size:
            return None
        while True:
            params = {
                a.name: a.values[int(self._rng.integers(len(a.values)))] for a in self._space.axes
            }
            key = param_key(params)
            if key not in self._seen:
                break
        self._seen.add(key)
        trial = Trial(number=self._number, params=params)
        self._number += 1
        return trial

    def tell(self, trial: Trial, values: Sequence[float] | None, *, violation: float = 0.0) -> None:
        """Random search ignores results."""


class GridStrategy:
    """Every point of the space in row-major order (the last axis varies fastest).

    Parameters
    ----------
    space : DesignSpace
        The (expanded) space.
    seed : int
        Unused (the grid is deterministic); accepted so that every strategy has one signature.
    """

    def __init__(self, space: DesignSpace, *, seed: int = 0) -> None:
        _check_seed(seed)
        self._space = space
        self._number = 0

    def ask(self) -> Trial | None:
        if self._number >= self._space.size:
            return None
        trial = Trial(number=self._number, params=self._space.point(self._number))
        self._number += 1
        return trial

    def tell(self, trial: Trial, values: Sequence[float] | None, *, violation: float = 0.0) -> None:
        """Grid search ignores results."""


class OptunaStrategy:
    """An optuna sampler (NSGA-II or TPE) driven through optuna's ask/tell interface.

    Every axis is a categorical distribution. Constraint violations reach the sampler through
    ``Trial.set_constraint`` (feasible points dominate infeasible ones).

    Parameters
    ----------
    space : DesignSpace
        The (expanded) space.
    n_objectives : int
        Number of objectives (all minimized).
    sampler : str
        ``"nsga2"`` or ``"tpe"``.
    seed : int
        Sampler seed.
    population_size : int
        NSGA-II population (ignored by TPE).
    """

    def __init__(
        self,
        space: DesignSpace,
        *,
        n_objectives: int,
        sampler: str = "nsga2",
        seed: int = 0,
        population_size: int = 50,
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seed = _check_seed(seed)
        if not isinstance(n_objectives, int) or n_objectives < 1:
            raise SpecError(f"n_objectives must be a positive integer, not {n_objectives!r}")

        if sampler == "nsga2":
            if not isinstance(population_size, int) or population_size < 2:
                raise SpecError(f"population_size must be an integer >= 2, not {population_size!r}")
            s = optuna.samplers.NSGAIISampler(population_size=population_size, seed=seed)
        elif sampler == "tpe":
            s = optuna.samplers.TPESampler(seed=seed, multivariate=True)
        else:
            raise SpecError(f"sampler must be 'nsga2' or 'tpe', not {sampler!r}")
        self._space = space
        self._study = optuna.create_study(directions=["minimize"] * n_objectives, sampler=s)
        self._dists = {
            a.name: optuna.distributions.CategoricalDistribution(a.values) for a in space.axes
        }
        self._open: dict[int, object] = {}
        self._n_objectives = n_objectives

    def ask(self) -> Trial | None:
        t = self._study.ask(self._dists)
        self._open[t.number] = t
        return Trial(number=t.number, params={n: t.params[n] for n in self._space.names})

    def tell(self, trial: Trial, values: Sequence[float] | None, *, violation: float = 0.0) -> None:
        import optuna

        t = self._open.get(trial.number)
        if t is None:
            raise SpecError(f"trial {trial.number} was not asked or was already told")
        if values is not None:
            values = [float(v) for v in values]
            if len(values) != self._n_objectives:
                raise SpecError(
                    f"tell: expected {self._n_objectives} objective values, got {len(values)}"
                )
        del self._open[trial.number]
        if values is None:
            self._study.tell(t, state=optuna.trial.TrialState.FAIL)
            return
        t.set_constraint("violation", float(violation))
        self._study.tell(t, values)


STRATEGIES: tuple[str, ...] = ("random", "grid", "nsga2", "tpe")
"""Strategy names accepted by `make_strategy` and ``codesign explore --strategy``."""


def make_strategy(
    name: str, space: DesignSpace, *, n_objectives: int, seed: int = 0, population_size: int = 50
) -> Strategy:
    """The strategy called ``name`` (one of `STRATEGIES`) over ``space``."""
    if name == "random":
        return RandomStrategy(space, seed=seed)
    if name == "grid":
        return GridStrategy(space, seed=seed)
    if name in ("nsga2", "tpe"):
        return OptunaStrategy(
            space,
            n_objectives=n_objectives,
            sampler=name,
            seed=seed,
            population_size=population_size,
        )
    raise SpecError(f"strategy must be one of {list(STRATEGIES)}, not {name!r}")
