"""The analytical cost model (vectorized over a batch of mappings), sparse effects, lower
bounds and the systolic timing contract. The brute-force oracle ``codesign.cost.reference`` is
not imported here: only tests use it."""

from codesign.cost.model import (
    CostBatch,
    CostReport,
    effectual_fraction,
    evaluate,
    evaluate_one,
    lower_bounds,
    stored_bits_per_element,
)
from codesign.cost.systolic import (
    OS_FORMULA,
    WS_FORMULA,
    WS_STREAM_FORMULA,
    os_tile_cycles,
    sparse_ws_tile_cycles,
    ws_stream_cycles,
    ws_tile_cycles,
)
from codesign.cost.timing import (
    pass_overhead_cycles,
    pass_overheads_cycles,
    pass_tail_cycles,
    systolic_tile_cycles,
)

__all__ = [
    "CostBatch",
    "CostReport",
    "evaluate",
    "evaluate_one",
    "effectual_fraction",
    "lower_bounds",
    "stored_bits_per_element",
    "systolic_tile_cycles",
    "pass_overhead_cycles",
    "pass_overheads_cycles",
    "pass_tail_cycles",
    "ws_stream_cycles",
    "WS_STREAM_FORMULA",
    "ws_tile_cycles",
    "os_tile_cycles",
    "sparse_ws_tile_cycles",
    "WS_FORMULA",
    "OS_FORMULA",
]
