"""`AcceleratorConfig`: parameters of the whole accelerator, its register map and stream
formats, and the cost model's view of it (an ``Architecture`` and a ``Mapping``).

This module does not import amaranth: the configuration, the register map and the cost-model
architecture are plain data, shared by the RTL (``codesign.hw.accelerator``), the test bench
(``codesign.sim.accelerator``) and the documentation.

The accelerator computes one layer as a GEMM ``O[M, N] = requant(bias + I[M, K] @ W[K, N])``
(a convolution arrives as its im2col patches, pre-arranged by the host). Around a
weight-stationary array the controller runs the tile loops (outermost first)::

    for n2 in range(N_TILES):            # DRAM level: cols output channels at a time
      for m2 in range(ceil(M / TILE_M)):  # DRAM level: TILE_M rows of I at a time
        for k2 in range(K_TILES):         # accumulator buffer level: rows-deep slices of K
          one pass of the array: rows weight beats, then T = min(TILE_M, M - m2 * TILE_M)
          input beats; its T output beats are added into the accumulator buffer (k2 > 0) or
          to the bias (k2 = 0); on k2 = K_TILES - 1 they are requantized and leave on m_axis

which is the `mapping` below: weights stationary in the PEs for ``T`` streamed vectors, ``K``
across the rows, ``N`` across the columns, the ``K`` tile loop at the accumulator level and the
``M``, ``N`` tile loops at DRAM. Around an output-stationary array::

    for n2 in range(N_TILES):               # DRAM level: cols output channels at a time
      for m2 in range(ceil(M / rows)):       # DRAM level: rows output rows at a time
        one pass: K input beats (a column of I and a row of W each), then the rows x cols
        accumulators drain, one row per beat, through bias and requantization to m_axis

(``K`` at the per-PE accumulator level, ``M`` across the rows, ``N`` across the columns; the
host zero-pads ``M`` to a multiple of ``rows`` and drops the padded output rows). With the
optional input buffer (weight-stationary), the order is ``m2, k2, n2``: the input slice of
``(m2, k2)`` streams in its ``n2 = 0`` pass and is read back from the buffer in the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from codesign.accel.array import Dataflow, SystolicConfig, _bounded
from codesign.accel.registers import (
    CSR_ADDR_BITS,
    CSR_DATA_BITS,
    REGISTERS,
    BitField,
    Register,
    register_address,
)
from codesign.errors import SpecError

__all__ = [
    "AcceleratorConfig",
    "BitField",
    "Register",
    "REGISTERS",
    "CSR_DATA_BITS",
    "CSR_ADDR_BITS",
    "SUM_BITS",
    "DIM_BITS",
    "register_address",
]

SUM_BITS = 32
"""Width of the accumulator buffer and the bias: the int32 accumulators of the quantization
package's integer reference (sums wrap modulo 2**32 like any int32 accumulator)."""

DIM_BITS = 16
"""Width of the dimension registers (``M``, ``TILE_M``, ``K_TILES``, ``N_TILES``)."""

MAX_FIFO_DEPTH = 4096

REQUANT_STAGES = 7
"""Register stages of the requantizer by default (``codesign.hw.requant``)."""

MAX_REQUANT_STAGES = 7
"""Most register stages the requantizer has (one after each of its steps)."""
MAX_TILE_M = 65535


@dataclass(frozen=True, kw_only=True, slots=True)
class AcceleratorConfig:
    """Parameters of one accelerator: a systolic array and its buffers.

    Parameters
    ----------
    array : SystolicConfig
        The PE array: dataflow ``"ws"``, ``"os"`` or ``"sparse24"`` (the 2:4-sparse
        weight-stationary array: the ``ws`` controller, compressed weight beats and a pass
        depth of ``4 * rows``), ``acc_bits <= 32``.
    max_tile_m : int
        ``ws``: rows of the accumulator buffer, the largest ``TILE_M`` (``T``) a layer may
        use. ``os`` has no accumulator buffer (the PEs accumulate the whole ``K``) and ignores
        it.
    max_n_tiles : int
        Depth of the per-column parameter memories: layers may have up to
        ``max_n_tiles * cols`` output channels.
    fifo_depth : int
        Beats of the input prefetch FIFO between ``s_axis`` and the array (it keeps the bus
        busy while a pass drains, so transfers overlap compute).
    axis_in_bits : int or None
        Width of ``s_axis_tdata``; must divide `beat_bits` (a width converter assembles
        ``beat_bits / axis_in_bits`` bus words per beat). ``None``: `beat_bits`.
    input_buffer : bool
        ``ws`` only: an input buffer of ``max_tile_m`` rows of ``rows * act_bits`` bits keeps
        the ``T x rows`` input slice of a pass on chip and reuses it for every column tile: the
        loop order becomes ``m2, k2, n2``, inputs are streamed once (in the ``n2 = 0`` pass of
        each ``(m2, k2)``) and the accumulator buffer holds ``max_tile_m x max_n_tiles`` rows
        (the partial sums of every column tile). False: inputs are re-streamed for every column
        tile (loop order ``n2, m2, k2``).
    overlap_passes : bool
        ``ws`` only: issue the next pass's first weight beat in the cycle after the previous
        pass's last input beat (its weight load overlaps the previous pass's drain; the cost
        model's ``ComputeArray.overlap_passes``). False: the next pass starts after the
        previous pass's last output beat.
    requant_stages : int
        Register stages of each column's requantizer, ``0..7`` (default 7, the pipeline an
        FPGA clock of 100 MHz wants; 0 is the combinational one). The RTL's fixed latency per
        layer (`pipeline_cycles`) grows with it.
    zero_gate : bool
        ``ws`` only: operand isolation for zero weights in every PE (``codesign.hw.pe``
        ``WeightStationaryPE`` ``zero_gate``): a multiplier whose stationary weight is zero
        sees a held activation, so it does not toggle. Same results and cycles as the ungated
        array; the cost model's view gates weights (``Sparsity.GATE``): MAC energy scales with
        the weight density, cycles stay dense.
    """

    array: SystolicConfig
    max_tile_m: int = 64
    max_n_tiles: int = 16
    fifo_depth: int = 32
    axis_in_bits: int | None = None
    input_buffer: bool = False
    overlap_passes: bool = False
    requant_stages: int = REQUANT_STAGES
    zero_gate: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.array, SystolicConfig):
            raise SpecError(f"array must be a SystolicConfig, not {type(self.array).__name__}")
        if self.array.acc_bits > SUM_BITS:
            raise SpecError(
                f"array.acc_bits must be at most {SUM_BITS} (the accumulator buffer and the "
                f"bias are int32), not {self.array.acc_bits}"
            )
        _bounded("max_tile_m", self.max_tile_m, 1, MAX_TILE_M)
        _bounded("max_n_tiles", self.max_n_tiles, 1, 2**DIM_BITS - 1)
        _bounded("fifo_depth", self.fifo_depth, 2, MAX_FIFO_DEPTH)
        _bounded("requant_stages", self.requant_stages, 0, MAX_REQUANT_STAGES)
        if not isinstance(self.input_buffer, bool):
            raise SpecError(f"input_buffer must be true or false, not {self.input_buffer!r}")
        if not isinstance(self.overlap_passes, bool):
            raise SpecError(f"overlap_passes must be true or false, not {self.overlap_passes!r}")
        if not isinstance(self.zero_gate, bool):
            raise SpecError(f"zero_gate must be true or false, not {self.zero_gate!r}")
        if self.zero_gate and self.array.dataflow is not Dataflow.WEIGHT_STATIONARY:
            raise SpecError(
                f"zero_gate applies to 'ws' accelerators only, not {self.array.dataflow.value!r} "
                "(it gates the weight-stationary PEs' multipliers)"
            )
        if self.overlap_passes and self.output_stationary:
            raise SpecError(
                "overlap_passes applies to 'ws' accelerators only, not 'os' (the "
                "output-stationary array drains before it accepts the next pass)"
            )
        if self.input_buffer and self.output_stationary:
            raise SpecError(
                "input_buffer applies to 'ws' accelerators only, not 'os' (its PEs hold the "
                "outputs, not the weights)"
            )
        if self.axis_in_bits is None:
            object.__setattr__(self, "axis_in_bits", self.beat_bits)
        width = self.axis_in_bits
        if (
            not isinstance(width, int)
            or isinstance(width, bool)
            or width < 1
            or self.beat_bits % width
        ):
            divisors = [d for d in range(1, self.beat_bits + 1) if self.beat_bits % d == 0]
            raise SpecError(
                f"axis_in_bits must divide the beat width {self.beat_bits} (one of "
                f"{divisors}), not {width!r}"
            )

    @property
    def dataflow(self) -> Dataflow:
        """The array's dataflow."""
        return self.array.dataflow

    @property
    def output_stationary(self) -> bool:
        """Whether the array is output-stationary."""
        return self.array.dataflow is Dataflow.OUTPUT_STATIONARY

    @property
    def sparse(self) -> bool:
        """Whether the array is the 2:4-sparse weight-stationary one (``sparse24``): a pass
        covers a dense reduction depth of ``4 * rows`` with compressed weights (values and
        2-bit indices), and a dense layer runs as two 2:4 halves (`run_k`)."""
        return self.array.dataflow is Dataflow.SPARSE_2_4

    @property
    def pass_depth(self) -> int:
        """Reduction elements (of the GEMM the array runs) one ``ws`` pass covers: ``rows``,
        or ``4 * rows`` on the 2:4 array (``os``: the whole ``K``, see `tiling`)."""
        return self.array.dense_reduction_depth if self.sparse else self.rows

    def compressed(self, pruning: str) -> bool:
        """Whether a layer with ``pruning`` (``none``, ``2:4`` or ``unstructured:F``,
        ``codesign.quant.policy.parse_pruning``) runs with its own weights compressed 2:4:
        on the 2:4 array and only for ``2:4``. A dense (or unstructured) layer on the 2:4
        array runs as two 2:4 halves (`run_k`); a dense array runs every layer as it is."""
        from codesign.quant.policy import parse_pruning

        kind, _ = parse_pruning(pruning)
        return self.sparse and kind == "2:4"

    def run_k(self, k: int, pruning: str) -> int:
        """The reduction length of the GEMM the array runs for a layer of reduction ``k``:
        ``k``, except for an uncompressed layer on the 2:4 array (`compressed` false), whose
        every dense group of four weights ``w0..w3`` (``K`` zero-padded to a multiple of 4)
        becomes two 2:4 groups, ``(w0, w1, 0, 0)`` and ``(0, 0, w2, w3)``, each with the same
        four activations: a 2:4 GEMM of reduction ``2 * 4 * ceil(k / 4)``, half the dense
        depth per pass (``2 * rows``) at the 2:4 array's cycles."""
        _bounded("gemm size K", k, 1, 2**DIM_BITS - 1)
        if self.compressed(pruning) or not self.sparse:
            return k
        return 8 * math.ceil(k / 4)

    @property
    def input_beat_bits(self) -> int:
        """Bits of one ``ws`` input beat: ``pass_depth * act_bits``."""
        return self.pass_depth * self.array.act_bits

    @property
    def weight_beat_bits(self) -> int:
        """Bits of one ``ws`` weight beat: ``cols * weight_bits``, or on the 2:4 array
        ``cols`` groups of two values and two 2-bit indices (``cols * (2 * weight_bits + 4)``,
        values first: ``codesign.hw.layouts.weight_layout``)."""
        a = self.array
        return a.cols * (2 * a.weight_bits + 4) if self.sparse else a.cols * a.weight_bits

    @property
    def acc_buf_rows(self) -> int:
        """Depth of the accumulator buffer: ``max_tile_m`` (times ``max_n_tiles`` with an
        input buffer)."""
        return self.max_tile_m * (self.max_n_tiles if self.input_buffer else 1)

    @property
    def rows(self) -> int:
        """PE rows (reduction depth of one pass)."""
        return self.array.rows

    @property
    def cols(self) -> int:
        """PE columns (output channels of one pass)."""
        return self.array.cols

    @property
    def beat_bits(self) -> int:
        """Bits of one array beat: ``max(rows * act_bits, cols * weight_bits)`` (``ws``: a
        weight row or an input vector) or ``rows * act_bits + cols * weight_bits`` (``os``: a
        column of I and a row of W)."""
        a = self.array
        if self.output_stationary:
            return self.rows * a.act_bits + self.cols * a.weight_bits
        return max(self.input_beat_bits, self.weight_beat_bits)

    @property
    def words_per_beat(self) -> int:
        """``s_axis`` words per array beat."""
        return self.beat_bits // self.axis_in_bits

    @property
    def axis_out_bits(self) -> int:
        """Width of ``m_axis_tdata``: ``cols`` requantized outputs of ``act_bits``."""
        return self.cols * self.array.act_bits

    @property
    def output_latency(self) -> int:
        """Register stages from an array output to its ``m_axis`` beat: the output beat with
        its addend (the partial sum read from the accumulator buffer, or the bias), the sum
        register, the requantizer's `requant_stages` and the output register."""
        return 3 + self.requant_stages

    @property
    def pipeline_cycles(self) -> int:
        """Cycles the RTL adds to the cost model's count on every whole layer: the prefetch
        FIFO's register stages in front of the array (2) and `output_latency` behind it,
        measured on every layer of the accelerator RTL tests, compute- and bandwidth-bound
        alike."""
        return 2 + self.output_latency

    @property
    def max_channels(self) -> int:
        """Most output channels a layer may have."""
        return self.max_n_tiles * self.cols

    @property
    def top_name(self) -> str:
        """Default Verilog module name, e.g. ``accel_ws_8x8_a8w8_t64``."""
        a = self.array
        return (
            f"accel_{a.dataflow.value}_{a.rows}x{a.cols}_a{a.act_bits}w{a.weight_bits}"
            + ("" if self.output_stationary else f"_t{self.max_tile_m}")
            + ("_ib" if self.input_buffer else "")
            + ("_ov" if self.overlap_passes else "")
            + ("_zg" if self.zero_gate else "")
            + ("" if self.requant_stages == REQUANT_STAGES else f"_rq{self.requant_stages}")
            + f"_bus{self.axis_in_bits}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; `from_dict` reads it back."""
        return {
            "array": self.array.to_dict(),
            "max_tile_m": self.max_tile_m,
            "max_n_tiles": self.max_n_tiles,
            "fifo_depth": self.fifo_depth,
            "axis_in_bits": self.axis_in_bits,
            "input_buffer": self.input_buffer,
            "overlap_passes": self.overlap_passes,
            "requant_stages": self.requant_stages,
            "zero_gate": self.zero_gate,
        }

    @classmethod
    def from_dict(cls, data: Any) -> AcceleratorConfig:
        """Strict inverse of `to_dict` (unknown keys are errors)."""
        if not isinstance(data, dict):
            raise SpecError(f"accelerator config must be a mapping, not {type(data).__name__}")
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(
                f"accelerator config has unknown key {unknown[0]!r}; allowed: "
                f"{', '.join(sorted(allowed))}"
            )
        if "array" not in data:
            raise SpecError("accelerator config is missing 'array'")
        fields = dict(data)
        fields["array"] = SystolicConfig.from_dict(fields["array"])
        return cls(**fields)

    @classmethod
    def from_architecture(
        cls, arch: Any, *, max_n_tiles: int = 16, fifo_depth: int = 32
    ) -> AcceleratorConfig:
        """The accelerator of an explored ``codesign.arch.Architecture`` (inverse of
        `architecture` for the fields it sets).

        The array comes from ``SystolicConfig.from_architecture`` (``ws`` or ``os``); for
        ``ws`` the accumulator buffer from the innermost shared on-chip level that holds
        outputs (``max_tile_m = size_bits // (cols * 32)``); when a shared on-chip level holds
        inputs, it is the input buffer (``max_tile_m = size_bits // (rows * act_bits)``) and the
        accumulator buffer sets ``max_n_tiles``; ``axis_in_bits`` is the widest divisor of the
        beat width not above the outermost level's ``read_bits_per_cycle``.
        """
        from codesign.arch.spec import Sparsity
        from codesign.workload.loopnest import TensorRole

        array = SystolicConfig.from_architecture(arch)
        fields: dict[str, Any] = {}
        if array.dataflow is Dataflow.WEIGHT_STATIONARY:
            acc_row = array.cols * SUM_BITS
            levels = [
                lv
                for lv in arch.levels[:-1]
                if lv.instances == 1 and TensorRole.OUTPUTS in lv.holds
            ]
            if not levels:
                raise SpecError(
                    f"architecture {arch.name!r} has no shared on-chip level holding outputs; the "
                    f"accelerator's accumulator buffer needs one (levels: "
                    f"{[lv.name for lv in arch.levels]})"
                )
            acc = levels[0]
            if acc.size_bits < acc_row:
                raise SpecError(
                    f"level {acc.name!r}: size_bits {acc.size_bits} is less than one accumulator "
                    f"row of cols x {SUM_BITS} = {acc_row} bits"
                )
            inputs = [
                lv for lv in arch.levels[:-1] if lv.instances == 1 and TensorRole.INPUTS in lv.holds
            ]
            if inputs:  # max_tile_m from the input buffer, column tiles from acc_buf
                in_row = array.rows * array.act_bits
                tile_m = min(inputs[0].size_bits // in_row, MAX_TILE_M)
                if tile_m < 1 or acc.size_bits < tile_m * acc_row:
                    raise SpecError(
                        f"levels {inputs[0].name!r} and {acc.name!r}: size_bits "
                        f"{inputs[0].size_bits} and {acc.size_bits} do not hold one row tile "
                        f"(rows x act_bits = {in_row} bits per input row, cols x {SUM_BITS} = "
                        f"{acc_row} bits per accumulator row)"
                    )
                fields.update(
                    input_buffer=True,
                    max_tile_m=tile_m,
                    max_n_tiles=min(acc.size_bits // (tile_m * acc_row), 2**DIM_BITS - 1),
                )
            else:
                fields["max_tile_m"] = min(acc.size_bits // acc_row, MAX_TILE_M)
        beat = cls(array=array).beat_bits
        bandwidth = arch.levels[-1].read_bits_per_cycle
        bus = max(d for d in range(1, beat + 1) if beat % d == 0 and d <= bandwidth)
        fields.setdefault("max_n_tiles", max_n_tiles)
        fields["overlap_passes"] = arch.compute.overlap_passes
        gated = (
            arch.compute.sparsity is Sparsity.GATE
            and TensorRole.WEIGHTS in arch.compute.sparse_operands
        )
        fields["zero_gate"] = gated and array.dataflow is Dataflow.WEIGHT_STATIONARY
        return cls(array=array, fifo_depth=fifo_depth, axis_in_bits=bus, **fields)

    # --- the cost model's view ----------------------------------------------------------------

    def architecture(self, *, clock_mhz: float = 100.0) -> Any:
        """The ``codesign.arch.Architecture`` this accelerator implements, for the cost model.

        Levels, innermost first. ``ws``: ``weight_reg`` (one weight per PE; on the 2:4 array
        two values and their 2-bit indices, ``compute.nm = (2, 4)`` with two multipliers per
        PE), with an input buffer ``in_buf`` (``max_tile_m`` input beats, one per cycle),
        ``acc_buf`` (the accumulator buffer, `acc_buf_rows` rows of ``cols`` int32, one row per
        cycle), and ``dram``.
        ``os``: ``acc_reg`` (one int32 accumulator per PE) and ``dram``. ``dram`` reads at
        ``axis_in_bits`` per cycle over ``s_axis`` and writes at `axis_out_bits` over
        ``m_axis``. The prefetch FIFO is a rate-matching buffer, not a level: it holds no tile.
        Energies and areas come from ``codesign.arch.technology`` (a register access at the
        energy of an add of its width, the accumulator buffer as an SRAM).
        """
        from codesign.arch import technology as tech
        from codesign.arch.dataflow import Dataflow as MapDataflow
        from codesign.arch.presets import with_sparsity
        from codesign.arch.spec import Architecture, ComputeArray, MemoryLevel, Sparsity
        from codesign.workload.loopnest import TensorRole

        a = self.array
        pes = a.rows * a.cols
        multipliers = 2 if self.sparse else 1  # per PE
        compute = ComputeArray(
            rows=a.rows,
            cols=a.cols,
            input_bits=a.act_bits,
            weight_bits=a.weight_bits,
            accum_bits=SUM_BITS,
            mac_energy_pj=tech.mac_energy_pj(a.act_bits, a.weight_bits, SUM_BITS),
            mac_area_um2=multipliers * tech.mac_area_um2(a.act_bits, a.weight_bits, SUM_BITS),
            dataflow=MapDataflow("ws" if self.sparse else a.dataflow.value),
            systolic=True,
            overlap_passes=self.overlap_passes,
            nm=(2, 4) if self.sparse else None,
        )
        if self.zero_gate:  # GATE on weights, with the gate's area
            compute = with_sparsity(compute, Sparsity.GATE, frozenset({TensorRole.WEIGHTS}))

        def register(name: str, bits: int, role: TensorRole) -> MemoryLevel:
            pj = tech.add_energy_pj(bits)
            return MemoryLevel(
                name=name,
                size_bits=bits,
                instances=pes,
                word_bits=bits,
                read_bits_per_cycle=bits,
                write_bits_per_cycle=bits,
                read_energy_pj=pj,
                write_energy_pj=pj,
                holds=frozenset({role}),
                area_um2=tech.register_area_um2(bits),
            )

        dram_pj = tech.dram_access_energy_pj(self.axis_in_bits)
        dram = MemoryLevel(
            name="dram",
            size_bits=None,
            word_bits=self.axis_in_bits,
            read_bits_per_cycle=self.axis_in_bits,
            write_bits_per_cycle=self.axis_out_bits,
            read_energy_pj=dram_pj,
            write_energy_pj=dram_pj,
            holds=frozenset(TensorRole),
        )

        def buffer(name: str, depth: int, row_bits: int, role: TensorRole) -> MemoryLevel:
            bits = depth * row_bits
            pj = tech.sram_access_energy_pj(bits, row_bits)
            return MemoryLevel(
                name=name,
                size_bits=bits,
                word_bits=row_bits,
                read_bits_per_cycle=row_bits,
                write_bits_per_cycle=row_bits,
                read_energy_pj=pj,
                write_energy_pj=pj,
                holds=frozenset({role}),
                area_um2=tech.sram_area_um2(bits),
            )

        if self.output_stationary:
            levels = (register("acc_reg", SUM_BITS, TensorRole.OUTPUTS), dram)
        else:
            weight_reg = multipliers * (a.weight_bits + compute.nm_index_bits)
            levels = (register("weight_reg", weight_reg, TensorRole.WEIGHTS),)
            if self.input_buffer:
                in_row = self.input_beat_bits
                levels = (*levels, buffer("in_buf", self.max_tile_m, in_row, TensorRole.INPUTS))
            acc_row = a.cols * SUM_BITS
            acc_buf = buffer("acc_buf", self.acc_buf_rows, acc_row, TensorRole.OUTPUTS)
            levels = (*levels, acc_buf, dram)
        return Architecture(name=self.top_name, compute=compute, levels=levels, clock_mhz=clock_mhz)

    def tiling(self, m: int, n: int, k: int, tile_m: int | None = None) -> dict[str, int]:
        """Register values of a GEMM ``M x N x K``: ``{"M", "K", "TILE_M", "K_TILES",
        "N_TILES", "M_TILES"}`` (``os``: ``TILE_M = rows``, ``K_TILES = 1``, ``tile_m`` must
        be None); `SpecError` if it does not fit."""
        for name, v in (("M", m), ("N", n), ("K", k)):
            _bounded(f"gemm size {name}", v, 1, 2**DIM_BITS - 1)
        if self.output_stationary:
            if tile_m is not None:
                raise SpecError(
                    f"tile_m applies to 'ws' accelerators only, not 'os' (its row tile is rows = "
                    f"{self.rows}), not {tile_m!r}"
                )
            if k > self.array.reduction_depth:
                raise SpecError(
                    f"gemm size K={k} exceeds the {self.array.reduction_depth} products the "
                    f"accumulators hold without overflow (array.acc_bits={self.array.acc_bits})"
                )
            tile_m, k_tiles = self.rows, 1
        else:
            if tile_m is None:
                raise SpecError("tile_m must be given for a 'ws' accelerator, not None")
            _bounded("tile_m", tile_m, 1, self.max_tile_m)
            k_tiles = math.ceil(k / self.pass_depth)

        n_tiles = math.ceil(n / self.cols)
        if n_tiles > self.max_n_tiles:
            raise SpecError(
                f"gemm size N={n} needs {n_tiles} column tiles, more than max_n_tiles="
                f"{self.max_n_tiles} (at most {self.max_channels} output channels)"
            )
        return {
            "M": m,
            "K": k,
            "TILE_M": tile_m,
            "K_TILES": k_tiles,
            "N_TILES": n_tiles,
            "M_TILES": math.ceil(m / tile_m),
        }

    def mapping(self, m: int, n: int, k: int, tile_m: int | None = None) -> Any:
        """The ``codesign.mapping.Mapping`` the controller executes for a GEMM nest with dims
        ``M N K`` (see the module docstring). The spatial factors are always the full array:
        the streams carry zero-padded rows and columns when a dim is smaller (a beat is always
        the array's width), and the model then counts the same bits."""
        from codesign.mapping.mapping import LevelMapping, Mapping

        t = self.tiling(m, n, k, tile_m)
        dram = LevelMapping(name="dram", loops=(("N", t["N_TILES"]), ("M", t["M_TILES"])))
        if self.output_stationary:
            return Mapping(
                levels=(LevelMapping(name="acc_reg", loops=(("K", k),)), dram),
                rows=(("M", self.rows),),
                cols=(("N", self.cols),),
            )
        weight_reg = LevelMapping(name="weight_reg", loops=(("M", t["TILE_M"]),))
        acc_buf = LevelMapping(name="acc_buf", loops=(("K", t["K_TILES"]),))
        if self.input_buffer:  # m2 at DRAM, k2 at acc_buf, n2 at in_buf (inputs reused)
            in_buf = LevelMapping(name="in_buf", loops=(("N", t["N_TILES"]),))
            inner: tuple = (weight_reg, in_buf, acc_buf)
            dram = LevelMapping(name="dram", loops=(("M", t["M_TILES"]),))
        else:
            inner = (weight_reg, acc_buf)
        return Mapping(
            levels=(*inner, dram),
            rows=(("K", self.pass_depth),),
            cols=(("N", self.cols),),
        )

    def tile_m_of(self, mapping: Any, m: int, n: int, k: int) -> int | None:
        """The TILE_M with which the controller executes ``mapping`` (e.g. a mapper's choice on
        `architecture`) for a GEMM ``M x N x K``; None for ``os`` (no TILE_M). `SpecError`
        naming the first difference if the controller cannot execute it: the controller runs
        exactly the mappings of `mapping` (loop order at DRAM aside, which changes no traffic
        here because no on-chip level keeps inputs or weights)."""
        from codesign.mapping.mapping import Mapping

        if not isinstance(mapping, Mapping):
            raise SpecError(f"mapping must be a codesign.mapping.Mapping, not {type(mapping)}")
        loops = {lv.name: dict(lv.loops) for lv in mapping.levels}
        tile_m = None
        if not self.output_stationary:
            tile_m = loops.get("weight_reg", {}).get("M", 1)
        reference = self.mapping(m, n, k, tile_m)

        def factors(mp: Mapping) -> dict[str, dict[str, int]]:
            out = {lv.name: {d: f for d, f in lv.loops if f > 1} for lv in mp.levels}
            out["rows"] = {d: f for d, f in mp.rows if f > 1}
            out["cols"] = {d: f for d, f in mp.cols if f > 1}
            return out

        got, want = factors(mapping), factors(reference)
        for place in want:
            if got.get(place, {}) != want[place]:
                raise SpecError(
                    f"mapping {place} loops {got.get(place, {})} cannot be executed by the "
                    f"{self.dataflow.value} controller; it runs {want[place]} there for this "
                    f"layer (see AcceleratorConfig.mapping)"
                )
        holds = {lv.name: lv.holds for lv in self.architecture().levels}
        for lv in mapping.levels:
            if lv.keep is not None and lv.name in holds and lv.keep != holds[lv.name]:
                raise SpecError(
                    f"mapping level {lv.name!r} keep must be what the RTL keeps there, "
                    f"{sorted(r.value for r in holds[lv.name])}, not "
                    f"{sorted(r.value for r in lv.keep)}"
                )
        return tile_m
