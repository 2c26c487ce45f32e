"""The architecture: a PE array and a chain of memory levels.

Memory levels are listed **innermost first** (``levels[0]`` is next to the MACs, ``levels[-1]``
is DRAM). Levels with ``instances == rows * cols`` are per-PE (register files, weight registers);
they must come first. Levels with one instance are shared by the whole array. The spatial
unrolling of a mapping sits between the last per-PE level and the first shared level.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from codesign.arch.dataflow import Dataflow
from codesign.errors import SpecError
from codesign.workload.loopnest import TensorRole

__all__ = [
    "Sparsity",
    "CompressionFormat",
    "ComputeArray",
    "MemoryLevel",
    "VectorUnit",
    "Architecture",
]


class Sparsity(enum.Enum):
    """How the array exploits zero operands.

    ``DENSE`` ignores densities; ``GATE`` spends no MAC energy on a zero operand but saves no
    cycles; ``SKIP`` saves both (ideal load balance).
    """

    DENSE = "dense"
    GATE = "gate"
    SKIP = "skip"


class CompressionFormat(enum.Enum):
    """Storage format of a tensor in every memory level.

    Metadata per dense element, with density ``d`` and ``index_bits`` from the architecture:
    ``DENSE`` stores every value (no metadata); ``BITMASK`` stores the non-zeros plus one bit per
    element; ``RLE`` stores each non-zero with an ``index_bits`` run length (zeros before it);
    ``CSR`` stores each non-zero with an ``index_bits`` coordinate (offsets per row are
    amortized to nothing). Stored bits per element are therefore ``bits`` (dense) or
    ``d * bits + 1`` (bitmask) or ``d * (bits + index_bits)`` (RLE, CSR).
    """

    DENSE = "dense"
    BITMASK = "bitmask"
    RLE = "rle"
    CSR = "csr"


def _pos_int(owner: str, name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SpecError(f"{owner}{name} must be a positive integer, not {value!r}")
    return value


def _nonneg_num(owner: str, name: str, value: object) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise SpecError(f"{owner}{name} must be a non-negative number, not {value!r}")
    return float(value)


def _pos_num(owner: str, name: str, value: object) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise SpecError(f"{owner}{name} must be a positive number, not {value!r}")
    return float(value)


def _enum(owner: str, name: str, value: object, cls: type[enum.Enum]) -> None:
    if not isinstance(value, cls):
        raise SpecError(f"{owner}{name} must be one of {[m.value for m in cls]}, not {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class ComputeArray:
    """A ``rows x cols`` array of MAC units.

    Parameters
    ----------
    rows, cols : int
        PE array shape.
    input_bits, weight_bits : int
        Widest operand each multiplier accepts (a layer with wider tensors does not fit).
    accum_bits : int
        Accumulator width.
    mac_energy_pj : float
        Energy of one MAC (see ``codesign.arch.technology.mac_energy_pj``).
    mac_area_um2 : float
        Area of one PE's MAC unit.
    dataflow : Dataflow
        The dataflow template every mapping on this array follows.
    systolic : bool
        Whether operands move through the array in systolic fashion: each pass over the PE-level
        loops then pays the fill/drain latency of ``codesign.cost.systolic_tile_cycles``
        (weight- or input-stationary, output-stationary); a non-systolic array pays none.
    overlap_passes : bool
        Whether the next pass's stationary-operand load overlaps the previous pass's drain, as
        the generated weight-stationary RTL does when tiles are streamed back to back
        (``codesign.cost.systolic.ws_stream_cycles``): ``passes`` passes then take
        ``passes * (stream_len + rows) + rows + cols - 1`` cycles instead of ``passes`` full
        tiles. Only for systolic weight- or input-stationary arrays (an output-stationary
        array drains its accumulators before it accepts the next pass). Default false: every
        pass pays its full fill and drain (sequential issue).
    sparsity : Sparsity
        Whether zero operands are ignored, gated or skipped.
    sparse_operands : frozenset of TensorRole
        The operands whose zeros are gated or skipped (inputs and/or weights).
    nm : tuple of (int, int) or None
        N:M structured weight sparsity ``(N, M)``, ``0 < N < M``: every PE serves ``M``
        consecutive elements of the reduction (its *lanes*) with ``N`` multipliers and holds the
        ``N`` non-zero weights of its group with ``ceil(log2 M)``-bit indices, like the 2:4 RTL
        array (``nm=(2, 4)``, ``codesign.hw`` dataflow ``sparse24``). A pass therefore covers a
        dense reduction depth of ``M * rows`` (the rows-spatial factors of a mapping may
        multiply up to `dense_rows`), its cycles are those of the physical ``rows x cols``
        array, MAC energy is spent on ``N / M`` of the dense MACs, and weights are stored
        compressed at every level (``N / M * (weight bits + index bits)`` per dense element);
        a layer's weight density must be at most ``N / M``. Only for a systolic
        weight-stationary array with ``sparsity`` dense. ``None`` (default): a dense array.
    """

    rows: int
    cols: int
    input_bits: int = 8
    weight_bits: int = 8
    accum_bits: int = 32
    mac_energy_pj: float
    mac_area_um2: float
    dataflow: Dataflow
    systolic: bool = True
    overlap_passes: bool = False
    sparsity: Sparsity = Sparsity.DENSE
    sparse_operands: frozenset[TensorRole] = frozenset()
    nm: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        o = "compute."
        for name in ("rows", "cols", "input_bits", "weight_bits", "accum_bits"):
            _pos_int(o, name, getattr(self, name))
        _nonneg_num(o, "mac_energy_pj", self.mac_energy_pj)
        _nonneg_num(o, "mac_area_um2", self.mac_area_um2)
        _enum(o, "dataflow", self.dataflow, Dataflow)
        if not isinstance(self.systolic, bool):
            raise SpecError(f"compute.systolic must be true or false, not {self.systolic!r}")
        if self.systolic and self.dataflow is Dataflow.ROW_STATIONARY:
            raise SpecError(
                "compute.systolic must be false for dataflow 'rs' (systolic timing is defined "
                "for 'ws', 'is' and 'os')"
            )
        if not isinstance(self.overlap_passes, bool):
            raise SpecError(
                f"compute.overlap_passes must be true or false, not {self.overlap_passes!r}"
            )
        if self.overlap_passes and not self.systolic:
            raise SpecError(
                "compute.overlap_passes must be false when systolic is false (only a systolic "
                "array's fill and drain can overlap)"
            )
        if self.overlap_passes and self.dataflow is Dataflow.OUTPUT_STATIONARY:
            raise SpecError(
                "compute.overlap_passes must be false for dataflow 'os' (the output-stationary "
                "array drains its accumulators before it accepts the next pass); it is allowed "
                "for 'ws' and 'is'"
            )
        _enum(o, "sparsity", self.sparsity, Sparsity)
        allowed = {TensorRole.INPUTS, TensorRole.WEIGHTS}
        if not isinstance(self.sparse_operands, frozenset) or not self.sparse_operands <= allowed:
            raise SpecError(
                f"compute.sparse_operands must be a set of 'inputs'/'weights', "
                f"not {self.sparse_operands!r}"
            )
        if self.sparsity is not Sparsity.DENSE and not self.sparse_operands:
            raise SpecError(
                f"compute.sparse_operands must name at least one of 'inputs'/'weights' when "
                f"sparsity is {self.sparsity.value!r}"
            )
        if self.nm is not None:
            self._check_nm()

    def _check_nm(self) -> None:
        nm = self.nm
        ints = isinstance(nm, tuple) and len(nm) == 2
        ints = ints and all(isinstance(v, int) and not isinstance(v, bool) for v in nm)
        if not ints or not 0 < nm[0] < nm[1]:
            raise SpecError(
                f"compute.nm must be null (dense) or a pair [N, M] of integers with "
                f"0 < N < M, not {nm!r}"
            )
        if self.dataflow is not Dataflow.WEIGHT_STATIONARY or not self.systolic:
            raise SpecError(
                f"compute.nm must be null for a "
                f"{'systolic' if self.systolic else 'non-systolic'} {self.dataflow.value!r} "
                f"array; N:M sparsity applies to systolic 'ws' arrays"
            )
        if self.sparsity is not Sparsity.DENSE:
            raise SpecError(
                f"compute.nm must be null when sparsity is {self.sparsity.value!r}; an N:M "
                f"array has sparsity 'dense' (its N:M structure is the only sparsity it exploits)"
            )

    @property
    def pes(self) -> int:
        """Number of PEs."""
        return self.rows * self.cols

    @property
    def lanes(self) -> int:
        """Dense reduction elements one PE serves: ``M`` of ``nm``, 1 for a dense array."""
        return 1 if self.nm is None else self.nm[1]

    @property
    def dense_rows(self) -> int:
        """Dense reduction depth of one pass, the limit of a mapping's rows-spatial factors:
        ``rows * lanes``."""
        return self.rows * self.lanes

    @property
    def nm_fraction(self) -> float:
        """``N / M`` of ``nm`` (1 for a dense array): the fraction of dense MACs multiplied."""
        return 1.0 if self.nm is None else self.nm[0] / self.nm[1]

    @property
    def nm_index_bits(self) -> int:
        """Bits of a stored weight's position in its group: ``ceil(log2 M)`` (0 if dense)."""
        return 0 if self.nm is None else (self.nm[1] - 1).bit_length()


@dataclass(frozen=True, kw_only=True, slots=True)
class MemoryLevel:
    """One level of the memory hierarchy (all instances identical).

    Parameters
    ----------
    name : str
        Unique name, e.g. ``"weight_reg"``, ``"glb"``, ``"dram"``.
    size_bits : int or None
        Capacity of one instance; ``None`` (unbounded) only for the outermost level.
    instances : int
        1 (shared by the array) or ``rows * cols`` (one per PE).
    word_bits : int
        Bits per access; energies are per word and traffic is packed into words.
    read_bits_per_cycle, write_bits_per_cycle : int
        Bandwidth of one instance.
    read_energy_pj, write_energy_pj : float
        Energy of one word access.
    holds : frozenset of TensorRole
        The tensors this level may hold (the outermost level must hold all three).
    area_um2 : float
        Area of one instance.
    sliding_window : bool
        Whether a refill keeps the overlap of the new tile with the previous one (Timeloop's
        behaviour: a window sliding along an input row fetches only its new elements) or
        refetches the whole tile (false, the default: a plain buffer, as in the generated RTL).
        It applies to read-only tensors whose tile is a box along every axis.
    """

    name: str
    size_bits: int | None
    instances: int = 1
    word_bits: int
    read_bits_per_cycle: int
    write_bits_per_cycle: int
    read_energy_pj: float
    write_energy_pj: float
    holds: frozenset[TensorRole]
    area_um2: float = 0.0
    sliding_window: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"memory level name must be a non-empty string, not {self.name!r}")
        o = f"level {self.name!r}: "
        if self.size_bits is not None:
            _pos_int(o, "size_bits", self.size_bits)
        for name in ("instances", "word_bits", "read_bits_per_cycle", "write_bits_per_cycle"):
            _pos_int(o, name, getattr(self, name))
        for name in ("read_energy_pj", "write_energy_pj", "area_um2"):
            _nonneg_num(o, name, getattr(self, name))
        if (
            not isinstance(self.holds, frozenset)
            or not self.holds
            or not all(isinstance(r, TensorRole) for r in self.holds)
        ):
            raise SpecError(
                f"{o}holds must be a non-empty set of {[r.value for r in TensorRole]}, "
                f"not {self.holds!r}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class VectorUnit:
    """The vector unit beside the PE array that runs the non-MAC operators (activation
    functions, normalization, softmax, pooling, residual adds, ...; `codesign.cost.vector`).

    Parameters
    ----------
    lanes : int
        Element operations per cycle.
    bits : int
        Width of its data path and of the activations it reads and writes.
    energy_per_op_pj : float
        Energy of one element operation (one lane for one cycle).
    area_um2 : float
        Area of one lane.
    """

    lanes: int
    bits: int = 16
    energy_per_op_pj: float
    area_um2: float = 0.0

    def __post_init__(self) -> None:
        _pos_int("vector: ", "lanes", self.lanes)
        _pos_int("vector: ", "bits", self.bits)
        _nonneg_num("vector: ", "energy_per_op_pj", self.energy_per_op_pj)
        _nonneg_num("vector: ", "area_um2", self.area_um2)


@dataclass(frozen=True, kw_only=True, slots=True)
class Architecture:
    """A PE array, its memory levels (innermost first) and its clock.

    Parameters
    ----------
    name : str
        Preset or user name.
    compute : ComputeArray
        The PE array.
    levels : tuple of MemoryLevel
        Innermost first; per-PE levels (``instances == rows * cols``) before shared ones; the
        last level is DRAM (unbounded or large) and holds every tensor.
    clock_mhz : float
        Clock frequency.
    input_format, weight_format : CompressionFormat
        Storage formats of the two operands in every level (outputs are dense).
    index_bits : int
        Bits of a run length (RLE) or coordinate (CSR) per stored non-zero.
    vector : VectorUnit or None
        The unit that runs non-MAC operators; ``None``: the architecture has none (its
        non-MAC operators are not costed, e.g. they run on a host).
    """

    name: str
    compute: ComputeArray
    levels: tuple[MemoryLevel, ...]
    clock_mhz: float = 1000.0
    input_format: CompressionFormat = CompressionFormat.DENSE
    weight_format: CompressionFormat = CompressionFormat.DENSE
    index_bits: int = 4
    vector: VectorUnit | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"architecture name must be a non-empty string, not {self.name!r}")
        if not isinstance(self.compute, ComputeArray):
            raise SpecError(f"compute must be a ComputeArray, not {type(self.compute).__name__}")
        if not isinstance(self.levels, tuple) or not self.levels:
            raise SpecError("levels must be a non-empty tuple of MemoryLevel, innermost first")
        names = [lv.name for lv in self.levels]
        for i, lv in enumerate(self.levels):
            if not isinstance(lv, MemoryLevel):
                raise SpecError(f"levels[{i}] must be a MemoryLevel, not {type(lv).__name__}")
            if names.count(lv.name) > 1:
                raise SpecError(f"levels: name {lv.name!r} is used twice; names must be unique")
        pes = self.compute.pes
        per_pe_done = False
        for lv in self.levels:
            if lv.instances not in (1, pes):
                raise SpecError(
                    f"level {lv.name!r}: instances must be 1 (shared) or rows*cols = {pes} "
                    f"(per PE), not {lv.instances}"
                )
            if lv.instances == 1 or pes == 1:
                per_pe_done = True
            elif per_pe_done:
                raise SpecError(
                    f"level {lv.name!r}: per-PE levels (instances = {pes}) must come before "
                    f"shared levels (levels are innermost first)"
                )
        outer = self.levels[-1]
        if outer.holds != frozenset(TensorRole):
            raise SpecError(
                f"level {outer.name!r}: the outermost level must hold all tensors "
                f"{[r.value for r in TensorRole]}, not {sorted(r.value for r in outer.holds)}"
            )
        if outer.instances != 1:
            raise SpecError(f"level {outer.name!r}: the outermost level must have 1 instance")
        for lv in self.levels[:-1]:
            if lv.size_bits is None:
                raise SpecError(
                    f"level {lv.name!r}: size_bits may be null (unbounded) only for the "
                    f"outermost level"
                )
        _pos_num("", "clock_mhz", self.clock_mhz)
        _enum("", "input_format", self.input_format, CompressionFormat)
        _enum("", "weight_format", self.weight_format, CompressionFormat)
        _pos_int("", "index_bits", self.index_bits)
        if self.vector is not None and not isinstance(self.vector, VectorUnit):
            kind = type(self.vector).__name__
            raise SpecError(f"vector must be a VectorUnit or None, not {kind}")
        if self.compute.nm is not None and self.weight_format is not CompressionFormat.DENSE:
            raise SpecError(
                f"weight_format must be 'dense' when compute.nm is set, not "
                f"{self.weight_format.value!r} (an N:M array stores its weights in the N:M "
                f"format: values plus in-group indices)"
            )

    @property
    def num_per_pe_levels(self) -> int:
        """How many of the innermost levels are per PE (the spatial unrolling sits above them)."""
        pes = self.compute.pes
        if pes == 1:
            return 0
        return sum(1 for lv in self.levels if lv.instances == pes)

    def level_index(self, name: str) -> int:
        """Index (innermost = 0) of the level called ``name``."""
        for i, lv in enumerate(self.levels):
            if lv.name == name:
                return i
        raise SpecError(
            f"level name must be one of {[lv.name for lv in self.levels]}, not {name!r}"
        )

    @property
    def area_um2(self) -> float:
        """PE array plus every on-chip level (all instances) plus the vector unit."""
        vector = 0.0 if self.vector is None else self.vector.area_um2 * self.vector.lanes
        return (
            self.compute.mac_area_um2 * self.compute.pes
            + sum(lv.area_um2 * lv.instances for lv in self.levels)
            + vector
        )
