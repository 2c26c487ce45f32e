"""2:4 structured-sparse weight-stationary array."""

from __future__ import annotations

from amaranth.hdl import Cat, Value
from amaranth.lib import wiring
from codesign.hw.pe import SparseWeightStationaryPE
from codesign.hw.systolic import WeightStationaryArray

from codesign.accel.array import Dataflow

__all__ = ["SparseWeightStationaryArray"]


class SparseWeightStationaryArray(WeightStationaryArray):
    """2:4-sparse weight-stationary ``rows x cols`` array: ``O = I @ W`` with a reduction depth
    of ``4 * rows`` where every group of four consecutive rows of ``W`` holds at most two
    non-zeros per column.

    PE ``(r, c)`` keeps the two non-zero weights of group ``r`` of column ``c`` with their
    positions 0..3 and multiplies them with the matching two of its four activations
    ``I[t, 4r:4r+4]``, so each pass does the work of a dense tile of depth ``4 * rows`` with
    ``2 * rows * cols`` multipliers. Flow control, beats and timing are those of
    `WeightStationaryArray` (``codesign.cost.systolic.sparse_ws_tile_cycles``).

    Parameters
    ----------
    config : SystolicConfig
        ``dataflow`` must be ``"sparse24"``.

    Members
    -------
    weights : In(stream.Signature(weight_layout(config)))
        Beat ``r``: ``values[2c]``, ``values[2c+1]`` and ``indices[2c]``, ``indices[2c+1]``
        are the non-zeros of group ``r`` of column ``c`` and their positions.
    inputs : In(stream.Signature(input_layout(config)))
        ``4 * rows`` activations per beat, with ``last``.
    outputs : Out(stream.Signature(output_layout(config)))
        ``cols`` sums per beat, with ``last``.
    """

    _dataflows = (Dataflow.SPARSE_2_4,)

    _RETIMED = False  # (its PEs add two products in one cycle)

    def _make_pe(self) -> wiring.Component:
        cfg = self.config
        return SparseWeightStationaryPE(
            act_bits=cfg.act_bits, weight_bits=cfg.weight_bits, acc_bits=cfg.acc_bits
        )

    def _row_activations(self, row: int) -> Value:
        group = self.inputs.payload.data
        return Cat(*(group[4 * row + j] for j in range(4)))

    def _column_weight(self, col: int) -> Value:
        beat = self.weights.payload
        return Cat(
            beat.values[2 * col],
            beat.values[2 * col + 1],
            beat.indices[2 * col],
            beat.indices[2 * col + 1],
        )

    def _load_weight(self, pe: wiring.Component, bits: Value) -> list:
        split = 2 * self.config.weight_bits
        return [pe.w_values.eq(bits[:split]), pe.w_indices.eq(bits[split:])]
