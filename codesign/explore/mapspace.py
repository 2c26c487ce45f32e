"""The mapspace of one loop nest on one architecture, as numpy arrays.

A mapping is chosen per dim and per level. The mapspace is built in three pruned parts:

*Tilings.* For every dim, the ordered factorizations of its size over the *slots*
(temporal loops of each memory level, innermost first, then array rows and columns) that the
dataflow template allows: a dim whose reuse class the template does not allow across rows
(columns) gets factor 1 there, a dim of the stationary tensor gets factor 1 at the per-PE
levels, and no spatial factor exceeds the array side. A dim larger than an array side it may be
unrolled on also gets *padded* options: the size rounded up to a multiple of the side, with the
full side used (the padded MACs are executed and reported as waste by the cost model). A tiling
is one option per dim; tilings whose spatial fan-out exceeds the array or whose tiles overflow a
level's capacity (dense bits of the tensors the level keeps) are pruned before evaluation.

*Loop orders.* Within a level only the relative order of loops with a factor above 1 matters,
and loops of dims with the same reuse class (the same set of tensors indexed: ``P`` and ``Q``,
or ``C``, ``R`` and ``S``) are interchangeable for reuse. An order is therefore a permutation of
the reuse classes per level (outermost first; dims of a class in canonical order), and of the
permutations that differ only in the place of classes without loops at that level one canonical
representative is kept. The cost model counts the fills of a tile down to the innermost loop
above it that indexes the tensor; when every class indexes at least two of the three tensors
(convolutions, GEMMs) each tensor has one class that does not index it, so only the *innermost*
active class of each level changes any count, and one order per active class is kept.

*Bypass* is not searched: every level keeps the tensors it may hold.

Sizes: ``raw_size`` counts tilings x orders before capacity pruning and order deduplication;
``count_tilings`` enumerates the tilings that survive pruning.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from codesign.errors import SpecError
from codesign.mapping.dataflow import ROLE_ORDER, TEMPLATES, dim_roles
from codesign.mapping.factors import factorizations, prime_factors
from codesign.mapping.mapping import MappingBatch
from codesign.workload.loopnest import LoopNest

__all__ = ["Mapspace", "build_mapspace", "factorizations", "prime_factors"]


def _axis_extent(terms: list[tuple[int, int]], sizes: np.ndarray) -> np.ndarray:
    """Vectorized ``codesign.workload.axis_extent`` over rows of ``sizes`` ``(M, D)``."""
    if len(terms) == 1:
        return sizes[:, terms[0][0]]
    if len(terms) == 2:
        (i, a), (j, b) = terms
        g = math.gcd(a, b)
        a, b = a // g, b // g
        ti, tj = sizes[:, i], sizes[:, j]
        return ti * tj - np.maximum(0, ti - b) * np.maximum(0, tj - a)
    return sum(c * (sizes[:, d] - 1) for d, c in terms) + 1


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Mapspace:
    """Pruned mapspace of ``nest`` on ``arch`` (see the module docstring).

    Parameters
    ----------
    nest : LoopNest
        The layer.
    arch : Architecture
        The architecture (its dataflow template constrains the space).
    options : tuple of ndarray
        Per dim, the ``(F_d, L + 2)`` candidate factor vectors (slots: levels innermost first,
        then rows, then cols).
    dim_class : ndarray
        ``(D,)`` reuse-class index of each dim.
    perms : ndarray
        ``(P, C)`` the class permutations searched (outermost first).
    innermost_only : bool
        Whether only the innermost active class of a level matters (see `build_mapspace`).
    """

    nest: LoopNest
    arch: object
    options: tuple[np.ndarray, ...]
    dim_class: np.ndarray
    perms: np.ndarray
    innermost_only: bool = False
    _tensor_axes: tuple = field(default=())
    _capacity: tuple = field(default=())

    @property
    def num_levels(self) -> int:
        return len(self.arch.levels)

    @property
    def num_tilings_raw(self) -> int:
        """Tilings before fan-out and capacity pruning (product of the per-dim options)."""
        return math.prod(len(o) for o in self.options)

    @property
    def raw_size(self) -> int:
        """Tilings x loop orders before any pruning across dims (an upper bound)."""
        return self.num_tilings_raw * len(self.perms) ** self.num_levels

    # --- tilings ------------------------------------------------------------------------
    def factors(self, idx: np.ndarray) -> np.ndarray:
        """``(M, L + 2, D)`` factors of the tilings ``idx`` ``(M, D)`` (option per dim)."""
        idx = np.asarray(idx, dtype=np.int64)
        cols = [self.options[d][idx[:, d]] for d in range(len(self.options))]
        return np.stack(cols, axis=2)

    def valid(self, factors: np.ndarray) -> np.ndarray:
        """``(M,)`` whether each tiling fits the array (fan-out) and every level's capacity."""
        n_lv = self.num_levels
        ok = factors[:, n_lv].prod(axis=1) <= self.arch.compute.dense_rows
        ok &= factors[:, n_lv + 1].prod(axis=1) <= self.arch.compute.cols
        return ok & self._fits(factors)

    def _fits(self, factors: np.ndarray) -> np.ndarray:
        n_lv = self.num_levels
        n_pe = self.arch.num_per_pe_levels
        ok = np.ones(len(factors), dtype=bool)
        tile = np.ones((len(factors), factors.shape[2]), dtype=np.int64)
        spatial = factors[:, n_lv] * factors[:, n_lv + 1]
        for li in range(n_lv):
            tile = tile * factors[:, li]
            if li == n_pe:
                tile = tile * spatial
            cap, kept = self._capacity[li]
            if cap is None or not kept:
                continue
            bits = np.zeros(len(factors), dtype=np.int64)
            for ti in kept:
                axes, tbits = self._tensor_axes[ti]
                elems = np.ones(len(factors), dtype=np.int64)
                for terms in axes:
                    elems = elems * _axis_extent(terms, tile)
                bits += elems * tbits
            ok &= bits <= cap
        return ok

    def enumerate_tilings(self, limit: int) -> np.ndarray:
        """Every valid tiling ``(M, D)`` (option indices), pruning partial tilings dim by dim
        (tile sizes only grow as dims are added). More than ``limit`` survivors at any step is a
        SpecError: the space is too large to enumerate."""
        n_d = len(self.options)
        idx = np.zeros((1, 0), dtype=np.int64)
        for d in range(n_d):
            k = len(self.options[d])
            step = max(1, 100_000 // k)
            kept, total = [], 0
            for s in range(0, len(idx), step):
                part = idx[s : s + step]
                cand = np.concatenate(
                    [np.repeat(part, k, axis=0), np.tile(np.arange(k), len(part))[:, None]],
                    axis=1,
                )
                full = np.zeros((len(cand), n_d), dtype=np.int64)
                full[:, : d + 1] = cand
                f = self.factors(full)
                f[:, :, d + 1 :] = 1  # dims not chosen yet: factor 1 everywhere
                cand = cand[self.valid(f)]
                kept.append(cand)
                total += len(cand)
                if total > limit:
                    raise SpecError(
                        f"layer {self.nest.name!r}: the mapspace has more than {limit} valid "
                        "tilings; too large to enumerate"
                    )
            idx = np.concatenate(kept) if kept else np.zeros((0, d + 1), dtype=np.int64)
        return idx

    def random_tilings(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` tilings drawn uniformly from the per-dim options (not yet pruned)."""
        return np.stack([rng.integers(len(o), size=n) for o in self.options], axis=1)

    # --- loop orders ----------------------------------------------------------------------
    def canonical_perms(self, factors: np.ndarray) -> np.ndarray:
        """``(M, L, P)`` whether permutation ``p`` is the canonical representative of its
        equivalence class at level ``l`` for each tiling."""
        n_lv = self.num_levels
        n_c = self.perms.shape[1]
        active = np.zeros((len(factors), n_lv, n_c), dtype=bool)
        for c in range(n_c):
            dims = self.dim_class == c
            active[:, :, c] = (factors[:, :n_lv][:, :, dims] > 1).any(axis=2)
        n_act = active.sum(axis=2)  # (M, L)
        if self.innermost_only:
            # perms[p, -1] is the innermost class; only an active one (or p = 0 if none is)
            inner = active[:, :, self.perms[:, -1]]  # (M, L, P)
            none = (n_act == 0)[:, :, None] & (np.arange(len(self.perms)) == 0)
            return inner | none
        act = active[:, :, self.perms]  # (M, L, P, C): activity of the class at position k
        pos = np.arange(n_c)
        first_ok = (act == (pos < n_act[:, :, None, None])).all(axis=3)
        # inactive tail in increasing class order
        tail_sorted = np.ones_like(first_ok)
        for k in range(n_c - 1):
            later = (pos[k] >= n_act)[:, :, None]
            tail_sorted &= ~later | (
                self.perms[None, None, :, k] < self.perms[None, None, :, k + 1]
            )
        return first_ok & tail_sorted

    def orders(self, perm_idx: np.ndarray) -> np.ndarray:
        """``(M, L, D)`` dim orders (outermost first) of class permutations ``(M, L)``."""
        perms = self.perms[perm_idx]  # (M, L, C)
        rank = np.argsort(perms, axis=2)  # position of class c in the permutation
        n_d = len(self.dim_class)
        key = rank[:, :, self.dim_class] * n_d + np.arange(n_d)  # (M, L, D)
        return np.argsort(key, axis=2).astype(np.int64)

    def batch(self, factors: np.ndarray, perm_idx: np.ndarray) -> MappingBatch:
        """A `MappingBatch` of the given tilings and per-level class permutations."""
        keep = np.array(
            [[r in lv.holds for r in ROLE_ORDER] for lv in self.arch.levels], dtype=bool
        )
        return MappingBatch(
            dims=self.nest.dim_names,
            factors=np.ascontiguousarray(factors, dtype=np.int64),
            orders=self.orders(perm_idx),
            keep=np.broadcast_to(keep, (len(factors), *keep.shape)).copy(),
        )


def build_mapspace(nest: LoopNest, arch, *, pad: bool = True) -> Mapspace:
    """The pruned mapspace of ``nest`` on ``arch`` (see the module docstring)."""
    template = TEMPLATES[arch.compute.dataflow]
    roles = dim_roles(nest)
    n_lv = len(arch.levels)
    n_pe = arch.num_per_pe_levels
    rows, cols = arch.compute.dense_rows, arch.compute.cols
    stationary = nest.tensor(template.stationary).dims if template.stationary else frozenset()
    options = []
    for d, n in nest.dims:
        what = f"layer {nest.name!r}: dim {d}"
        allowed = np.ones(n_lv + 2, dtype=bool)
        if d in stationary:
            allowed[:n_pe] = False
        allowed[n_lv] = roles[d] in template.rows and rows > 1
        allowed[n_lv + 1] = roles[d] in template.cols and cols > 1
        opts = factorizations(n, allowed, what=what)
        opts = opts[(opts[:, n_lv] <= rows) & (opts[:, n_lv + 1] <= cols)]
        if pad:
            extra = []
            for slot, side in ((n_lv, rows), (n_lv + 1, cols)):
                if allowed[slot] and n > side and n % side:
                    rest = allowed.copy()
                    rest[n_lv] = rest[n_lv + 1] = False
                    padded = factorizations(-(-n // side), rest, what=what)
                    padded[:, slot] = side
                    extra.append(padded)
            opts = np.concatenate([opts, *extra]) if extra else opts
        options.append(opts)
    classes: list[frozenset] = []
    for d in nest.dim_names:
        if roles[d] not in classes:
            classes.append(roles[d])
    dim_class = np.array([classes.index(roles[d]) for d in nest.dim_names], dtype=np.int64)
    # Fills of a tile are counted down to the innermost loop above it that indexes the tensor,
    # so when every class leaves out at most one tensor only the innermost active class of a
    # level changes any count: one order per class (the others outside, in class order).
    innermost_only = all(len(c) >= 2 for c in classes)
    n_c = len(classes)
    if innermost_only:
        perms = np.array(
            [[k for k in range(n_c) if k != c] + [c] for c in range(n_c)], dtype=np.int64
        )
    else:
        perms = np.array(list(itertools.permutations(range(n_c))), dtype=np.int64)
    index = {d: i for i, d in enumerate(nest.dim_names)}
    tensor_axes = []
    for role in ROLE_ORDER:
        t = nest.tensor(role)
        tensor_axes.append((tuple([(index[d], c) for d, c in axis] for axis in t.axes), t.bits))
    capacity = []
    for lv in arch.levels:
        kept = [i for i, r in enumerate(ROLE_ORDER) if r in lv.holds]
        capacity.append((lv.size_bits, kept))
    return Mapspace(
        nest=nest,
        arch=arch,
        options=tuple(options),
        dim_class=dim_class,
        perms=perms,
        innermost_only=innermost_only,
        _tensor_axes=tuple(tensor_axes),
        _capacity=tuple(capacity),
    )
