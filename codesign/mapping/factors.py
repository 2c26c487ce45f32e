"""Ordered factorizations of a loop dimension over the loop slots of a mapping: the one
implementation the random mapper (`codesign.mapping.sampling`) and the mapspace
(`codesign.explore.mapspace`) share.

A size is factored into primes once (trial division: at most 46,341 steps for a dimension of
`codesign.validation.MAX_DIM_SIZE`), the number of factorizations is computed before any is
built, and more than `codesign.validation.MAX_FACTORIZATIONS` is a `MappingError`, so a huge or
highly composite dimension is refused at once instead of exhausting memory.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import numpy as np

from codesign.errors import MappingError
from codesign.validation import MAX_DIM_SIZE, MAX_FACTORIZATIONS

__all__ = ["prime_factors", "factorization_count", "factorizations"]


@functools.lru_cache(maxsize=4096)
def _prime_factors(n: int) -> tuple[tuple[int, int], ...]:
    out: dict[int, int] = {}
    p = 2
    while p * p <= n:
        while n % p == 0:
            out[p] = out.get(p, 0) + 1
            n //= p
        p += 1 if p == 2 else 2
    if n > 1:
        out[n] = out.get(n, 0) + 1
    return tuple(out.items())


def prime_factors(n: int) -> dict[int, int]:
    """``{prime: exponent}`` of an integer in ``[1, MAX_DIM_SIZE]``."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_DIM_SIZE:
        raise MappingError(f"a dimension must be an integer from 1 to {MAX_DIM_SIZE:,}, not {n!r}")
    return dict(_prime_factors(n))


def factorization_count(n: int, slots: int) -> int:
    """How many ordered ways ``n`` is a product of ``slots`` positive factors."""
    return math.prod(math.comb(e + slots - 1, slots - 1) for e in prime_factors(n).values())


def _compositions(e: int, k: int) -> np.ndarray:
    """``(C(e + k - 1, k - 1), k)``: every ordered way to write ``e`` as ``k`` non-negative
    parts (stars and bars)."""
    bars = np.array(list(itertools.combinations(range(e + k - 1), k - 1)), dtype=np.int64)
    bars = bars.reshape(-1, k - 1)
    edges = np.hstack([np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), e + k - 1)])
    return np.diff(edges, axis=1) - 1


@functools.lru_cache(maxsize=4096)
def _factorizations(n: int, allowed: tuple[bool, ...], what: str) -> np.ndarray:
    free = [i for i, a in enumerate(allowed) if a]
    if not free:
        raise MappingError(f"{what}: no loop slot may hold a factor of its size {n}")
    count = factorization_count(n, len(free))
    if count > MAX_FACTORIZATIONS:
        raise MappingError(
            f"{what}: size {n:,} has {count:,} ordered factorizations over {len(free)} loop "
            f"slots, more than the {MAX_FACTORIZATIONS:,} a mapper enumerates; use a size with "
            f"fewer prime factors or an architecture with fewer levels"
        )
    table = np.ones((1, len(free)), dtype=np.int64)
    for p, e in prime_factors(n).items():
        powers = np.int64(p) ** _compositions(e, len(free))
        table = (table[:, None, :] * powers[None, :, :]).reshape(-1, len(free))
    table = table[np.lexsort(table.T[::-1])]  # lexicographic, first slot slowest
    out = np.ones((len(table), len(allowed)), dtype=np.int64)
    out[:, free] = table
    out.flags.writeable = False
    return out


def factorizations(n: int, allowed: Sequence[bool], *, what: str = "dimension") -> np.ndarray:
    """Every ordered factorization of ``n`` over the slots where ``allowed`` is true (factor
    1 elsewhere): ``(count, len(allowed))`` int64 rows whose product is ``n``, in lexicographic
    order. ``what`` names the dimension in errors.

    Raises
    ------
    MappingError
        If no slot is allowed, ``n`` is not in ``[1, MAX_DIM_SIZE]`` or it has more than
        `MAX_FACTORIZATIONS` factorizations.
    """
    return _factorizations(n, tuple(bool(a) for a in allowed), what).copy()
