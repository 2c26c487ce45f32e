"""ECP5 DSP cells with their own registers (``AcceleratorConfig.dsp == "ecp5"``, issue 13):
the configuration's refusals, the behavioural ``MULT18X18D`` model against Python arithmetic
(Icarus), the exported folder (the model beside the Verilog, in the manifest), and the RTL of
``dsp="ecp5"`` accelerators against the cost model and PyTorch: same results, same cycles as
the inferred design. Yosys is the oracle of what the cells change in the netlist."""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest

from codesign.accel.array import SystolicConfig
from codesign.accel.config import DSP_KINDS, AcceleratorConfig
from codesign.errors import SpecError

needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus")
_ARRAY = SystolicConfig(rows=4, cols=4)


# -- configuration -------------------------------------------------------------------------


def test_dsp_kinds_and_the_default():
    assert DSP_KINDS == ("inferred", "ecp5")
    cfg = AcceleratorConfig(array=_ARRAY)
    assert cfg.dsp == "inferred" and cfg.to_dict()["dsp"] == "inferred"
    ecp5 = AcceleratorConfig(array=_ARRAY, dsp="ecp5")
    assert ecp5.top_name.endswith("_ecp5_bus32") and not cfg.top_name.count("ecp5")
    assert AcceleratorConfig.from_dict(ecp5.to_dict()) == ecp5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dsp": "xilinx"}, r"dsp must be one of inferred, ecp5, not 'xilinx'"),
        ({"dsp": None}, r"dsp must be one of inferred, ecp5, not None"),
        ({"dsp": "ecp5", "requant_stages": 4}, r"requant_stages >= 5 .* not 4"),
        (
            {"dsp": "ecp5", "array": SystolicConfig(rows=4, cols=4, dataflow="os")},
            r"'ws' accelerators only, not 'os'",
        ),
        (
            {"dsp": "ecp5", "array": SystolicConfig(rows=4, cols=4, dataflow="sparse24")},
            r"'ws' accelerators only, not 'sparse24'",
        ),
    ],
)
def test_bad_dsp_settings_are_refused_by_name(kwargs, match):
    with pytest.raises(SpecError, match=match):
        AcceleratorConfig(**{"array": _ARRAY, **kwargs})


def test_the_multiplier_refuses_operands_wider_than_the_cell():
    from amaranth.hdl import Module, Signal, signed, unsigned
    from codesign.hw.dsp import ecp5_multiply

    m = Module()
    with pytest.raises(SpecError, match=r"18-bit unsigned operand does not fit"):
        ecp5_multiply(
            m, "d", Signal(unsigned(18)), Signal(signed(8)), Signal(26), a_ce=None, b_ce=None,
            p_ce=Signal(),
        )  # fmt: skip
    with pytest.raises(SpecError, match=r"product must be a Signal"):
        ecp5_multiply(
            m, "d", Signal(signed(8)), Signal(signed(8)), Signal(16) + 1, a_ce=None, b_ce=None,
            p_ce=Signal(),
        )  # fmt: skip


def test_synthesis_for_another_target_is_refused_before_yosys(tmp_path):
    from codesign.hw.accel_export import export_accelerator

    from codesign.synth import synthesize

    export_accelerator(AcceleratorConfig(array=SystolicConfig(rows=2, cols=2), dsp="ecp5"),
                       tmp_path / "d")  # fmt: skip
    for target in ("generic", "ice40", "xilinx"):
        with pytest.raises(SpecError, match=rf"--target ecp5 .* target {target!r}"):
            synthesize(tmp_path / "d", target, yosys="/nonexistent/yosys")
    with pytest.raises(SpecError, match=r"without DSPs"):
        synthesize(tmp_path / "d", "ecp5", use_dsp=False, yosys="/nonexistent/yosys")


# -- the exported folder -------------------------------------------------------------------


def test_the_model_ships_beside_the_verilog_and_in_the_manifest(tmp_path):
    from codesign.hw.accel_export import export_accelerator
    from codesign.hw.dsp import MULT18X18D_MODEL
    from codesign.sim.accelerator import load_accelerator

    for dsp in DSP_KINDS:
        export_accelerator(AcceleratorConfig(array=_ARRAY, dsp=dsp), tmp_path / dsp)
    manifest = json.loads((tmp_path / "inferred" / "manifest.json").read_text())
    assert manifest["simulation_models"] == []
    assert "MULT18X18D" not in (tmp_path / "inferred" / manifest["verilog"]).read_text()
    manifest = json.loads((tmp_path / "ecp5" / "manifest.json").read_text())
    assert manifest["simulation_models"] == ["MULT18X18D.v"]
    assert manifest["accelerator"]["dsp"] == "ecp5"
    shipped = tmp_path / "ecp5" / "MULT18X18D.v"
    assert shipped.read_bytes() == MULT18X18D_MODEL.read_bytes()
    # every retimed PE (15 of 16: PE (0,0) has no register in front of its multiplier) and
    # four per requantizer column
    verilog = (tmp_path / "ecp5" / manifest["verilog"]).read_text()
    assert verilog.count("MULT18X18D ") == 15 + 4 * 4
    design = load_accelerator(tmp_path / "ecp5")
    assert design.sources == [design.verilog_path, shipped]


@pytest.mark.parametrize(
    "value, match",
    [
        ("MULT18X18D.v", r"simulation_models must be a list"),
        ([3], r"simulation_models must be a list"),
        (["missing.v"], r"simulation model 'missing.v' is not a file"),
        (["../MULT18X18D.v"], r"simulation model '../MULT18X18D.v' is not a file"),
    ],
)
def test_a_tampered_model_list_is_a_clear_error(tmp_path, value, match):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator

    export_accelerator(AcceleratorConfig(array=_ARRAY, dsp="ecp5"), tmp_path / "d")
    shutil.copy(tmp_path / "d" / "MULT18X18D.v", tmp_path / "MULT18X18D.v")
    path = tmp_path / "d" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["simulation_models"] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(SpecError, match=match):
        load_accelerator(tmp_path / "d")


# -- the MULT18X18D model against Python ---------------------------------------------------


def _model_bench(params: dict[str, str], cycles: list[dict]) -> str:
    """A Verilog bench that drives the model one cycle per entry of ``cycles`` and prints P
    after every rising edge."""
    bits = {"A": 18, "B": 18}
    ports = [f".{p}{i}({p.lower()}[{i}])" for p, n in bits.items() for i in range(n)]
    ports += [f".C{i}(1'b0)" for i in range(18)]
    ports += [f".P{i}(p[{i}])" for i in range(36)]
    ports += [f".CE{k}(ce[{k}])" for k in range(4)] + [f".RST{k}(rst[{k}])" for k in range(4)]
    ports += [".CLK0(clk)", ".CLK1(1'b0)", ".CLK2(1'b0)", ".CLK3(1'b0)"]
    ports += [".SIGNEDA(sa)", ".SIGNEDB(sb)", ".SOURCEA(1'b0)", ".SOURCEB(1'b0)"]
    overrides = ", ".join(f'.{k}("{v}")' for k, v in params.items())
    steps = []
    for c in cycles:
        steps.append(
            f"    a = 18'd{c['a']}; b = 18'd{c['b']}; ce = 4'd{c['ce']}; rst = 4'd{c['rst']};"
            f" sa = {c['sa']}; sb = {c['sb']}; #1 clk = 1; #1 $display(\"%0d\", p); clk = 0;"
        )
    return "\n".join(
        [
            "module bench;",
            "  reg clk = 0; reg [17:0] a, b; reg [3:0] ce, rst; reg sa, sb; wire [35:0] p;",
            f"  MULT18X18D #({overrides}) dut({', '.join(ports)});",
            "  initial begin",
            *steps,
            "    $finish;",
            "  end",
            "endmodule",
        ]
    )


def _reference(params: dict[str, str], cycles: list[dict]) -> list[int]:
    """What the cell computes (TN1267): registers on CLK0, enable and reset selected by name,
    the product of the operands as SIGNEDA / SIGNEDB read them, its low 36 bits."""
    regs = {"a": 0, "b": 0, "p": 0}
    out = []

    def signed(v, on):
        return v - (1 << 18) if on and v >> 17 else v

    for c in cycles:
        a = regs["a"] if params["REG_INPUTA_CLK"] == "CLK0" else c["a"]
        b = regs["b"] if params["REG_INPUTB_CLK"] == "CLK0" else c["b"]
        product = (signed(a, c["sa"]) * signed(b, c["sb"])) % (1 << 36)
        new = dict(regs)
        for reg, key, value in (("a", "INPUTA", c["a"]), ("b", "INPUTB", c["b"]),
                                ("p", "OUTPUT", product)):  # fmt: skip
            ce = c["ce"] >> int(params[f"REG_{key}_CE"][-1]) & 1
            rst = c["rst"] >> int(params[f"REG_{key}_RST"][-1]) & 1
            new[reg] = 0 if rst else value if ce else regs[reg]
        regs = new
        # after the edge: the output register, or the product of the (new) operands
        if params["REG_OUTPUT_CLK"] == "CLK0":
            out.append(regs["p"])
        else:
            a = regs["a"] if params["REG_INPUTA_CLK"] == "CLK0" else c["a"]
            b = regs["b"] if params["REG_INPUTB_CLK"] == "CLK0" else c["b"]
            out.append((signed(a, c["sa"]) * signed(b, c["sb"])) % (1 << 36))
    return out


def _run_bench(tmp_path, text: str) -> subprocess.CompletedProcess:
    from codesign.hw.dsp import MULT18X18D_MODEL

    bench = tmp_path / "bench.v"
    bench.write_text(text)
    build = subprocess.run(
        ["iverilog", "-g2005", "-o", str(tmp_path / "b.out"), str(bench), str(MULT18X18D_MODEL)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    return subprocess.run(["vvp", "-n", str(tmp_path / "b.out")], capture_output=True, text=True)


@needs_iverilog
@pytest.mark.parametrize(
    "params",
    [
        {"REG_INPUTA_CLK": "CLK0", "REG_INPUTA_CE": "CE0", "REG_INPUTA_RST": "RST0",
         "REG_INPUTB_CLK": "CLK0", "REG_INPUTB_CE": "CE1", "REG_INPUTB_RST": "RST0",
         "REG_OUTPUT_CLK": "CLK0", "REG_OUTPUT_CE": "CE2", "REG_OUTPUT_RST": "RST0"},
        {"REG_INPUTA_CLK": "NONE", "REG_INPUTA_CE": "CE0", "REG_INPUTA_RST": "RST0",
         "REG_INPUTB_CLK": "CLK0", "REG_INPUTB_CE": "CE3", "REG_INPUTB_RST": "RST2",
         "REG_OUTPUT_CLK": "CLK0", "REG_OUTPUT_CE": "CE1", "REG_OUTPUT_RST": "RST1"},
        {"REG_INPUTA_CLK": "NONE", "REG_INPUTA_CE": "CE0", "REG_INPUTA_RST": "RST0",
         "REG_INPUTB_CLK": "NONE", "REG_INPUTB_CE": "CE0", "REG_INPUTB_RST": "RST0",
         "REG_OUTPUT_CLK": "NONE", "REG_OUTPUT_CE": "CE0", "REG_OUTPUT_RST": "RST0"},
    ],
    ids=["all-registered", "b-and-p-registered", "combinational"],
)  # fmt: skip
def test_the_model_is_the_cells_arithmetic_and_registers(tmp_path, params):
    rng = random.Random(13)
    corners = [0, 1, (1 << 17) - 1, 1 << 17, (1 << 18) - 1]
    cycles = [
        {
            "a": rng.choice(corners) if rng.random() < 0.3 else rng.randrange(1 << 18),
            "b": rng.choice(corners) if rng.random() < 0.3 else rng.randrange(1 << 18),
            "ce": rng.randrange(16),
            "rst": rng.choice([0] * 6 + [1, 2, 4, 8]),
            "sa": rng.randrange(2),
            "sb": rng.randrange(2),
        }
        for _ in range(300)
    ]
    run = _run_bench(tmp_path, _model_bench(params, cycles))
    assert run.returncode == 0, run.stderr
    got = [int(x) for x in run.stdout.split() if x.isdigit()]
    assert got == _reference(params, cycles)


@needs_iverilog
@pytest.mark.parametrize(
    "param", [("REG_PIPELINE_CLK", "CLK0"), ("REG_INPUTA_CLK", "CLK1"), ("RESETMODE", "ASYNC"),
              ("MULT_BYPASS", "ENABLED"), ("REG_INPUTC_CLK", "CLK0")],
)  # fmt: skip
def test_the_model_refuses_what_it_does_not_model(tmp_path, param):
    params = {"REG_INPUTA_CLK": "NONE", "REG_INPUTB_CLK": "NONE", "REG_OUTPUT_CLK": "NONE"}
    params[param[0]] = param[1]
    cycle = {"a": 3, "b": 5, "ce": 15, "rst": 0, "sa": 1, "sb": 1}
    run = _run_bench(tmp_path, _model_bench(params, [cycle]))
    assert "MULT18X18D model: unsupported configuration" in run.stdout
    assert "15" not in run.stdout.split()  # stopped before the first cycle printed


# -- the accelerator in RTL ----------------------------------------------------------------


@pytest.mark.rtl
@needs_iverilog
@pytest.mark.parametrize(
    "rows, layer",
    [
        (4, "examples/models.py:digits_cnn:conv2"),
        (2, "examples/models.py:digits_cnn:conv1"),  # one and two ahead (PEs (0,1), (1,1))
        (1, "examples/models.py:digits_cnn:fc"),  # no retimed PE: DSP cells in requantizers only
    ],
)
def test_ecp5_accelerator_layers_are_exact_at_the_models_cycles(tmp_path, rows, layer):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_layer

    cfg = AcceleratorConfig(array=SystolicConfig(rows=rows, cols=4), dsp="ecp5")
    export_accelerator(cfg, tmp_path / "d")
    design = load_accelerator(tmp_path / "d")
    res = verify_accelerator_layer(design, layer, work_dir=tmp_path / "s")
    assert res.passed and res.mismatch_count == 0
    assert res.cycles_measured == res.cycles_predicted
    # stalls (the cells' clock enables) under random output back-pressure: still exact
    stalled = verify_accelerator_layer(
        design, layer, back_pressure=0.3, idle=0.2, seed=5, work_dir=tmp_path / "b"
    )
    assert stalled.passed and stalled.mismatch_count == 0
    assert stalled.cycles_measured > res.cycles_measured


@pytest.mark.rtl
@needs_iverilog
def test_gated_ecp5_accelerator_on_a_pruned_layer_matches_the_inferred_one(tmp_path):
    """Zero-weight gating through the DSP's clock enable (the operand register holds on a zero
    weight): the same outputs and cycles as the inferred gated design."""
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_layer

    results = {}
    for dsp in DSP_KINDS:
        cfg = AcceleratorConfig(array=_ARRAY, dsp=dsp, zero_gate=True)
        export_accelerator(cfg, tmp_path / dsp)
        results[dsp] = verify_accelerator_layer(
            load_accelerator(tmp_path / dsp),
            "examples/models.py:digits_cnn:conv2",
            pruning="unstructured:0.5",
            work_dir=tmp_path / f"s{dsp}",
        )
        assert results[dsp].passed and results[dsp].mismatch_count == 0
    assert results["ecp5"].cycles_measured == results["inferred"].cycles_measured
    assert results["ecp5"].cycles_measured == results["ecp5"].cycles_predicted


def test_activity_on_an_ecp5_design_is_refused(tmp_path):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator, verify_accelerator_layer

    export_accelerator(AcceleratorConfig(array=_ARRAY, dsp="ecp5"), tmp_path / "d")
    with pytest.raises(SpecError, match=r"--dsp inferred"):
        verify_accelerator_layer(
            load_accelerator(tmp_path / "d"), "examples/models.py:digits_cnn:conv2", activity=True
        )


@pytest.mark.synth
@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs Yosys")
def test_yosys_keeps_the_dsp_count_and_drops_the_absorbed_registers(tmp_path):
    """Yosys (synth_ecp5) is the oracle: the same number of MULT18X18D cells, and the fabric
    flip-flops the cells' registers replace are gone (per retimed PE the weight, operand and
    product registers; per requantizer the operand and product registers)."""
    from codesign.hw.accel_export import export_accelerator

    from codesign.synth import synthesize

    stats = {}
    for dsp in DSP_KINDS:
        cfg = AcceleratorConfig(
            array=SystolicConfig(rows=2, cols=2), max_tile_m=16, max_n_tiles=2, fifo_depth=4,
            dsp=dsp,
        )  # fmt: skip
        export_accelerator(cfg, tmp_path / dsp)
        stats[dsp] = synthesize(tmp_path / dsp, "ecp5", timeout_s=900)
    assert stats["ecp5"].dsps == stats["inferred"].dsps == 4 + 4 * 2  # 4 PEs, 2 requantizers
    # at least the 2 x 8-bit weights, 2 x 16-bit products and 2 x (32 + 31) requantizer
    # operands; the rest of the design is the same
    assert stats["inferred"].ffs - stats["ecp5"].ffs >= 2 * 8 + 2 * 16 + 2 * 63
