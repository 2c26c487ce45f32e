"""Architecture presets, built from the technology tables.

* ``weight_stationary``: a TPU/Gemmini-like systolic array: one weight register per PE, an
  accumulator SRAM for outputs, a scratchpad for inputs and weights, DRAM.
* ``output_stationary``: a systolic array whose PEs keep their accumulators, a scratchpad, DRAM.
* ``eyeriss``: 12 x 14 PEs with per-PE scratchpads (12 + 224 + 24 16-bit words, as in Eyeriss
  v1), a 108 KB global buffer and DRAM; row-stationary, 16-bit.
* ``fpga_edge``: an 8 x 8 weight-stationary array of DSP-sized MACs, sixteen 36 Kb BRAMs as the
  on-chip buffer, a 32-bit DRAM port at 100 MHz. Its LUT/FF/DSP/BRAM counts come from the
  Yosys-calibrated table (``codesign.arch.fpga_area.estimate``).

Every factory takes the parameters a design-space explorer varies and returns a validated
``Architecture``; ``PRESETS`` maps preset names to factories called with their defaults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from codesign.arch import technology as tech
from codesign.arch.dataflow import Dataflow
from codesign.arch.spec import Architecture, ComputeArray, MemoryLevel, Sparsity, VectorUnit
from codesign.errors import SpecError
from codesign.workload.loopnest import TensorRole

__all__ = [
    "vector_unit",
    "weight_stationary",
    "output_stationary",
    "eyeriss",
    "fpga_edge",
    "PRESETS",
    "preset",
    "with_sparsity",
    "sram_level",
    "ws_gated",
    "ws_sparse24",
]

_I, _W, _O = TensorRole.INPUTS, TensorRole.WEIGHTS, TensorRole.OUTPUTS
_ALL = frozenset(TensorRole)


def vector_unit(lanes: int = 16, bits: int = 16) -> VectorUnit:
    """A vector unit of ``lanes`` multiply-add lanes, ``bits`` wide, from the technology
    tables (`codesign.arch.technology.vector_op_energy_pj`, ``vector_lane_area_um2``)."""
    return VectorUnit(
        lanes=lanes,
        bits=bits,
        energy_per_op_pj=tech.vector_op_energy_pj(bits),
        area_um2=tech.vector_lane_area_um2(bits),
    )


def _compute(
    rows: int,
    cols: int,
    input_bits: int,
    weight_bits: int,
    accum_bits: int,
    dataflow: Dataflow,
    *,
    systolic: bool = True,
    sparsity: Sparsity = Sparsity.DENSE,
    sparse_operands: frozenset[TensorRole] = frozenset(),
) -> ComputeArray:
    dense = ComputeArray(
        rows=rows,
        cols=cols,
        input_bits=input_bits,
        weight_bits=weight_bits,
        accum_bits=accum_bits,
        mac_energy_pj=tech.mac_energy_pj(input_bits, weight_bits, accum_bits),
        mac_area_um2=tech.mac_area_um2(input_bits, weight_bits, accum_bits),
        dataflow=dataflow,
        systolic=systolic,
    )
    return with_sparsity(dense, sparsity, sparse_operands)


def with_sparsity(
    compute: ComputeArray, sparsity: Sparsity, sparse_operands: frozenset[TensorRole]
) -> ComputeArray:
    """``compute`` (a dense array) with ``sparsity`` on ``sparse_operands``; a ``gate`` array
    pays, per PE, operand isolation for each gated operand
    (`codesign.arch.technology.operand_gate_area_um2`: the *other* operand is held while the
    gated one is zero), as the zero-gated accelerator (``AcceleratorConfig.zero_gate``) does."""
    area = compute.mac_area_um2
    if sparsity is Sparsity.GATE:
        a, w = compute.input_bits, compute.weight_bits
        if TensorRole.WEIGHTS in sparse_operands:
            area += tech.operand_gate_area_um2(a, w)
        if TensorRole.INPUTS in sparse_operands:
            area += tech.operand_gate_area_um2(w, a)
    return dataclasses.replace(
        compute, sparsity=sparsity, sparse_operands=sparse_operands, mac_area_um2=area
    )


def _register(
    name: str, size_bits: int, instances: int, holds: frozenset, ports: int = 1
) -> MemoryLevel:
    """A per-PE register (file): ``ports`` words per cycle each way."""
    word = size_bits if size_bits <= 64 else 16
    e = tech.sram_access_energy_pj(size_bits, word)
    return MemoryLevel(
        name=name,
        size_bits=size_bits,
        instances=instances,
        word_bits=word,
        read_bits_per_cycle=word * ports,
        write_bits_per_cycle=word * ports,
        read_energy_pj=e,
        write_energy_pj=e,
        holds=holds,
        area_um2=tech.register_area_um2(size_bits),
    )


def sram_level(name: str, size_bits: int, word_bits: int, holds: frozenset) -> MemoryLevel:
    """A shared SRAM of ``size_bits`` delivering one ``word_bits`` word per cycle each way
    (access energy and area from `codesign.arch.technology`)."""
    e = tech.sram_access_energy_pj(size_bits, word_bits)
    return MemoryLevel(
        name=name,
        size_bits=size_bits,
        word_bits=word_bits,
        read_bits_per_cycle=word_bits,
        write_bits_per_cycle=word_bits,
        read_energy_pj=e,
        write_energy_pj=e,
        holds=holds,
        area_um2=tech.sram_area_um2(size_bits),
    )


def _dram(bits_per_cycle: int) -> MemoryLevel:
    e = tech.dram_access_energy_pj(64)
    return MemoryLevel(
        name="dram",
        size_bits=None,
        word_bits=64,
        read_bits_per_cycle=bits_per_cycle,
        write_bits_per_cycle=bits_per_cycle,
        read_energy_pj=e,
        write_energy_pj=e,
        holds=_ALL,
    )


def weight_stationary(
    rows: int = 16,
    cols: int = 16,
    *,
    input_bits: int = 8,
    weight_bits: int = 8,
    accum_bits: int = 32,
    scratchpad_kib: int = 256,
    accumulator_kib: int = 64,
    dram_bits_per_cycle: int = 64,
    clock_mhz: float = 1000.0,
    sparsity: Sparsity = Sparsity.DENSE,
    sparse_operands: frozenset[TensorRole] = frozenset(),
    overlap_passes: bool = False,
    nm: tuple[int, int] | None = None,
) -> Architecture:
    """TPU/Gemmini-like weight-stationary systolic array (levels: ``weight_reg``,
    ``accumulator``, ``scratchpad``, ``dram``). The scratchpad delivers one input vector and one
    weight row per cycle, the accumulator one output row. ``overlap_passes`` streams the passes
    back to back (each weight load overlaps the previous drain, ``ComputeArray.overlap_passes``);
    the default charges every pass its full fill and drain.

    ``nm=(N, M)`` builds the N:M structured-sparse array (``ComputeArray.nm``; ``(2, 4)`` is
    the ``sparse24`` RTL): each PE has ``N`` multipliers (``N`` times the MAC area) and a weight
    register of ``N`` values plus ``ceil(log2 M)``-bit indices; an input vector carries
    ``M * rows`` elements and a weight row ``cols`` such groups. The name gains
    ``-sparse{N}{M}``.
    """
    compute = _compute(
        rows,
        cols,
        input_bits,
        weight_bits,
        accum_bits,
        Dataflow.WEIGHT_STATIONARY,
        sparsity=sparsity,
        sparse_operands=sparse_operands,
    )
    compute = dataclasses.replace(compute, overlap_passes=overlap_passes, nm=nm)  # validated
    n_w = 1 if nm is None else nm[0]
    compute = dataclasses.replace(compute, mac_area_um2=compute.mac_area_um2 * n_w)
    group_bits = n_w * (weight_bits + compute.nm_index_bits)
    word = max(compute.dense_rows * input_bits, cols * group_bits)
    return Architecture(
        name=f"ws{rows}x{cols}" + ("" if nm is None else f"-sparse{nm[0]}{nm[1]}"),
        compute=compute,
        levels=(
            _register("weight_reg", group_bits, rows * cols, frozenset({_W})),
            sram_level("accumulator", accumulator_kib * 8192, cols * accum_bits, frozenset({_O})),
            sram_level("scratchpad", scratchpad_kib * 8192, word, frozenset({_I, _W})),
            _dram(dram_bits_per_cycle),
        ),
        clock_mhz=clock_mhz,
    )


def output_stationary(
    rows: int = 16,
    cols: int = 16,
    *,
    input_bits: int = 8,
    weight_bits: int = 8,
    accum_bits: int = 32,
    scratchpad_kib: int = 256,
    dram_bits_per_cycle: int = 64,
    clock_mhz: float = 1000.0,
    sparsity: Sparsity = Sparsity.DENSE,
    sparse_operands: frozenset[TensorRole] = frozenset(),
) -> Architecture:
    """Output-stationary systolic array (levels: ``accum_reg``, ``scratchpad``, ``dram``). The
    scratchpad delivers one input column and one weight row per cycle and takes one output row."""
    word = max(rows * input_bits + cols * weight_bits, cols * accum_bits)
    return Architecture(
        name=f"os{rows}x{cols}",
        compute=_compute(
            rows,
            cols,
            input_bits,
            weight_bits,
            accum_bits,
            Dataflow.OUTPUT_STATIONARY,
            sparsity=sparsity,
            sparse_operands=sparse_operands,
        ),
        levels=(
            _register("accum_reg", accum_bits, rows * cols, frozenset({_O})),
            sram_level("scratchpad", scratchpad_kib * 8192, word, _ALL),
            _dram(dram_bits_per_cycle),
        ),
        clock_mhz=clock_mhz,
    )


def eyeriss(
    rows: int = 12,
    cols: int = 14,
    *,
    bits: int = 16,
    spad_words: int = 12 + 224 + 24,
    glb_kib: int = 108,
    dram_bits_per_cycle: int = 64,
    clock_mhz: float = 200.0,
) -> Architecture:
    """Eyeriss-like row-stationary array (levels: ``spad`` per PE, ``glb``, ``dram``). The
    per-PE level models Eyeriss's three scratchpads as one level of their total size with three
    ports."""
    return Architecture(
        name=f"eyeriss{rows}x{cols}",
        compute=_compute(rows, cols, bits, bits, bits, Dataflow.ROW_STATIONARY, systolic=False),
        levels=(
            # three scratchpads per PE (inputs, weights, psums), one port each
            _register("spad", spad_words * bits, rows * cols, _ALL, ports=3),
            sram_level("glb", glb_kib * 8192, 64, _ALL),
            _dram(dram_bits_per_cycle),
        ),
        clock_mhz=clock_mhz,
    )


def fpga_edge(
    rows: int = 8,
    cols: int = 8,
    *,
    input_bits: int = 8,
    weight_bits: int = 8,
    accum_bits: int = 32,
    brams: int = 16,
    dram_bits_per_cycle: int = 32,
    clock_mhz: float = 100.0,
) -> Architecture:
    """A small FPGA design: weight-stationary systolic array of DSP-sized MACs, ``brams`` 36 Kb
    block RAMs as one buffer for all tensors, a 32-bit DRAM port (levels: ``weight_reg``,
    ``bram``, ``dram``). The name starts with ``fpga`` so ``codesign map`` reports the
    Yosys-calibrated FPGA resources (``codesign.arch.fpga_area.estimate``)."""
    word = max(rows * input_bits, cols * accum_bits)
    return Architecture(
        name=f"fpga{rows}x{cols}",
        compute=_compute(
            rows, cols, input_bits, weight_bits, accum_bits, Dataflow.WEIGHT_STATIONARY
        ),
        levels=(
            _register("weight_reg", weight_bits, rows * cols, frozenset({_W})),
            sram_level("bram", brams * 36 * 1024, word, _ALL),
            _dram(dram_bits_per_cycle),
        ),
        clock_mhz=clock_mhz,
    )


def ws_gated(rows: int = 16, cols: int = 16, **options) -> Architecture:
    """`weight_stationary` with zero-weight gating (``sparsity: gate`` on weights, with the
    gate's area): the cost-model preset of the zero-gated accelerator (``codesign generate
    --top accelerator --zero-gate``). MAC energy is spent on a layer's non-zero weights
    (its weight density), cycles are dense. Named ``ws{rows}x{cols}-gated``."""
    arch = weight_stationary(
        rows, cols, sparsity=Sparsity.GATE, sparse_operands=frozenset({_W}), **options
    )
    return dataclasses.replace(arch, name=f"{arch.name}-gated")


def ws_sparse24(rows: int = 16, cols: int = 16, **options) -> Architecture:
    """`weight_stationary` with ``nm=(2, 4)``: the cost-model preset of the 2:4-sparse array
    (``codesign generate --dataflow sparse24``)."""
    return weight_stationary(rows, cols, nm=(2, 4), **options)


PRESETS: dict[str, Callable[[], Architecture]] = {
    "ws": weight_stationary,
    "ws-gated": ws_gated,
    "ws-sparse24": ws_sparse24,
    "os": output_stationary,
    "eyeriss": eyeriss,
    "fpga_edge": fpga_edge,
}
"""Preset name -> factory (called with its defaults by ``preset``)."""


def preset(name: str) -> Architecture:
    """The preset architecture called ``name`` with default parameters."""
    if name not in PRESETS:
        raise SpecError(f"preset must be one of {sorted(PRESETS)}, not {name!r}")
    return PRESETS[name]()
