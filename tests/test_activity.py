"""Switching activity from a simulation's VCD (`codesign.sim.activity`): the toggle counter on a
hand-written VCD, then on the accelerator RTL against the toggles the stimulus implies (the
input words the bench drives, in order), and the activity table beside the model's energy."""

import shutil

import numpy as np
import pytest
from codesign.sim.activity import RANDOM_ACTIVITY, toggle_counts

VCD = """$timescale 1ps $end
$scope module top $end
$var wire 4 ! bus [3:0] $end
$var wire 1 " clk $end
$scope module pe_0_0 $end
$var reg 2 # weight [1:0] $end
$upscope $end
$scope module other $end
$var reg 2 $ weight [1:0] $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
bx !
0"
b00 #
b11 $
$end
#10
b0101 !
1"
b01 #
#20
b1111 !
b10 #
b00 $
#30
b1111 !
bx1 #
"""


def test_toggle_counter_by_hand(tmp_path):
    path = tmp_path / "w.vcd"
    path.write_text(VCD)
    counts = toggle_counts(
        path,
        {"bus": [("top", "bus")], "pe": [(r"top\.pe_\d+_\d+", "weight")], "clk": [("top", "clk")]},
    )
    # bus: x(=0) -> 0101 (2 bits), 0101 -> 1111 (2), 1111 -> 1111 (0)
    # pe_0_0.weight: 00 -> 01 (1), 01 -> 10 (2), 10 -> x1 (=01: 2); other.weight is not a PE
    assert counts == {"bus": 4, "pe": 5, "clk": 1}
    # sampled at rising clk edges where the qualifier (clk itself here) is 1, before the edge:
    # the only rising edge is #10, where bus was still x (=0): one sample, no toggle yet
    assert toggle_counts(path, {"q": [("top", "bus", ("clk",))]}) == {"q": 0}
    with pytest.raises(Exception, match="cannot be read"):
        toggle_counts(tmp_path / "missing.vcd", {"bus": [("top", "bus")]})


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_accelerator_activity_matches_the_stimulus(tmp_path):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_gemm

    from codesign.accel.array import SystolicConfig
    from codesign.accel.config import AcceleratorConfig
    from codesign.accel.program import program_layer

    cfg = AcceleratorConfig(array=SystolicConfig(rows=4, cols=4), max_tile_m=8, max_n_tiles=2)
    export_accelerator(cfg, tmp_path / "acc")
    design = load_accelerator(tmp_path / "acc")
    rng = np.random.default_rng(3)
    m, n, k = 16, 8, 12
    a = rng.integers(-128, 128, (m, k))
    a[a < 0] = 0  # ReLU-like inputs: half the activations are zero
    w = rng.integers(-128, 128, (k, n))
    args = (a, w, [3] * n, [2**30] * n, [14] * n, 0)
    res = verify_accelerator_gemm(design, *args, tile_m=8, activity=True, work_dir=tmp_path / "s")
    assert res.passed, res.mismatches
    rows = {r.level: r for r in res.activity}
    assert set(rows) >= {"dram reads", "dram writes", "acc_buf reads", "acc_buf writes", "MACs"}
    # every s_axis handshake carries the program's next word: the toggles between consecutive
    # accesses are the Hamming distances between consecutive words
    words = program_layer(design.config, *args, tile_m=8).stream_words
    expected = sum((x ^ y).bit_count() for x, y in zip(words[:-1], words[1:], strict=True))
    assert rows["dram reads"].toggles == expected
    for r in rows.values():
        assert 0 < r.activity <= 1
        assert r.activity_energy_pj == pytest.approx(
            r.model_energy_pj * r.activity / RANDOM_ACTIVITY
        )
    # zero activations switch the multipliers less than random data would
    assert rows["MACs"].activity < RANDOM_ACTIVITY
    assert "activity" in res.to_json()
