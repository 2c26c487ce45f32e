"""Uniform random sampling of valid mappings, vectorized (for tests, benchmarks and as a
baseline mapper).

Each dim's size is split into perfect factors over the temporal levels and the two spatial
slots, drawn uniformly from the ordered factorizations the dataflow template allows (a dim may
not be unrolled where the template forbids it, nor loop at a per-PE level if it indexes the
stationary tensor); rows whose spatial fan-out exceeds the array are redrawn. Loop orders are
uniform random permutations; every level keeps every tensor it may hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from codesign.errors import MappingError
from codesign.mapping.dataflow import ROLE_ORDER, TEMPLATES, dim_roles
from codesign.mapping.factors import factorizations
from codesign.mapping.mapping import MappingBatch
from codesign.workload.loopnest import LoopNest

if TYPE_CHECKING:
    from codesign.arch.spec import Architecture

__all__ = ["random_mappings", "factorizations"]


def random_mappings(
    nest: LoopNest, arch: Architecture, count: int, seed: int, *, max_rounds: int = 100
) -> MappingBatch:
    """``count`` valid random mappings of ``nest`` on ``arch`` (deterministic for ``seed``).

    Raises `MappingError` if the template leaves no valid mapping after ``max_rounds`` redraws.
    """
    rng = np.random.default_rng(seed)
    n_lv = len(arch.levels)
    dims = nest.dim_names
    template = TEMPLATES[arch.compute.dataflow]
    roles = dim_roles(nest)
    n_pe = arch.num_per_pe_levels
    stationary = nest.tensor(template.stationary).dims if template.stationary else frozenset()
    tables = []
    for d, size in nest.dims:
        allowed = tuple(
            [not (lv < n_pe and d in stationary) for lv in range(n_lv)]
            + [roles[d] in template.rows, roles[d] in template.cols]
        )
        tables.append(factorizations(size, allowed, what=f"layer {nest.name!r}: dim {d}"))
    factors = np.empty((count, n_lv + 2, len(dims)), dtype=np.int64)
    todo = np.arange(count)
    for _ in range(max_rounds):
        for di, table in enumerate(tables):
            pick = rng.integers(0, len(table), size=len(todo))
            factors[todo, :, di] = table[pick]
        fan_ok = (factors[todo, n_lv].prod(axis=1) <= arch.compute.dense_rows) & (
            factors[todo, n_lv + 1].prod(axis=1) <= arch.compute.cols
        )
        todo = todo[~fan_ok]
        if len(todo) == 0:
            break
    else:
        raise MappingError(
            f"random_mappings: no valid spatial unrolling found for layer {nest.name!r} on "
            f"{arch.name!r} after {max_rounds} rounds"
        )
    orders = np.argsort(rng.random((count, n_lv, len(dims))), axis=2).astype(np.int64)
    holds = np.array([[r in lv.holds for r in ROLE_ORDER] for lv in arch.levels], dtype=bool)
    keep = np.broadcast_to(holds, (count, n_lv, 3)).copy()
    return MappingBatch(dims=dims, factors=factors, orders=orders, keep=keep)
