"""The Yosys-calibrated FPGA area table (codesign.arch.fpga_area) and its shipped fit.

Oracles: the sweep points stored in the table are Yosys results (benchmarks/calibrate_area.py);
the fit is recomputed here from those points with an independently written feature matrix;
block RAM counts are derived by hand from the 7-series RAMB18/RAMB36 aspect ratios; one real
Yosys run (``synth`` marker) checks the table against the current generator.
"""

from __future__ import annotations

import copy
import json
import re
import shutil

import numpy as np
import pytest

from codesign.arch import eyeriss, fpga_edge, output_stationary, weight_stationary
from codesign.arch import fpga_area as fa
from codesign.errors import SpecError

RESOURCES = ("luts", "ffs", "dsps")


def _hand_features(name: str, r: int, c: int, a: int, w: int, acc: int) -> float:
    """The feature definitions written out again (independent of fpga_area.FEATURES)."""
    tri_r, tri_c = r * (r - 1) / 2, c * (c - 1) / 2
    pes = r * c
    table = {
        "array": 1,
        "pe": pes,
        "pe_act_bits": pes * a,
        "pe_weight_bits": pes * w,
        "pe_acc_bits": pes * acc,
        "pe_act_x_weight_bits": pes * a * w,
        "rows": r,
        "cols": c,
        "rows_act_bits": r * a,
        "cols_weight_bits": c * w,
        "cols_acc_bits": c * acc,
        "row_skew_act_bits": tri_r * a,
        "col_skew_weight_bits": tri_c * w,
        "col_skew_acc_bits": tri_c * acc,
    }
    return float(table[name])


def _shape(p: dict) -> tuple[int, int, int, int, int]:
    return p["rows"], p["cols"], p["act_bits"], p["weight_bits"], p["acc_bits"]


@pytest.fixture(scope="module")
def table() -> fa.AreaTable:
    return fa.load_table()


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(fa.TABLE_PATH.read_text())


def test_shipped_table_loads(table):
    assert table.format_version == fa.TABLE_FORMAT_VERSION
    assert table.tool_version.startswith("Yosys ")
    assert {"xilinx/ws/dsp", "xilinx/ws/lut"} <= set(table.groups)
    assert fa.default_table() == table
    for name, g in table.groups.items():
        assert name == f"{g.target}/{g.dataflow}/{g.multipliers}"
        assert len(g.points) > len(g.features), name  # over-determined fit
        for p in g.points:
            kind = fa.multiplier_kind(g.target, p["act_bits"], p["weight_bits"], p["use_dsp"])
            assert kind == g.multipliers
            if kind == "lut":
                assert p["dsps"] == 0
            else:  # one DSP48E1 per multiplier
                assert p["dsps"] == p["rows"] * p["cols"]


def test_stored_fit_is_what_refitting_the_points_gives(table):
    for name, g in table.groups.items():
        x = np.array([[_hand_features(f, *_shape(p)) for f in g.features] for p in g.points])
        for res in RESOURCES:
            y = np.array([p[res] for p in g.points], dtype=float)
            wt = 1 / np.maximum(y, 1)  # minimizes the relative errors
            sol = np.linalg.lstsq(x * wt[:, None], y * wt, rcond=None)[0]
            stored = np.array([g.coefficients[res][f] for f in g.features])
            np.testing.assert_allclose(x @ stored, x @ sol, atol=1e-6, err_msg=f"{name} {res}")
            est = np.maximum(0, np.round(x @ sol))
            rel = np.abs(est - y) / np.maximum(y, 1)
            assert g.fit_error[res]["max_rel"] == pytest.approx(rel.max(), abs=1e-12), (name, res)
            assert g.fit_error[res]["mean_rel"] == pytest.approx(rel.mean(), abs=1e-12)


def test_fit_function_reproduces_stored_errors(table):
    for g in table.groups.values():
        coefficients, errors = fa.fit(list(g.points), g.features)
        for res in RESOURCES:
            assert errors[res]["max_rel"] == pytest.approx(g.fit_error[res]["max_rel"], abs=1e-12)


def test_holdout_errors_are_those_of_the_estimates(table):
    held = 0
    for g in table.groups.values():
        estimates = [
            fa.estimate(_arch_for(g, p), target=g.target, use_dsp=p["use_dsp"], table=table)
            for p in g.holdout
        ]
        for res in RESOURCES:
            rel = [
                abs(getattr(e, res) - p[res]) / max(p[res], 1)
                for e, p in zip(estimates, g.holdout, strict=True)
            ]
            if rel:
                stored = g.fit_error[res]["holdout_max_rel"]
                assert stored == pytest.approx(max(rel), abs=1e-12), (g.name, res)
        held += len(g.holdout)
        for p in g.holdout:  # validation runs are not among the fitted points
            assert p not in g.points
    assert held >= 5


def _arch_for(g: fa.GroupFit, p: dict):
    factory = weight_stationary if g.dataflow == "ws" else output_stationary
    return factory(
        p["rows"],
        p["cols"],
        input_bits=p["act_bits"],
        weight_bits=p["weight_bits"],
        accum_bits=p["acc_bits"],
    )


def test_estimates_of_sweep_points_within_stored_error(table):
    checked = 0
    for g in table.groups.values():
        for p in g.points:
            est = fa.estimate(_arch_for(g, p), target=g.target, use_dsp=p["use_dsp"], table=table)
            assert est.group == g.name
            for res in RESOURCES:
                rel = abs(getattr(est, res) - p[res]) / max(p[res], 1)
                assert rel <= g.fit_error[res]["max_rel"] + 1e-12, (g.name, p, res)
            checked += 1
    assert checked >= 20


def test_fpga_edge_estimate():
    arch = fpga_edge()
    assert fa.is_fpga(arch) and not fa.is_fpga(weight_stationary(8, 8))
    est = fa.estimate(arch)
    assert est.group == "xilinx/ws/dsp" and est.target == "xilinx"
    assert est.dsps == 64  # one DSP48E1 per int8 x int8 MAC
    # 16 x 36 Kb of 256-bit words = 2304 x 256: 5 deep x 4 wide RAMB36 (512 x 72) = 20
    assert est.brams == 20.0
    # 4-bit operands are below Yosys' DSP threshold: LUT multipliers, no DSPs
    narrow = fa.estimate(fpga_edge(input_bits=4, weight_bits=4, accum_bits=16))
    assert narrow.group == "xilinx/ws/lut" and narrow.dsps == 0 and narrow.luts > est.luts
    assert fa.estimate(arch, use_dsp=False).group == "xilinx/ws/lut"
    assert est.format().startswith(f"FPGA xilinx/ws/dsp: {est.luts:,} LUTs, {est.ffs:,} FFs")
    assert json.loads(json.dumps(est.to_dict()))["dsps"] == 64


@pytest.mark.parametrize(
    ("depth", "width", "blocks"),
    [
        (512, 72, 1.0),  # RAMB36 512 x 72
        (512, 36, 0.5),  # RAMB18 512 x 36
        (16384, 1, 0.5),  # RAMB18 16K x 1
        (32768, 1, 1.0),  # RAMB36 32K x 1
        (1024, 36, 1.0),  # RAMB36 1K x 36 (or two RAMB18 512 x 36)
        (2304, 256, 20.0),  # 5 x 4 RAMB36 512 x 72 (or 5 x 8 RAMB18 512 x 36)
        (100, 8, 0.5),
        (4096, 9, 1.0),  # RAMB36 4K x 9
        (4097, 9, 1.5),  # 3 RAMB18 2K x 9 (2 RAMB36 4K x 9 is more)
    ],
)
def test_bram_blocks_by_hand(depth, width, blocks):
    assert fa.bram_blocks(depth, width) == blocks


@pytest.mark.parametrize(
    ("depth", "width", "blocks"),
    [
        (256, 16, 1.0),  # SB_RAM40_4K 256 x 16
        (2048, 2, 1.0),  # 2K x 2
        (2048, 8, 4.0),  # 4 x 2K x 2 (or 4 deep 512 x 8)
        (2304, 256, 144.0),  # 9 deep x 16 wide 256 x 16 (or 5 x 32 of 512 x 8 = 160)
        (100, 3, 1.0),
    ],
)
def test_bram_blocks_ice40_by_hand(depth, width, blocks):
    assert fa.bram_blocks(depth, width, "ice40") == blocks


def test_bram_counts_shared_levels_only():
    # ws preset: weight_reg per PE (flip-flops, in the array fit); accumulator 64 KiB of
    # 16*32 = 512-bit words = 1024 x 512; scratchpad 256 KiB of 16*8 = 128-bit words = 16384 x 128
    arch = weight_stationary(16, 16)
    acc = fa.bram_blocks(64 * 8192 // 512, 512)
    spad = fa.bram_blocks(256 * 8192 // 128, 128)
    assert acc == 14.5  # ceil(512 / 18) = 29 RAMB18 1K x 18 (15 RAMB36 1K x 36 is more)
    # 8 deep x ceil(128 / 9) = 15 wide RAMB18 2K x 9 (parity bits as data) = 120 RAMB18,
    # fewer than 64 RAMB36 8K x 4 (256 KiB of data bits / 4 KiB)
    assert spad == 60.0
    assert fa.estimate(arch).brams == acc + spad


def test_errors(tmp_path, raw):
    with pytest.raises(SpecError, match=r"^compute\.dataflow 'rs' \(systolic False\) of"):
        fa.estimate(eyeriss())
    with pytest.raises(
        SpecError, match=r"^target must be one of \['ice40', 'xilinx'\], not 'asic'$"
    ):
        fa.estimate(fpga_edge(), target="asic")
    # ice40 is calibrated without DSPs only (SB_MAC16 would take this 8 x 8 product)
    with pytest.raises(SpecError, match=r"^fpga area: no fitted group 'ice40/ws/dsp' for"):
        fa.estimate(fpga_edge(), target="ice40")
    ice40 = fa.estimate(fpga_edge(), target="ice40", use_dsp=False)
    assert ice40.group == "ice40/ws/lut" and ice40.brams == 144.0  # 2304 x 256 in 4 Kb blocks
    assert " 144 BRAM4K " in ice40.format()
    with pytest.raises(SpecError, match=r"^bram_blocks: target must be 'ice40' or 'xilinx'"):
        fa.bram_blocks(10, 10, "asic")
    with pytest.raises(SpecError, match=r"^arch must be a codesign\.arch\.Architecture, not dict"):
        fa.estimate({})
    with pytest.raises(SpecError, match=r"^use_dsp must be true or false, not 1$"):
        fa.estimate(fpga_edge(), use_dsp=1)
    with pytest.raises(SpecError, match=r"^bram_blocks: width_bits must be a positive integer"):
        fa.bram_blocks(10, 0)
    if "xilinx/os/lut" not in raw["groups"]:
        with pytest.raises(SpecError, match=r"^fpga area: no fitted group 'xilinx/os/lut'"):
            fa.estimate(output_stationary(4, 4, input_bits=4, weight_bits=4, accum_bits=20))


def test_nm_sparse_arrays_are_refused():
    import dataclasses

    from codesign.arch.spec import ComputeArray

    if "nm" not in ComputeArray.__dataclass_fields__:
        pytest.skip("this checkout's ComputeArray has no N:M field")
    base = fpga_edge(4, 4)
    compute = dataclasses.replace(base.compute, nm=(2, 4))
    arch = dataclasses.replace(base, compute=compute)
    with pytest.raises(SpecError, match=r"^compute\.nm \[2, 4\] of 'fpga4x4' has no FPGA area"):
        fa.estimate(arch)


def _write(tmp_path, data) -> str:
    path = tmp_path / "t.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _bad(raw, edit):
    data = copy.deepcopy(raw)
    edit(data)
    return data


G = "xilinx/ws/dsp"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("format_version"), r"^fpga area table: field 'format_version' is missing"),
        (
            lambda d: d.update(format_version=2),
            r"^fpga area table: field 'format_version' must be 1, not 2$",
        ),
        (
            lambda d: d.update(tool_version=None),
            r"^fpga area table: field 'tool_version' must be Yosys' version line, not None$",
        ),
        (lambda d: d.update(groups={}), r"^fpga area table: field 'groups' must name at least"),
        (
            lambda d: d["groups"][G].update(multipliers="bram"),
            r"^fpga area table: groups\['xilinx/ws/dsp'\]: field 'multipliers' must be 'dsp' or "
            r"'lut', not 'bram'$",
        ),
        (
            lambda d: d["groups"][G]["coefficients"]["ffs"].update(pe="1.0"),
            r"^fpga area table: groups\['xilinx/ws/dsp'\]\.coefficients\['ffs'\]: field 'pe' "
            r"must be a finite number, not '1\.0'$",
        ),
        (
            lambda d: d["groups"][G]["coefficients"].pop("dsps"),
            r"^fpga area table: groups\['xilinx/ws/dsp'\]\.coefficients: field 'dsps' is missing",
        ),
        (
            lambda d: d["groups"][G]["fit_error"]["luts"].update(max_rel=-1),
            r"^fpga area table: groups\['xilinx/ws/dsp'\]\.fit_error\['luts'\]: field 'max_rel' "
            r"must be >= 0, not -1\.0$",
        ),
        (
            lambda d: d["groups"][G]["fit_error"]["ffs"].update(loo_max_rel=-0.5),
            r"^fpga area table: groups\['xilinx/ws/dsp'\]\.fit_error\['ffs'\]: field "
            r"'loo_max_rel' must be >= 0, not -0\.5$",
        ),
        (
            lambda d: d["groups"][G]["points"][0].update(rows=0),
            r"^fpga area table: groups\['xilinx/ws/dsp'\]\.points\[0\]: field 'rows' must be a "
            r"positive integer, not 0$",
        ),
        (
            lambda d: d["groups"][G]["features"].append("magic"),
            r"^fpga area table: groups\['xilinx/ws/dsp'\]: field 'features' must be a non-empty "
            r"list of distinct names",
        ),
    ],
)
def test_malformed_table_names_the_field(tmp_path, raw, edit, message):
    with pytest.raises(SpecError, match=message):
        fa.load_table(_write(tmp_path, _bad(raw, edit)))


def test_unreadable_table(tmp_path):
    with pytest.raises(SpecError, match=r"^fpga area table '.*t\.json' is not valid JSON"):
        fa.load_table(_write(tmp_path, "{"))
    with pytest.raises(SpecError, match=r"^fpga area table '.*nope\.json' does not exist$"):
        fa.load_table(tmp_path / "nope.json")
    with pytest.raises(SpecError, match=r"^fpga area table must be a JSON object, not list$"):
        fa.load_table(_write(tmp_path, "[]"))


def test_table_ships_as_package_data():
    text = (fa.TABLE_PATH.parents[2] / "pyproject.toml").read_text()
    line = re.search(r'^"codesign\.arch" = \[(.*)\]$', text, re.M)
    assert line is not None and '"fpga_area.json"' in line.group(1)


@pytest.mark.synth
def test_real_yosys_2x2_within_fit_error(tmp_path, table):
    if shutil.which("yosys") is None:
        pytest.skip("yosys not installed")
    pytest.importorskip("amaranth")
    from codesign.hw import SystolicConfig, export_verilog

    from codesign.synth import synthesize

    arch = fpga_edge(2, 2)
    cfg = SystolicConfig.from_architecture(arch)
    export_verilog(cfg, tmp_path)
    res = synthesize(tmp_path, "xilinx", write=False, timeout_s=300)
    est = fa.estimate(arch, table=table)
    errors = table.groups[est.group].fit_error
    for name in RESOURCES:
        measured = getattr(res, name)
        rel = abs(getattr(est, name) - measured) / max(measured, 1)
        assert rel <= errors[name]["max_rel"] + 1e-12, (name, measured, getattr(est, name))


def test_map_command_reports_fpga_resources(tmp_path, capsys):
    import argparse

    from codesign.cost import command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    out = tmp_path / "r.json"
    argv = ["--arch", "fpga_edge", "--layer", "gemm:M=16,N=16,K=16", "--samples", "50"]
    assert command.run(parser.parse_args([*argv, "--json", str(out)])) == 0
    est = fa.estimate(fpga_edge())
    assert f"  {est.format()}" in capsys.readouterr().out.splitlines()
    data = json.loads(out.read_text())
    assert data["fpga_area"] == json.loads(json.dumps(est.to_dict()))
    assert "cycles" in data  # the cost report's fields are unchanged
    # a non-FPGA architecture reports no FPGA resources
    assert command.run(parser.parse_args(["--arch", "ws", *argv[2:]])) == 0
    assert "FPGA" not in capsys.readouterr().out
