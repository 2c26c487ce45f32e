"""`AcceleratorConfig`: parameters of the whole accelerator, its register map and stream
formats; the cost model's view of it (an ``Architecture`` and a ``Mapping``) is
``codesign.accel.archview``, reached through the methods below.

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
    "DSP_KINDS",
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

DSP_KINDS = ("inferred", "ecp5")
"""How the generated RTL builds its multipliers (`AcceleratorConfig.dsp`): ``inferred``
(behavioural ``*``, registers in the fabric: any synthesis tool and target) or ``ecp5``
(``MULT18X18D`` cells with their own input and output registers, ``codesign.hw.dsp``: ECP5
synthesis only; simulation uses the model beside the Verilog)."""

MIN_ECP5_DSP_STAGES = 5
"""Fewest requantizer stages with ``dsp='ecp5'``: the DSPs' input and output registers are two
of them (``codesign.hw.requant.registered_steps``)."""
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
    dsp : str
        One of `DSP_KINDS`: ``inferred`` (default) or ``ecp5``, ``ws`` dense arrays of at most
        18-bit operands with ``requant_stages >= 5``: every retimed PE's and the requantizers'
        multipliers are ``MULT18X18D`` cells whose internal registers replace the fabric
        registers around them (same cycles and results; on ECP5 the register -> DSP ->
        register paths no longer cross the routing twice). ECP5 synthesis only.
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
    dsp: str = "inferred"

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
        self._check_dsp()
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

    def _check_dsp(self) -> None:
        if not isinstance(self.dsp, str) or self.dsp not in DSP_KINDS:
            raise SpecError(f"dsp must be one of {', '.join(DSP_KINDS)}, not {self.dsp!r}")
        if self.dsp == "inferred":
            return
        if self.array.dataflow is not Dataflow.WEIGHT_STATIONARY:
            raise SpecError(
                f"dsp {self.dsp!r} applies to 'ws' accelerators only, not "
                f"{self.array.dataflow.value!r} (its cells hold the weight-stationary PEs' "
                "registers)"
            )
        if self.requant_stages < MIN_ECP5_DSP_STAGES:
            raise SpecError(
                f"dsp {self.dsp!r} needs requant_stages >= {MIN_ECP5_DSP_STAGES} (the DSPs' "
                f"input and output registers are two of the stages), not {self.requant_stages}"
            )
        widest = max(self.array.act_bits, self.array.weight_bits)
        if widest > 18:
            raise SpecError(
                f"dsp {self.dsp!r} takes operands of at most 18 bits (a MULT18X18D's signed "
                f"inputs), not {widest}"
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
            + ("" if self.dsp == "inferred" else f"_{self.dsp}")
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
            "dsp": self.dsp,
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
        `architecture`; ``codesign.accel.archview.config_from_architecture``)."""
        from codesign.accel.archview import config_from_architecture

        return config_from_architecture(arch, max_n_tiles=max_n_tiles, fifo_depth=fifo_depth)

    # --- the cost model's view (codesign.accel.archview) --------------------------------------

    def architecture(self, *, clock_mhz: float = 100.0) -> Any:
        """The ``codesign.arch.Architecture`` this accelerator implements, for the cost model
        (``codesign.accel.archview.accelerator_architecture``)."""
        from codesign.accel.archview import accelerator_architecture

        return accelerator_architecture(self, clock_mhz=clock_mhz)

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
        ``M N K`` (``codesign.accel.archview.controller_mapping``)."""
        from codesign.accel.archview import controller_mapping

        return controller_mapping(self, m, n, k, tile_m)

    def tile_m_of(self, mapping: Any, m: int, n: int, k: int) -> int | None:
        """The TILE_M with which the controller executes ``mapping`` for a GEMM ``M x N x K``
        (None for ``os``); `SpecError` naming the first difference if it cannot
        (``codesign.accel.archview.executed_tile_m``)."""
        from codesign.accel.archview import executed_tile_m

        return executed_tile_m(self, mapping, m, n, k)
