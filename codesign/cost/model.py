"""The analytical cost model: one vectorized function of (LoopNest, Architecture, MappingBatch).

Semantics (the brute-force simulator ``codesign.cost.reference`` implements the same rules
literally, loop by loop, and the tests require exact agreement):

* **Tiles.** The tile of a tensor at level ``l`` spans every loop at level ``l`` and below (plus
  the spatial loops when the level is shared); its size is the number of distinct elements the
  projection touches (sliding-window halos and grouped channels exact, ``axis_extent``).
* **Fills.** A kept level's tile is refilled from the next kept level above (its *parent*)
  whenever a loop above it that indexes the tensor moves to a new value; loops that do not
  index the tensor reuse the tile. Per instance the fill events are the product of all loop
  bounds above the level, from the outermost loop down to the innermost loop that indexes the
  tensor (bound > 1). Each event moves the whole new tile (no halo reuse between consecutive
  tiles).
* **MAC operands.** Every temporal step, every active PE reads one element of each tensor from
  the innermost level keeping it (no stationarity below the innermost level).
* **Multicast and spatial reduction.** When a per-PE child is filled from a shared parent, the
  parent reads each distinct element of the union of the PEs' tiles once. Outputs are reduced
  across PEs the same way before they are written up.
* **Partial sums.** Each output fill event ends with a write-back of the tile to the parent; an
  event that revisits a tile seen before (a reduction loop above the level) first reloads the
  partial sums from the parent. The first visit of a tile starts from zero.
* **Cycles.** A *pass* is one run of the per-PE loops: ``passes = prod(loops at shared
  levels)``, ``stream_len = prod(loops at per-PE levels)``. The systolic array reloads its
  stationary tensor (the dataflow template's) only on that tensor's fill events at the per-PE
  levels (``loads``, counted as for the traffic); the passes between two loads stream as one.
  Compute cycles are ``passes * stream_len + loads * overhead`` with the systolic overhead of
  ``codesign.cost.timing.pass_overhead_cycles`` (0 on a non-systolic array). With
  ``ComputeArray.overlap_passes`` (systolic WS/IS) each pass's stationary load overlaps the
  previous pass's drain and they are ``passes * stream_len + loads * rows + rows + cols - 1``
  (``codesign.cost.timing.pass_overheads_cycles``, read off ``systolic.ws_stream_cycles``).
  Each level needs ``ceil(traffic bits per instance / bandwidth)`` cycles for reads and for
  writes; transfers overlap compute (double buffering), but the last pass's *tail* (its
  latency after its last streamed beat, ``codesign.cost.timing.pass_tail_cycles``: WS/IS
  ``rows + cols - 1``, OS ``2 * rows + cols - 2``, 0 on a non-systolic array) cannot overlap
  the transfers that feed it. The layer takes
  ``cycles = max(compute + fill/drain + head, max(level cycles) + tail)``, the *head* being
  what the first pass waits for its beats when the operands stream straight from the
  outermost level at a rate below the array's (``codesign.cost.timing``; 0 otherwise); the
  rule is applied
  always, so the tail counts exactly when ``max(level cycles) + tail`` exceeds the busy time
  (bandwidth-bound). The excess over compute plus fill/drain (tail included) is reported as
  stall cycles.
* **Energy.** Traffic in bits (stored bits per element, see sparsity) over the word width times
  the per-word energy, per level and tensor, plus MACs times the MAC energy.
* **Sparsity.** Compressed formats change stored bits per element everywhere (value bits times
  density plus metadata); a gating array spends MAC energy only on effectual MACs (product of
  the densities of its sparse operands); a skipping array also shortens each pass to
  ``ceil(stream_len * effectual)``. A dense array with dense formats ignores densities.
* **N:M structured sparsity** (``ComputeArray.nm = (N, M)``, e.g. the 2:4 RTL array). Each PE
  serves ``M`` consecutive dense reduction elements (*lanes*) with ``N`` multipliers, so the
  rows-spatial factors may multiply up to ``M * rows`` (``ComputeArray.dense_rows``) and the
  spatial instances of a mapping are lanes. Cycles are those of the physical ``rows x cols``
  array (the rules above, unchanged: a pass of ``stream_len`` beats). MAC energy is spent on
  ``N / M`` of the executed (dense, padded) MACs. Weights are stored compressed at every level
  that holds them: ``N / M * (weight bits + ceil(log2 M))`` bits per dense element (values and
  in-group indices), and the layer's weight density must be at most ``N / M``. A per-PE level
  instance is one physical PE holding ``min(rows-spatial factor, M)`` lanes' tiles: its
  occupancy and its traffic per instance are that many lanes' worth. Utilization and the
  compute lower bound count ``M * rows * cols`` dense MAC slots per cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codesign.arch.spec import Architecture, CompressionFormat, Sparsity
from codesign.cost.timing import pass_load_cycles, pass_overheads_cycles, pass_tail_cycles
from codesign.errors import MappingError, SpecError
from codesign.mapping.dataflow import ROLE_ORDER, TEMPLATES
from codesign.mapping.mapping import Mapping, MappingBatch, validate_batch
from codesign.workload.loopnest import LoopNest, TensorRole, TensorSpec

__all__ = [
    "CostBatch",
    "CostReport",
    "evaluate",
    "evaluate_one",
    "stored_bits_per_element",
    "effectual_fraction",
    "lower_bounds",
]


def stored_bits_per_element(
    tensor: TensorSpec,
    fmt: CompressionFormat,
    index_bits: int,
    nm: tuple[int, int] | None = None,
) -> float:
    """Expected stored bits per dense element of ``tensor`` in format ``fmt`` (see
    ``CompressionFormat``), or in the ``N:M`` format when ``nm = (N, M)`` is given:
    ``N / M * (bits + ceil(log2 M))``."""
    if nm is not None:
        n, m = nm
        return n / m * (tensor.bits + (m - 1).bit_length())
    if fmt is CompressionFormat.DENSE:
        return float(tensor.bits)
    if fmt is CompressionFormat.BITMASK:
        return tensor.density * tensor.bits + 1.0
    return tensor.density * (tensor.bits + index_bits)


def effectual_fraction(nest: LoopNest, arch: Architecture) -> float:
    """Fraction of MACs that spend MAC energy: with all sparse operands non-zero (gating and
    skipping arrays), ``N / M`` on an N:M array, 1 for a dense array."""
    c = arch.compute
    if c.nm is not None:
        return c.nm_fraction
    if c.sparsity is Sparsity.DENSE:
        return 1.0
    return math.prod(nest.tensor(r).density for r in c.sparse_operands)


def _stored_bits(nest: LoopNest, arch: Architecture) -> np.ndarray:
    fmts = {
        TensorRole.INPUTS: arch.input_format,
        TensorRole.WEIGHTS: arch.weight_format,
        TensorRole.OUTPUTS: CompressionFormat.DENSE,
    }
    nm = {TensorRole.WEIGHTS: arch.compute.nm}
    return np.array(
        [
            stored_bits_per_element(nest.tensor(r), fmts[r], arch.index_bits, nm.get(r))
            for r in ROLE_ORDER
        ]
    )


def _streams_from_outermost(arch: Architecture) -> bool:
    """Whether the array's operands stream straight from the outermost level: no shared
    on-chip level holds inputs or weights (the accelerator's hierarchy). Only then does the
    first pass's *head* apply (`codesign.cost.timing`): a buffer in between is filled ahead of
    the first pass by the double-buffering the model assumes."""
    s = arch.num_per_pe_levels
    operands = {TensorRole.INPUTS, TensorRole.WEIGHTS}
    return not any(operands & set(lv.holds) for lv in arch.levels[s:-1])


def _stationary_index(arch: Architecture) -> int | None:
    """Position in ``ROLE_ORDER`` of the tensor a systolic array holds during a pass (its
    dataflow template's ``stationary``), None when there is none or no fill/drain to share."""
    c = arch.compute
    role = TEMPLATES[c.dataflow].stationary
    if not c.systolic or role is None or arch.num_per_pe_levels == 0:
        return None
    return ROLE_ORDER.index(role)


def lower_bounds(nest: LoopNest, arch: Architecture) -> tuple[int, float]:
    """``(min_cycles, min_energy_pj)``: every PE busy every cycle on effectual MACs (skipping
    arrays) or all MACs (``M`` dense MACs per PE on an N:M array), and compulsory energy: each
    tensor moved once between DRAM and the chip (inputs and weights read, outputs written) plus
    the MAC energy."""
    c = arch.compute
    eff = effectual_fraction(nest, arch)
    steps = nest.macs * (eff if c.sparsity is Sparsity.SKIP else 1.0)
    min_cycles = math.ceil(steps / (c.pes * c.lanes))
    dram = arch.levels[-1]
    bits = _stored_bits(nest, arch)
    energy = nest.macs * eff * c.mac_energy_pj
    for i, r in enumerate(ROLE_ORDER):
        e = dram.write_energy_pj if r is TensorRole.OUTPUTS else dram.read_energy_pj
        energy += nest.elements(r) * bits[i] / dram.word_bits * e
    return min_cycles, energy


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class CostBatch:
    """Costs of ``B`` mappings, as arrays. Per-level axes are innermost first; per-tensor axes
    follow ``ROLE_ORDER`` (inputs, weights, outputs). Counts are in elements.

    Attributes
    ----------
    reads, writes, fills : numpy.ndarray
        ``(B, L, 3)``: elements read from, written into, and written into from the parent level
        (fills are the part of writes that come from above; for outputs the rest of the writes
        are updates from below).
    occupancy_bits : numpy.ndarray
        ``(B, L)``: bits of one instance of each level the mapping's tiles occupy.
    fits : numpy.ndarray
        ``(B,)`` bool: every level's occupancy within its capacity.
    compute_cycles, fill_drain_cycles, stall_cycles, cycles : numpy.ndarray
        ``(B,)``: MAC steps, systolic fill/drain, bandwidth stalls, and their total.
    level_cycles : numpy.ndarray
        ``(B, L)``: cycles each level needs for its traffic alone.
    energy_by_level_pj : numpy.ndarray
        ``(B, L, 3)`` memory access energy.
    mac_energy_pj, energy_pj : numpy.ndarray
        ``(B,)``: MAC energy, and the total with every level.
    padded_macs : numpy.ndarray
        ``(B,)``: MACs executed, including padding of imperfect factors.
    utilization : numpy.ndarray
        ``(B,)``: useful MACs over ``cycles * PEs`` (``cycles * PEs * M`` on an N:M array).
    edp : numpy.ndarray
        ``(B,)``: energy (pJ) x cycles.
    macs : int
        Useful MACs of the layer.
    area_um2 : float
        Area of the architecture.
    min_cycles : int
        Compute lower bound (see ``lower_bounds``).
    min_energy_pj : float
        Compulsory-traffic energy lower bound.
    """

    reads: np.ndarray
    writes: np.ndarray
    fills: np.ndarray
    occupancy_bits: np.ndarray
    fits: np.ndarray
    compute_cycles: np.ndarray
    fill_drain_cycles: np.ndarray
    stall_cycles: np.ndarray
    cycles: np.ndarray
    level_cycles: np.ndarray
    energy_by_level_pj: np.ndarray
    mac_energy_pj: np.ndarray
    energy_pj: np.ndarray
    padded_macs: np.ndarray
    utilization: np.ndarray
    edp: np.ndarray
    macs: int
    area_um2: float
    min_cycles: int
    min_energy_pj: float

    def __len__(self) -> int:
        return self.cycles.shape[0]


def _axes(nest: LoopNest) -> list[list[tuple]]:
    """Per tensor (ROLE_ORDER), per axis: ``(d,)`` or ``(di, dj, a', b')`` (gcd-reduced)."""
    index = {d: i for i, d in enumerate(nest.dim_names)}
    out = []
    for r in ROLE_ORDER:
        t = nest.tensor(r)
        axes = []
        for ai, axis in enumerate(t.axes):
            if len(axis) == 1:
                axes.append((index[axis[0][0]],))
            elif len(axis) == 2:
                (di, a), (dj, b) = axis
                g = math.gcd(a, b)
                axes.append((index[di], index[dj], a // g, b // g))
            else:
                raise SpecError(
                    f"tensor {t.name!r} axis {ai} has {len(axis)} terms; the cost model counts "
                    f"axes of at most 2 terms exactly"
                )
        out.append(axes)
    return out


def _elements(axes: list[tuple], tiles: np.ndarray) -> np.ndarray:
    """Distinct elements of a tensor for tile sizes ``tiles (X, D, B)`` -> ``(X, B)``
    (vectorized ``axis_extent``; the batch is the last, contiguous axis)."""
    out = None
    for ax in axes:
        if len(ax) == 1:
            ext = tiles[:, ax[0]]
        else:
            di, dj, a, b = ax
            ti, tj = tiles[:, di], tiles[:, dj]
            ext = ti * tj - np.maximum(ti - b, 0.0) * np.maximum(tj - a, 0.0)
        out = ext if out is None else out * ext
    if out is None:
        return np.ones((tiles.shape[0], tiles.shape[2]))
    return out


@dataclass(frozen=True, slots=True)
class _Constants:
    """Everything ``evaluate`` derives from (nest, arch) alone."""

    axes: list
    rel: list
    role_bits: np.ndarray
    stored: np.ndarray
    n_lv: int
    n_d: int
    s: int
    overhead: int
    once: int
    tail: int
    load: int | None
    stationary: int | None
    sliding: tuple[bool, ...]
    skip_eff: float
    lanes: int
    mac_energy_pj: float
    sizes: np.ndarray
    rbw: np.ndarray
    wbw: np.ndarray
    cost_r: np.ndarray
    cost_w: np.ndarray
    macs: int
    mac_slots: int
    area_um2: float
    min_cycles: int
    min_energy_pj: float


_CONSTANTS: dict[tuple[int, int], tuple[LoopNest, Architecture, _Constants]] = {}


def _constants(nest: LoopNest, arch: Architecture) -> _Constants:
    """The per-(nest, arch) constants, cached by identity (the mapper calls ``evaluate`` many
    times with the same objects)."""
    key = (id(nest), id(arch))
    hit = _CONSTANTS.get(key)
    if hit is not None and hit[0] is nest and hit[1] is arch:
        return hit[2]
    c = arch.compute
    for r, limit in ((TensorRole.INPUTS, c.input_bits), (TensorRole.WEIGHTS, c.weight_bits)):
        if nest.tensor(r).bits > limit:
            raise SpecError(
                f"layer {nest.name!r}: {r.value} bits {nest.tensor(r).bits} exceed the array's "
                f"{r.value.rstrip('s')}_bits {limit}"
            )
    if c.nm is not None and nest.weights.density > c.nm_fraction + 1e-9:
        n, m = c.nm
        raise SpecError(
            f"layer {nest.name!r}: weights density {nest.weights.density:g} exceeds the "
            f"array's compute.nm {n}:{m} (at most {n / m:g}); prune the weights {n}:{m} or use "
            f"a dense array"
        )
    dims = nest.dim_names
    role_bits = np.zeros(len(dims), dtype=np.uint8)
    rel = []
    for ti, r in enumerate(ROLE_ORDER):
        rel.append(sorted(dims.index(d) for d in nest.tensor(r).dims))
        for d in rel[-1]:
            role_bits[d] |= 1 << ti
    stored = _stored_bits(nest, arch)
    levels = arch.levels
    per_word = np.array([[lv.read_energy_pj, lv.write_energy_pj] for lv in levels])
    per_word /= np.array([lv.word_bits for lv in levels], dtype=np.float64)[:, None]
    eff = effectual_fraction(nest, arch)
    min_cycles, min_energy = lower_bounds(nest, arch)
    overhead, once = pass_overheads_cycles(c.dataflow, c.rows, c.cols, c.systolic, c.overlap_passes)
    out = _Constants(
        axes=_axes(nest),
        rel=rel,
        role_bits=role_bits,
        stored=stored,
        n_lv=len(levels),
        n_d=len(dims),
        s=arch.num_per_pe_levels,
        overhead=overhead,
        once=once,
        tail=pass_tail_cycles(c.dataflow, c.rows, c.cols, c.systolic),
        load=pass_load_cycles(c.dataflow, c.rows, c.cols, c.systolic)
        if _streams_from_outermost(arch)
        else None,
        stationary=_stationary_index(arch),
        sliding=tuple(lv.sliding_window for lv in levels),
        skip_eff=eff if c.sparsity is Sparsity.SKIP else 1.0,
        lanes=c.lanes,
        mac_energy_pj=c.mac_energy_pj * eff,
        sizes=np.array([lv.size_bits or np.inf for lv in levels], dtype=np.float64),
        rbw=np.array([lv.read_bits_per_cycle for lv in levels], dtype=np.float64),
        wbw=np.array([lv.write_bits_per_cycle for lv in levels], dtype=np.float64),
        cost_r=(per_word[:, 0, None] * stored)[:, :, None],  # (L, 3, 1) pJ per element read
        cost_w=(per_word[:, 1, None] * stored)[:, :, None],
        macs=nest.macs,
        mac_slots=c.pes * c.lanes,  # dense MACs per cycle (M lanes per PE on an N:M array)
        area_um2=arch.area_um2,
        min_cycles=min_cycles,
        min_energy_pj=min_energy,
    )
    if len(_CONSTANTS) > 256:
        _CONSTANTS.clear()
    _CONSTANTS[key] = (nest, arch, out)
    return out


def _window_overlap(
    axes: list[tuple],
    child: int,
    s: int,
    tiles: np.ndarray,
    sp: np.ndarray,
    moves: np.ndarray,
    orders: np.ndarray,
    in_order: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Sliding-window reuse at level ``child`` (``MemoryLevel.sliding_window``): the elements
    kept over all refills, per instance and for the union over the PEs, ``(B,)`` each.

    The refills that keep anything are the steps of the innermost loop above ``child`` that
    indexes the tensor (``j``: ``events / bound * (bound - 1)`` of them): the window moves by
    the tile's extent of that loop's dim (inner loops of the dim above ``child`` have bound 1,
    else ``j`` would be one of them; the spatial factor counts when ``j`` is above the
    spatial loops), and each axis keeps ``max(0, extent - shift)`` when its tile is an
    interval (a two-term axis, e.g. ``P + R``), nothing when the moved dim is its only term or
    the tile has holes, all of it when the axis does not use the dim. Any other refill (an
    outer loop steps and ``j`` starts over) fetches the whole tile, as in Timeloop."""
    n_lv, b = moves.shape[0], moves.shape[2]
    cols = np.arange(b)
    level = np.full(b, -1)
    pos = np.zeros(b, dtype=np.intp)
    for lv in range(n_lv - 1, child, -1):  # the lowest level above child with such a loop wins
        idx = np.where(moves[lv], np.arange(moves.shape[1])[:, None], -1).max(axis=0)
        has = idx >= 0
        level = np.where(has, lv, level)
        pos = np.where(has, idx, pos)
    found = level >= 0
    lv_safe = np.maximum(level, 0)
    dim = orders[lv_safe, pos, cols]
    bound = in_order[lv_safe, pos, cols]
    # steps of loop j: the product of the loops outside it, times (bound - 1)
    outside = np.ones(b)
    k = np.arange(in_order.shape[1])[:, None]
    for lv in range(n_lv - 1, child, -1):
        inside_level = np.where(k < pos, in_order[lv], 1.0).prod(axis=0)
        outside = outside * np.where(
            level == lv, inside_level, np.where(level < lv, in_order[lv].prod(axis=0), 1.0)
        )
    steps = np.where(found, outside * (bound - 1), 0.0)
    tile_i = tiles[child]  # (D, B) per instance
    tile_u = tiles[n_lv + child] if child < s else tiles[child]
    scale = np.where((child < s) & (level >= s), sp[dim, cols], 1.0)
    shift = tile_i[dim, cols] * scale

    def kept(t: np.ndarray) -> np.ndarray:
        out = np.ones(b)
        for ax in axes:
            if len(ax) == 1:
                ext = t[ax[0]]
                out = out * np.where(dim == ax[0], 0.0, ext)
                continue
            di, dj, a, bb = ax
            ti, tj = t[di], t[dj]
            ext = ti * tj - np.maximum(ti - bb, 0.0) * np.maximum(tj - a, 0.0)
            span = a * (ti - 1) + bb * (tj - 1) + 1
            coef = np.where(dim == di, a, np.where(dim == dj, bb, 0))
            moved = coef > 0
            keep_ax = np.where(ext == span, np.maximum(span - coef * shift, 0.0), 0.0)
            out = out * np.where(moved, keep_ax, ext)
        return out

    return steps * kept(tile_i), steps * kept(tile_u)


def _add(target: np.ndarray, parent: int | np.ndarray, amount: np.ndarray) -> None:
    """``target[parent] += amount`` per batch column (``parent`` a level or an array of
    levels)."""
    if isinstance(parent, int):
        target[parent] += amount
        return
    for lv in range(target.shape[0]):
        mask = parent == lv
        if mask.any():
            target[lv] += np.where(mask, amount, 0.0)


def evaluate(
    nest: LoopNest, arch: Architecture, mappings: MappingBatch, *, validate: bool = True
) -> CostBatch:
    """Costs of every mapping of ``mappings`` for ``nest`` on ``arch``, vectorized.

    Parameters
    ----------
    nest : LoopNest
        The layer.
    arch : Architecture
        The hardware.
    mappings : MappingBatch
        ``B`` mappings; checked with ``validate_batch`` unless ``validate`` is false (a mapper
        that generates valid rows by construction may skip the check).
    validate : bool
        Whether to validate the batch first.

    Returns
    -------
    CostBatch
        Costs per mapping; rows whose tiles overflow a level are flagged in ``fits``.
    """
    kc = _constants(nest, arch)
    groups = None  # stationary reloads (set with the stationary tensor's fill events)
    if validate:
        validate_batch(nest, arch, mappings)
    n_lv, n_d, s = kc.n_lv, kc.n_d, kc.s
    b = len(mappings)
    # batch-last layout: every numpy operation below runs over a contiguous batch axis
    f = np.ascontiguousarray(mappings.factors.reshape(b, (n_lv + 2) * n_d).T, dtype=np.float64)
    f = f.reshape(n_lv + 2, n_d, b)
    temporal = f[:n_lv]  # (L, D, B)
    sp = f[n_lv] * f[n_lv + 1]  # (D, B)
    active = sp.prod(axis=0)
    per_level = temporal.prod(axis=1)  # (L, B): all loops of a level
    above_all = np.ones((n_lv, b))  # product of all loops of the levels above each level
    for lv in range(n_lv - 2, -1, -1):
        above_all[lv] = above_all[lv + 1] * per_level[lv + 1]
    total_steps = above_all[0] * per_level[0]
    padded_macs = total_steps * active
    # tiles: per-instance tile of each level, union over the PEs of each per-PE level, spatial
    tiles = np.empty((n_lv + s + 1, n_d, b))
    tiles[0] = temporal[0]
    for lv in range(1, n_lv):
        np.multiply(tiles[lv - 1], temporal[lv], out=tiles[lv])
    if s:
        np.multiply(tiles[:s], sp, out=tiles[n_lv : n_lv + s])
    tiles[s:n_lv] *= sp
    tiles[-1] = sp
    # loops in order (outermost first within each level): their bounds, running products and
    # which tensors each indexes (bit t set for tensor t)
    orders = np.ascontiguousarray(mappings.orders.reshape(b, n_lv * n_d).T, dtype=np.intp)
    orders = orders.reshape(n_lv, n_d, b)
    flat = orders * b + ((np.arange(n_lv) * n_d)[:, None, None] * b + np.arange(b))
    in_order = temporal.reshape(-1).take(flat)  # (L, K, B)
    running = np.empty_like(in_order)
    running[:, 0] = in_order[:, 0]
    for k in range(1, n_d):
        np.multiply(running[:, k - 1], in_order[:, k], out=running[:, k])
    indexes = kc.role_bits.take(orders) & np.where(in_order > 1, 7, 0).astype(np.uint8)
    level_base = (np.arange(n_lv) * n_d * b)[:, None] + np.arange(b)

    keep = mappings.keep
    uniform = bool((keep == keep[:1]).all()) if b else True
    keep0 = keep[0] if b else np.ones((n_lv, 3), dtype=bool)
    keep_t = None if uniform else np.ascontiguousarray(keep.transpose(1, 2, 0))  # (L, 3, B)
    reads = np.zeros((n_lv, 3, b))
    writes = np.zeros((n_lv, 3, b))
    fills = np.zeros((n_lv, 3, b))
    occupancy = np.zeros((n_lv, b))
    stored = kc.stored

    for ti, role in enumerate(ROLE_ORDER):
        rel = kc.rel[ti]
        e_all = _elements(kc.axes[ti], tiles)  # (L + s + 1, B)
        e_inst, e_virtual_union = e_all[:n_lv], e_all[-1]
        e_union = np.concatenate([e_all[n_lv : n_lv + s], e_inst[s:]], axis=0)
        kept = keep0[:, ti] if uniform else keep_t[:, ti]
        occupancy += e_inst * (kept * stored[ti]).reshape(n_lv, -1)
        # Fill events of a child at level c: all loops above c, down to the innermost loop
        # (bound > 1) that indexes the tensor, found at the lowest level above c that has one.
        # `last`: position of that loop within each level (-1: none).
        moves = (indexes & (1 << ti)).astype(bool)
        last = np.where(moves[:, 0], 0, -1)
        for k in range(1, n_d):
            last = np.where(moves[:, k], k, last)
        rel_prod = temporal[:, rel[0]]
        for d in rel[1:]:
            rel_prod = rel_prod * temporal[:, d]
        # running product of a level's loops down to that loop
        prefix = running.reshape(-1).take(level_base + np.maximum(last, 0) * b)
        events = np.ones((n_lv, b))
        distinct = np.ones((n_lv, b))
        for lv in range(n_lv - 2, -1, -1):
            up = lv + 1
            events[lv] = np.where(last[up] >= 0, above_all[up] * prefix[up], events[up])
            distinct[lv] = distinct[up] * rel_prod[up]
        distinct_all = distinct[0] * rel_prod[0]
        if ti == kc.stationary:
            # the array reloads its stationary tile exactly when the per-PE levels are refilled
            # with it: consecutive passes between two such fills stream as one
            groups = events[s - 1].copy()
        is_out = role is TensorRole.OUTPUTS
        # parent of each child: the next kept level above (the outermost keeps everything)
        if uniform:
            chain = [lv for lv in range(n_lv) if keep0[lv, ti]]
            pairs = [(ch, next(p for p in chain if p > ch), None) for ch in [-1, *chain[:-1]]]
        else:
            nxt = np.full(b, n_lv - 1)
            parents = [None] * n_lv
            for lv in range(n_lv - 1, -1, -1):
                nxt = np.where(keep_t[lv, ti], lv, nxt)
                parents[lv] = nxt
            pairs = [
                (ch, parents[ch + 1], None if ch < 0 else keep_t[ch, ti])
                for ch in range(-1, n_lv - 1)
            ]
        for child, parent, present in pairs:
            cross = (child < s) & (parent >= s)
            if child < 0:
                ev, dist, e_child = total_steps, distinct_all, active
                e_u = e_virtual_union
            else:
                ev, dist = events[child], distinct[child]
                e_child = e_inst[child] * active if child < s else e_inst[child]
                e_u = e_union[child]
            if isinstance(cross, (bool, np.bool_)):
                e_par = e_u if cross else e_child
            else:
                e_par = np.where(cross, e_u, e_child)
            if is_out:
                reload = (ev - dist) * e_par
                up_writes = ev * e_par
                if child >= 0:
                    drained = ev * e_child
                    if present is not None:
                        reload = np.where(present, reload, 0.0)
                        up_writes = np.where(present, up_writes, 0.0)
                        drained = np.where(present, drained, 0.0)
                    reads[child, ti] += drained
                    fills[child, ti] += reload
                    writes[child, ti] += reload
                _add(reads[:, ti], parent, reload)
                _add(writes[:, ti], parent, up_writes)
            else:
                par_reads = ev * e_par
                if child >= 0:
                    filled = ev * e_child
                    if kc.sliding[child]:
                        kept_i, kept_u = _window_overlap(
                            kc.axes[ti], child, s, tiles, sp, moves, orders, in_order
                        )
                        per_pe = active if child < s else 1.0
                        filled = filled - kept_i * per_pe
                        par_reads = par_reads - np.where(cross, kept_u, kept_i * per_pe)
                    if present is not None:
                        par_reads = np.where(present, par_reads, 0.0)
                        filled = np.where(present, filled, 0.0)
                    fills[child, ti] += filled
                    writes[child, ti] += filled
                _add(reads[:, ti], parent, par_reads)

    per_pe_instance = active  # physical per-PE instances the traffic spreads over
    if kc.lanes > 1 and s:
        # a per-PE instance is a physical PE holding min(rows fan-out, M) lanes' tiles
        lanes_used = np.minimum(f[n_lv].prod(axis=0), kc.lanes)
        occupancy[:s] *= lanes_used
        per_pe_instance = active / lanes_used
    fits = (occupancy <= kc.sizes[:, None]).all(axis=0)

    # cycles
    stream = per_level[:s].prod(axis=0) if s else np.ones(b)
    passes = above_all[s - 1] if s else total_steps
    if kc.skip_eff < 1.0:
        stream = np.ceil(stream * kc.skip_eff - 1e-9)
    compute_cycles = passes * stream
    if kc.stationary is None:
        groups = passes
    fill_drain = groups * kc.overhead + kc.once
    # traffic in bits per level and per instance (explicit sums: no BLAS threads)
    rbits = (reads * stored[:, None]).sum(axis=1)
    wbits = (writes * stored[:, None]).sum(axis=1)
    need = np.maximum(rbits / kc.rbw[:, None], wbits / kc.wbw[:, None])
    need[:s] /= per_pe_instance
    level_cycles = np.ceil(need - 1e-9)
    busy = compute_cycles + fill_drain
    # the first pass's beats arrive at the outermost level's rate (the head), the last pass's
    # tail follows its last streamed beat: neither overlaps the transfers
    head = 0.0
    if kc.load is not None:
        first = np.ceil(rbits[-1] / kc.rbw[-1] / groups - 1e-9)
        head = np.maximum(first - (compute_cycles / groups + kc.load), 0.0)
    cycles = np.maximum(busy + head, level_cycles.max(axis=0) + kc.tail)

    # energy
    energy_by_level = reads * kc.cost_r + writes * kc.cost_w
    mac_energy = padded_macs * kc.mac_energy_pj
    energy = energy_by_level.sum(axis=(0, 1)) + mac_energy
    return CostBatch(
        reads=reads.transpose(2, 0, 1),
        writes=writes.transpose(2, 0, 1),
        fills=fills.transpose(2, 0, 1),
        occupancy_bits=occupancy.T,
        fits=fits,
        compute_cycles=compute_cycles,
        fill_drain_cycles=fill_drain,
        stall_cycles=cycles - busy,
        cycles=cycles,
        level_cycles=level_cycles.T,
        energy_by_level_pj=energy_by_level.transpose(2, 0, 1),
        mac_energy_pj=mac_energy,
        energy_pj=energy,
        padded_macs=padded_macs,
        utilization=kc.macs / (cycles * kc.mac_slots),
        edp=energy * cycles,
        macs=kc.macs,
        area_um2=kc.area_um2,
        min_cycles=kc.min_cycles,
        min_energy_pj=kc.min_energy_pj,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class CostReport:
    """The cost of one mapping, with names instead of axes.

    Attributes
    ----------
    layer, arch : str
        Names of the loop nest and the architecture.
    reads, writes, fills : dict
        ``{level name: {tensor role value: elements}}``.
    occupancy_bits, capacity_bits : dict
        ``{level name: bits}`` used by the tiles and available (``None``: unbounded).
    energy_by_level_pj : dict
        ``{level name: {tensor role value: pJ}}``.
    cycles, compute_cycles, fill_drain_cycles, stall_cycles : int
    level_cycles : dict
        ``{level name: cycles}`` each level needs for its traffic.
    energy_pj, mac_energy_pj, area_um2, edp, utilization : float
    macs, padded_macs : int
    min_cycles : int
    min_energy_pj : float
    fits : bool
    """

    layer: str
    arch: str
    reads: dict[str, dict[str, int]]
    writes: dict[str, dict[str, int]]
    fills: dict[str, dict[str, int]]
    occupancy_bits: dict[str, float]
    capacity_bits: dict[str, int | None]
    energy_by_level_pj: dict[str, dict[str, float]]
    level_cycles: dict[str, int]
    cycles: int
    compute_cycles: int
    fill_drain_cycles: int
    stall_cycles: int
    energy_pj: float
    mac_energy_pj: float
    area_um2: float
    edp: float
    utilization: float
    macs: int
    padded_macs: int
    min_cycles: int
    min_energy_pj: float
    fits: bool
    clock_mhz: float

    @property
    def latency_s(self) -> float:
        """Seconds at the architecture's clock."""
        return self.cycles / (self.clock_mhz * 1e6)

    @property
    def cycles_over_bound(self) -> float:
        """Cycles over the compute lower bound (>= 1)."""
        return self.cycles / self.min_cycles

    @property
    def energy_over_bound(self) -> float:
        """Energy over the compulsory-traffic lower bound (>= 1)."""
        return self.energy_pj / self.min_energy_pj

    def to_dict(self) -> dict:
        """Plain data (JSON-ready), with the derived ratios and latency."""
        out = {name: getattr(self, name) for name in self.__slots__}
        out.update(
            latency_s=self.latency_s,
            cycles_over_bound=self.cycles_over_bound,
            energy_over_bound=self.energy_over_bound,
        )
        return out

    def format(self) -> str:
        """A human-readable multi-line report."""
        roles = [r.value for r in ROLE_ORDER]
        lines = [
            f"layer {self.layer} on {self.arch}",
            f"  MACs {self.macs:,} (executed {self.padded_macs:,}), utilization "
            f"{self.utilization:.1%}",
            f"  cycles {self.cycles:,} = compute {self.compute_cycles:,} + fill/drain "
            f"{self.fill_drain_cycles:,} + stall {self.stall_cycles:,}  "
            f"({self.latency_s * 1e6:.2f} us; lower bound {self.min_cycles:,}, "
            f"x{self.cycles_over_bound:.2f})",
            f"  energy {self.energy_pj / 1e6:,.3f} uJ (MACs {self.mac_energy_pj / 1e6:,.3f} uJ; "
            f"lower bound {self.min_energy_pj / 1e6:,.3f} uJ, x{self.energy_over_bound:.2f})",
            f"  area {self.area_um2 / 1e6:,.3f} mm^2, EDP {self.edp:.4g} pJ*cycles"
            + ("" if self.fits else "  ** DOES NOT FIT **"),
            "",
            f"  {'level':<12} {'tensor':<8} {'reads':>14} {'writes':>14} {'fills':>14} "
            f"{'energy uJ':>11}",
        ]
        for lv in self.reads:
            for r in roles:
                if self.reads[lv][r] or self.writes[lv][r]:
                    lines.append(
                        f"  {lv:<12} {r:<8} {self.reads[lv][r]:>14,} {self.writes[lv][r]:>14,} "
                        f"{self.fills[lv][r]:>14,} {self.energy_by_level_pj[lv][r] / 1e6:>11.4f}"
                    )
        lines.append("")
        lines.append(f"  {'level':<12} {'occupancy bits':>16} {'capacity bits':>16} {'cycles':>12}")
        for lv in self.reads:
            cap = self.capacity_bits[lv]
            lines.append(
                f"  {lv:<12} {self.occupancy_bits[lv]:>16,.0f} "
                f"{'unbounded' if cap is None else f'{cap:,}':>16} {self.level_cycles[lv]:>12,}"
            )
        return "\n".join(lines)


def evaluate_one(
    nest: LoopNest, arch: Architecture, mapping: Mapping, *, allow_overflow: bool = False
) -> CostReport:
    """The cost of one mapping (a batch of one); raises `MappingError` if a tile overflows a
    level unless ``allow_overflow``."""
    batch = MappingBatch.from_mappings(nest, arch, [mapping])
    cb = evaluate(nest, arch, batch)
    names = [lv.name for lv in arch.levels]
    if not allow_overflow and not cb.fits[0]:
        over = [
            n
            for i, n in enumerate(names)
            if arch.levels[i].size_bits is not None
            and cb.occupancy_bits[0, i] > arch.levels[i].size_bits
        ]
        i = names.index(over[0])
        raise MappingError(
            f"mapping: level {over[0]!r} tiles need {cb.occupancy_bits[0, i]:,.0f} bits, more "
            f"than its size_bits {arch.levels[i].size_bits:,}"
        )

    def per(arr: np.ndarray, cast: type) -> dict[str, dict[str, object]]:
        return {
            n: {r.value: cast(arr[0, i, j]) for j, r in enumerate(ROLE_ORDER)}
            for i, n in enumerate(names)
        }

    return CostReport(
        layer=nest.name,
        arch=arch.name,
        reads=per(cb.reads, int),
        writes=per(cb.writes, int),
        fills=per(cb.fills, int),
        occupancy_bits={n: float(cb.occupancy_bits[0, i]) for i, n in enumerate(names)},
        capacity_bits={lv.name: lv.size_bits for lv in arch.levels},
        energy_by_level_pj=per(cb.energy_by_level_pj, float),
        level_cycles={n: int(cb.level_cycles[0, i]) for i, n in enumerate(names)},
        cycles=int(cb.cycles[0]),
        compute_cycles=int(cb.compute_cycles[0]),
        fill_drain_cycles=int(cb.fill_drain_cycles[0]),
        stall_cycles=int(cb.stall_cycles[0]),
        energy_pj=float(cb.energy_pj[0]),
        mac_energy_pj=float(cb.mac_energy_pj[0]),
        area_um2=float(cb.area_um2),
        edp=float(cb.edp[0]),
        utilization=float(cb.utilization[0]),
        macs=cb.macs,
        padded_macs=int(cb.padded_macs[0]),
        min_cycles=cb.min_cycles,
        min_energy_pj=cb.min_energy_pj,
        fits=bool(cb.fits[0]),
        clock_mhz=arch.clock_mhz,
    )
