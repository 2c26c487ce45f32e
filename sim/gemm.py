"""Tiling of ``O[M, N] = A[M, K] @ B[K, N]`` onto a generated array, stream beats of every
tile, reassembly of the outputs, and the cycles ``codesign.cost.systolic`` predicts.

How each dataflow cuts the GEMM (sizes that are not multiples of the array are zero-padded;
padded outputs are dropped on reassembly):

* weight-stationary ``rows x cols``: one tile per (``cols`` columns of ``B``, ``rows`` rows
  of ``B``, ``stream_len`` rows of ``A``); the tile loads its ``rows x cols`` block of ``B``
  (one row per beat) and streams its rows of ``A``; partial sums over the ``K`` tiles are added
  on the host.
* 2:4-sparse weight-stationary: the same with ``4 * rows`` rows of ``B`` per tile; every group
  of four rows of a column of ``B`` must hold at most two non-zeros (else `SpecError`).
* output-stationary ``rows x cols``: one tile per (``rows`` rows of ``A``, ``cols`` columns of
  ``B``, ``stream_len`` steps of ``K``), each beat a column of ``A`` and a row of ``B``; the
  tile drains its ``rows x cols`` block of ``O``.

Tiles are issued in this order, either *overlapped* (back to back, as a controller streams
them: the next tile's beats wait only for the array's ready) or *sequential* (the next tile
starts after the previous tile's last output). Overlapped, a weight-stationary array takes the
next weights right after the previous tile's last input, so the layer's predicted cycles are
``sum(rows + T_i) + rows + cols - 1`` (``codesign.cost.systolic.ws_stream_cycles``);
sequential, and for the output-stationary array in both modes (it drains before it accepts the
next tile), they are the sum of the tile cycles. The analytical cost model charges the same in
both modes (`cost_model_cycles`): sequential issue is its default, overlapped issue is its
``ComputeArray.overlap_passes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from codesign.sim.design import ArrayDesign

from codesign.accel.array import Dataflow
from codesign.accel.costview import array_model_cycles
from codesign.cost import systolic
from codesign.errors import SpecError

__all__ = [
    "TilePlan",
    "GemmPlan",
    "plan_gemm",
    "as_int_matrix",
    "check_2_4",
    "cost_model_cycles",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class TilePlan:
    """One array tile of a GEMM.

    Parameters
    ----------
    m, n, k : tuple of (int, int)
        Half-open ranges of the GEMM's ``M``, ``N`` and ``K`` the tile covers (unpadded).
    stream_len : int
        Streamed beats: ``T`` input vectors (weight-stationary) or ``K`` steps (output-
        stationary).
    beats : dict of str to tuple of int
        Payload integers per input stream port.
    expected : tuple of int
        Reference payload integers of the ``outputs`` port.
    predicted_cycles : int
        ``codesign.cost.systolic``'s cycles for this tile.
    """

    m: tuple[int, int]
    n: tuple[int, int]
    k: tuple[int, int]
    stream_len: int
    beats: dict[str, tuple[int, ...]]
    expected: tuple[int, ...]
    predicted_cycles: int


@dataclass(frozen=True, kw_only=True, slots=True)
class GemmPlan:
    """All tiles of one GEMM on one design, in issue order.

    Parameters
    ----------
    design : ArrayDesign
        The array.
    m, n, k : int
        GEMM sizes.
    tiles : tuple of TilePlan
        The tiles.
    stream_len : int
        The mapping's temporal tile (see `plan_gemm`).
    overlapped_cycles : int
        Predicted cycles of the whole GEMM with the tiles overlapped (module docstring).
    """

    design: ArrayDesign
    m: int
    n: int
    k: int
    stream_len: int
    tiles: tuple[TilePlan, ...]
    overlapped_cycles: int

    @property
    def sequential_cycles(self) -> int:
        """Predicted cycles with each tile starting after the previous one's last output."""
        return sum(t.predicted_cycles for t in self.tiles)

    def predicted_cycles(self, *, sequential: bool = False) -> int:
        """Predicted cycles of the whole GEMM in the given issue mode."""
        return self.sequential_cycles if sequential else self.overlapped_cycles

    def job(
        self,
        *,
        sequential: bool = False,
        seed: int = 1,
        input_pause_probability: float = 0.0,
        output_pause_probability: float = 0.0,
        timeout_cycles: int | None = None,
    ) -> dict:
        """The job of ``codesign.sim.tb_streams`` that runs this plan."""
        timeout = timeout_cycles
        if timeout is None:
            slack = 1 + 4 * (input_pause_probability > 0 or output_pause_probability > 0)
            timeout = 1000 + 4 * slack * self.sequential_cycles
        return {
            "inputs": list(self.design.input_streams),
            "outputs": ["outputs"],
            "reset": {"port": "rst", "cycles": 2},
            "overlap": not sequential,
            "seed": seed,
            "input_pause_probability": input_pause_probability,
            "output_pause_probability": output_pause_probability,
            "timeout_cycles": timeout,
            "tiles": [
                {
                    "in": {name: list(beats) for name, beats in t.beats.items()},
                    "out": {"outputs": list(t.expected)},
                }
                for t in self.tiles
            ],
        }

    def assemble(self, tile_beats: list[list[int]]) -> np.ndarray:
        """``O`` (int64, ``M x N``) from the output payloads received for each tile; partial
        sums over ``K`` tiles are added.

        Raises
        ------
        SpecError
            If the number of tiles or of beats of a tile is not what the plan expects.
        """
        if len(tile_beats) != len(self.tiles):
            raise SpecError(
                f"got outputs of {len(tile_beats)} tiles, the plan has {len(self.tiles)}"
            )
        out = np.zeros((self.m, self.n), dtype=np.int64)
        codec = self.design.outputs
        for index, (tile, beats) in enumerate(zip(self.tiles, tile_beats, strict=True)):
            if len(beats) != len(tile.expected):
                raise SpecError(
                    f"tile {index}: got {len(beats)} output beats, expected {len(tile.expected)}"
                )
            block = np.array([codec.unpack(b)["data"] for b in beats], dtype=np.int64)
            (m0, m1), (n0, n1) = tile.m, tile.n
            out[m0:m1, n0:n1] += block[: m1 - m0, : n1 - n0]
        return out


def as_int_matrix(name: str, value: object, bits: int) -> np.ndarray:
    """``value`` (torch tensor, numpy array or nested lists) as a 2-D int64 array whose entries
    fit signed ``bits``.

    Raises
    ------
    SpecError
        If it is not 2-D, not integer or out of range.
    """
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise SpecError(f"{name} must be a non-empty 2-D matrix, not shape {tuple(arr.shape)}")
    if arr.dtype.kind not in "iu":
        raise SpecError(f"{name} must hold integers, not dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if arr.min() < lo or arr.max() > hi:
        bad = arr.min() if arr.min() < lo else arr.max()
        raise SpecError(f"{name} holds {int(bad)}, outside the {bits}-bit range [{lo}, {hi}]")
    return arr


def check_2_4(b: np.ndarray) -> None:
    """Raise `SpecError` unless every aligned group of four rows of each column of ``b``
    (``K x N``) holds at most two non-zeros."""
    k, n = b.shape
    padded = np.zeros((-(-k // 4) * 4, n), dtype=np.int64)
    padded[:k] = b
    counts = (padded.reshape(-1, 4, n) != 0).sum(axis=1)
    bad = np.argwhere(counts > 2)
    if len(bad):
        g, col = (int(v) for v in bad[0])
        raise SpecError(
            f"weights are not 2:4 sparse: column {col}, rows {4 * g}..{4 * g + 3} hold "
            f"{int(counts[g, col])} non-zeros (at most 2 allowed)"
        )


def _block(x: np.ndarray, r: tuple[int, int], c: tuple[int, int], shape: tuple[int, int]):
    out = np.zeros(shape, dtype=np.int64)
    part = x[r[0] : r[1], c[0] : c[1]]
    out[: part.shape[0], : part.shape[1]] = part
    return out


def _ranges(total: int, step: int) -> list[tuple[int, int]]:
    return [(s, min(s + step, total)) for s in range(0, total, step)]


def _out_beats(design: ArrayDesign, block: np.ndarray) -> tuple[int, ...]:
    codec = design.outputs
    last = len(block) - 1
    return tuple(
        codec.pack({"data": [int(v) for v in row], "last": int(i == last)})
        for i, row in enumerate(block)
    )


def _sparse_weight_beat(design: ArrayDesign, group: np.ndarray) -> int:
    """One weight beat of the 2:4 array from a ``4 x cols`` group of ``B``."""
    values, indices = [], []
    for col in range(group.shape[1]):
        nz = [int(i) for i in np.flatnonzero(group[:, col])]
        spare = [i for i in range(4) if i not in nz]
        picks = (nz + spare)[:2]
        values += [int(group[i, col]) for i in picks]
        indices += picks
    return design.weights.pack({"values": values, "indices": indices})


def plan_gemm(
    design: ArrayDesign, a: object, b: object, *, stream_len: int | None = None
) -> GemmPlan:
    """Cut ``A @ B`` into tiles of ``design`` (see the module docstring).

    Parameters
    ----------
    design : ArrayDesign
        The array.
    a : matrix
        ``M x K`` integers within ``act_bits``.
    b : matrix
        ``K x N`` integers within ``weight_bits`` (2:4 sparse for a sparse array).
    stream_len : int, optional
        The mapping's temporal tile: rows of ``A`` per weight-stationary tile (default ``M``)
        or reduction steps per output-stationary tile (default: ``K``, capped by the
        accumulator's ``reduction_depth``).

    Raises
    ------
    SpecError
        For mismatched shapes, out-of-range values, non-2:4 weights on a sparse array or a bad
        ``stream_len``.
    """
    cfg = design.config
    a = as_int_matrix("A", a, cfg.act_bits)
    b = as_int_matrix("B", b, cfg.weight_bits)
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2:
        raise SpecError(f"A is {m}x{k} and B is {k2}x{n}: the inner dimensions differ")
    rows, cols = cfg.rows, cfg.cols
    flow = cfg.dataflow
    if flow is Dataflow.OUTPUT_STATIONARY:
        limit = min(k, cfg.reduction_depth)
        default = limit
    else:
        limit, default = m, m
    if stream_len is None:
        stream_len = default
    if (
        not isinstance(stream_len, int)
        or isinstance(stream_len, bool)
        or not 1 <= stream_len <= limit
    ):
        raise SpecError(f"stream_len must be an integer in 1..{limit}, not {stream_len!r}")
    tiles: list[TilePlan] = []
    if flow is Dataflow.OUTPUT_STATIONARY:
        for mr in _ranges(m, rows):
            for nr in _ranges(n, cols):
                for kr in _ranges(k, stream_len):
                    steps = kr[1] - kr[0]
                    ab = _block(a, mr, kr, (rows, steps))
                    bb = _block(b, kr, nr, (steps, cols))
                    beats = tuple(
                        design.inputs.pack(
                            {
                                "a": [int(v) for v in ab[:, s]],
                                "b": [int(v) for v in bb[s]],
                                "last": int(s == steps - 1),
                            }
                        )
                        for s in range(steps)
                    )
                    tiles.append(
                        TilePlan(
                            m=mr,
                            n=nr,
                            k=kr,
                            stream_len=steps,
                            beats={"inputs": beats},
                            expected=_out_beats(design, ab @ bb),
                            predicted_cycles=systolic.os_tile_cycles(rows, cols, steps),
                        )
                    )
        total = sum(t.predicted_cycles for t in tiles)
    else:
        sparse = flow is Dataflow.SPARSE_2_4
        depth = 4 * rows if sparse else rows
        if sparse:
            check_2_4(b)
        cycles_fn = systolic.sparse_ws_tile_cycles if sparse else systolic.ws_tile_cycles
        for nr in _ranges(n, cols):
            for kr in _ranges(k, depth):
                wb = _block(b, kr, nr, (depth, cols))
                if sparse:
                    w_beats = tuple(
                        _sparse_weight_beat(design, wb[4 * r : 4 * r + 4]) for r in range(rows)
                    )
                else:
                    w_beats = tuple(
                        design.weights.pack({"data": [int(v) for v in wb[r]]}) for r in range(rows)
                    )
                for mr in _ranges(m, stream_len):
                    t_len = mr[1] - mr[0]
                    ab = _block(a, mr, kr, (t_len, depth))
                    i_beats = tuple(
                        design.inputs.pack(
                            {"data": [int(v) for v in ab[t]], "last": int(t == t_len - 1)}
                        )
                        for t in range(t_len)
                    )
                    tiles.append(
                        TilePlan(
                            m=mr,
                            n=nr,
                            k=kr,
                            stream_len=t_len,
                            beats={"weights": w_beats, "inputs": i_beats},
                            expected=_out_beats(design, ab @ wb),
                            predicted_cycles=cycles_fn(rows, cols, t_len),
                        )
                    )
        total = systolic.ws_stream_cycles(rows, cols, [t.stream_len for t in tiles])
    return GemmPlan(
        design=design,
        m=m,
        n=n,
        k=k,
        stream_len=stream_len,
        tiles=tuple(tiles),
        overlapped_cycles=total,
    )


def cost_model_cycles(plan: GemmPlan, *, sequential: bool = False) -> int:
    """Array cycles (compute plus fill/drain, no memory stalls) that the analytical cost model
    ``codesign.cost.evaluate_one`` predicts for the plan's GEMM with the same mapping on the
    preset architecture of the same array (``codesign.arch.presets.weight_stationary``, with
    ``nm=(2, 4)`` for the 2:4-sparse array, or ``output_stationary``) in the given issue mode.

    Overlapped issue (the default, like `GemmPlan.predicted_cycles`) evaluates the
    weight-stationary preset with ``overlap_passes=True`` (each pass's weight load overlaps the
    previous drain); sequential issue with the default ``overlap_passes=False``. The
    output-stationary array never overlaps its tiles, so both modes use its plain preset.

    The mapping: weight-stationary unrolls ``K`` over the rows (``4 * rows`` lanes of the
    2:4 array, whose layer has weight density 1/2) and ``N`` over the columns and streams
    ``stream_len`` rows of ``A`` per pass; output-stationary unrolls ``M`` and ``N``
    and streams ``stream_len`` reduction steps. The streamed dim's tiles are the outermost
    loop: the plan sends the stationary operand again with every tile, so every pass is a
    reload in the model too. A dim that the tiles do not divide is padded by the model (the
    last RTL tile is shorter), so the two agree exactly when they divide.
    """
    return array_model_cycles(
        plan.design.config, plan.m, plan.n, plan.k, plan.stream_len, sequential=sequential
    )
