"""codesign.sim without a simulator: payload codecs (vs Amaranth's own packing), scoreboard,
GEMM tiling and reassembly (vs torch), im2col (vs torch conv2d), predicted cycles (by hand),
design loading, runner errors."""

from __future__ import annotations

import json
import shutil

import codesign.sim
import numpy as np
import pytest
import torch
from codesign.hw import SystolicConfig, layouts
from codesign.sim import load_design, plan_gemm
from codesign.sim.command import parse_gemm
from codesign.sim.gemm import check_2_4, cost_model_cycles
from codesign.sim.payload import FieldSpec, PayloadCodec
from codesign.sim.runner import build_design, find_simulator
from codesign.sim.scoreboard import Scoreboard
from codesign.sim.verify import attention_operands, im2col, prune_2_4, random_operands

from codesign.errors import SpecError, ToolNotFoundError

# every module's __all__: tests/test_package.py (codesign, codesign.hw and codesign.sim)


def _manifest_dir(tmp_path, config: SystolicConfig):
    """A design folder with a manifest whose ports come from the layouts (no Verilog export:
    the unit tests only read the manifest)."""
    folder = tmp_path / config.top_name
    folder.mkdir()
    ports = [{"name": "clk", "width": 1}, {"name": "rst", "width": 1}]
    streams = {"inputs": layouts.input_layout(config), "outputs": layouts.output_layout(config)}
    if config.dataflow.value != "os":
        streams["weights"] = layouts.weight_layout(config)
    for name, layout in streams.items():
        ports.append({"name": f"{name}__payload", "width": layout.size})
    (folder / "top.v").write_text("module top; endmodule\n")
    manifest = {
        "manifest_version": 1,
        "top": "top",
        "verilog": "top.v",
        "parameters": config.to_dict(),
        "ports": ports,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(params=["ws", "os", "sparse24"])
def design(request, tmp_path):
    return load_design(
        _manifest_dir(tmp_path, SystolicConfig(rows=3, cols=5, dataflow=request.param))
    )


# ---------------------------------------------------------------- payload codec


@pytest.mark.parametrize("flow", ["ws", "os", "sparse24"])
def test_codec_agrees_with_amaranth_packing(flow):
    cfg = SystolicConfig(rows=3, cols=2, dataflow=flow, act_bits=4, weight_bits=6, acc_bits=20)
    rng = np.random.default_rng(0)
    all_layouts = [layouts.input_layout(cfg), layouts.output_layout(cfg)]
    if flow != "os":
        all_layouts.append(layouts.weight_layout(cfg))
    for layout in all_layouts:
        codec = PayloadCodec.from_layout(layout)
        assert codec.width_bits == layout.size
        for _ in range(20):
            bits = int(rng.integers(0, 2**62)) | (int(rng.integers(0, 2**62)) << 62)
            bits &= (1 << layout.size) - 1
            ours = codec.unpack(bits)
            theirs = layouts.unpack(layout, bits)
            if not isinstance(theirs, dict):
                theirs = {"data": theirs}
            assert ours == theirs
            assert codec.pack(ours) == bits == layouts.pack(layout, layouts.unpack(layout, bits))


def test_codec_extremes_round_trip():
    codec = PayloadCodec.vector("data", 8, 3)
    word = codec.pack({"data": [-128, 127, 0]})
    assert word == 0x00_7F_80
    assert codec.unpack(word) == {"data": [-128, 127, 0]}


def test_codec_errors():
    codec = PayloadCodec(
        fields=(
            FieldSpec(name="data", offset=0, width_bits=8, count=2),
            FieldSpec(name="last", offset=16, width_bits=1, signed=False),
        ),
        width_bits=17,
    )
    with pytest.raises(SpecError, match=r"^payload field 'data' element 1: value 128 outside"):
        codec.pack({"data": [0, 128]})
    with pytest.raises(SpecError, match=r"^payload field 'data' holds 2 elements, not 3"):
        codec.pack({"data": [0, 1, 2]})
    with pytest.raises(SpecError, match=r"^payload has no field 'lsat'"):
        codec.pack({"lsat": 1})
    with pytest.raises(
        SpecError, match=r"^payload field 'last' element 0: value 2 outside \[0, 1\]"
    ):
        codec.pack({"last": 2})
    with pytest.raises(SpecError, match=r"^payload fields 'a' and 'b' overlap"):
        PayloadCodec(
            fields=(
                FieldSpec(name="a", offset=0, width_bits=8),
                FieldSpec(name="b", offset=7, width_bits=2),
            ),
            width_bits=16,
        )
    with pytest.raises(SpecError, match=r"^field 'x': width_bits must be a positive integer"):
        FieldSpec(name="x", offset=0, width_bits=0)


# ---------------------------------------------------------------- scoreboard


def test_scoreboard_counts_all_and_reports_first():
    board = Scoreboard(max_reported=2)
    exp = np.arange(12).reshape(3, 4)
    act = exp.copy()
    act[0, 1] += 1
    act[2, 3] -= 5
    act[2, 0] = 7
    assert board.compare_arrays("O", exp, act) == 3
    assert board.mismatch_count == 3 and board.compared == 12 and not board.passed
    assert [(m.index, m.expected, m.actual) for m in board.mismatches] == [
        ((0, 1), 1, 2),
        ((2, 0), 8, 7),
    ]
    items = Scoreboard()
    assert items.compare_items("beats", [1, 2, 3], [1, 2]) == 1
    assert items.mismatches[0].index == (2,) and items.mismatches[0].actual is None
    with pytest.raises(SpecError, match=r"^O: actual shape \(2,\) differs from expected \(3,\)"):
        Scoreboard().compare_arrays("O", [1, 2, 3], [1, 2])


def test_empty_scoreboard_has_not_passed():
    assert not Scoreboard().passed


def test_missing_items_are_one_failed_comparison():
    board = Scoreboard()
    board.record_missing("timeout", received=2, expected=5)
    assert board.compared == 1 and board.mismatch_count == 1 and not board.passed
    m = board.mismatches[0]
    assert (m.where, m.index, m.expected, m.actual) == ("timeout", (2,), 5, None)


# ---------------------------------------------------------------- tiling


def _decode_weights(design, tile) -> np.ndarray:
    """Dense (depth x cols) weight block from a tile's weight beats."""
    cfg = design.config
    if cfg.dataflow.value == "ws":
        return np.array([design.weights.unpack(b)["data"] for b in tile.beats["weights"]])
    block = np.zeros((4 * cfg.rows, cfg.cols), dtype=np.int64)
    for r, beat in enumerate(tile.beats["weights"]):
        f = design.weights.unpack(beat)
        for c in range(cfg.cols):
            for j in (2 * c, 2 * c + 1):
                block[4 * r + f["indices"][j], c] += f["values"][j]
    return block


@pytest.mark.parametrize("mnk", [(1, 1, 1), (5, 6, 7), (9, 10, 24), (3, 1, 13)])
def test_tiles_reassemble_to_torch_matmul(design, mnk):
    m, n, k = mnk
    a, b = random_operands(design, m, n, k, seed=3)
    plan = plan_gemm(design, a, b)
    got = plan.assemble([list(t.expected) for t in plan.tiles])
    ref = torch.matmul(a.to(torch.int32), b.to(torch.int32)).numpy()
    np.testing.assert_array_equal(got, ref)
    # the beats carry exactly the operands (decoded independently of the planner)
    cfg = design.config
    for tile in plan.tiles:
        (m0, m1), (n0, n1), (k0, k1) = tile.m, tile.n, tile.k
        if cfg.dataflow.value == "os":
            beats = [design.inputs.unpack(x) for x in tile.beats["inputs"]]
            a_blk = np.array([f["a"] for f in beats]).T
            b_blk = np.array([f["b"] for f in beats])
            np.testing.assert_array_equal(a_blk[: m1 - m0], a[m0:m1, k0:k1].numpy())
            np.testing.assert_array_equal(b_blk[:, : n1 - n0], b[k0:k1, n0:n1].numpy())
            assert [f["last"] for f in beats] == [0] * (len(beats) - 1) + [1]
        else:
            w_blk = _decode_weights(design, tile)
            np.testing.assert_array_equal(w_blk[: k1 - k0, : n1 - n0], b[k0:k1, n0:n1].numpy())
            assert not w_blk[k1 - k0 :].any() and not w_blk[:, n1 - n0 :].any()
            beats = [design.inputs.unpack(x) for x in tile.beats["inputs"]]
            a_blk = np.array([f["data"] for f in beats])
            np.testing.assert_array_equal(a_blk[:, : k1 - k0], a[m0:m1, k0:k1].numpy())


def test_predicted_cycles_by_hand(tmp_path):
    # WS 4x4, A 5x7, B 7x6: 2 column tiles x 2 depth tiles, T = 5:
    # tile = 4 + 5 + 4 + 4 - 1 = 16; back to back: 4 * (4 + 5) + 4 + 4 - 1 = 43.
    ws = load_design(_manifest_dir(tmp_path, SystolicConfig(rows=4, cols=4, dataflow="ws")))
    a, b = random_operands(ws, 5, 6, 7)
    plan = plan_gemm(ws, a, b)
    assert [t.predicted_cycles for t in plan.tiles] == [16] * 4
    assert plan.predicted_cycles() == plan.overlapped_cycles == 43
    assert plan.predicted_cycles(sequential=True) == 4 * 16
    # stream_len 2 splits M=5 into 2 + 2 + 1: tiles of 4+2+7=13, 13, 12 per (n, k) pair.
    plan = plan_gemm(ws, a, b, stream_len=2)
    assert [t.predicted_cycles for t in plan.tiles] == [13, 13, 12] * 4
    assert plan.predicted_cycles() == 4 * (6 + 6 + 5) + 7
    # OS 4x4, same GEMM: 2 x 2 output tiles, K = 7: 7 + 4 + 4 - 2 + 4 = 17 each, no overlap.
    (tmp_path / "o").mkdir()
    os_ = load_design(_manifest_dir(tmp_path / "o", SystolicConfig(rows=4, cols=4, dataflow="os")))
    plan = plan_gemm(os_, a, b)
    assert [t.predicted_cycles for t in plan.tiles] == [17] * 4
    assert plan.predicted_cycles() == plan.predicted_cycles(sequential=True) == 68


@pytest.mark.parametrize(
    "flow,mnk,stream_len",
    [
        ("ws", (5, 6, 7), None),
        ("ws", (6, 9, 13), 3),
        ("os", (5, 6, 7), None),
        ("os", (9, 4, 12), 4),
        ("sparse24", (5, 6, 40), None),
        ("sparse24", (6, 9, 37), 3),
    ],
)
def test_cost_model_charges_the_predicted_cycles_in_both_issue_modes(
    tmp_path, flow, mnk, stream_len
):
    # The analytical model (codesign.cost) for the same GEMM and mapping equals the sum of the
    # tiles' systolic cycles (sequential issue) and, with overlap_passes on the WS preset, the
    # back-to-back stream (overlapped issue) when the tiles divide the dims. The 2:4 array is
    # the N:M preset (nm=(2, 4)): a pass covers K = 4 x rows = 16 on 4 x 3 PEs (K = 37 is
    # padded to 48 by both).
    design = load_design(_manifest_dir(tmp_path, SystolicConfig(rows=4, cols=3, dataflow=flow)))
    a, b = random_operands(design, *mnk)
    plan = plan_gemm(design, a, b, stream_len=stream_len)
    assert cost_model_cycles(plan, sequential=True) == plan.sequential_cycles
    assert cost_model_cycles(plan) == plan.overlapped_cycles
    assert cost_model_cycles(plan, sequential=False) == plan.predicted_cycles()
    if flow != "os":
        # WS 4x3: (passes - 1) x (rows + cols - 1) fewer cycles overlapped
        passes = len(plan.tiles)
        assert plan.sequential_cycles - plan.overlapped_cycles == (passes - 1) * 6
    else:
        assert plan.overlapped_cycles == plan.sequential_cycles


def test_plan_errors(design):
    a, b = random_operands(design, 2, 3, 4)
    with pytest.raises(SpecError, match=r"^A is 2x4 and B is 3x3: the inner dimensions differ"):
        plan_gemm(design, a, b[:3])
    with pytest.raises(SpecError, match=r"^A holds 128, outside the 8-bit range \[-128, 127\]"):
        plan_gemm(design, torch.full_like(a, 128), b)
    with pytest.raises(SpecError, match=r"^B must hold integers, not dtype float32"):
        plan_gemm(design, a, b.float())
    with pytest.raises(SpecError, match=r"^stream_len must be an integer in 1\.\."):
        plan_gemm(design, a, b, stream_len=0)


def test_non_2_4_weights_rejected(tmp_path):
    sp = load_design(_manifest_dir(tmp_path, SystolicConfig(rows=2, cols=2, dataflow="sparse24")))
    b = torch.zeros((8, 2), dtype=torch.int64)
    b[4:7, 1] = 1
    with pytest.raises(
        SpecError, match=r"^weights are not 2:4 sparse: column 1, rows 4\.\.7 hold 3"
    ):
        plan_gemm(sp, torch.ones((1, 8), dtype=torch.int64), b)


def test_prune_2_4_keeps_two_largest():
    b = torch.tensor([[1, -9], [-5, 0], [3, 2], [4, 7], [6, 1]])
    pruned = prune_2_4(b)
    check_2_4(pruned.numpy())
    assert pruned.tolist() == [[0, -9], [-5, 0], [0, 0], [4, 7], [6, 1]]


@pytest.mark.parametrize(
    "stride,padding,dilation", [((1, 1), (1, 1), (1, 1)), ((2, 1), (0, 2), (1, 2))]
)
def test_im2col_matches_torch_conv(stride, padding, dilation):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-128, 128, (2, 3, 7, 6), generator=g)
    w = torch.randint(-128, 128, (4, 3, 3, 2), generator=g)
    zp = 5
    patches, (p, q) = im2col(
        x, (3, 2), stride=stride, padding=padding, dilation=dilation, pad_value=zp
    )
    got = (patches - zp) @ w.reshape(4, -1).T
    ref = torch.nn.functional.conv2d(
        (x - zp).double(), w.double(), stride=stride, padding=padding, dilation=dilation
    )
    assert ref.shape[2:] == (p, q)
    np.testing.assert_array_equal(got.reshape(2, p, q, 4).permute(0, 3, 1, 2).numpy(), ref.numpy())


# ---------------------------------------------------------------- design loading, CLI parsing


def test_load_design_errors(tmp_path):
    with pytest.raises(SpecError, match=r"^design folder '.*nowhere' does not exist"):
        load_design(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match=r"^design folder '.*empty' has no manifest.json; create"):
        load_design(tmp_path / "empty")
    folder = _manifest_dir(tmp_path, SystolicConfig(rows=2, cols=2))
    manifest = json.loads((folder / "manifest.json").read_text())
    bad = dict(manifest, manifest_version=99)
    (folder / "manifest.json").write_text(json.dumps(bad))
    with pytest.raises(SpecError, match=r"manifest_version must be one of \[1\], not 99"):
        load_design(folder)
    ports = [
        dict(p, width=p["width"] + 1) if p["name"] == "inputs__payload" else p
        for p in manifest["ports"]
    ]
    (folder / "manifest.json").write_text(json.dumps(dict(manifest, ports=ports)))
    with pytest.raises(SpecError, match=r"port 'inputs__payload' has width 18, but the inputs"):
        load_design(folder)


def test_zero_point_correction_matches_the_centred_product():
    from codesign.sim.verify import _zero_point_correction

    g = torch.Generator().manual_seed(2)
    x = torch.randint(-128, 128, (7, 11), generator=g)
    w = torch.randint(-128, 128, (11, 5), generator=g)
    zw = torch.randint(-3, 4, (5,), generator=g)
    bias = torch.randint(-1000, 1000, (5,), generator=g)
    got = (x @ w).numpy() + _zero_point_correction(x, w, -17, zw, bias)
    np.testing.assert_array_equal(got, ((x + 17) @ (w - zw) + bias).numpy())
    plain = (x @ w).numpy() + _zero_point_correction(x, w, 0, None, None)
    np.testing.assert_array_equal(plain, (x @ w).numpy())


def test_attention_operands_are_the_models_q_and_k():
    import examples.models as models

    q, k_t = attention_operands("examples/models.py:transformer_encoder:layers.0.attn", head=1)
    assert q.shape == (16, 16) and k_t.shape == (16, 16)
    assert q.abs().max() == 127 and k_t.abs().max() == 127  # symmetric, full range
    model = models.transformer_encoder()
    x = models.transformer_encoder_inputs()[0]
    attn = model.layers[0].attn
    with torch.no_grad():
        h = model.embed(x)
        q_f, k_f = attn.q(h)[0, :, 16:32], attn.k(h)[0, :, 16:32]
    # dequantized operands are within half a step of the float projections
    for qi, f in ((q, q_f), (k_t.T, k_f)):
        step = float(f.abs().max()) / 127
        assert float((qi * step - f).abs().max()) <= step / 2 + 1e-6
    with pytest.raises(SpecError, match=r"^module 'embed' is a Linear without \['q', 'k', "):
        attention_operands("examples/models.py:transformer_encoder:embed")


def test_parse_gemm():
    assert parse_gemm("64,32,16") == (64, 32, 16)
    for bad in ("64,64", "a,b,c", "1,0,3"):
        with pytest.raises(SpecError, match=r"^--gemm must be M,N,K \(three integers "
                           r"from 1 to 4096\)"):
            parse_gemm(bad)


def test_cli_gemm_on_an_accelerator_folder_is_one_line_error(tmp_path):
    import subprocess
    import sys

    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "accelerator"}))
    proc = subprocess.run(
        [sys.executable, "-m", "codesign.cli", "verify", str(tmp_path), "--gemm", "4,4,4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: --gemm and --attention need a bare array folder; an accelerator folder is "
        "verified with --layer (its requantization needs a quantized layer)\n"
    )


# ---------------------------------------------------------------- runner


def test_missing_simulator_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        ToolNotFoundError,
        match=r"^simulator 'icarus': iverilog/vvp not found on "
        r"PATH; install Icarus Verilog with `sudo apt-get install -y iverilog`",
    ):
        find_simulator()


def test_unknown_simulator_and_missing_source(tmp_path):
    with pytest.raises(SpecError, match=r"^simulator must be one of "
                       r"\['icarus', 'verilator'\], not 'vcs'"):
        find_simulator("vcs")
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not installed")
    with pytest.raises(SpecError, match=r"^sources: Verilog file '.*nope.v' does not exist"):
        build_design([tmp_path / "nope.v"], "top", cache_dir=tmp_path)


def test_importing_codesign_sim_does_not_import_cocotb_or_torch():
    import subprocess
    import sys

    code = (
        "import sys, codesign.sim, codesign.sim.runner\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'cocotb', 'torch', 'amaranth'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert codesign.sim.verify_gemm is not None  # lazy names resolve on use
