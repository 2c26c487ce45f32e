"""Accelerator (issue 8), synthesis tier: the whole accelerator through Yosys' xilinx flow."""

from __future__ import annotations

import math
import shutil

import pytest

from codesign.accel.array import SystolicConfig
from codesign.accel.config import AcceleratorConfig

pytestmark = [
    pytest.mark.synth,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("yosys") is None, reason="needs Yosys"),
]


def test_xilinx_dsps_are_the_pe_and_requantizer_multipliers(tmp_path):
    from codesign.hw.accel_export import export_accelerator

    from codesign.synth import synthesize

    rows = cols = 2
    cfg = AcceleratorConfig(
        array=SystolicConfig(rows=rows, cols=cols), max_tile_m=16, max_n_tiles=2, fifo_depth=4
    )
    export_accelerator(cfg, tmp_path / "acc")
    res = synthesize(tmp_path / "acc", "xilinx", timeout_s=900)
    # DSP48E1 multiplies 25 x 18 bits: one per 8 x 8 PE product; the 32 x 31 requantization
    # product of each column splits into ceil(32 / 25) x ceil(31 / 18) = 4 of them
    per_requant = math.ceil(32 / 25) * math.ceil(31 / 18)
    assert res.dsps == rows * cols + cols * per_requant
    assert res.luts > 0 and res.ffs > 0
