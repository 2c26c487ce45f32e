"""cocotb test bench of the AXI4-Lite integration wrapper (``codesign.hw.integration``): the
same job and result as ``codesign.sim.tb_accelerator``, driven with cocotbext-axi -
`AxiLiteMaster` on ``s_axi_control``, `AxiStreamSource` on ``s_axis``, `AxiStreamSink` on
``m_axis`` - with random pause generators on every channel.

Extra job keys (beside those of ``tb_accelerator``)::

    "csr_pause_probability": 0.0,   # pauses on AW, W, B, AR and R (independent AW / W arrival)
    "s_axis_payload_bits": 18,      # bits of an s_axis word the accelerator uses
    "pad_garbage": false            # random bits in the s_axis pad bits (they must be ignored)

``csr_errors`` counts the accesses answered with a response other than OKAY. Handshake cycles
are sampled by a watcher in the read-only phase of every cycle, as the simple-bus bench samples
them, so both benches measure the same cycles for the same layer.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge
from cocotbext.axi import (
    AxiLiteBus,
    AxiLiteMaster,
    AxiResp,
    AxiStreamBus,
    AxiStreamFrame,
    AxiStreamSink,
    AxiStreamSource,
)
from codesign.sim.runner import JOB_ENV, RESULT_ENV
from codesign.sim.stream import random_pauses
from codesign.sim.tb_accelerator import AcceleratorTB, run_job

__all__ = ["AxiLiteTB"]

AXI_LITE_PREFIX = "s_axi_control"


def _high(handle: object) -> bool:
    return str(handle.value) == "1"


class AxiLiteTB(AcceleratorTB):
    """`AcceleratorTB` with cocotbext-axi drivers on the wrapper's AXI4-Lite and streams.

    Parameters
    ----------
    dut : cocotb handle
        The wrapper's top level (``aclk``, ``aresetn`` or ``areset``).
    job : dict
        The job (module docstring).
    """

    def __init__(self, dut: object, job: dict) -> None:
        super().__init__(dut, job)
        level = not self.reset_active_low  # cocotbext-axi: the reset's active level
        self.axil = AxiLiteMaster(
            AxiLiteBus.from_prefix(dut, AXI_LITE_PREFIX), self.clk, self.rst, level
        )
        # one "byte" per beat: frames are lists of whole TDATA words
        self.source = AxiStreamSource(
            AxiStreamBus.from_prefix(dut, "s_axis"), self.clk, self.rst, level, byte_lanes=1
        )
        self.sink = AxiStreamSink(
            AxiStreamBus.from_prefix(dut, "m_axis"), self.clk, self.rst, level, byte_lanes=1
        )
        self.source.set_pause_generator(self.in_pauses)
        self.sink.set_pause_generator(self.out_pauses)
        seed = int(job.get("seed", 1))
        p_csr = float(job.get("csr_pause_probability", 0.0))
        if p_csr > 0:
            w, r = self.axil.write_if, self.axil.read_if
            channels = (w.aw_channel, w.w_channel, w.b_channel, r.ar_channel, r.r_channel)
            for i, channel in enumerate(channels):
                channel.set_pause_generator(random_pauses(p_csr, seed * 1009 + 3 + i))
        payload = int(job.get("s_axis_payload_bits", len(dut.s_axis_tdata)))
        self.pad_bits = len(dut.s_axis_tdata) - payload
        self.payload_bits = payload
        self.pad_rng = random.Random(seed * 1009 + 9) if job.get("pad_garbage") else None
        cocotb.start_soon(self._watch())

    def idle_inputs(self) -> None:
        """Nothing: the cocotbext-axi drivers drive their own idle values."""

    async def csr_write(self, address: int, value: int) -> None:
        """One AXI4-Lite write of a 32-bit word; a response other than OKAY counts in
        `csr_errors`."""
        resp = await self.axil.write(address, (value & 0xFFFFFFFF).to_bytes(4, "little"))
        self.csr_errors += int(resp.resp != AxiResp.OKAY)

    async def csr_read(self, address: int) -> int:
        """One AXI4-Lite read of a 32-bit word."""
        resp = await self.axil.read(address, 4)
        self.csr_errors += int(resp.resp != AxiResp.OKAY)
        return int.from_bytes(resp.data, "little")

    def _padded(self, word: int) -> int:
        if self.pad_rng is None or self.pad_bits == 0:
            return word
        return word | self.pad_rng.getrandbits(self.pad_bits) << self.payload_bits

    def start_streams(self) -> None:
        """Nothing: the cocotbext-axi source and sink are the streams' drivers."""

    def begin_layer(self) -> None:
        """Nothing: the handshake watcher records into the layer's lists directly."""

    def collect(self) -> None:
        """Nothing: the handshake watcher has filled the layer's lists."""

    async def _source(self, words: list[int]) -> None:
        await self.source.send(AxiStreamFrame([self._padded(w) for w in words]))
        await self.source.wait()

    async def _sink(self, count: int) -> None:
        while len(self.out_words) < count:
            frame = await self.sink.recv()
            self.out_words.extend(int(w) for w in frame.tdata)

    async def _watch(self) -> None:
        """Record the cycle of every stream handshake and ``tlast`` of every output beat."""
        dut = self.dut
        while True:
            await RisingEdge(self.clk)
            await ReadOnly()
            if _high(dut.s_axis_tvalid) and _high(dut.s_axis_tready):
                self.in_cycles.append(self.cycle)
            if _high(dut.m_axis_tvalid) and _high(dut.m_axis_tready):
                self.out_cycles.append(self.cycle)
                self.out_last.append(int(_high(dut.m_axis_tlast)))


@cocotb.test()
async def axi_lite_layer(dut: object) -> None:
    """Drive the job's layer through the wrapper's AXI4-Lite and AXI4-Stream interfaces."""
    with open(os.environ[JOB_ENV]) as fh:
        job = json.load(fh)
    result = await run_job(dut, job, bench=AxiLiteTB)
    with open(os.environ[RESULT_ENV], "w") as fh:
        json.dump(result, fh)
    assert not result["timed_out"], f"timeout after {job.get('timeout_cycles')} cycles"
