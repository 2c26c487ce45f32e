"""Per-layer mappers behind one protocol: exhaustive, random sampling and local search.

Every mapper scores candidate mappings with the vectorized cost model
(``codesign.cost.evaluate``), many per numpy call, and returns a `MapperResult`: the best
mapping, its cost, the number of evaluations, the mapspace size and the optimality gap against
the cost model's lower bounds (compute-bound cycles, compulsory-traffic energy). Mappers are
budgeted by evaluations and wall time and deterministic for a given seed (the wall-time limit,
when it triggers, is the only source of run-to-run variation).

The objective per layer is ``latency`` (cycles), ``energy`` (pJ) or ``edp`` (pJ x cycles).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from codesign.cost import CostBatch, evaluate
from codesign.errors import MappingError, SpecError
from codesign.explore.mapspace import Mapspace, build_mapspace, prime_factors
from codesign.explore.space import _positive_int
from codesign.mapping.mapping import Mapping
from codesign.workload.loopnest import LoopNest

__all__ = [
    "MAPPER_OBJECTIVES",
    "MAPPERS",
    "MapperResult",
    "Mapper",
    "ExhaustiveMapper",
    "RandomMapper",
    "LocalSearchMapper",
    "make_mapper",
    "objective_values",
    "with_exhaustive_gap",
]

MAPPER_OBJECTIVES: tuple[str, ...] = ("latency", "energy", "edp")
"""Per-layer objectives a mapper minimizes."""

_CHUNK = 20000


def _check_objective(objective: object) -> str:
    if objective not in MAPPER_OBJECTIVES:
        raise SpecError(f"objective must be one of {list(MAPPER_OBJECTIVES)}, not {objective!r}")
    return str(objective)


def objective_values(cb: CostBatch, objective: str) -> np.ndarray:
    """``(B,)`` objective of each mapping of a cost batch; ``inf`` where a tile overflows."""
    v = {"latency": cb.cycles, "energy": cb.energy_pj, "edp": cb.edp}[objective]
    return np.where(cb.fits, v, np.inf)


def _bound(cb: CostBatch, objective: str) -> float:
    return {
        "latency": float(cb.min_cycles),
        "energy": cb.min_energy_pj,
        "edp": cb.min_cycles * cb.min_energy_pj,
    }[objective]


@dataclass(frozen=True, kw_only=True, slots=True)
class MapperResult:
    """The best mapping a mapper found for one layer.

    Parameters
    ----------
    layer : str
        Layer name.
    mapping : Mapping
        The best mapping.
    objective : str
        ``latency``, ``energy`` or ``edp``.
    value : float
        Its objective value (cycles, pJ or pJ x cycles).
    cycles, energy_pj : float
        Its latency and energy.
    lower_bound : float
        The cost model's lower bound of the objective (``min_cycles``, ``min_energy_pj`` or
        their product).
    evaluations : int
        Mappings scored by the cost model.
    wall_s : float
        Wall time of the search.
    mapspace_size : int
        Tilings x loop orders of the pruned mapspace before capacity pruning (an upper bound).
    exhaustive_value : float or None
        The exhaustive optimum of the objective, when it was computed (`with_exhaustive_gap`).
    """

    layer: str
    mapping: Mapping
    objective: str
    value: float
    cycles: float
    energy_pj: float
    lower_bound: float
    evaluations: int
    wall_s: float
    mapspace_size: int
    exhaustive_value: float | None = None

    @property
    def gap_to_bound(self) -> float:
        """``value / lower_bound - 1`` (0 means the bound is reached)."""
        return self.value / self.lower_bound - 1.0

    @property
    def gap_to_exhaustive(self) -> float | None:
        """``value / exhaustive_value - 1``, or ``None`` when the optimum is unknown."""
        return None if self.exhaustive_value is None else self.value / self.exhaustive_value - 1.0

    def gap_to(self, optimum: MapperResult) -> float:
        """``value / optimum.value - 1``: the gap to another (e.g. exhaustive) result."""
        if optimum.objective != self.objective:
            raise SpecError(
                f"cannot compare a {self.objective} result with a {optimum.objective} result"
            )
        return self.value / optimum.value - 1.0


@runtime_checkable
class Mapper(Protocol):
    """Finds a good mapping of one layer on one architecture."""

    objective: str

    def map(self, nest: LoopNest, arch) -> MapperResult:
        """The best mapping found within the mapper's budget; `MappingError` when no mapping
        fits the architecture."""
        ...


class _Search:
    """Book-keeping shared by the mappers: evaluate batches, track the best."""

    def __init__(self, nest: LoopNest, arch, objective: str, space: Mapspace | None = None):
        self.nest, self.arch, self.objective = nest, arch, objective
        self.space = space if space is not None else build_mapspace(nest, arch)
        self.t0 = time.perf_counter()
        self.evaluations = 0
        self.best_value = math.inf
        self.best: tuple[np.ndarray, np.ndarray] | None = None  # factors, perm indices
        self.best_cost: tuple[float, float] = (math.nan, math.nan)
        self.bound = math.nan

    def score(self, factors: np.ndarray, perms: np.ndarray) -> np.ndarray:
        """Objective values of a batch (rows must be valid tilings)."""
        if len(factors) == 0:
            return np.zeros(0)
        cb = evaluate(self.nest, self.arch, self.space.batch(factors, perms), validate=False)
        self.evaluations += len(factors)
        self.bound = _bound(cb, self.objective)
        v = objective_values(cb, self.objective)
        i = int(np.argmin(v))
        if v[i] < self.best_value:
            self.best_value = float(v[i])
            self.best = (factors[i].copy(), perms[i].copy())
            self.best_cost = (float(cb.cycles[i]), float(cb.energy_pj[i]))
        return v

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def result(self) -> MapperResult:
        if self.best is None:
            raise MappingError(
                f"layer {self.nest.name!r}: no mapping fits architecture {self.arch.name!r} "
                f"(every candidate overflows a level's capacity or the array)"
            )
        factors, perms = self.best
        batch = self.space.batch(factors[None], perms[None])
        return MapperResult(
            layer=self.nest.name,
            mapping=batch.mapping(0, self.arch),
            objective=self.objective,
            value=self.best_value,
            cycles=self.best_cost[0],
            energy_pj=self.best_cost[1],
            lower_bound=self.bound,
            evaluations=self.evaluations,
            wall_s=self.elapsed(),
            mapspace_size=self.space.raw_size,
        )


def _random_perms(space: Mapspace, factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random canonical loop order per level ``(M, L)``."""
    can = space.canonical_perms(factors)  # (M, L, P)
    scores = rng.random(can.shape) + can  # canonical ones score in [1, 2)
    return np.argmax(scores, axis=2)


def _sample_valid(
    space: Mapspace, rng: np.random.Generator, n: int, tries: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` random valid tilings with random canonical orders."""
    found = []
    total = 0
    for _ in range(tries):
        f = space.factors(space.random_tilings(rng, max(n, 64)))
        f = f[space.valid(f)]
        found.append(f)
        total += len(f)
        if total >= n:
            break
    f = np.concatenate(found)[:n]
    return f, _random_perms(space, f, rng)


class ExhaustiveMapper:
    """Scores every mapping of the pruned mapspace (every valid tiling with every canonical
    loop order); for small spaces and as the oracle of the other mappers.

    Parameters
    ----------
    objective : str
        ``latency``, ``energy`` or ``edp``.
    limit : int
        Largest number of mappings to enumerate; a larger space is a SpecError.
    """

    def __init__(self, *, objective: str = "edp", limit: int = 2_000_000) -> None:
        self.objective = _check_objective(objective)
        self.limit = _positive_int("limit", limit)

    def count(self, nest: LoopNest, arch) -> int:
        """Mappings in the pruned mapspace (valid tilings x canonical orders); SpecError when
        more than ``limit`` valid tilings exist."""
        space = build_mapspace(nest, arch)
        idx = space.enumerate_tilings(self.limit)
        total = 0
        for s in range(0, len(idx), _CHUNK):
            f = space.factors(idx[s : s + _CHUNK])
            total += int(space.canonical_perms(f).sum(axis=2).prod(axis=1).sum())
        return total

    def map(self, nest: LoopNest, arch) -> MapperResult:
        return self.map_space(build_mapspace(nest, arch))

    def map_space(self, space: Mapspace) -> MapperResult:
        """The optimum over a given (possibly differently pruned) mapspace."""
        nest = space.nest
        search = _Search(nest, space.arch, self.objective, space)
        idx = space.enumerate_tilings(self.limit)
        # expand every tiling by its canonical orders, chunk by chunk
        n_lv = space.num_levels
        counted = 0
        for s in range(0, len(idx), _CHUNK):
            f = space.factors(idx[s : s + _CHUNK])
            can = space.canonical_perms(f)  # (M, L, P)
            per_row = can.sum(axis=2).prod(axis=1)
            counted += int(per_row.sum())
            if counted > self.limit:
                raise SpecError(
                    f"layer {nest.name!r}: the mapspace has more than {self.limit} mappings; "
                    "too large to enumerate (use the random or local-search mapper)"
                )
            # group rows by their canonical-order pattern to expand them with one product each
            keys = np.packbits(can.reshape(len(f), -1), axis=1)
            _, inverse = np.unique(keys, axis=0, return_inverse=True)
            for g in range(int(inverse.max()) + 1):
                rows = np.flatnonzero(inverse == g)
                choices = [np.flatnonzero(can[rows[0], lv]) for lv in range(n_lv)]
                combos = np.array(np.meshgrid(*choices, indexing="ij")).reshape(n_lv, -1).T
                ff = np.repeat(f[rows], len(combos), axis=0)
                pp = np.tile(combos, (len(rows), 1))
                for t in range(0, len(ff), _CHUNK):
                    search.score(ff[t : t + _CHUNK], pp[t : t + _CHUNK])
        return search.result()


class _BudgetedMapper:
    """Objective, evaluation budget, seed and wall-time limit shared by the searching
    mappers."""

    def __init__(
        self, *, objective: str, budget: int, seed: int, time_limit_s: float | None
    ) -> None:
        self.objective = _check_objective(objective)
        self.budget = _positive_int("budget", budget)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise SpecError(f"seed must be a non-negative integer, not {seed!r}")
        self.seed = seed
        if time_limit_s is not None and not (
            isinstance(time_limit_s, (int, float)) and time_limit_s > 0
        ):
            raise SpecError(f"time_limit_s must be a positive number or None, not {time_limit_s!r}")
        self.time_limit_s = time_limit_s

    def _done(self, search: _Search) -> bool:
        """Budget spent or wall time over."""
        return search.evaluations >= self.budget or (
            self.time_limit_s is not None and search.elapsed() > self.time_limit_s
        )


class RandomMapper(_BudgetedMapper):
    """Uniform random valid tilings with random canonical loop orders.

    Parameters
    ----------
    objective : str
        ``latency``, ``energy`` or ``edp``.
    budget : int
        Mappings to evaluate.
    seed : int
        Seed of the sampler.
    time_limit_s : float or None
        Stop after this much wall time (checked between batches).
    batch_size : int
        Mappings per cost-model call.
    """

    def __init__(
        self,
        *,
        objective: str = "edp",
        budget: int = 2000,
        seed: int = 0,
        time_limit_s: float | None = None,
        batch_size: int = 1000,
    ) -> None:
        super().__init__(objective=objective, budget=budget, seed=seed, time_limit_s=time_limit_s)
        self.batch_size = _positive_int("batch_size", batch_size)

    def map(self, nest: LoopNest, arch) -> MapperResult:
        search = _Search(nest, arch, self.objective)
        rng = np.random.default_rng(self.seed)
        while not self._done(search):
            n = min(self.batch_size, self.budget - search.evaluations)
            f, p = _sample_valid(search.space, rng, n)
            if len(f) == 0:
                break
            search.score(f, p)
        return search.result()


class LocalSearchMapper(_BudgetedMapper):
    """Random start, then steepest-descent local search with restarts.

    A quarter of the budget (at most ``init``) goes to random valid mappings; from the best
    ones, each step evaluates every neighbour of the current mapping in one cost-model call
    (move the smallest prime factor, or the whole factor, of one dim from one slot to another;
    or change one level's innermost loop class) and moves to the best if it improves. A local
    optimum restarts from the next-best unexplored start; when every start has been descended,
    the best mapping is kicked by two to four random moves and descended again (iterated local
    search) until the budget is spent.

    Parameters
    ----------
    objective : str
        ``latency``, ``energy`` or ``edp``.
    budget : int
        Mappings to evaluate (approximately: the last neighbourhood may overshoot by one
        neighbourhood).
    seed : int
        Seed of the random start.
    time_limit_s : float or None
        Stop after this much wall time (checked between steps).
    init : int
        Most random mappings to start from.
    """

    def __init__(
        self,
        *,
        objective: str = "edp",
        budget: int = 2000,
        seed: int = 0,
        time_limit_s: float | None = None,
        init: int = 500,
    ) -> None:
        super().__init__(objective=objective, budget=budget, seed=seed, time_limit_s=time_limit_s)
        self.init = _positive_int("init", init)

    def map(self, nest: LoopNest, arch) -> MapperResult:
        search = _Search(nest, arch, self.objective)
        space = search.space
        rng = np.random.default_rng(self.seed)
        f0, p0 = _sample_valid(space, rng, max(1, min(self.init, self.budget // 4)))
        if len(f0) == 0:
            return search.result()
        v0 = search.score(f0, p0)
        starts = [int(i) for i in np.argsort(v0, kind="stable") if np.isfinite(v0[i])]
        if not starts:
            return search.result()
        moves = _moves(space)
        visited: set[bytes] = set()

        def descend(f: np.ndarray, p: np.ndarray, v: float) -> None:
            """Steepest descent: score every unvisited neighbour, move to the best while it
            improves."""
            while not self._done(search):
                visited.add(_key(f, p))
                nf, np_ = _neighbours(space, moves, f, p)
                fresh = np.array([_key(a, b) not in visited for a, b in zip(nf, np_, strict=True)])
                nf, np_ = nf[fresh], np_[fresh]
                if len(nf) == 0:
                    return
                cv = search.score(nf, np_)
                i = int(np.argmin(cv))
                if not cv[i] < v:
                    visited.update(_key(a, b) for a, b in zip(nf, np_, strict=True))
                    return
                f, p, v = nf[i], np_[i], cv[i]

        for s in starts:
            if self._done(search):
                break
            if _key(f0[s], p0[s]) not in visited:
                descend(f0[s], p0[s], v0[s])
        # every start descended and budget left: kick the best mapping with a few random
        # moves and descend again (iterated local search)
        while not self._done(search):
            f, p = search.best
            for _ in range(int(rng.integers(2, 5))):
                nf, np_ = _neighbours(space, moves, f, p)
                if len(nf) == 0:
                    break
                k = int(rng.integers(len(nf)))
                f, p = nf[k], np_[k]
            descend(f, p, search.score(f[None], p[None])[0])
        return search.result()


def _key(f: np.ndarray, p: np.ndarray) -> bytes:
    return f.tobytes() + p.tobytes()


def _moves(space: Mapspace) -> np.ndarray:
    """``(K, 3)`` candidate factor moves ``(dim, from slot, to slot)`` allowed by the space."""
    allowed = np.stack([(o > 1).any(axis=0) for o in space.options], axis=1)  # (S, D)
    out = []
    for d in range(allowed.shape[1]):
        slots = np.flatnonzero(allowed[:, d])
        out += [(d, a, b) for a in slots for b in slots if a != b]
    return np.array(out, dtype=np.int64).reshape(-1, 3)


@functools.lru_cache(maxsize=65536)
def _smallest_prime(n: int) -> int:
    return min(prime_factors(n)) if n > 1 else 1


def _neighbours(
    space: Mapspace, moves: np.ndarray, f: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Valid neighbours of one mapping (factors ``(S, D)``, perms ``(L,)``)."""
    d, a, b = moves[:, 0], moves[:, 1], moves[:, 2]
    fa = f[a, d]
    live = fa > 1
    d, a, b, fa = d[live], a[live], b[live], fa[live]
    small = np.array([_smallest_prime(int(x)) for x in fa], dtype=np.int64)
    whole = small != fa  # moving the whole factor differs from moving its smallest prime
    d = np.concatenate([d, d[whole]])
    a = np.concatenate([a, a[whole]])
    b = np.concatenate([b, b[whole]])
    m = np.concatenate([small, fa[whole]])
    g = np.repeat(f[None], len(d), axis=0)
    rows = np.arange(len(d))
    g[rows, a, d] //= m
    g[rows, b, d] *= m
    cand_f, cand_p = [g], [np.repeat(p[None], len(d), axis=0)]
    can = space.canonical_perms(f[None])[0]  # (L, P)
    for lv in range(space.num_levels):
        for q in np.flatnonzero(can[lv]):
            if q != p[lv]:
                pp = p.copy()
                pp[lv] = q
                cand_f.append(f[None])
                cand_p.append(pp[None])
    nf, np_ = np.concatenate(cand_f), np.concatenate(cand_p)
    ok = space.valid(nf)
    nf, np_ = nf[ok], np_[ok]
    # a factor move can change which classes are active: re-canonicalize the orders
    can = space.canonical_perms(nf)
    m = np.arange(len(nf))[:, None]
    lv = np.arange(space.num_levels)[None, :]
    stale = ~can[m, lv, np_]
    if stale.any():
        first = np.argmax(can, axis=2)
        np_ = np.where(stale, first, np_)
    return nf, np_


def with_exhaustive_gap(
    result: MapperResult, nest: LoopNest, arch, *, limit: int = 2_000_000
) -> MapperResult:
    """``result`` carrying the exhaustive optimum of its layer when the pruned mapspace has at
    most ``limit`` mappings (otherwise unchanged, ``gap_to_exhaustive`` stays ``None``)."""
    try:
        best = ExhaustiveMapper(objective=result.objective, limit=limit).map(nest, arch)
    except SpecError:
        return result
    return dataclasses.replace(result, exhaustive_value=best.value)


MAPPERS: tuple[str, ...] = ("exhaustive", "random", "local")
"""Mapper names accepted by `make_mapper` and ``codesign explore --mapper``."""


def make_mapper(
    name: str,
    *,
    objective: str = "edp",
    budget: int = 2000,
    seed: int = 0,
    time_limit_s: float | None = None,
) -> Mapper:
    """The mapper called ``name`` (one of `MAPPERS`); ``budget`` is the enumeration limit of
    the exhaustive mapper."""
    if name == "exhaustive":
        return ExhaustiveMapper(objective=objective, limit=budget)
    if name == "random":
        return RandomMapper(
            objective=objective, budget=budget, seed=seed, time_limit_s=time_limit_s
        )
    if name == "local":
        return LocalSearchMapper(
            objective=objective, budget=budget, seed=seed, time_limit_s=time_limit_s
        )
    raise SpecError(f"mapper must be one of {list(MAPPERS)}, not {name!r}")
