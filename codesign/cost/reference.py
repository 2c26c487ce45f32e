"""Brute-force reference simulator: the oracle the cost model is tested against.

It executes a mapping's loops literally on a small problem and counts, element by element, every
fill, read and write, using the same hardware rules the model documents (``codesign.cost.model``)
but none of its arithmetic: tiles are enumerated point by point through the projections and
deduplicated as sets (no ``axis_extent``), multicast is a set union over the PEs, partial sums
are reloaded exactly when the parent already holds a value for that element, and fill events are
detected by watching the loop indices change while the loops run. On an N:M array
(``ComputeArray.nm``) the spatial instances are lanes: the rows-spatial index ``r`` of a lane
puts it in physical PE row ``r // M``, and a per-PE level's occupancy is the sum of the tiles of
the lanes each physical PE serves. Never called by the model;
exponential in the problem size, so only for tests on small nests.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from codesign.arch.spec import Architecture, CompressionFormat
from codesign.cost.timing import systolic_tile_cycles
from codesign.mapping.dataflow import ROLE_ORDER, TEMPLATES, Dataflow
from codesign.mapping.mapping import MappingBatch
from codesign.workload.loopnest import LoopNest, TensorRole

__all__ = ["ReferenceCounts", "simulate"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ReferenceCounts:
    """Counts from the brute-force simulation of one mapping.

    Attributes
    ----------
    reads, writes, fills : numpy.ndarray
        int64 ``(L, 3)``, same meaning as in ``CostBatch``.
    peak_tile_elements : numpy.ndarray
        int64 ``(L, 3)``: largest tile (distinct elements, one instance) each kept level held.
    occupancy_bits : numpy.ndarray
        float ``(L,)``: bits of the kept tensors' largest tiles in one physical instance (a
        per-PE level of an N:M array holds the tiles of all the lanes of its PE), at the
        stored bits per element of each tensor.
    passes : int
        Runs of the per-PE loops.
    busy_cycles : int
        Cycles from the start of the first pass to the end of the last. Consecutive passes
        that keep the stationary tensor stream as one *group* (one stationary load); the sum
        of the group latencies (their beats plus systolic fill/drain), or with
        ``overlap_passes`` each group's stationary load starting right after the previous
        group's last streamed beat.
    tail_cycles : int
        Cycles from the last pass's last streamed beat to the end of ``busy_cycles`` (its
        drain): the layer takes ``max(busy_cycles, max(level cycles) + tail_cycles)``.
    macs : int
        MACs executed (every PE, every step).
    """

    reads: np.ndarray
    writes: np.ndarray
    fills: np.ndarray
    peak_tile_elements: np.ndarray
    occupancy_bits: np.ndarray
    passes: int
    busy_cycles: int
    tail_cycles: int
    macs: int


@dataclass(frozen=True, slots=True)
class _Loop:
    dim: int
    bound: int
    level: int  # -1 for spatial loops


def _write_back(
    current: list[tuple],
    reads: np.ndarray,
    writes: np.ndarray,
    written: set,
    ti: int,
    child: int,
    parent: int,
    cross: bool,
    parent_inst: int | None,
) -> None:
    """End of an output visit: the child (if a real level) is read and its tiles are written to
    the parent, reduced across PEs when the parent is shared and the child per PE."""
    if not current:
        return
    if child >= 0:
        reads[child, ti] += sum(len(e) for _, e in current)
    if cross:
        union = set().union(*(e for _, e in current))
        writes[parent, ti] += len(union)
        written.update((0, x) for x in union)
    else:
        for inst, e in current:
            writes[parent, ti] += len(e)
            written.update((inst if parent_inst is None else parent_inst, x) for x in e)


def _progression(elements: set, ti: int, dim: int, proj: list) -> bool:
    """Whether every axis of tensor ``ti`` that uses ``dim`` takes, over ``elements``, an
    arithmetic progression with the step of its coefficients' gcd (an interval, up to
    scale): where sliding-window reuse applies."""
    for a, axis in enumerate(proj[ti]):
        coefs = [c for d, c in axis if d == dim]
        if not coefs:
            continue
        if len(axis) < 2:
            return False  # the moved dim is the axis' only term: nothing overlaps
        step = 0
        for _, c in axis:
            step = math.gcd(step, c)
        values = {e[a] for e in elements}
        if (max(values) - min(values)) // step + 1 != len(values):
            return False
    return True


def _bits_per_element(nest: LoopNest, arch: Architecture, role: TensorRole) -> float:
    """Stored bits per dense element: dense values, a compressed format's expected non-zeros
    with their metadata, or N:M weights (``N`` of every ``M`` values, each with its position in
    the group)."""
    t = nest.tensor(role)
    nm = arch.compute.nm
    if role is TensorRole.WEIGHTS and nm is not None:
        index_bits = 0
        while 2**index_bits < nm[1]:
            index_bits += 1
        return nm[0] / nm[1] * (t.bits + index_bits)
    fmt = {TensorRole.INPUTS: arch.input_format, TensorRole.WEIGHTS: arch.weight_format}.get(
        role, CompressionFormat.DENSE
    )
    if fmt is CompressionFormat.DENSE:
        return float(t.bits)
    if fmt is CompressionFormat.BITMASK:
        return t.density * t.bits + 1.0
    return t.density * (t.bits + arch.index_bits)


def simulate(
    nest: LoopNest, arch: Architecture, batch: MappingBatch, row: int = 0
) -> ReferenceCounts:
    """Execute row ``row`` of ``batch`` literally and count every access."""
    n_lv, n_d = len(arch.levels), len(nest.dims)
    s = arch.num_per_pe_levels
    fac = batch.factors[row]
    # Global loop list, outermost first: shared levels, spatial, per-PE levels (with no per-PE
    # level the spatial loops come last).
    loops: list[_Loop] = []
    for lv in range(n_lv - 1, -1, -1):
        for d in batch.orders[row, lv]:
            loops.append(_Loop(int(d), int(fac[lv, d]), lv))
        if lv == s:
            for slot in (n_lv, n_lv + 1):
                for d in range(n_d):
                    loops.append(_Loop(d, int(fac[slot, d]), -1))
    # stride of each loop in its dim's value: product of the bounds of inner loops of that dim
    strides = []
    for j, lp in enumerate(loops):
        st = 1
        for inner in loops[j + 1 :]:
            if inner.dim == lp.dim:
                st *= inner.bound
        strides.append(st)
    spatial_idx = [j for j, lp in enumerate(loops) if lp.level == -1]
    tensors = [nest.tensor(r) for r in ROLE_ORDER]
    dim_pos = {d: i for i, d in enumerate(nest.dim_names)}
    proj = [[[(dim_pos[d], c) for d, c in axis] for axis in t.axes] for t in tensors]

    def coords(ti: int, values: list[int]) -> tuple[int, ...]:
        return tuple(sum(c * values[d] for d, c in axis) for axis in proj[ti])

    def dim_values(idx: dict[int, int]) -> list[int]:
        v = [0] * n_d
        for j, i in idx.items():
            v[loops[j].dim] += i * strides[j]
        return v

    instances = list(itertools.product(*[range(loops[j].bound) for j in spatial_idx]))
    lanes = arch.compute.lanes

    def physical_pe(inst: tuple) -> tuple[int, tuple]:
        """The physical PE of a spatial instance: (rows-spatial index // M, cols indices)."""
        r = 0
        for j, i in zip(spatial_idx[:n_d], inst[:n_d], strict=True):
            r = r * loops[j].bound + i
        return r // lanes, inst[n_d:]

    def temporal_above(child: int) -> list[int]:
        """Positions of the temporal loops of levels above ``child``, outermost first."""
        return [j for j, lp in enumerate(loops) if lp.level > child]

    def tile(ti: int, child: int, fixed: dict[int, int], inst: tuple | None) -> set:
        """Elements of tensor ``ti`` a level-``child`` instance holds (``inst`` = spatial
        indices of a per-PE instance, ``None`` for a shared level)."""
        enum_pos = [j for j, lp in enumerate(loops) if 0 <= lp.level <= child]
        if inst is None:
            enum_pos += spatial_idx
        base = dict(fixed)
        if inst is not None:
            base.update(zip(spatial_idx, inst, strict=True))
        out = set()
        for point in itertools.product(*[range(loops[j].bound) for j in enum_pos]):
            idx = dict(base)
            idx.update(zip(enum_pos, point, strict=True))
            out.add(coords(ti, dim_values(idx)))
        return out

    reads = np.zeros((n_lv, 3), dtype=np.int64)
    writes = np.zeros((n_lv, 3), dtype=np.int64)
    fills = np.zeros((n_lv, 3), dtype=np.int64)
    peak = np.zeros((n_lv, 3), dtype=np.int64)
    peak_pe = np.zeros((n_lv, 3), dtype=np.int64)  # per physical instance (lanes summed)

    for ti, role in enumerate(ROLE_ORDER):
        chain = [lv for lv in range(n_lv) if batch.keep[row, lv, ti]]
        relevant = {dim_pos[d] for d in tensors[ti].dims}
        is_out = role is TensorRole.OUTPUTS
        for child in [-1, *chain[:-1]]:
            parent = next(lv for lv in chain if lv > child)
            cross = child < s <= parent
            above = temporal_above(child)
            written: set = set()  # (parent instance, element) holding a partial sum
            prev_key = None
            current: list[tuple] = []  # (instance, elements) of the visit in progress
            # sliding-window reuse (MemoryLevel.sliding_window): a step of the innermost loop
            # above the child that indexes the tensor refills only the new elements
            window = child >= 0 and not is_out and arch.levels[child].sliding_window
            idx_loops = [j for j in above if loops[j].dim in relevant and loops[j].bound > 1]
            j_star = idx_loops[-1] if idx_loops else None
            prev_fixed: dict | None = None
            previous: list[tuple] = []
            up = (reads, writes, written, ti, child, parent, cross, 0 if parent >= s else None)
            for point in itertools.product(*[range(loops[j].bound) for j in above]):
                fixed = dict(zip(above, point, strict=True))
                if child >= 0:
                    key = tuple(i for j, i in fixed.items() if loops[j].dim in relevant)
                    if key == prev_key:
                        continue
                    prev_key = key
                if is_out:
                    _write_back(current, *up)
                previous = current
                if child >= 0 and child >= s:
                    current = [(None, tile(ti, child, fixed, None))]
                else:
                    current = [(inst, tile(ti, child, fixed, inst)) for inst in instances]
                slid = (
                    window
                    and prev_fixed is not None
                    and j_star is not None
                    and fixed[j_star] == prev_fixed[j_star] + 1
                    and all(fixed[j] == prev_fixed[j] for j in idx_loops if j != j_star)
                    and all(_progression(e, ti, loops[j_star].dim, proj) for _, e in current)
                )
                prev_fixed = fixed
                if child >= 0:
                    held: dict = {}
                    for inst, e in current:
                        peak[child, ti] = max(peak[child, ti], len(e))
                        pe = None if inst is None else physical_pe(inst)
                        held[pe] = held.get(pe, 0) + len(e)
                    peak_pe[child, ti] = max(peak_pe[child, ti], *held.values())
                if is_out:
                    if cross:
                        union = set().union(*(e for _, e in current))
                        n = sum(1 for x in union if (0, x) in written)
                        reads[parent, ti] += n
                        if child >= 0:
                            fills[child, ti] += n
                            writes[child, ti] += n
                    else:
                        for inst, e in current:
                            key_inst = inst if parent < s else 0
                            n = sum(1 for x in e if (key_inst, x) in written)
                            reads[parent, ti] += n
                            if child >= 0:
                                fills[child, ti] += n
                                writes[child, ti] += n
                    # after a reload the parent copy is still valid: mark as written at end
                else:
                    news = [e for _, e in current]
                    union = set().union(*news)
                    if slid:  # only what the previous tile of the same instance lacks
                        news = [e - old for (_, e), (_, old) in zip(current, previous, strict=True)]
                        union = union - set().union(*(old for _, old in previous))
                    if child >= 0:
                        n_child = sum(len(e) for e in news)
                        fills[child, ti] += n_child
                        writes[child, ti] += n_child
                    if cross:
                        reads[parent, ti] += len(union)
                    else:
                        reads[parent, ti] += sum(len(e) for e in news)
            if is_out:
                _write_back(current, *up)
        peak[n_lv - 1, ti] = peak_pe[n_lv - 1, ti] = len(tile(ti, n_lv - 1, {}, None))
    stored = np.array([_bits_per_element(nest, arch, r) for r in ROLE_ORDER])
    occupancy = (np.where(batch.keep[row], peak_pe, 0) * stored).sum(axis=1)

    # cycles: one pass per iteration of the shared-level loops
    per_pe = [j for j, lp in enumerate(loops) if 0 <= lp.level < s]
    shared = [j for j, lp in enumerate(loops) if lp.level >= s]
    stream = 1
    for j in per_pe:
        stream *= loops[j].bound
    c = arch.compute
    # Consecutive passes that leave the stationary tensor (the dataflow template's: weights
    # for WS, outputs for OS, inputs for IS) where it is stream as one: the array reloads it
    # only when a shared loop that indexes it moves, watched here as the loops run.
    stationary = TEMPLATES[c.dataflow].stationary if c.systolic and s else None
    moves = set()
    if stationary is not None:
        dims = {dim_pos[d] for d in nest.tensor(stationary).dims}
        moves = {j for j in shared if loops[j].dim in dims and loops[j].bound > 1}
    groups: list[int] = []  # passes per stationary load
    prev = None
    for point in itertools.product(*[range(loops[j].bound) for j in shared]):
        key = tuple(i for j, i in zip(shared, point, strict=True) if j in moves)
        if stationary is not None and groups and key == prev:
            groups[-1] += 1
        else:
            groups.append(1)
        prev = key
    # A timeline, group by group: each starts at `start` and its last output leaves at
    # `start + tile - 1`. Sequential issue starts the next group after that; overlapped issue
    # (WS/IS) starts the next group's stationary load (`rows` beats) in the cycle after this
    # group's last streamed beat, i.e. `rows + beats` cycles after `start`.
    # The last streamed beat of a group is its cycle `load + beats - 1` after `start`, with
    # `load` the stationary-operand beats that precede the stream (WS/IS systolic: `rows`).
    load = c.rows if c.systolic and c.dataflow is not Dataflow.OUTPUT_STATIONARY else 0
    passes = sum(groups)
    start = 0
    end = 0
    last_beat = 0
    for g in groups:
        beats = g * stream
        tile = systolic_tile_cycles(c.dataflow, c.rows, c.cols, beats) if c.systolic else beats
        end = max(end, start + tile)
        last_beat = start + load + beats - 1
        start = start + c.rows + beats if c.overlap_passes else end
    tail = end - 1 - last_beat
    macs = passes * stream * len(instances)
    return ReferenceCounts(
        reads=reads,
        writes=writes,
        fills=fills,
        peak_tile_elements=peak,
        occupancy_bits=occupancy,
        passes=passes,
        busy_cycles=end,
        tail_cycles=tail,
        macs=macs,
    )
