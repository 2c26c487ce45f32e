"""Accelerator (issue 8), RTL tier: whole layers through the AXI4-Stream and CSR interfaces in
Icarus (cocotb), compared bit-exactly with the quantization package's integer reference, and
measured cycles against the cost model (within 2 %)."""

from __future__ import annotations

import json
import math
import shutil
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from codesign.accel.array import SystolicConfig
from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import PIPELINE_CYCLES

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog"),
]


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator

    root = tmp_path_factory.mktemp("accel")
    configs = {
        # full-width bus: compute-bound layers
        "wide": AcceleratorConfig(
            array=SystolicConfig(rows=8, cols=8), max_tile_m=64, max_n_tiles=4, fifo_depth=16
        ),
        # 8-bit bus, 4 words per beat: bandwidth-bound layers, width converter exercised
        "narrow": AcceleratorConfig(
            array=SystolicConfig(rows=4, cols=4), max_tile_m=8, max_n_tiles=2, axis_in_bits=8
        ),
        # input buffer: each input slice streamed once and reused for every column tile
        "reuse": AcceleratorConfig(
            array=SystolicConfig(rows=4, cols=4),
            max_tile_m=8,
            max_n_tiles=3,
            fifo_depth=16,
            input_buffer=True,
        ),
        # overlapped passes (the next pass's weights load while the previous one drains)
        "wide_ov": AcceleratorConfig(
            array=SystolicConfig(rows=8, cols=8),
            max_tile_m=64,
            max_n_tiles=4,
            fifo_depth=16,
            overlap_passes=True,
        ),
        # input buffer and overlapped passes, 16-bit bus (2 words per beat)
        "reuse_ov": AcceleratorConfig(
            array=SystolicConfig(rows=4, cols=4),
            max_tile_m=8,
            max_n_tiles=3,
            fifo_depth=16,
            axis_in_bits=16,
            input_buffer=True,
            overlap_passes=True,
        ),
        # output-stationary 4x4, 16-bit bus (4 words per 64-bit beat)
        "os": AcceleratorConfig(
            array=SystolicConfig(rows=4, cols=4, dataflow="os"), max_n_tiles=4, axis_in_bits=16
        ),
    }
    out = {}
    for name, cfg in configs.items():
        export_accelerator(cfg, root / name)
        out[name] = load_accelerator(root / name)
    return out


def test_manifest_describes_bus_interfaces(designs):
    design = designs["narrow"]
    manifest = json.loads((design.folder / "manifest.json").read_text())
    assert manifest["kind"] == "accelerator"
    ports = {p["name"]: p for p in manifest["ports"]}
    assert ports["s_axis_tdata"]["width"] == 8 and ports["s_axis_tdata"]["direction"] == "input"
    assert ports["m_axis_tdata"]["width"] == 4 * 8
    assert ports["csr_rdata"]["width"] == 32 and ports["csr_addr"]["width"] == 8
    assert [r["name"] for r in manifest["register_map"]][:2] == ["CTRL", "STATUS"]
    assert manifest["streams"]["s_axis"]["words_per_beat"] == 4
    # every port named in the manifest exists in the Verilog module header
    text = design.verilog_path.read_text()
    header = text[text.index(f"module {design.top}(") :].split(";", 1)[0]
    for name in ports:
        assert name in header


@pytest.mark.parametrize("name", ["wide", "os"])
def test_verilog_compiles_without_warnings(designs, tmp_path, name):
    import subprocess

    design = designs[name]
    out = subprocess.run(
        ["iverilog", "-g2005", "-Wall", "-o", str(tmp_path / "a.vvp"), str(design.verilog_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and out.stdout + out.stderr == ""


def test_digits_conv2_whole_layer_bit_exact_and_cycles_within_2_percent(designs, tmp_path):
    from codesign.sim.accelerator import verify_accelerator_layer

    res = verify_accelerator_layer(
        designs["wide"], "examples/models.py:digits_cnn:conv2", work_dir=tmp_path
    )
    assert res.mismatch_count == 0 and res.compared == 64 * 16
    # hand count: M=64 (8x8 pixels), K=72 (8*3*3), N=16 on 8x8: 9 x 2 passes of 64+16+8-1
    assert res.cycles_predicted == 9 * 2 * (64 + 2 * 8 + 8 - 1) + PIPELINE_CYCLES == 1578
    assert abs(res.cycles_measured - res.cycles_predicted) <= 0.02 * res.cycles_predicted
    assert res.passed
    # the CYCLES register counts start to done: at least the streamed window
    assert res.cycles_register >= res.cycles_measured
    report = res.to_json()  # verify.json: the keys of an array's report
    keys = {"passed", "mismatches", "cycles_measured", "cycles_predicted", "simulator"}
    assert keys | {"simulator_version"} <= set(report)
    assert report["mismatches"] == {"count": 0, "first": []} and report["simulator"] == "icarus"


def test_overlapped_passes_digits_conv2_whole_layer(designs, tmp_path):
    from codesign.sim.accelerator import verify_accelerator_layer

    res = verify_accelerator_layer(
        designs["wide_ov"], "examples/models.py:digits_cnn:conv2", work_dir=tmp_path
    )
    assert res.mismatch_count == 0 and res.compared == 64 * 16
    # hand count (codesign.cost.systolic.ws_stream_cycles): 18 passes of 8 weight and 64 input
    # beats back to back, then the last drain of 8 + 8 - 1 cycles
    assert res.cycles_predicted == 18 * (8 + 64) + 8 + 8 - 1 + PIPELINE_CYCLES == 1323
    assert abs(res.cycles_error) <= 0.02
    assert res.passed


def test_output_stationary_digits_conv2_whole_layer(designs, tmp_path):
    from codesign.sim.accelerator import verify_accelerator_layer

    res = verify_accelerator_layer(
        designs["os"], "examples/models.py:digits_cnn:conv2", work_dir=tmp_path
    )
    assert res.mismatch_count == 0 and res.compared == 64 * 16
    # hand count: 16 row tiles x 4 column tiles; each pass K = 72 beats of 4 + 4 activations
    # and weights (64 bits = 4 bus words): the 16-bit bus (288 cycles) outlasts the array
    # (72 + 4 + 4 - 2 + 4 = 82 cycles); the last pass's last MAC and drain follow the bus
    # (2 x 4 + 4 - 2 = 10 cycles)
    assert res.cycles_predicted == 16 * 4 * 72 * 4 + 10 + PIPELINE_CYCLES == 18454
    assert res.cycles_measured == res.cycles_predicted  # model + FIFO and output register
    assert abs(res.cycles_error) <= 0.02
    assert res.passed


def test_resnet18_layer_cut_to_16_channels_bit_exact(designs, tmp_path):
    from codesign.sim.accelerator import verify_accelerator_conv2d

    from codesign.quant.model import int_layer_io, quantize_model
    from codesign.quant.policy import QuantPolicy
    from codesign.workload import load_model

    full, _ = load_model("examples/models.py:resnet18")
    source = full.layer1[0].conv1  # 64 -> 64, 3x3, pad 1
    conv = nn.Conv2d(16, 16, 3, padding=1, bias=False)
    conv.weight.data = source.weight.data[:16, :16].clone()
    model = nn.Sequential(OrderedDict(conv=conv)).eval()
    x = torch.relu(torch.randn(2, 16, 6, 6, generator=torch.Generator().manual_seed(3)))
    qmodel = quantize_model(model, QuantPolicy.uniform(8), (x,))
    io = int_layer_io(qmodel, "conv", (x,))
    res = verify_accelerator_conv2d(
        designs["wide"], io.layer, io.input_q, io.output_q, tile_m=36, work_dir=tmp_path
    )
    assert res.mismatch_count == 0 and res.compared == 2 * 16 * 6 * 6
    assert res.passed, res.to_json()


@pytest.mark.parametrize("name", ["narrow", "reuse", "reuse_ov", "os"])
def test_odd_gemm_twice_with_back_pressure_and_idle_cycles_is_bit_exact(designs, tmp_path, name):
    from codesign.sim.accelerator import verify_accelerator_gemm

    rng = np.random.default_rng(11)
    m, n, k = 13, 7, 9  # none a multiple of the 4x4 array or of TILE_M = 8
    a = rng.integers(-128, 128, (m, k))
    a[0] = -128  # most negative activations
    w = rng.integers(-128, 128, (k, n))
    w[:, 0] = -128
    bias = rng.integers(-(2**20), 2**20, n)
    mult = rng.integers(2**30, 2**31, n)
    shift = rng.integers(10, 24, n)
    res = verify_accelerator_gemm(
        designs[name],
        a,
        w,
        bias,
        mult,
        shift,
        -7,
        tile_m=None if name == "os" else 8,
        back_pressure=0.3,
        idle=0.2,
        seed=5,
        work_dir=tmp_path,
        repeat=2,  # the second run starts from the state the first one left (no reset)
    )
    assert res.stalled and res.mismatch_count == 0 and res.compared == 2 * m * n
    assert res.passed


def test_input_buffer_gemm_cycles_within_2_percent_when_the_bus_keeps_up(designs, tmp_path):
    from codesign.sim.accelerator import verify_accelerator_gemm

    rng = np.random.default_rng(4)
    m, n, k = 32, 12, 24
    a = rng.integers(-128, 128, (m, k))
    w = rng.integers(-128, 128, (k, n))
    res = verify_accelerator_gemm(
        designs["reuse"], a, w, [5] * n, [2**30] * n, [12] * n, 1, work_dir=tmp_path
    )
    assert res.mismatch_count == 0
    # hand count: 4 row tiles x 6 K tiles x 3 column tiles, 8 + 8 + 4 - 1 cycles each
    assert res.cycles_predicted == 4 * 6 * 3 * (8 + 2 * 4 + 4 - 1) + PIPELINE_CYCLES
    # DRAM: inputs once (32 x 24), weights in every pass: 4 bytes a beat
    assert res.breakdown["levels"]["dram"] == (m * k + 72 * 16) // 4
    assert res.passed


def test_bandwidth_bound_gemm_cycles_within_2_percent(designs, tmp_path):
    from codesign.sim.accelerator import verify_accelerator_gemm

    rng = np.random.default_rng(2)
    m, n, k = 64, 8, 32
    a = rng.integers(-128, 128, (m, k))
    w = rng.integers(-128, 128, (k, n))
    res = verify_accelerator_gemm(
        designs["narrow"], a, w, [0] * n, [2**30] * n, [16] * n, 0, tile_m=8, work_dir=tmp_path
    )
    assert res.mismatch_count == 0
    # hand count: 8 bit bus; each of the 8 x 2 x 8 passes streams 4 weight and 8 input beats
    # of 32 bits = 48 words; the bus, not the array (8 + 8 + 4 - 1 = 19 cycles), is the limit,
    # then the last pass drains (4 + 4 - 1 = 7 cycles after its last input beat)
    passes = math.ceil(k / 4) * math.ceil(n / 4) * (m // 8)
    dram = res.breakdown["levels"]["dram"]
    assert dram == passes * (4 + 8) * 4 == res.cycles_predicted - 7 - PIPELINE_CYCLES
    assert res.cycles_measured == res.cycles_predicted  # model + FIFO and output register
    assert res.breakdown["stall"] > 0
    assert abs(res.cycles_error) <= 0.02
    assert res.passed


@pytest.mark.slow
def test_resnet18_layer_cut_to_32_channels_bandwidth_bound(tmp_path):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_conv2d

    from codesign.quant.model import int_layer_io, quantize_model
    from codesign.quant.policy import QuantPolicy
    from codesign.workload import load_model

    cfg = AcceleratorConfig(
        array=SystolicConfig(rows=8, cols=8), max_tile_m=64, max_n_tiles=4, axis_in_bits=32
    )
    export_accelerator(cfg, tmp_path / "acc")
    design = load_accelerator(tmp_path / "acc")
    full, _ = load_model("examples/models.py:resnet18")
    source = full.layer2[0].conv2  # 128 -> 128, 3x3, pad 1
    conv = nn.Conv2d(32, 32, 3, padding=1, bias=False)
    conv.weight.data = source.weight.data[:32, :32].clone()
    model = nn.Sequential(OrderedDict(conv=conv)).eval()
    x = torch.relu(torch.randn(1, 32, 8, 8, generator=torch.Generator().manual_seed(4)))
    qmodel = quantize_model(model, QuantPolicy.uniform(8), (x,))
    io = int_layer_io(qmodel, "conv", (x,))
    res = verify_accelerator_conv2d(design, io.layer, io.input_q, io.output_q, work_dir=tmp_path)
    assert res.mismatch_count == 0 and res.compared == 32 * 8 * 8
    assert res.breakdown["stall"] > 0  # the 32-bit bus is the bottleneck
    assert res.passed, res.to_json()


@pytest.mark.slow
def test_input_buffer_bandwidth_bound_gemm_with_many_row_tiles(tmp_path):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_gemm

    cfg = AcceleratorConfig(
        array=SystolicConfig(rows=4, cols=4),
        max_tile_m=64,
        max_n_tiles=4,
        fifo_depth=64,
        axis_in_bits=8,
        input_buffer=True,
    )
    export_accelerator(cfg, tmp_path / "acc")
    rng = np.random.default_rng(0)
    m, n, k = 256, 16, 64
    a = rng.integers(-128, 128, (m, k))
    w = rng.integers(-128, 128, (k, n))
    res = verify_accelerator_gemm(
        load_accelerator(tmp_path / "acc"), a, w, [0] * n, [2**30] * n, [14] * n, 0
    )
    assert res.mismatch_count == 0 and res.breakdown["stall"] > 0
    # the model overlaps all transfers with compute; the RTL cannot overlap the last row
    # tile's n2 > 0 passes (their inputs come from the buffer, nothing is left to fetch)
    assert res.cycles_measured > res.cycles_predicted
    assert res.passed, res.to_json()


@pytest.mark.parametrize("stages", [0, 2])
def test_requantizer_stages_change_the_latency_by_exactly_their_count(tmp_path, stages):
    """Fewer requantizer stages: the same bits, ``7 - stages`` cycles less per layer, and the
    prediction (model + ``pipeline_cycles``) still exact."""
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_layer

    from codesign.accel.costview import predict

    cfg = AcceleratorConfig(
        array=SystolicConfig(rows=4, cols=4), max_tile_m=16, max_n_tiles=4, requant_stages=stages
    )
    assert cfg.pipeline_cycles == PIPELINE_CYCLES - (7 - stages) and f"_rq{stages}_" in cfg.top_name
    export_accelerator(cfg, tmp_path / "design")
    res = verify_accelerator_layer(
        load_accelerator(tmp_path / "design"),
        "examples/models.py:digits_cnn:conv1",
        tile_m=16,
        work_dir=tmp_path / "run",
    )
    assert res.mismatch_count == 0 and res.passed
    model = int(predict(cfg, 64, 8, 9, 16).cycles)  # conv1: M 8x8 pixels, N 8, K 1x3x3
    assert res.cycles_predicted == model + 5 + stages
    assert res.cycles_measured == res.cycles_predicted
