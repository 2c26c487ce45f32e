"""Cycle formulas of one tile on the systolic arrays that ``codesign.hw`` generates.

This module is the single source of truth shared by the cost model, the RTL generators (which
cite the formula in their ``manifest.json``) and the test benches (which measure the RTL and
require exact agreement when there is no back-pressure).

Conventions (cycles are counted inclusively: the handshake cycle of the first input beat of the
tile is cycle 0, the handshake cycle of the last output beat is cycle ``n - 1``, the tile takes
``n`` cycles):

Weight-stationary, ``rows x cols`` PEs (rows = reduction depth, cols = output channels)
    The tile computes ``O[T, cols] = I[T, rows] @ W[rows, cols]``. Weights are loaded first, one
    row of ``cols`` weights per beat (``rows`` beats). Then ``T`` input vectors of ``rows``
    elements stream in, one per beat; the array skews them internally (row ``r`` sees its element
    ``r`` cycles later), partial sums flow down the columns and the outputs are de-skewed, so
    vector ``t`` leaves as one beat of ``cols`` sums ``rows + cols - 1`` cycles after it
    entered. Total: ``rows + T + rows + cols - 1``.

Output-stationary, ``rows x cols`` PEs (each PE owns one output ``O[r, c]``)
    The tile computes ``O[rows, cols] = A[rows, K] @ B[K, cols]``. ``K`` beats each carry one
    column of ``A`` (``rows`` elements) and one row of ``B`` (``cols`` elements); the array
    skews them internally so PE ``(r, c)`` performs step ``k`` at cycle ``k + r + c``. The last
    MAC happens at cycle ``K + rows + cols - 3``; the accumulators are then drained one row of
    ``cols`` outputs per beat, starting the next cycle. Total: ``K + rows + cols - 2 + rows``.

2:4 structured-sparse weight-stationary
    Same timing as weight-stationary with the same ``rows x cols`` PEs; each PE row consumes a
    group of four input elements (so an input beat carries ``4 * rows`` elements and the tile has
    the reduction depth ``4 * rows`` of the dense layer) and each PE holds the two non-zero
    weights of its group with their 2-bit indices (a weight beat carries ``2 * cols`` values and
    indices). Total: ``rows + T + rows + cols - 1``.

Back-to-back weight-stationary tiles (both weight-stationary arrays)
    The array accepts the next tile's first weight beat in the cycle after the previous tile's
    last input beat, so its weight load overlaps the previous tile's drain. ``n`` tiles streamed
    back to back with ``T_1 .. T_n`` input vectors take ``sum_i(rows + T_i) + rows + cols - 1``
    cycles from the first weight beat of the first tile to the last output beat of the last
    (``ws_stream_cycles``; one tile is ``ws_tile_cycles``). The output-stationary array drains
    its accumulators before it accepts the next tile: its tiles never overlap.
"""

from __future__ import annotations

from collections.abc import Sequence

from codesign.errors import SpecError

__all__ = [
    "ws_tile_cycles",
    "ws_stream_cycles",
    "os_tile_cycles",
    "sparse_ws_tile_cycles",
    "WS_FORMULA",
    "WS_STREAM_FORMULA",
    "OS_FORMULA",
]

WS_FORMULA = "rows + T + rows + cols - 1"
"""Weight-stationary tile cycles, as written in the RTL manifest (T = streamed input vectors)."""

WS_STREAM_FORMULA = "sum_i(rows + T_i) + rows + cols - 1"
"""Weight-stationary cycles of tiles streamed back to back (T_i = input vectors of tile i)."""

OS_FORMULA = "K + rows + cols - 2 + rows"
"""Output-stationary tile cycles, as written in the RTL manifest (K = reduction length)."""


def _check(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SpecError(f"{name} must be a positive integer, not {value!r}")
    return value


def ws_tile_cycles(rows: int, cols: int, stream_len: int) -> int:
    """Cycles of one weight-stationary tile: weight load, then ``stream_len`` input vectors
    through a ``rows x cols`` array, until the last output beat (see the module docstring)."""
    rows, cols, t = _check("rows", rows), _check("cols", cols), _check("stream_len", stream_len)
    return rows + t + rows + cols - 1


def ws_stream_cycles(rows: int, cols: int, stream_lens: Sequence[int]) -> int:
    """Cycles of weight-stationary tiles streamed back to back (each tile's weight load
    overlaps the previous tile's drain): ``sum_i(rows + T_i) + rows + cols - 1`` for the
    ``T_i = stream_lens[i]`` input vectors of each tile (see the module docstring).

    Raises
    ------
    SpecError
        If ``stream_lens`` is empty or holds a non-positive length.
    """
    rows, cols = _check("rows", rows), _check("cols", cols)
    if isinstance(stream_lens, (str, bytes)) or not isinstance(stream_lens, Sequence):
        raise SpecError(f"stream_lens must be a sequence of positive integers, not {stream_lens!r}")
    if not stream_lens:
        raise SpecError("stream_lens must hold at least one tile's stream length, not []")
    total = 0
    for i, t in enumerate(stream_lens):
        total += rows + _check(f"stream_lens[{i}]", t)
    return total + rows + cols - 1


def os_tile_cycles(rows: int, cols: int, reduction_len: int) -> int:
    """Cycles of one output-stationary tile: ``reduction_len`` input beats, then the drain of
    ``rows`` output rows (see the module docstring)."""
    rows, cols, k = (
        _check("rows", rows),
        _check("cols", cols),
        _check("reduction_len", reduction_len),
    )
    return k + rows + cols - 2 + rows


def sparse_ws_tile_cycles(rows: int, cols: int, stream_len: int) -> int:
    """Cycles of one 2:4-sparse weight-stationary tile (same timing as the dense array of the
    same PE count; each beat carries ``4 * rows`` input elements)."""
    return ws_tile_cycles(rows, cols, stream_len)
