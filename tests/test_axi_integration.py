"""Integration wrapper (issue 13): the AXI4-Lite CSR slave, ``aresetn``, byte-padded TDATA,
Xilinx interface attributes, STATUS.ERROR, the C header and the clock constraints.

Fast tier: configuration errors, the header compiled by ``cc`` against ``REGISTERS``, the
constraints, the exported files and ports, and the AXI4-Lite handshake rules in the Amaranth
simulator. RTL tier (cocotb + Icarus): whole GEMMs through cocotbext-axi drivers with random
back-pressure on every channel, bit-exact, and the same measured cycles as the simple bus.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from codesign.accel.array import SystolicConfig
from codesign.accel.config import REGISTERS, AcceleratorConfig, register_address
from codesign.accel.integration import Integration, tdata_bits
from codesign.errors import SpecError

# 3x3 a6w6: 18-bit streams, padded to 24 in the wrapper
CONFIG = AcceleratorConfig(
    array=SystolicConfig(rows=3, cols=3, act_bits=6, weight_bits=6),
    max_tile_m=4,
    max_n_tiles=2,
    fifo_depth=4,
)
AXIL = Integration(csr="axi-lite", reset="aresetn")
OKAY, SLVERR = 0, 2


def test_integration_validates_and_round_trips():
    with pytest.raises(SpecError, match=r"^csr must be one of simple, axi-lite, not 'apb'$"):
        Integration(csr="apb")
    with pytest.raises(SpecError, match=r"^reset must be one of sync-high, aresetn, not 'low'$"):
        Integration(reset="low")
    with pytest.raises(SpecError, match=r"^freq_mhz must be a number in \(0, 2000\], not 0$"):
        Integration(freq_mhz=0)
    assert not Integration().wrapped and Integration().clock_port == "clk"
    assert (AXIL.clock_port, AXIL.reset_port, AXIL.suffix) == ("aclk", "aresetn", "_axil_rstn")
    assert Integration(csr="axi-lite").reset_port == "areset"
    assert Integration.from_dict(AXIL.to_dict()) == AXIL
    with pytest.raises(SpecError, match=r"^integration has unknown key 'clock'"):
        Integration.from_dict({"clock": "aclk"})
    with pytest.raises(SpecError, match=r"^integration clock_port must be 'aclk'"):
        Integration.from_dict({**AXIL.to_dict(), "clock_port": "clk"})
    assert [tdata_bits(b) for b in (1, 8, 9, 18, 64)] == [8, 8, 16, 24, 64]
    assert AXIL.stream_bits(18) == 24 and Integration().stream_bits(18) == 18


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_c_header_compiles_and_matches_the_register_map(tmp_path):
    from codesign.hw.accel_export import stream_formats
    from codesign.hw.accel_files import c_header

    top = CONFIG.top_name + AXIL.suffix
    header = c_header(CONFIG, AXIL, top, stream_formats(CONFIG, AXIL), version="test")
    (tmp_path / "regs.h").write_text(header)
    p = top.upper()
    names = [f"{r.name}_OFFSET" for r in REGISTERS]
    names += [
        f"{r.name}_{f.name}_{k}" for r in REGISTERS for f in r.fields for k in ("SHIFT", "MASK")
    ]
    names += [
        "S_AXIS_TDATA_BITS",
        "S_AXIS_PAYLOAD_BITS",
        "M_AXIS_TDATA_BITS",
        "COLS",
        "CSR_AXI_LITE",
    ]
    prints = "\n".join(f'  printf("{n} %lu\\n", (unsigned long)({p}_{n}));' for n in names)
    source = (  # included twice: the include guard must hold
        f'#include <stdio.h>\n#include "regs.h"\n#include "regs.h"\n'
        f"int main(void) {{\n{prints}\n  return 0;\n}}\n"
    )
    (tmp_path / "main.c").write_text(source)
    build = subprocess.run(
        ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o", "main", "main.c"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    got = dict(
        line.split()
        for line in subprocess.check_output([tmp_path / "main"], text=True).splitlines()
    )
    want = {f"{r.name}_OFFSET": r.address for r in REGISTERS}
    for r in REGISTERS:
        for f in r.fields:
            want[f"{r.name}_{f.name}_SHIFT"] = f.lsb
            want[f"{r.name}_{f.name}_MASK"] = ((1 << f.bits) - 1) << f.lsb
    want.update(S_AXIS_TDATA_BITS=24, S_AXIS_PAYLOAD_BITS=18, M_AXIS_TDATA_BITS=24, COLS=3)
    want["CSR_AXI_LITE"] = 1
    assert {k: int(v) for k, v in got.items()} == want
    assert want["STATUS_ERROR_MASK"] == 0b100 and want["PARAM_WRITE_TILE_SHIFT"] == 8


def test_clock_constraints():
    from codesign.hw.accel_files import clock_constraint

    for tool in ("sdc", "xdc"):
        text = clock_constraint(Integration(csr="axi-lite", freq_mhz=125), "t", tool=tool)
        assert "create_clock -name aclk -period 8.000 [get_ports aclk]" in text.splitlines()
    text = clock_constraint(Integration(freq_mhz=150), "t", tool="sdc")
    assert "create_clock -name clk -period 6.667 [get_ports clk]" in text.splitlines()
    with pytest.raises(SpecError, match=r"^tool must be one of sdc, xdc, not 'ucf'$"):
        clock_constraint(Integration(), "t", tool="ucf")


def _module_header(text: str, top: str) -> str:
    start = text.index(f"module {top}(")
    return text[start : text.index("endmodule", start)]


def test_export_writes_header_constraints_and_attributed_ports(tmp_path):
    from codesign.hw.accel_export import export_accelerator
    from codesign.hw.integration import interface_attributes

    result = export_accelerator(CONFIG, tmp_path, integration=AXIL)
    manifest = json.loads(result.manifest_path.read_text())
    top = manifest["top"]
    assert top == "accel_ws_3x3_a6w6_t4_bus18_axil_rstn"
    assert manifest["integration"] == AXIL.to_dict()
    assert (tmp_path / manifest["c_header"]).is_file()
    assert manifest["constraints"] == {"sdc": f"{top}.sdc", "xdc": f"{top}.xdc"}
    assert all((tmp_path / f).is_file() for f in manifest["constraints"].values())
    assert manifest["streams"]["s_axis"]["tdata_bits"] == 24
    assert manifest["streams"]["m_axis"]["payload_bits"] == 18
    status = next(r for r in manifest["register_map"] if r["name"] == "STATUS")
    assert [f["name"] for f in status["fields"]] == ["BUSY", "DONE", "ERROR"]
    ports = {p["name"]: p for p in manifest["ports"]}
    assert "clk" not in ports and "rst" not in ports and "csr_addr" not in ports
    assert ports["s_axis_tdata"]["width"] == 24 and ports["m_axis_tdata"]["width"] == 24
    assert ports["s_axi_control_wstrb"]["width"] == 4
    module = _module_header(result.verilog_path.read_text(), top)
    declared = re.findall(r"^\s*(input|output) (?:\[(\d+):0\] )?(\w+);", module, flags=re.M)
    assert {name: int(msb or 0) + 1 for _, msb, name in declared} == {
        n: p["width"] for n, p in ports.items()
    }
    # every attribute sits right before its port's declaration
    for port, attrs in interface_attributes(CONFIG, AXIL).items():
        decl = re.search(rf"((?:\s*\(\*[^\n]*\*\)\n)+)\s*(?:input|output)[^;]*\b{port};", module)
        assert decl, port
        for key, value in attrs.items():
            assert f'(* {key} = "{value}" *)' in decl.group(1), (port, key)
    assert 'X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axi_control WSTRB"' in module
    assert "TDATA_NUM_BYTES 3" in module and "POLARITY ACTIVE_LOW" in module


def test_generate_command_options(tmp_path, capsys):
    from codesign.cli import main

    out = tmp_path / "g"
    argv = ["generate", "--rows", "2", "--cols", "2", "--top", "accelerator", "-o", str(out)]
    assert main([*argv, "--csr", "axi-lite", "--reset", "aresetn", "--freq-mhz", "125"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["integration"]["freq_mhz"] == 125.0
    assert "period 8.000" in (out / manifest["constraints"]["xdc"]).read_text()
    assert main([*argv, "--force", "--csr", "apb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: --csr invalid choice: 'apb' (choose from 'simple', 'axi-lite') "
        "(see codesign generate --help)"
    ]


# --- the AXI4-Lite slave in the Amaranth simulator ------------------------------------------


class _AxiLite:
    """A hand-written AXI4-Lite master for the Amaranth simulator: each channel on its own."""

    def __init__(self, ctx, dut):
        from codesign.hw.integration import axi_lite_signature

        self.ctx = ctx
        members = axi_lite_signature(8, 32).members
        self.s = {n: getattr(dut, f"s_axi_control_{n}") for n in members}

    async def handshake(self, channel: str, **values) -> int:
        """Present ``values`` with ``<channel>valid`` until ``<channel>ready``; returns the
        cycles it waited."""
        ctx, s = self.ctx, self.s
        for name, value in values.items():
            ctx.set(s[name], value)
        ctx.set(s[f"{channel}valid"], 1)
        waited = 0
        while True:
            *_, ready = await ctx.tick("sync").sample(s[f"{channel}ready"])
            if ready:
                break
            waited += 1
        ctx.set(s[f"{channel}valid"], 0)
        return waited

    async def response(self, channel: str, *names: str, hold: int = 0) -> tuple:
        """Wait ``hold`` cycles with ``<channel>ready`` low (recording ``awready`` and
        ``arready`` in `held`: a slave with a response pending takes no new address), then take
        the response."""
        ctx, s = self.ctx, self.s
        self.held = []
        for _ in range(hold):
            _, _, valid, aw, ar, *values = await ctx.tick("sync").sample(
                s[f"{channel}valid"], s["awready"], s["arready"], *(s[n] for n in names)
            )
            self.held.append((valid, aw, ar, *values))
        ctx.set(s[f"{channel}ready"], 1)
        while True:
            _, _, valid, *values = await ctx.tick("sync").sample(
                s[f"{channel}valid"], *(s[n] for n in names)
            )
            if valid:
                break
        ctx.set(s[f"{channel}ready"], 0)
        return tuple(values)

    async def write(self, address: int, data: int, *, strb: int = 0xF, w_first: int = 0) -> int:
        """A write; ``w_first`` > 0: W that many cycles before AW, < 0: AW first."""
        ctx = self.ctx
        if w_first < 0:
            await self.handshake("aw", awaddr=address)
            await ctx.tick("sync").repeat(-w_first - 1) if w_first < -1 else None
            await self.handshake("w", wdata=data, wstrb=strb)
        elif w_first > 0:
            await self.handshake("w", wdata=data, wstrb=strb)
            await ctx.tick("sync").repeat(w_first - 1) if w_first > 1 else None
            await self.handshake("aw", awaddr=address)
        else:
            await self.both(address, data, strb=strb)
        (bresp,) = await self.response("b", "bresp")
        return bresp

    async def both(self, address: int, data: int, *, strb: int = 0xF) -> None:
        """AW and W in the same cycle; both must be accepted at once."""
        ctx, s = self.ctx, self.s
        for name, value in (("awaddr", address), ("wdata", data), ("wstrb", strb)):
            ctx.set(s[name], value)
        ctx.set(s["awvalid"], 1)
        ctx.set(s["wvalid"], 1)
        *_, aw_ready, w_ready = await ctx.tick("sync").sample(s["awready"], s["wready"])
        assert aw_ready and w_ready
        ctx.set(s["awvalid"], 0)
        ctx.set(s["wvalid"], 0)

    async def read(self, address: int, *, hold: int = 0) -> tuple[int, int]:
        await self.handshake("ar", araddr=address)
        return await self.response("r", "rdata", "rresp", hold=hold)


def test_axi_lite_slave_handshakes_responses_and_status_error():
    from amaranth.sim import Simulator
    from codesign.hw.integration import IntegratedAccelerator

    cfg = AcceleratorConfig(
        array=SystolicConfig(rows=2, cols=2), max_tile_m=4, max_n_tiles=2, fifo_depth=4
    )
    dut = IntegratedAccelerator(cfg, AXIL)
    status, m_reg, tile_m = (register_address(n) for n in ("STATUS", "M", "TILE_M"))
    seen = {}

    async def clock(ctx):
        while True:
            ctx.set(dut.aclk, 0)
            await ctx.delay(5e-9)
            ctx.set(dut.aclk, 1)
            await ctx.delay(5e-9)

    async def bench(ctx):
        bus = _AxiLite(ctx, dut)
        ctx.set(dut.aresetn, 0)
        await ctx.delay(2.2e-8)
        ctx.set(dut.aresetn, 1)
        seen["reset_status"] = await bus.read(status)
        # AW and W arrive independently, in either order or together
        seen["w_first"] = await bus.write(m_reg, 7, w_first=3)
        seen["aw_first"] = await bus.write(tile_m, 3, w_first=-4)
        seen["together"] = await bus.write(register_address("N_TILES"), 2)
        seen["m"] = await bus.read(m_reg)
        seen["tile_m"] = await bus.read(tile_m, hold=3)  # rdata held while rready is low
        seen["r_held"] = bus.held
        # partial strobe: refused by the slave (nothing written, STATUS.ERROR untouched)
        seen["partial"] = await bus.write(m_reg, 99, strb=0b0011)
        seen["m_after_partial"] = await bus.read(m_reg)
        seen["status_after_partial"] = await bus.read(status)
        # no register at 0x40: SLVERR both ways; the refused write sets STATUS.ERROR
        seen["unmapped_write"] = await bus.write(0x40, 1)
        seen["unmapped_read"] = await bus.read(0x40)
        seen["status_error"] = await bus.read(status)
        # B held: the next write is accepted but not performed until B is taken
        await bus.both(m_reg, 11)
        await ctx.tick("sync").repeat(2)
        await bus.both(m_reg, 22)
        seen["m_while_b_held"] = await bus.read(m_reg)
        seen["b_pairs"] = [await bus.response("b", "bresp", hold=3)]
        seen["b_held"] = bus.held
        seen["b_pairs"].append(await bus.response("b", "bresp"))
        seen["m_after_b"] = await bus.read(m_reg)
        # a start clears STATUS.ERROR; a write while busy is refused and sets it again
        seen["start"] = await bus.write(register_address("CTRL"), 1)
        seen["status_busy"] = await bus.read(status)
        seen["busy_write"] = await bus.write(m_reg, 5)
        seen["status_busy_error"] = await bus.read(status)
        seen["m_after_busy"] = await bus.read(m_reg)
        seen["irq"] = ctx.get(dut.irq)

    sim = Simulator(dut)
    sim.add_process(clock)
    sim.add_testbench(bench)
    sim.run()
    assert seen["reset_status"] == (0, OKAY)
    assert (seen["w_first"], seen["aw_first"], seen["together"]) == (OKAY, OKAY, OKAY)
    assert seen["m"] == (7, OKAY) and seen["tile_m"] == (3, OKAY)
    # R valid and stable from the second held cycle, no AR accepted meanwhile; AW stays free
    assert seen["r_held"][1:] == [(1, 1, 0, 3, OKAY)] * 2
    assert seen["partial"] == SLVERR and seen["m_after_partial"] == (7, OKAY)
    assert seen["status_after_partial"] == (0, OKAY)
    assert seen["unmapped_write"] == SLVERR and seen["unmapped_read"] == (0, SLVERR)
    assert seen["status_error"] == (0b100, OKAY)
    assert seen["m_while_b_held"] == (11, OKAY)
    assert seen["b_pairs"] == [(OKAY,), (OKAY,)] and seen["m_after_b"] == (22, OKAY)
    # B held: the second write waits in the slave (AW not ready), reads go on
    assert seen["b_held"] == [(1, 0, 1, OKAY)] * 3
    assert seen["start"] == OKAY and seen["status_busy"] == (0b001, OKAY)
    assert seen["busy_write"] == SLVERR and seen["status_busy_error"] == (0b101, OKAY)
    assert seen["m_after_busy"] == (22, OKAY) and seen["irq"] == 0


# --- RTL tier: cocotbext-axi drivers, whole GEMMs -------------------------------------------


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    from codesign.hw.accel_export import export_accelerator
    from codesign.sim.accelerator import load_accelerator

    root = tmp_path_factory.mktemp("axi")
    out = {}
    for name, integration in (
        ("simple", Integration()),
        ("axil", AXIL),
        ("simple_rstn", Integration(reset="aresetn")),
    ):
        export_accelerator(CONFIG, root / name, integration=integration)
        out[name] = load_accelerator(root / name)
    return out


def _gemm(seed: int):
    rng = np.random.default_rng(seed)
    m, n, k = 7, 5, 8  # two row tiles (4 + 3), two column tiles, three K tiles
    return (
        rng.integers(-32, 32, (m, k)),
        rng.integers(-32, 32, (k, n)),
        rng.integers(-500, 500, n),
        rng.integers(2**29, 2**31, n),
        rng.integers(8, 12, n),
    )


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_cocotbext_axi_bench_bit_exact_under_random_back_pressure(designs, tmp_path):
    from codesign.sim.accelerator import verify_accelerator_gemm

    a, w, bias, mult, shift = _gemm(5)
    res = verify_accelerator_gemm(
        designs["axil"],
        a,
        w,
        bias,
        mult,
        shift,
        -3,
        tile_m=4,
        back_pressure=0.4,
        idle=0.3,
        repeat=2,
        work_dir=tmp_path,
    )
    # bit-exact twice without a reset, tlast on the last beat, STATUS done, every AXI4-Lite
    # response OKAY, m_axis pad bits zero with random garbage in the s_axis pad bits
    assert res.passed and res.mismatch_count == 0
    assert res.compared == 2 * 7 * 5
    job = json.loads((tmp_path / "job.json").read_text())
    assert job["pad_garbage"] and job["csr_pause_probability"] == 0.4


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_wrappers_measure_the_simple_bus_cycles_without_back_pressure(designs, tmp_path):
    from codesign.sim.accelerator import verify_accelerator_gemm

    a, w, bias, mult, shift = _gemm(6)
    cycles = {}
    for name, design in designs.items():
        res = verify_accelerator_gemm(
            design, a, w, bias, mult, shift, 4, tile_m=4, work_dir=tmp_path / name
        )
        assert res.mismatch_count == 0, (name, res.mismatches)
        cycles[name] = (res.cycles_measured, res.cycles_register)
    assert cycles["axil"][0] == cycles["simple"][0] == cycles["simple_rstn"][0]
    # CYCLES counts from start: the AXI4-Lite start write's B response arrives a cycle later
    assert cycles["simple_rstn"][1] == cycles["simple"][1]
    assert cycles["axil"][1] == cycles["simple"][1] + 1
