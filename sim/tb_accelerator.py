"""cocotb test bench of the accelerator: configures it over the CSR bus, streams a layer through
``s_axis``, collects ``m_axis`` and reads STATUS and CYCLES back. Driven by a job file.

Runs inside the simulator (``codesign.sim.accelerator.run_program`` starts it). The job::

    {
      "clock_period_ns": 10, "seed": 1, "timeout_cycles": 100000,
      "csr_writes": [[address, value], ...],     # in order; the last one starts the layer
      "stream_in": [word, ...],                  # s_axis_tdata words
      "out_beats": 64,                           # m_axis beats to collect
      "input_pause_probability": 0.0,            # idle cycles on s_axis
      "output_pause_probability": 0.0,           # m_axis_tready low
      "status_address": 4, "cycles_address": 28,
      "repeat": 1,                               # run the layer this many times, no reset
      "clock_port": "clk", "reset_port": "rst",  # the manifest's integration
      "reset_active_low": false
    }

or, for several layer programs run one after the other without a reset (a network's layer
for every image), ``"programs": [{"csr_writes": ..., "stream_in": ..., "out_beats": ...}, ...]``
in place of the three per-layer keys (``repeat`` then repeats each program).

Cycles are numbered from the rising edge after the start write. The result holds the output
words and ``tlast`` flags, the cycle of the first ``s_axis`` handshake and of the last ``m_axis``
handshake, their inclusive difference (``cycles``), STATUS and CYCLES read at the end and
``csr_errors``, the writes the accelerator refused (``csr_werr``; none in a correct program).

`AcceleratorTB` drives the simple CSR bus and the streams with the shared
`codesign.sim.stream` driver and monitor (AXI4-Stream names, ``m_axis_tlast`` recorded per beat,
cycles from a `CycleClock`); ``tb_axi`` derives from it for the AXI4-Lite wrapper
(cocotbext-axi drivers), with the same job and result. Outputs are scored on the host
(``codesign.sim.accelerator``), against the integer reference as a tensor: the scoreboard
names each wrong element by its index in ``O``, which the words of a stream (whose padded rows
and channels carry no reference value) could not.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout
from cocotb.utils import get_sim_steps
from codesign.sim.runner import JOB_ENV, RESULT_ENV
from codesign.sim.stream import CycleClock, StreamDriver, StreamMonitor, no_pauses, random_pauses

__all__ = ["AcceleratorTB", "run_job"]


def _high(handle: object) -> bool:
    return str(handle.value) == "1"


class AcceleratorTB:
    """Clock, reset, CSR master, ``s_axis`` source and ``m_axis`` sink of one accelerator.

    The streams are the shared `codesign.sim.stream` driver and monitor on AXI4-Stream names,
    with the cycle numbering of a `CycleClock` (cycle 0 is the first rising edge after reset).

    Parameters
    ----------
    dut : cocotb handle
        The accelerator top level.
    job : dict
        The job (module docstring).
    """

    def __init__(self, dut: object, job: dict) -> None:
        self.dut = dut
        self.job = job
        self.in_cycles: list[int] = []
        self.out_words: list[int] = []
        self.out_last: list[int] = []
        self.out_cycles: list[int] = []
        self.csr_errors = 0
        seed = int(job.get("seed", 1))
        p_in = float(job.get("input_pause_probability", 0.0))
        p_out = float(job.get("output_pause_probability", 0.0))
        self.in_pauses = random_pauses(p_in, seed * 1009 + 1) if p_in > 0 else no_pauses()
        self.out_pauses = random_pauses(p_out, seed * 1009 + 2) if p_out > 0 else no_pauses()
        self.clk = getattr(dut, job.get("clock_port", "clk"))
        self.rst = getattr(dut, job.get("reset_port", "rst"))
        self.reset_active_low = bool(job.get("reset_active_low", False))
        self.rst.value = int(self.reset_active_low)
        self.idle_inputs()
        period_ns = job.get("clock_period_ns", 10)
        self.clock = CycleClock(self.clk, get_sim_steps(period_ns, "ns"))
        self.driver: StreamDriver | None = None  # after reset (`start_streams`)
        self.monitor: StreamMonitor | None = None
        self._layer_marks = (0, 0)  # where the current layer's handshakes begin (begin_layer)
        cocotb.start_soon(Clock(self.clk, period_ns, unit="ns").start())

    @property
    def cycle(self) -> int:
        """The current cycle number."""
        return self.clock.cycle

    def idle_inputs(self) -> None:
        """Drive the bus inputs idle (before reset)."""
        dut = self.dut
        dut.s_axis_tvalid.value = 0
        dut.s_axis_tdata.value = 0
        dut.m_axis_tready.value = 0
        dut.csr_we.value = 0
        dut.csr_addr.value = 0
        dut.csr_wdata.value = 0

    async def reset(self) -> None:
        """Two cycles of reset (``rst`` high, or ``aresetn`` low)."""
        self.rst.value = int(not self.reset_active_low)
        await ClockCycles(self.clk, 2)
        self.rst.value = int(self.reset_active_low)

    def start_streams(self) -> None:
        """Attach the ``s_axis`` driver and the ``m_axis`` monitor (after reset)."""
        dut, clock = self.dut, self.clock
        self.driver = StreamDriver(dut, "s_axis", clock, self.in_pauses, axis=True)
        self.monitor = StreamMonitor(dut, "m_axis", clock, self.out_pauses, axis=True)

    async def csr_write(self, address: int, value: int) -> None:
        """One write; it takes effect at the next rising edge (a refused one, ``csr_werr``,
        counts in `csr_errors`)."""
        await RisingEdge(self.clk)
        self.dut.csr_addr.value = address
        self.dut.csr_wdata.value = value & 0xFFFFFFFF
        self.dut.csr_we.value = 1
        await ReadOnly()
        self.csr_errors += int(_high(self.dut.csr_werr))
        await RisingEdge(self.clk)
        self.dut.csr_we.value = 0

    async def csr_read(self, address: int) -> int:
        """One read (one cycle of latency)."""
        await RisingEdge(self.clk)
        self.dut.csr_addr.value = address
        await RisingEdge(self.clk)
        await ReadOnly()
        return self.dut.csr_rdata.value.to_unsigned()

    def begin_layer(self) -> None:
        """Mark where this layer's handshakes begin in the driver's and monitor's records."""
        self._layer_marks = (len(self.driver.accepted_cycles), len(self.monitor.beats))

    def collect(self) -> None:
        """This layer's handshakes so far into `in_cycles`, `out_words`, `out_last` and
        `out_cycles` (from the driver's and the monitor's records since the layer began)."""
        d, m = self._layer_marks
        self.in_cycles = self.driver.accepted_cycles[d:]
        self.out_words = self.monitor.beats[m:]
        self.out_last = self.monitor.lasts[m:]
        self.out_cycles = self.monitor.cycles[m:]

    async def _source(self, words: list[int]) -> None:
        self.driver.send(words)
        await self.driver.idle.wait()

    async def _sink(self, count: int) -> None:
        self.monitor.expect(count)
        await self.monitor.reached.wait()

    async def run_layer(self, program: dict) -> dict:
        """Configure, start, stream and collect one layer program; returns its record."""
        job = self.job
        self.in_cycles, self.out_words, self.out_last, self.out_cycles = [], [], [], []
        self.begin_layer()
        self.csr_errors = 0
        for address, value in program["csr_writes"]:
            await self.csr_write(int(address), int(value))
        source = cocotb.start_soon(self._source([int(w) for w in program["stream_in"]]))
        sink = cocotb.start_soon(self._sink(int(program["out_beats"])))
        await source
        await sink
        self.collect()
        status = 0
        for _ in range(100):
            status = await self.csr_read(int(job.get("status_address", 4)))
            if status & 2:
                break
        cycles_reg = await self.csr_read(int(job.get("cycles_address", 28)))
        record = {
            "out": self.out_words,
            "out_last": self.out_last,
            "status": status,
            "csr_cycles": cycles_reg,
            "in_beats": len(self.in_cycles),
            "csr_errors": self.csr_errors,
        }
        if self.in_cycles and self.out_cycles:
            record["first_in_cycle"] = self.in_cycles[0]
            record["last_out_cycle"] = self.out_cycles[-1]
            record["cycles"] = self.out_cycles[-1] - self.in_cycles[0] + 1
        return record

    async def run(self) -> dict:
        """Reset, then run every program (the job's ``programs``, or the job itself as one)
        ``repeat`` times back to back (no reset in between); returns the first run's record
        with every run's record under ``runs``."""
        await self.reset()
        await RisingEdge(self.clk)
        self.clock.restart()
        self.start_streams()
        programs = self.job.get("programs") or [self.job]
        repeat = int(self.job.get("repeat", 1))
        runs = [await self.run_layer(p) for p in programs for _ in range(repeat)]
        return {**runs[0], "runs": runs}


async def run_job(dut: object, job: dict, bench: type[AcceleratorTB] = AcceleratorTB) -> dict:
    """Run the job on a ``bench`` with a timeout; returns the result (``timed_out`` set on
    timeout)."""
    tb = bench(dut, job)
    timeout = int(job.get("timeout_cycles", 200_000)) * job.get("clock_period_ns", 10)
    try:
        result = await with_timeout(cocotb.start_soon(tb.run()), timeout, "ns")
        result["timed_out"] = False
    except TimeoutError:
        if tb.driver is not None:
            tb.collect()
        result = {
            "timed_out": True,
            "out": tb.out_words,
            "out_last": tb.out_last,
            "in_beats": len(tb.in_cycles),
        }
    return result


@cocotb.test()
async def accelerator_layer(dut: object) -> None:
    """Drive the job's layer through the accelerator's bus interfaces."""
    with open(os.environ[JOB_ENV]) as fh:
        job = json.load(fh)
    result = await run_job(dut, job)
    with open(os.environ[RESULT_ENV], "w") as fh:
        json.dump(result, fh)
    assert not result["timed_out"], f"timeout after {job.get('timeout_cycles')} cycles"
