"""Generic cocotb test bench for stream-in / stream-out designs, driven by a job file.

Runs inside the simulator (``codesign.sim.runner.run_bench`` starts it). The job, JSON in
``$CODESIGN_SIM_JOB``, says everything design-specific, so this bench serves every generated
design::

    {
      "clock_period_ns": 10,
      "reset": {"port": "rst", "cycles": 2},          # optional
      "inputs": ["w", "i"], "outputs": ["o"],          # stream port names
      "input_pause_probability": 0.0,                  # idle cycles between input beats
      "output_pause_probability": 0.0,                 # back-pressure on outputs
      "seed": 1, "timeout_cycles": 100000,
      "tiles": [{"set": {"port": 3},                   # static ports, set before the tile
                 "in": {"w": [..], "i": [..]},         # payload integers per input stream
                 "out": {"o": [..]}}]                  # expected payload integers per output
    }

Tiles run one after another: a tile's beats are queued on every input stream at once, and the
tile ends when every output stream has delivered as many beats as expected. With
``"overlap": true`` all tiles are queued at once (back to back, as a controller issues them;
only the first tile's ``set`` applies) and beats are attributed to tiles by their counts. A
tile's cycles count from its first accepted input beat to its last output beat, inclusive.
The result (``$CODESIGN_SIM_RESULT``) holds the received beats, per-tile cycles, the layer's
cycles and the scoreboard's mismatches; the cocotb test fails on any mismatch or timeout.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotb.utils import get_sim_steps
from codesign.sim.runner import JOB_ENV, RESULT_ENV
from codesign.sim.scoreboard import Scoreboard
from codesign.sim.stream import (
    CycleClock,
    StreamDriver,
    StreamMonitor,
    no_pauses,
    random_pauses,
)

__all__ = ["TB", "run_tiles"]


class TB:
    """Drivers, monitors and scoreboard of one design, configured by a job.

    Parameters
    ----------
    dut : cocotb handle
        The top level.
    job : dict
        The job (see the module docstring).
    """

    def __init__(self, dut: object, job: dict) -> None:
        self.dut = dut
        self.job = job
        period_ns = job.get("clock_period_ns", 10)
        self.clock = CycleClock(dut.clk, get_sim_steps(period_ns, "ns"))
        seed = int(job.get("seed", 1))
        p_in = float(job.get("input_pause_probability", 0.0))
        p_out = float(job.get("output_pause_probability", 0.0))

        def pauses(p: float, salt: int):  # noqa: ANN202
            return random_pauses(p, seed * 1009 + salt) if p > 0 else no_pauses()

        cocotb.start_soon(Clock(dut.clk, period_ns, unit="ns").start())
        self.pending_sets: dict[str, int] = {}
        self.drivers = {
            name: StreamDriver(dut, name, self.clock, pauses(p_in, k), self._apply_sets)
            for k, name in enumerate(job["inputs"])
        }
        self._monitor_pauses = {
            name: pauses(p_out, 100 + k) for k, name in enumerate(job["outputs"])
        }
        self.monitors: dict[str, StreamMonitor] = {}  # created after reset
        self.scoreboard = Scoreboard(max_reported=int(job.get("max_reported", 10)))

    def _apply_sets(self) -> None:
        for port, value in self.pending_sets.items():
            getattr(self.dut, port).value = value
        self.pending_sets.clear()

    async def reset(self) -> None:
        """Hold the reset port high for the job's reset cycles."""
        spec = self.job.get("reset")
        if spec:
            rst = getattr(self.dut, spec.get("port", "rst"))
            rst.value = 1
            await ClockCycles(self.dut.clk, int(spec.get("cycles", 2)))
            rst.value = 0
        await RisingEdge(self.dut.clk)
        self.clock.restart()
        self.monitors = {
            name: StreamMonitor(self.dut, name, self.clock, p)
            for name, p in self._monitor_pauses.items()
        }

    async def run_tile(self, index: int, tile: dict) -> dict:
        """Drive one tile, wait for its outputs, score them; returns its record."""
        return (await self.run_batch(index, [tile]))[0]

    async def run_batch(self, first_index: int, tiles: list[dict]) -> list[dict]:
        """Queue the beats of ``tiles`` back to back, wait for all their outputs, score them;
        returns one record per tile (beats are attributed to tiles by their counts)."""
        # Static ports are written by the drivers at the next edge, with the first beats
        # (this coroutine may be resumed in the read-only phase).
        self.pending_sets.update({p: int(v) for p, v in tiles[0].get("set", {}).items()})
        starts = {n: len(d.accepted_cycles) for n, d in self.drivers.items()}
        marks = {n: len(m.beats) for n, m in self.monitors.items()}
        for name, mon in self.monitors.items():
            mon.expect(sum(len(t.get("out", {}).get(name, [])) for t in tiles))
        for name, drv in self.drivers.items():
            drv.send([beat for t in tiles for beat in t.get("in", {}).get(name, [])])
        for waiter in [m.reached.wait() for m in self.monitors.values()] + [
            d.idle.wait() for d in self.drivers.values()
        ]:
            await waiter
        records = []
        for offset, tile in enumerate(tiles):
            index = first_index + offset
            record: dict = {"index": index, "out": {}, "in_cycles": {}, "out_cycles": {}}
            for name, drv in self.drivers.items():
                count = len(tile.get("in", {}).get(name, []))
                record["in_cycles"][name] = drv.accepted_cycles[starts[name] : starts[name] + count]
                starts[name] += count
            expected = tile.get("out", {})
            for name, mon in self.monitors.items():
                count = len(expected.get(name, []))
                got = mon.beats[marks[name] : marks[name] + count]
                record["out"][name] = got
                record["out_cycles"][name] = mon.cycles[marks[name] : marks[name] + count]
                marks[name] += count
                if name in expected:
                    self.scoreboard.compare_items(f"tile {index} {name}", expected[name], got)
            firsts = [c[0] for c in record["in_cycles"].values() if c]
            lasts = [c[-1] for c in record["out_cycles"].values() if c]
            if firsts and lasts:
                record["first_in_cycle"], record["last_out_cycle"] = min(firsts), max(lasts)
                record["cycles"] = max(lasts) - min(firsts) + 1
            records.append(record)
        return records


async def run_tiles(dut: object, job: dict) -> dict:
    """Run every tile of the job; returns the result dict (also written to the result file)."""
    tb = TB(dut, job)
    await tb.reset()
    tiles: list[dict] = []
    result: dict = {"tiles": tiles, "timed_out": False}
    timeout = int(job.get("timeout_cycles", 200_000))
    period_ns = job.get("clock_period_ns", 10)

    async def body() -> None:
        if job.get("overlap"):
            tiles.extend(await tb.run_batch(0, job["tiles"]))
        else:
            for k, tile in enumerate(job["tiles"]):
                tiles.append(await tb.run_tile(k, tile))

    try:
        await with_timeout(cocotb.start_soon(body()), timeout * period_ns, "ns")
    except TimeoutError:
        result["timed_out"] = True
        result["progress"] = {
            "accepted": {n: len(d.accepted_cycles) for n, d in tb.drivers.items()},
            "received": {n: len(m.beats) for n, m in tb.monitors.items()},
        }
    cycles = [t for t in tiles if "cycles" in t]
    if cycles:
        result["layer_cycles"] = cycles[-1]["last_out_cycle"] - cycles[0]["first_in_cycle"] + 1
    result["compared"] = tb.scoreboard.compared
    result["mismatch_count"] = tb.scoreboard.mismatch_count
    result["mismatches"] = [m.to_json() for m in tb.scoreboard.mismatches]
    return result


@cocotb.test()
async def stream_tiles(dut: object) -> None:
    """Drive the job's tiles through the design and score the outputs."""
    with open(os.environ[JOB_ENV]) as fh:
        job = json.load(fh)
    result = await run_tiles(dut, job)
    with open(os.environ[RESULT_ENV], "w") as fh:
        json.dump(result, fh)
    assert not result["timed_out"], f"timeout after {job.get('timeout_cycles', 200_000)} cycles"
    assert result["mismatch_count"] == 0, f"{result['mismatch_count']} mismatching beats"
