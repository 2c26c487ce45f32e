"""Fill/drain latency of a pass through a systolic array, by dataflow, derived from the shared
RTL contract in ``codesign.cost.systolic`` (never restated here).

A *pass* is one run of the PE-level loops: the array holds its stationary operand while
``stream_len`` beats flow through it. For weight- and input-stationary arrays the stationary
operand is loaded first and ``stream_len`` vectors stream in (``ws_tile_cycles``; an
input-stationary array is a weight-stationary one with the two operands' roles swapped); for an
output-stationary array ``stream_len`` is the reduction length and the accumulators are drained
at the end (``os_tile_cycles``). A pass therefore takes ``stream_len + overhead`` cycles.

With ``ComputeArray.overlap_passes`` (weight- and input-stationary only) the passes are streamed
back to back: each pass's stationary-operand load overlaps the previous pass's drain
(``ws_stream_cycles``), so ``passes`` passes take ``passes * (stream_len + per_pass) + once``
cycles, with ``per_pass = rows`` (the load) and ``once = rows + cols - 1`` (the last drain).
``pass_overheads_cycles`` returns that pair for either issue mode.

The *tail* of a pass (``pass_tail_cycles``) is what its latency adds after its last streamed
beat: the drain that no transfer can overlap when the layer is bandwidth-bound. WS/IS:
``rows + cols - 1`` (the ``once`` of ``ws_stream_cycles``: the stationary load precedes the
stream); OS: ``rows + cols - 2 + rows`` (``os_tile_cycles`` beyond its ``K`` beats: the last
MAC's skew plus the drain of the accumulators); 0 for a non-systolic array.

The *head* is the mirror image at the start: the first pass cannot consume its beats faster
than the outermost level delivers them, so when one pass's share of the outermost level's
reads takes longer than the array takes to consume that pass's beats (its ``stream_len`` plus
the stationary load, ``pass_load_cycles``), the difference is exposed once, before the transfers
and compute overlap (a compute-bound layer behind a bus narrower than a beat).
"""

from __future__ import annotations

from codesign.arch.dataflow import Dataflow
from codesign.cost.systolic import os_tile_cycles, ws_stream_cycles, ws_tile_cycles
from codesign.errors import SpecError

__all__ = [
    "systolic_tile_cycles",
    "pass_overhead_cycles",
    "pass_overheads_cycles",
    "pass_tail_cycles",
    "pass_load_cycles",
]

_TILE = {
    Dataflow.WEIGHT_STATIONARY: ws_tile_cycles,
    Dataflow.INPUT_STATIONARY: ws_tile_cycles,
    Dataflow.OUTPUT_STATIONARY: os_tile_cycles,
}


def systolic_tile_cycles(dataflow: Dataflow, rows: int, cols: int, stream_len: int) -> int:
    """Cycles of one tile (pass) on a ``rows x cols`` systolic array of ``dataflow``.

    ``stream_len`` is the number of streamed vectors (WS, IS) or the reduction length (OS).
    WS/IS: ``rows + stream_len + rows + cols - 1``; OS: ``stream_len + rows + cols - 2 + rows``.
    """
    if dataflow not in _TILE:
        raise SpecError(
            f"dataflow must be one of {[d.value for d in _TILE]} for systolic timing, "
            f"not {getattr(dataflow, 'value', dataflow)!r}"
        )
    return _TILE[dataflow](rows, cols, stream_len)


def pass_overhead_cycles(dataflow: Dataflow, rows: int, cols: int, systolic: bool) -> int:
    """Cycles a pass takes beyond its ``stream_len`` beats: the systolic fill/drain (0 for a
    non-systolic array)."""
    if not systolic:
        return 0
    return systolic_tile_cycles(dataflow, rows, cols, 1) - 1


def pass_overheads_cycles(
    dataflow: Dataflow, rows: int, cols: int, systolic: bool, overlap_passes: bool = False
) -> tuple[int, int]:
    """``(per_pass, once)``: ``passes`` passes of ``stream_len`` beats take
    ``passes * (stream_len + per_pass) + once`` cycles.

    Without overlap ``per_pass`` is `pass_overhead_cycles` and ``once`` is 0. With
    ``overlap_passes`` (systolic weight- or input-stationary arrays only) both are read off the
    back-to-back contract ``ws_stream_cycles``: ``per_pass`` is what one more pass of one beat
    adds beyond its beat (``rows``, the stationary load), ``once`` what remains of a single
    pass (``rows + cols - 1``, the last drain).

    Raises
    ------
    SpecError
        If ``overlap_passes`` is set for a non-systolic or output-stationary array.
    """
    if not overlap_passes:
        return pass_overhead_cycles(dataflow, rows, cols, systolic), 0
    if not systolic or _TILE.get(dataflow) is not ws_tile_cycles:
        raise SpecError(
            f"compute.overlap_passes must be false for a "
            f"{'systolic' if systolic else 'non-systolic'} "
            f"{getattr(dataflow, 'value', dataflow)!r} array; it applies to systolic 'ws' and "
            f"'is' arrays"
        )
    one = ws_stream_cycles(rows, cols, [1])
    per_pass = ws_stream_cycles(rows, cols, [1, 1]) - one - 1
    return per_pass, one - 1 - per_pass


def pass_tail_cycles(dataflow: Dataflow, rows: int, cols: int, systolic: bool) -> int:
    """Cycles a pass's latency extends past its last streamed beat (0 for a non-systolic array).

    Read off the contract: WS/IS ``ws_stream_cycles(rows, cols, [1])`` minus its stationary
    load (``ws_stream_cycles([1, 1]) - ws_stream_cycles([1]) - 1``) and its one beat, i.e.
    ``rows + cols - 1``; OS ``os_tile_cycles(rows, cols, 1) - 1``, i.e. ``2 * rows + cols - 2``.
    """
    if not systolic:
        return 0
    if _TILE.get(dataflow) is ws_tile_cycles:
        return pass_overheads_cycles(dataflow, rows, cols, True, True)[1]
    return pass_overhead_cycles(dataflow, rows, cols, True)


def pass_load_cycles(dataflow: Dataflow, rows: int, cols: int, systolic: bool) -> int:
    """Beats a pass consumes besides its ``stream_len``: the stationary operand's load, read
    off the back-to-back contract (``rows`` for WS/IS); 0 for OS (every one of its ``K`` beats
    carries both operands) and for a non-systolic array."""
    if not systolic or _TILE.get(dataflow) is not ws_tile_cycles:
        return 0
    return pass_overheads_cycles(dataflow, rows, cols, True, True)[0]
