"""``codesign.accel``: the buildable accelerator as plain data, below both the explorer and the
RTL generators.

* `SystolicConfig`, `AcceleratorConfig` (``array``, ``config``): what ``codesign.hw``
  generates, validated at construction, with the cost model's view of it
  (``AcceleratorConfig.architecture`` / ``.mapping``).
* `REGISTERS` (``registers``): the CSR register map.
* ``costview``: the GEMM the host runs for a layer, the schedules the controller executes and
  the predicted cycles (`PIPELINE_CYCLES` included) that verification compares with.
* ``program``: the host's side of one layer (im2col, folded zero points, CSR writes, stream
  words, output decoding).
* ``runtime``: the host runtime that runs a whole quantized network layer after layer on an
  accelerator (simulated by ``codesign.sim``, or a user's FPGA driver).

Nothing here imports amaranth or cocotb.
"""

from __future__ import annotations

from codesign.accel.array import Dataflow, SystolicConfig
from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import (
    PIPELINE_CYCLES,
    LayerSchedule,
    NetworkPlan,
    PlannedLayer,
    layer_gemm,
    predicted_cycles,
)
from codesign.accel.registers import REGISTERS, Register

__all__ = [
    "AcceleratorConfig",
    "Dataflow",
    "LayerSchedule",
    "NetworkPlan",
    "PlannedLayer",
    "PIPELINE_CYCLES",
    "REGISTERS",
    "Register",
    "SystolicConfig",
    "layer_gemm",
    "predicted_cycles",
]
