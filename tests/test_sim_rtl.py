"""cocotb + Icarus: the generic bench on a hand-written fixture, and the generated arrays
verified bit-exactly against torch / the quantized model's integer reference, with measured
cycles equal to ``codesign.cost.systolic``.

The default tier runs a representative subset (each dataflow, sparse, odd sizes, corner
values, back-pressure, the digits CNN's conv2, the CLI); the full sweep is marked ``slow``.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from codesign.hw import SystolicConfig, export_verilog
from codesign.sim import build_design, load_design, run_bench, verify_conv2d, verify_gemm
from codesign.sim.payload import PayloadCodec
from codesign.sim.verify import random_operands, verify_attention, verify_layer

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed"),
]

FIXTURES = Path(__file__).parent / "rtl_fixtures"
DIGITS = "examples/models.py:digits_cnn"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sim-cache")


@pytest.fixture(scope="session")
def designs(tmp_path_factory):
    """Generated arrays, exported once per session, by name."""
    made: dict[str, object] = {}

    def get(rows: int, cols: int, flow: str, **kw):
        cfg = SystolicConfig(rows=rows, cols=cols, dataflow=flow, **kw)
        key = cfg.top_name
        if key not in made:
            folder = tmp_path_factory.mktemp(key)
            export_verilog(cfg, folder, force=True)
            made[key] = load_design(folder)
        return made[key]

    return get


# ---------------------------------------------------------------- the bench on a fixture


def _dot4_job(tiles_spec, seed=0, **extra):
    c8, rng, tiles = PayloadCodec.vector("data", 8, 4), random.Random(seed), []
    for t_len in tiles_spec:
        w = [rng.randint(-128, 127) for _ in range(4)]
        xs = [[rng.randint(-128, 127) for _ in range(4)] for _ in range(t_len)]
        expected = [sum(p * q for p, q in zip(w, x, strict=True)) & 0xFFFFFFFF for x in xs]
        tiles.append(
            {
                "set": {"t_len": t_len},
                "in": {"w": [c8.pack({"data": w})], "i": [c8.pack({"data": x}) for x in xs]},
                "out": {"o": expected},
            }
        )
    return {
        "inputs": ["w", "i"],
        "outputs": ["o"],
        "reset": {"port": "rst"},
        "tiles": tiles,
        **extra,
    }


@pytest.fixture(scope="session")
def dot4(cache_dir):
    return build_design([FIXTURES / "dot4.v"], "dot4", cache_dir=cache_dir)


def test_bench_measures_fixture_cycles_exactly(dot4, tmp_path):
    # dot4: one weight beat, t_len input beats, each output one cycle after its input:
    # a tile takes 1 + t_len + 1 cycles, and tiles follow each other without a gap.
    run = run_bench(dot4, "codesign.sim.tb_streams", job=_dot4_job([5, 1, 3]), work_dir=tmp_path)
    assert run.passed and run.result["mismatch_count"] == 0
    assert [t["cycles"] for t in run.result["tiles"]] == [7, 3, 5]
    assert run.result["layer_cycles"] == 15
    first = run.result["tiles"][0]
    assert first["in_cycles"]["i"] == [first["in_cycles"]["w"][0] + 1 + k for k in range(5)]


def test_bench_survives_back_pressure_and_idle_cycles(dot4, tmp_path):
    job = _dot4_job([6, 2, 4], input_pause_probability=0.4, output_pause_probability=0.5, seed=3)
    run = run_bench(dot4, "codesign.sim.tb_streams", job=job, work_dir=tmp_path)
    assert run.passed and run.result["compared"] == 12 and run.result["mismatch_count"] == 0
    cycles = [t["cycles"] for t in run.result["tiles"]]
    assert all(c >= t + 2 for c, t in zip(cycles, [6, 2, 4], strict=True))
    assert sum(cycles) > 18  # the pauses did stall it


def test_bench_scoreboard_catches_wrong_beats(dot4, tmp_path):
    job = _dot4_job([4])
    job["tiles"][0]["out"]["o"][2] ^= 1 << 7
    run = run_bench(dot4, "codesign.sim.tb_streams", job=job, work_dir=tmp_path)
    assert not run.passed and run.failures == 1
    assert run.result["mismatch_count"] == 1
    assert run.result["mismatches"][0]["where"] == "tile 0 o"
    assert run.result["mismatches"][0]["index"] == [2]


def test_build_is_cached_by_verilog_hash(dot4, cache_dir):
    vvp = dot4.build_dir / "sim.vvp"
    stamp = vvp.stat().st_mtime_ns
    again = build_design([FIXTURES / "dot4.v"], "dot4", cache_dir=cache_dir)
    assert again.key == dot4.key and vvp.stat().st_mtime_ns == stamp
    assert dot4.simulator.name == "icarus" and dot4.simulator.version[0].isdigit()


def test_same_design_in_another_cache_folder_is_built_there(dot4, tmp_path):
    other = build_design([FIXTURES / "dot4.v"], "dot4", cache_dir=tmp_path / "cache")
    assert other.key == dot4.key and other.build_dir != dot4.build_dir
    assert (other.build_dir / "sim.vvp").is_file()
    run = run_bench(other, "codesign.sim.tb_streams", job=_dot4_job([2]), work_dir=tmp_path / "w")
    assert run.passed


def test_waves_dump_a_vcd(cache_dir, tmp_path):
    build = build_design([FIXTURES / "dot4.v"], "dot4", waves=True, cache_dir=cache_dir)
    run = run_bench(
        build, "codesign.sim.tb_streams", job=_dot4_job([2]), work_dir=tmp_path, waves=True
    )
    assert run.passed and run.waves_path is not None
    text = run.waves_path.read_text()
    assert text.startswith("$date") or "$timescale" in text
    assert "o__valid" in text


# ---------------------------------------------------------------- generated arrays


def _check(result):
    assert result.mismatch_count == 0, result.mismatches
    assert result.cycles_measured == result.cycles_predicted
    assert result.tile_cycles_measured == result.tile_cycles_predicted
    assert result.passed


@pytest.mark.parametrize(
    "flow,rows,cols,mnk",
    [("ws", 4, 4, (5, 6, 7)), ("os", 4, 4, (5, 6, 7)), ("sparse24", 3, 5, (9, 7, 30))],
)
def test_gemm_each_dataflow_odd_sizes(designs, cache_dir, flow, rows, cols, mnk):
    design = designs(rows, cols, flow)
    a, b = random_operands(design, *mnk, seed=1)
    _check(verify_gemm(design, a, b, cache_dir=cache_dir))


def test_cost_model_equals_the_rtl_in_both_issue_modes(designs, cache_dir):
    design = designs(4, 4, "ws")
    a, b = random_operands(design, 5, 6, 7, seed=3)
    # 2 column tiles x 2 depth tiles of T = 5: sequential, every tile pays its full fill/drain
    seq = verify_gemm(design, a, b, sequential=True, cache_dir=cache_dir)
    _check(seq)
    assert seq.cycles_measured == seq.cycles_cost_model == 4 * (4 + 5 + 4 + 4 - 1) == 64
    # streamed back to back, the RTL loads the next weights during the previous drain; the
    # model with overlap_passes charges 4 x (4 + 5) + 4 + 4 - 1, exactly what Icarus measures
    over = verify_gemm(design, a, b, cache_dir=cache_dir)
    _check(over)
    assert not over.sequential and over.to_json()["issue"] == "overlapped"
    assert over.cycles_measured == over.cycles_cost_model == 4 * (4 + 5) + 4 + 4 - 1 == 43
    assert seq.cycles_measured - over.cycles_measured == 3 * (4 + 4 - 1)
    # uneven stream tiles (M = 5 as 2 + 2 + 1): the model pads the last pass, so it matches
    # when the tiles divide M; M = 6 in tiles of 2 divides
    a6, b6 = random_operands(design, 6, 6, 7, seed=4)
    for sequential in (False, True):
        res = verify_gemm(design, a6, b6, stream_len=2, sequential=sequential, cache_dir=cache_dir)
        _check(res)
        assert res.cycles_measured == res.cycles_cost_model
    # the 2:4-sparse 3 x 5 array is the N:M preset (nm=(2, 4)): a pass covers K = 4 x 3 = 12,
    # so K = 30 is 3 depth tiles (padded) x 2 column tiles of T = 9 on the physical 3 x 5 PEs
    sparse = designs(3, 5, "sparse24")
    a, b = random_operands(sparse, 9, 7, 30, seed=3)
    expected = {True: 6 * (3 + 9 + 3 + 5 - 1), False: 6 * (3 + 9) + 3 + 5 - 1}
    for sequential in (False, True):
        res = verify_gemm(sparse, a, b, sequential=sequential, cache_dir=cache_dir)
        _check(res)
        assert res.cycles_measured == res.cycles_cost_model == expected[sequential]
        # shorter passes (T = 3 of M = 9): 18 passes
        res = verify_gemm(sparse, a, b, stream_len=3, sequential=sequential, cache_dir=cache_dir)
        _check(res)
        assert res.cycles_measured == res.cycles_cost_model


def test_gemm_corner_values_single_row_and_column(designs, cache_dir):
    design = designs(4, 4, "ws")
    # most negative x most negative everywhere, zeros, and a 1 x 9 x 1 product.
    k = 9
    a = torch.full((3, k), -128, dtype=torch.int64)
    a[1] = 0
    b = torch.full((k, 5), -128, dtype=torch.int64)
    b[:, 2] = 0
    b[:, 4] = 127
    result = verify_gemm(design, a, b, cache_dir=cache_dir)
    _check(result)
    single = verify_gemm(design, a[:1], b[:, :1], cache_dir=cache_dir)
    _check(single)


def test_gemm_with_back_pressure_stays_bit_exact(designs, cache_dir):
    design = designs(4, 4, "ws")
    a, b = random_operands(design, 6, 5, 9, seed=2)
    result = verify_gemm(design, a, b, back_pressure=0.4, idle=0.3, seed=5, cache_dir=cache_dir)
    assert result.passed and result.mismatch_count == 0 and result.stalled
    assert result.cycles_measured > result.cycles_predicted


def test_wrong_reference_is_reported_with_indices(designs, cache_dir, tmp_path):
    design = designs(4, 4, "ws")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-128, 128, (1, 2, 4, 4), generator=g)
    w = torch.randint(-128, 128, (3, 2, 3, 3), generator=g)
    ref = torch.nn.functional.conv2d(x.double(), w.double(), padding=1).round().to(torch.int64)
    ref[0, 2, 1, 3] += 1
    result = verify_conv2d(
        design, x, w, ref, padding=(1, 1), cache_dir=cache_dir, work_dir=tmp_path
    )
    assert result.work_dir == str(tmp_path)  # kept for inspection
    assert not result.passed and result.mismatch_count == 1
    (m,) = result.mismatches
    assert (m.where, m.index, m.actual - m.expected) == ("O", (0, 2, 1, 3), -1)
    assert result.cycles_measured == result.cycles_predicted  # only the data was wrong


def test_digits_cnn_conv2_against_quant_integer_reference(designs, cache_dir):
    design = designs(4, 4, "ws")
    result = verify_layer(design, f"{DIGITS}:conv2", cache_dir=cache_dir)
    _check(result)
    assert result.compared == 16 * 8 * 8


def test_attention_scores_of_the_transformer_example(designs, cache_dir):
    result = verify_attention(
        designs(4, 4, "os"), "examples/models.py:transformer_encoder:layers.0.attn",
        cache_dir=cache_dir,
    )  # fmt: skip
    _check(result)
    assert result.compared == 16 * 16


def test_cli_verify_writes_verify_json(designs, tmp_path):
    design = designs(4, 4, "os")
    out = tmp_path / "verify.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codesign.cli",
            "verify",
            str(design.folder),
            "--gemm",
            "4,3,6",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PASSED" in proc.stdout
    report = json.loads(out.read_text())
    for key in (
        "passed",
        "mismatches",
        "cycles_measured",
        "cycles_predicted",
        "simulator",
        "simulator_version",
    ):
        assert key in report
    assert report["passed"] is True and report["mismatches"] == {"count": 0, "first": []}
    assert (
        report["cycles_measured"] == report["cycles_predicted"] == 6 + 4 + 4 - 2 + 4
    )  # K + rows + cols - 2 + rows
    assert report["simulator"] == "icarus"


def test_cli_verify_bad_layer_is_one_line(designs):
    design = designs(4, 4, "os")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codesign.cli",
            "verify",
            str(design.folder),
            "--layer",
            "examples/models.py:digits_cnn",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: layer must be MODULE_PATH:FACTORY:LAYER")
    assert len(proc.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- full sweep (slow)

SWEEP_ARRAYS = [
    ("ws", 2, 2),
    ("ws", 3, 5),
    ("ws", 8, 8),
    ("os", 2, 2),
    ("os", 3, 5),
    ("os", 8, 8),
    ("sparse24", 2, 2),
    ("sparse24", 3, 5),
    ("sparse24", 4, 4),
]
SWEEP_SHAPES = [(1, 1, 1), (1, 7, 1), (7, 1, 13), (8, 8, 8), (10, 11, 33)]


@pytest.mark.slow
@pytest.mark.parametrize("flow,rows,cols", SWEEP_ARRAYS)
@pytest.mark.parametrize("mnk", SWEEP_SHAPES)
def test_sweep_gemm(designs, cache_dir, flow, rows, cols, mnk):
    design = designs(rows, cols, flow)
    a, b = random_operands(design, *mnk, seed=sum(mnk))
    _check(verify_gemm(design, a, b, cache_dir=cache_dir))
    stalled = verify_gemm(design, a, b, back_pressure=0.3, idle=0.2, cache_dir=cache_dir)
    assert stalled.passed and stalled.mismatch_count == 0


@pytest.mark.slow
@pytest.mark.parametrize("flow,rows,cols", [("ws", 8, 8), ("os", 4, 4), ("sparse24", 4, 4)])
@pytest.mark.parametrize("layer", ["conv1", "conv2", "fc"])
def test_sweep_digits_cnn_layers(designs, cache_dir, flow, rows, cols, layer):
    _check(verify_layer(designs(rows, cols, flow), f"{DIGITS}:{layer}", cache_dir=cache_dir))


@pytest.mark.slow
def test_sweep_attention_scores_and_stream_len(designs, cache_dir):
    # Attention scores S = Q K^T of int8 activations (seq 12, head dim 16) on each dataflow,
    # with a mapping that streams 5 rows (ws) / 7 reduction steps (os) per tile.
    g = torch.Generator().manual_seed(4)
    q = torch.randint(-128, 128, (12, 16), generator=g)
    kt = torch.randint(-128, 128, (16, 12), generator=g)
    _check(verify_gemm(designs(4, 4, "ws"), q, kt, stream_len=5, cache_dir=cache_dir))
    _check(verify_gemm(designs(4, 4, "os"), q, kt, stream_len=7, cache_dir=cache_dir))


@pytest.mark.slow
def test_sweep_16x16_gemm_64(designs, cache_dir):
    design = designs(16, 16, "ws")
    a, b = random_operands(design, 64, 64, 64, seed=1)
    _check(verify_gemm(design, a, b, cache_dir=cache_dir))


def test_layer_at_a_mixed_precision_policy_on_a_wider_array(designs, cache_dir):
    from codesign.quant.policy import LayerPolicy, QuantPolicy

    # the explorer's per-layer widths: conv2 with 4-bit weights runs on the int8 array
    policy = QuantPolicy(default=None, layers=(("conv2", LayerPolicy(weight_bits=4, act_bits=8)),))
    result = verify_layer(
        designs(4, 4, "ws"), f"{DIGITS}:conv2", policy=policy, cache_dir=cache_dir
    )
    _check(result)
    assert "int4" in result.what


@pytest.mark.parametrize(
    "layers,message",
    [
        ((("conv2", None),), r"^policy keeps layer 'conv2' in float"),
        (
            (("conv2", {"weight_bits": 12}),),
            r"^policy weight_bits of layer 'conv2' is 12; .* 8 bits",
        ),
        ((("conv2", {"act_bits": 16}),), r"^policy act_bits of layer 'conv2' is 16; .* 8 bits"),
    ],
)
def test_policy_the_array_cannot_run_is_an_error(designs, layers, message):
    from codesign.errors import SpecError
    from codesign.quant.policy import LayerPolicy, QuantPolicy

    entries = tuple((n, None if lp is None else LayerPolicy(**lp)) for n, lp in layers)
    with pytest.raises(SpecError, match=message):
        verify_layer(designs(4, 4, "ws"), f"{DIGITS}:conv2", policy=QuantPolicy(layers=entries))
