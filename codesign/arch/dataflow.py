"""`Dataflow`: the closed set of dataflows an array is built for. Hardware owns its dataflow:
``codesign.arch`` (the array's ``ComputeArray.dataflow``) defines it, ``codesign.mapping``
attaches a spatial template to each value (``codesign.mapping.dataflow.TEMPLATES``)."""

from __future__ import annotations

import enum

__all__ = ["Dataflow"]


class Dataflow(enum.Enum):
    """The closed set of dataflows (spatial templates) an array can be built for."""

    WEIGHT_STATIONARY = "ws"
    OUTPUT_STATIONARY = "os"
    INPUT_STATIONARY = "is"
    ROW_STATIONARY = "rs"
    UNCONSTRAINED = "any"
    """No spatial template: any dim on rows or columns, nothing held stationary (a
    non-systolic array described by another tool, e.g. an imported Timeloop architecture)."""
