"""cocotb stream driver and monitor for Amaranth ``lib.stream`` ports, and pause generators.

An Amaranth stream port ``x`` appears in Verilog as ``x__valid``, ``x__ready`` and
``x__payload``. A transfer happens in the cycle where valid and ready are both high, sampled
at the rising edge that ends it. Cycles are numbered from the clock's first rising edge after
the bench starts the clock (cycle ``c`` lies between rising edges ``c`` and ``c + 1``).

Pause generators give random back-pressure (a monitor deasserting ready) and idle cycles (a
driver leaving valid low between beats): an infinite iterator of bools, True meaning "pause this
cycle", e.g. ``itertools.cycle([False, False, False, True])``.

This module imports cocotb: only test benches (run inside the simulator) import it.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, ReadOnly, RisingEdge

__all__ = ["no_pauses", "random_pauses", "CycleClock", "StreamDriver", "StreamMonitor"]


def no_pauses() -> Iterator[bool]:
    """Never pause."""
    while True:
        yield False


def random_pauses(probability: float, seed: int) -> Iterator[bool]:
    """Pause each cycle independently with ``probability`` (seeded, reproducible)."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def _high(handle: object) -> bool:
    """A one-bit signal is 1 (X and Z, e.g. before reset, count as 0)."""
    return str(handle.value) == "1"


class CycleClock:
    """Cycle numbers of a running clock, derived from simulation time.

    Parameters
    ----------
    clk : cocotb handle
        The clock signal.
    period_steps : int
        Clock period in simulator steps.
    """

    def __init__(self, clk: object, period_steps: int) -> None:
        self.clk = clk
        self.period_steps = period_steps
        self.origin_steps = 0

    def restart(self) -> None:
        """Make the current cycle number 0 (call in the cycle that should be 0)."""
        self.origin_steps = (get_sim_time() // self.period_steps) * self.period_steps

    @property
    def cycle(self) -> int:
        """The current cycle number."""
        return (get_sim_time() - self.origin_steps) // self.period_steps


_AMARANTH = ("__valid", "__ready", "__payload")


class _StreamEnd:
    """The handles of stream port ``prefix`` (``ready`` may be absent), the cycle numbering and
    the pause generator shared by the driver and the monitor. ``axis``: AXI4-Stream names
    (``prefix_tvalid``, ``prefix_tready``, ``prefix_tdata``, optional ``prefix_tlast``) instead
    of Amaranth's (``prefix__valid``, ``prefix__ready``, ``prefix__payload``)."""

    def __init__(
        self,
        dut: object,
        prefix: str,
        clock: CycleClock,
        pauses: Iterator[bool] | None,
        axis: bool = False,
    ) -> None:
        valid, ready, payload = ("_tvalid", "_tready", "_tdata") if axis else _AMARANTH
        self.name = prefix
        self.valid = getattr(dut, prefix + valid)
        self.ready = getattr(dut, prefix + ready, None)
        self.payload = getattr(dut, prefix + payload)
        self.last = getattr(dut, f"{prefix}_tlast", None) if axis else None
        self.clock = clock
        self.pauses = pauses if pauses is not None else no_pauses()


class StreamDriver(_StreamEnd):
    """Drives beats into a DUT's input stream ``prefix`` (``prefix__valid/ready/payload``).

    Parameters
    ----------
    dut : cocotb handle
        The top level.
    prefix : str
        Stream port name.
    clock : CycleClock
        Cycle numbering.
    pauses : iterator of bool, optional
        Idle cycles before a beat (default: none).
    on_edge : callable, optional
        Called at every rising edge before the driver drives (e.g. to write static ports
        queued while the caller was in the read-only phase).
    axis : bool
        AXI4-Stream signal names (``prefix_tvalid``, ...; see `_StreamEnd`).

    Members
    -------
    accepted_cycles : list of int
        Cycle of each handshake, in order.
    """

    def __init__(
        self,
        dut: object,
        prefix: str,
        clock: CycleClock,
        pauses: Iterator[bool] | None = None,
        on_edge: Callable[[], None] | None = None,
        *,
        axis: bool = False,
    ) -> None:
        super().__init__(dut, prefix, clock, pauses, axis)
        self.on_edge = on_edge
        self.queue: deque[int] = deque()
        self.accepted_cycles: list[int] = []
        self.idle = Event()
        self.idle.set()
        self.valid.value = 0
        self._task = cocotb.start_soon(self._run())

    def send(self, beats: list[int]) -> None:
        """Queue payload integers to transmit in order."""
        if beats:
            self.queue.extend(beats)
            self.idle.clear()

    async def _run(self) -> None:
        current: int | None = None
        while True:
            await RisingEdge(self.clock.clk)
            if self.on_edge is not None:
                self.on_edge()
            if current is None and self.queue and not next(self.pauses):
                current = self.queue.popleft()
                self.payload.value = current
                self.valid.value = 1
            elif current is None:
                self.valid.value = 0
            await ReadOnly()
            if current is not None and (self.ready is None or _high(self.ready)):
                self.accepted_cycles.append(self.clock.cycle)
                current = None
                if not self.queue:
                    self.idle.set()


class StreamMonitor(_StreamEnd):
    """Receives beats from a DUT's output stream ``prefix``, applying back-pressure.

    Parameters
    ----------
    dut : cocotb handle
        The top level.
    prefix : str
        Stream port name.
    clock : CycleClock
        Cycle numbering.
    pauses : iterator of bool, optional
        Cycles with ready low (default: none, ready always high).
    axis : bool
        AXI4-Stream signal names (``prefix_tvalid``, ...; see `_StreamEnd`).

    Members
    -------
    beats : list of int
        Payload integers received, in order.
    cycles : list of int
        Cycle of each handshake.
    lasts : list of int
        ``tlast`` of each beat (AXI4-Stream ports that have it; else empty).
    """

    def __init__(
        self,
        dut: object,
        prefix: str,
        clock: CycleClock,
        pauses: Iterator[bool] | None = None,
        *,
        axis: bool = False,
    ) -> None:
        super().__init__(dut, prefix, clock, pauses, axis)
        self.beats: list[int] = []
        self.cycles: list[int] = []
        self.lasts: list[int] = []
        self._want = 0
        self.reached = Event()
        if self.ready is not None:
            self.ready.value = 0
        self._task = cocotb.start_soon(self._run())

    def expect(self, count: int) -> None:
        """Set :attr:`reached` once ``count`` more beats have arrived."""
        self._want = len(self.beats) + count
        if count == 0:
            self.reached.set()
        else:
            self.reached.clear()

    async def _run(self) -> None:
        while True:
            await RisingEdge(self.clock.clk)
            ready = 1
            if self.ready is not None:
                ready = 0 if next(self.pauses) else 1
                self.ready.value = ready
            await ReadOnly()
            if ready and _high(self.valid):
                self.beats.append(self.payload.value.to_unsigned())
                self.cycles.append(self.clock.cycle)
                if self.last is not None:
                    self.lasts.append(int(_high(self.last)))
                if len(self.beats) >= self._want:
                    self.reached.set()
