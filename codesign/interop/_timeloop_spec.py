"""A Timeloop run as codesign objects (`codesign.interop.timeloop`): the `TimeloopSpec` that
`load_timeloop` returns and `timeloop_stats` reads, and what Timeloop knows of a storage level
beyond its `MemoryLevel`."""

from __future__ import annotations

from dataclasses import dataclass, field

from codesign.arch.spec import Architecture
from codesign.mapping.mapping import Mapping
from codesign.workload.loopnest import LoopNest, TensorRole

UNBOUNDED_BW = 1 << 40
"""Bits per cycle of a level whose Timeloop spec gives no bandwidth (unbounded)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeloopLevel:
    """What Timeloop knows of a storage level beyond the codesign `MemoryLevel`."""

    name: str
    instances: int
    block: int
    datawidth: int
    energy: dict[str, float]
    area_um2: float
    depth: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeloopSpec:
    """A Timeloop run as codesign objects (`load_timeloop`).

    Attributes
    ----------
    nest : LoopNest
    arch : Architecture
    mapping : Mapping
    levels : tuple of TimeloopLevel
        The storage levels, innermost first (parallel to ``arch.levels``).
    tensor_names : dict of TensorRole to str
        The data-space names.
    mac_energy_pj, mac_area_um2 : float
        The arithmetic unit's ERT and ART figures.
    macs_instances : int
        Number of MAC units.
    source : str
        What was read.
    """

    nest: LoopNest
    arch: Architecture
    mapping: Mapping
    levels: tuple[TimeloopLevel, ...]
    tensor_names: dict[TensorRole, str]
    mac_name: str
    mac_energy_pj: float
    mac_area_um2: float
    mac_instances: int
    cycle_seconds: float = 1e-9
    source: str = ""
    notes: tuple[str, ...] = field(default=())
