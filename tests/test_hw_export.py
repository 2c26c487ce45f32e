"""Verilog export, manifest and the ``generate`` command.

Oracles: Icarus Verilog (``iverilog -g2005 -Wall`` compiles the output with no diagnostics), the
port declarations parsed from the Verilog text itself, the cost model's formula functions, and
hand-computed bit positions for the payload layouts.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess

import pytest
from codesign.hw import (
    SystolicConfig,
    export_verilog,
    input_layout,
    output_layout,
    pack,
    unpack,
    weight_layout,
)
from codesign.hw.export import latency_spec

from codesign.cli import main
from codesign.cost import systolic as cost
from codesign.errors import SpecError

needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs iverilog")

_PORT = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):0\]\s+)?\\?(\w+)\s*;", re.M)


def verilog_ports(text: str, top: str) -> dict[str, tuple[str, int]]:
    """Ports of module ``top`` as declared in the Verilog text: name -> (direction, width)."""
    body = text.split(f"module {top}(", 1)[1].split("endmodule", 1)[0]
    return {
        name: (direction, int(msb) + 1 if msb else 1)
        for direction, msb, name in _PORT.findall(body)
    }


def iverilog_compile(path, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["iverilog", "-g2005", "-Wall", "-o", str(tmp_path / "a.out"), str(path)],
        capture_output=True,
        text=True,
    )


CONFIGS = [
    SystolicConfig(rows=2, cols=2, dataflow="ws"),
    SystolicConfig(rows=3, cols=5, dataflow="ws", act_bits=4, weight_bits=6, acc_bits=13),
    SystolicConfig(rows=2, cols=2, dataflow="os"),
    SystolicConfig(rows=3, cols=5, dataflow="os", act_bits=6, weight_bits=6, acc_bits=24),
    SystolicConfig(rows=2, cols=2, dataflow="sparse24"),
    SystolicConfig(rows=3, cols=5, dataflow="sparse24", act_bits=4, weight_bits=4, acc_bits=12),
]


@needs_iverilog
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.top_name)
def test_export_compiles_in_icarus_and_manifest_matches_verilog(config, tmp_path):
    result = export_verilog(config, tmp_path / "out")
    text = result.verilog_path.read_text()
    assert result.verilog_path.name == f"{config.top_name}.v"
    compiled = iverilog_compile(result.verilog_path, tmp_path)
    assert compiled.returncode == 0 and compiled.stdout == "" and compiled.stderr == "", (
        compiled.stdout + compiled.stderr
    )
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest == result.manifest
    assert SystolicConfig.from_dict(manifest["parameters"]) == config
    assert manifest["latency"] == latency_spec(config)
    declared = verilog_ports(text, manifest["top"])
    listed = {p["name"]: (p["direction"], p["width"]) for p in manifest["ports"]}
    assert listed == declared
    widths = {p["name"]: p["width"] for p in manifest["ports"]}
    assert widths["inputs__payload"] == input_layout(config).size
    assert widths["outputs__payload"] == config.cols * config.acc_bits + 1
    if config.dataflow.value == "os":
        assert "weights__payload" not in widths
    else:
        assert widths["weights__payload"] == weight_layout(config).size


@pytest.mark.parametrize("dataflow", ["ws", "os", "sparse24"])
def test_manifest_latency_cites_the_cost_model(dataflow):
    config = SystolicConfig(rows=3, cols=4, dataflow=dataflow)
    latency = latency_spec(config)
    module_name, func_name = latency["function"].rsplit(".", 1)
    func = getattr(importlib.import_module(module_name), func_name)
    assert func in (cost.ws_tile_cycles, cost.os_tile_cycles, cost.sparse_ws_tile_cycles)
    free = "K" if dataflow == "os" else "T"
    for n in (1, 7):
        scope = {"rows": 3, "cols": 4, free: n}
        assert eval(latency["formula"], {}, scope) == func(3, 4, n)  # noqa: S307


def test_export_refuses_non_empty_folder_unless_forced(tmp_path):
    config = SystolicConfig(rows=2, cols=2)
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(SpecError, match=r"^output folder '.*' is not empty; .* --force$"):
        export_verilog(config, tmp_path)
    export_verilog(config, tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "keep"
    assert (tmp_path / "manifest.json").exists()
    with pytest.raises(SpecError, match=r"^top must be a Verilog identifier"):
        export_verilog(config, tmp_path / "x", top="9lives")


def test_layout_bit_positions_and_round_trip():
    cfg = SystolicConfig(
        rows=2, cols=3, dataflow="sparse24", act_bits=3, weight_bits=5, acc_bits=10
    )
    beat = {"values": [-16, 15, 0, -1, 3, -2], "indices": [0, 3, 1, 2, 3, 0]}
    bits = pack(weight_layout(cfg), beat)
    # values: six 5-bit two's-complement fields, then indices: six 2-bit fields
    for i, v in enumerate(beat["values"]):
        assert (bits >> (5 * i)) & 0x1F == v & 0x1F
    for i, v in enumerate(beat["indices"]):
        assert (bits >> (30 + 2 * i)) & 0x3 == v
    assert unpack(weight_layout(cfg), bits) == beat
    out = {"data": [-512, 511, -1], "last": 1}
    out_bits = pack(output_layout(cfg), out)
    assert out_bits >> 30 == 1 and out_bits & 0x3FF == 512
    assert unpack(output_layout(cfg), out_bits) == out
    os_cfg = SystolicConfig(rows=2, cols=1, dataflow="os", act_bits=3, weight_bits=2, acc_bits=8)
    assert pack(input_layout(os_cfg), {"a": [-4, 3], "b": [-2], "last": 1}) == (
        0b100 | 0b011 << 3 | 0b10 << 6 | 1 << 8
    )
    with pytest.raises(SpecError, match=r"^dataflow 'os' has no weights stream"):
        weight_layout(os_cfg)


@needs_iverilog
def test_cli_generate_writes_verilog_and_manifest(tmp_path, capsys):
    out = tmp_path / "acc"
    argv = [
        "generate",
        "--rows",
        "3",
        "--cols",
        "5",
        "--dataflow",
        "os",
        "--act-bits",
        "8",
        "--weight-bits",
        "8",
        "--acc-bits",
        "32",
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["top"] == "os_array_3x5_a8w8acc32"
    assert manifest["latency"]["formula"] == cost.OS_FORMULA
    assert f"tile cycles = {cost.OS_FORMULA}" in printed
    assert iverilog_compile(out / "os_array_3x5_a8w8acc32.v", tmp_path).returncode == 0
    assert main(argv) == 2
    assert "is not empty; choose another folder or pass --force" in capsys.readouterr().err
    assert main([*argv, "--force", "--top", "acc_top"]) == 0
    assert (out / "acc_top.v").exists()


def test_cli_generate_from_design_json(tmp_path, capsys):
    from codesign.arch import architecture_to_dict, output_stationary

    design = tmp_path / "best.json"
    design.write_text(json.dumps({"arch": architecture_to_dict(output_stationary(2, 3))}))
    assert main(["generate", "--design", str(design), "-o", str(tmp_path / "acc")]) == 0
    manifest = json.loads((tmp_path / "acc" / "manifest.json").read_text())
    assert manifest["parameters"]["dataflow"] == "os"
    assert (manifest["parameters"]["rows"], manifest["parameters"]["cols"]) == (2, 3)
    assert main(["generate", "--design", str(design), "--rows", "2", "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err.endswith("error: --design cannot be combined with --rows\n")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rows", "0", "--cols", "2"], "error: rows must be an integer in 1..256, not 0"),
        (["--rows", "8", "--cols", "8", "--acc-bits", "18"], "error: acc_bits=18 is too narrow"),
        (["--rows", "2", "--cols", "2", "--dataflow", "rs"], "error: dataflow must be one of"),
        (["--cols", "2"], "error: --rows is required (or give --design)"),
    ],
)
def test_cli_generate_bad_input_is_one_line_error(extra, message, tmp_path, capsys):
    assert main(["generate", *extra, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


SIZES = [(2, 2), (4, 4), (3, 5), (8, 8), (16, 16)]


@pytest.mark.slow
@needs_iverilog
@pytest.mark.parametrize("dataflow", ["ws", "os", "sparse24"])
@pytest.mark.parametrize(("rows", "cols"), SIZES)
def test_all_sizes_compile_and_synthesize(rows, cols, dataflow, tmp_path):
    from codesign.synth import synthesize

    config = SystolicConfig(rows=rows, cols=cols, dataflow=dataflow)
    result = export_verilog(config, tmp_path / "d")
    compiled = iverilog_compile(result.verilog_path, tmp_path)
    assert compiled.returncode == 0 and compiled.stderr == "" and compiled.stdout == ""
    synth = synthesize(tmp_path / "d", "xilinx")
    assert synth.dsps == rows * cols * (2 if dataflow == "sparse24" else 1)
    assert synth.ffs > 0 and synth.luts > 0


def test_cli_generate_top_accelerator_delegates(tmp_path, capsys):
    out = tmp_path / "acc"
    assert (
        main(["generate", "--rows", "2", "--cols", "2", "--top", "accelerator", "-o", str(out)])
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "accelerator"
    assert manifest["parameters"]["rows"] == 2
    assert "accelerator around a 2x2 ws array" in capsys.readouterr().out


def test_cli_generate_top_array_is_the_default_bare_array(tmp_path):
    from codesign.cli import main

    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["generate", "--rows", "2", "--cols", "2", "-o", str(a)]) == 0
    assert main(["generate", "--rows", "2", "--cols", "2", "--top", "array", "-o", str(b)]) == 0
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma == mb and ma["top"] == "ws_array_2x2_a8w8acc32" and "kind" not in ma


def test_cli_generate_prints_the_size_and_ports_of_the_verilog(tmp_path, capsys):
    out = tmp_path / "ws"
    assert main(["generate", "--rows", "2", "--cols", "3", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    top = "ws_array_2x3_a8w8acc32"
    path = out / f"{top}.v"
    size = path.stat().st_size
    assert re.fullmatch(
        rf"wrote {re.escape(str(path))} \({size} bytes, \d+\.\d\d s\) and "
        rf"{re.escape(str(out / 'manifest.json'))}",
        lines[0],
    )
    ports = (line.split() for line in lines[2:])
    printed = {name: (direction, int(width)) for direction, width, name in ports}
    assert printed == verilog_ports(path.read_text(), top)


def test_cli_generate_accelerator_prints_its_buffers_and_registers(tmp_path, capsys):
    out = tmp_path / "acc"
    argv = ["generate", "--rows", "2", "--cols", "2", "--top", "accelerator", "-o", str(out)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    # defaults: max_tile_m 64, max_n_tiles 16, FIFO 32 beats; beat = 2 x 8 bits in, 2 x 8 out
    assert lines[1] == (
        "top accel_ws_2x2_a8w8_t64_bus16: accelerator around a 2x2 ws array (a8 w8), "
        "acc_buf 64 x 2 int32, 32 channels, FIFO 32 beats, s_axis 16 bits, m_axis 16 bits"
    )
    assert lines[2] == (
        "  integration: CSR simple, clock clk (100 MHz), reset rst, TDATA s_axis 16 / m_axis 16 "
        "bits; wrote accel_ws_2x2_a8w8_t64_bus16_regs.h, accel_ws_2x2_a8w8_t64_bus16.sdc, "
        "accel_ws_2x2_a8w8_t64_bus16.xdc"
    )
    assert lines[3] == "  registers:"
    manifest = json.loads((out / "manifest.json").read_text())
    printed = [line.split(maxsplit=3) for line in lines[4:]]
    assert [(int(a, 16), n, acc) for a, n, acc, _ in printed] == [
        (r["address"], r["name"], r["access"]) for r in manifest["register_map"]
    ]
    assert [a for a, *_ in printed][:3] == ["0x00", "0x04", "0x08"]
