"""Payload layouts of every stream port, shared by the RTL and the test benches.

Each function returns the ``amaranth.lib.data`` layout of one stream's payload for a given
`SystolicConfig`. The layouts are the single definition of the bit packing: the generators use
them for their ports, and test benches pack and unpack beats with `pack` and `unpack` (which
reads back as plain Python ints, lists and dicts). Element ``i`` of an array sits at bits
``[i * width, (i + 1) * width)`` of its field; struct fields are packed in the order listed.

Beats (see ``codesign.cost.systolic`` for the timing):

* ``ws``: ``weights`` carries one row of ``cols`` weights (beat ``r`` loads PE row ``r``);
  ``inputs`` carries ``data`` (``rows`` activations) and ``last`` (end of the tile);
  ``outputs`` carries ``data`` (``cols`` sums) and ``last``.
* ``sparse24``: ``weights`` carries ``values`` and ``indices`` (``2 * cols`` each; entries
  ``2c`` and ``2c + 1`` are the two non-zeros of column ``c`` and their positions 0..3 in the
  group of four); ``inputs`` carries ``4 * rows`` activations (PE row ``r`` reads
  ``data[4r:4r+4]``) and ``last``.
* ``os``: ``inputs`` carries ``a`` (a column of A, ``rows`` values), ``b`` (a row of B,
  ``cols`` values) and ``last`` (the final step ``k = K - 1``); ``outputs`` carries one row of
  ``cols`` accumulators and ``last`` (the final row).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, signed, unsigned
from amaranth.lib import data

from codesign.accel.array import Dataflow, SystolicConfig
from codesign.errors import SpecError

__all__ = ["weight_layout", "input_layout", "output_layout", "pack", "unpack"]


def weight_layout(config: SystolicConfig) -> data.Layout:
    """Layout of one ``weights`` beat (``ws`` and ``sparse24`` only)."""
    if config.dataflow is Dataflow.WEIGHT_STATIONARY:
        return data.ArrayLayout(signed(config.weight_bits), config.cols)
    if config.dataflow is Dataflow.SPARSE_2_4:
        return data.StructLayout(
            {
                "values": data.ArrayLayout(signed(config.weight_bits), 2 * config.cols),
                "indices": data.ArrayLayout(unsigned(2), 2 * config.cols),
            }
        )
    raise SpecError(
        f"dataflow {config.dataflow.value!r} has no weights stream (weights arrive with the "
        f"inputs as 'b'); only 'ws' and 'sparse24' have one"
    )


def input_layout(config: SystolicConfig) -> data.StructLayout:
    """Layout of one ``inputs`` beat."""
    act = signed(config.act_bits)
    if config.dataflow is Dataflow.OUTPUT_STATIONARY:
        return data.StructLayout(
            {
                "a": data.ArrayLayout(act, config.rows),
                "b": data.ArrayLayout(signed(config.weight_bits), config.cols),
                "last": 1,
            }
        )
    per_row = 4 if config.dataflow is Dataflow.SPARSE_2_4 else 1
    return data.StructLayout({"data": data.ArrayLayout(act, per_row * config.rows), "last": 1})


def output_layout(config: SystolicConfig) -> data.StructLayout:
    """Layout of one ``outputs`` beat: ``cols`` accumulators and ``last``."""
    return data.StructLayout(
        {"data": data.ArrayLayout(signed(config.acc_bits), config.cols), "last": 1}
    )


def pack(layout: data.Layout, value: Any) -> int:
    """Bits of a payload (an ``int`` of ``layout.size`` bits) from nested dicts/lists of ints."""
    return Const.cast(layout.const(value)).value


def unpack(layout: data.Layout, bits: int) -> Any:
    """Inverse of `pack`: a payload's bits as nested dicts (structs) and lists (arrays) of
    ints, signed elements sign-extended."""
    return _to_python(layout.from_bits(bits))


def _to_python(value: Any) -> Any:
    if isinstance(value, int):
        return value
    layout = data.Layout.cast(value.shape())
    if isinstance(layout, data.ArrayLayout):
        return [_to_python(value[i]) for i in range(layout.length)]
    return {name: _to_python(value[name]) for name, _field in layout}
