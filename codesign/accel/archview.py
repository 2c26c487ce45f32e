"""The cost model's view of an `AcceleratorConfig`: the ``codesign.arch.Architecture`` the
accelerator implements (`accelerator_architecture`), the ``codesign.mapping.Mapping`` its
controller executes for a GEMM (`controller_mapping`), the check that a mapping is one it
executes (`executed_tile_m`), and the inverse, the accelerator of an explored architecture
(`config_from_architecture`). ``AcceleratorConfig.architecture``, ``.mapping``, ``.tile_m_of``
and ``.from_architecture`` call these.
"""

from __future__ import annotations

from typing import Any

from codesign.accel.array import Dataflow, SystolicConfig
from codesign.accel.config import DIM_BITS, MAX_TILE_M, SUM_BITS, AcceleratorConfig
from codesign.errors import SpecError

__all__ = [
    "accelerator_architecture",
    "controller_mapping",
    "executed_tile_m",
    "config_from_architecture",
]


def config_from_architecture(
    arch: Any, *, max_n_tiles: int = 16, fifo_depth: int = 32
) -> AcceleratorConfig:
    """The accelerator of an explored ``codesign.arch.Architecture`` (inverse of
    `accelerator_architecture` for the fields it sets).

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
    beat = AcceleratorConfig(array=array).beat_bits
    bandwidth = arch.levels[-1].read_bits_per_cycle
    bus = max(d for d in range(1, beat + 1) if beat % d == 0 and d <= bandwidth)
    fields.setdefault("max_n_tiles", max_n_tiles)
    fields["overlap_passes"] = arch.compute.overlap_passes
    gated = (
        arch.compute.sparsity is Sparsity.GATE
        and TensorRole.WEIGHTS in arch.compute.sparse_operands
    )
    fields["zero_gate"] = gated and array.dataflow is Dataflow.WEIGHT_STATIONARY
    return AcceleratorConfig(array=array, fifo_depth=fifo_depth, axis_in_bits=bus, **fields)


def accelerator_architecture(config: AcceleratorConfig, *, clock_mhz: float = 100.0) -> Any:
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
    from codesign.arch.presets import sram_level, with_sparsity
    from codesign.arch.spec import Architecture, ComputeArray, MemoryLevel, Sparsity
    from codesign.workload.loopnest import TensorRole

    a = config.array
    pes = a.rows * a.cols
    multipliers = 2 if config.sparse else 1  # per PE
    compute = ComputeArray(
        rows=a.rows,
        cols=a.cols,
        input_bits=a.act_bits,
        weight_bits=a.weight_bits,
        accum_bits=SUM_BITS,
        mac_energy_pj=tech.mac_energy_pj(a.act_bits, a.weight_bits, SUM_BITS),
        mac_area_um2=multipliers * tech.mac_area_um2(a.act_bits, a.weight_bits, SUM_BITS),
        dataflow=MapDataflow("ws" if config.sparse else a.dataflow.value),
        systolic=True,
        overlap_passes=config.overlap_passes,
        nm=(2, 4) if config.sparse else None,
    )
    if config.zero_gate:  # GATE on weights, with the gate's area
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

    dram_pj = tech.dram_access_energy_pj(config.axis_in_bits)
    dram = MemoryLevel(
        name="dram",
        size_bits=None,
        word_bits=config.axis_in_bits,
        read_bits_per_cycle=config.axis_in_bits,
        write_bits_per_cycle=config.axis_out_bits,
        read_energy_pj=dram_pj,
        write_energy_pj=dram_pj,
        holds=frozenset(TensorRole),
    )

    def buffer(name: str, depth: int, row_bits: int, role: TensorRole) -> MemoryLevel:
        return sram_level(name, depth * row_bits, row_bits, frozenset({role}))

    if config.output_stationary:
        levels = (register("acc_reg", SUM_BITS, TensorRole.OUTPUTS), dram)
    else:
        weight_reg = multipliers * (a.weight_bits + compute.nm_index_bits)
        levels = (register("weight_reg", weight_reg, TensorRole.WEIGHTS),)
        if config.input_buffer:
            in_row = config.input_beat_bits
            levels = (*levels, buffer("in_buf", config.max_tile_m, in_row, TensorRole.INPUTS))
        acc_row = a.cols * SUM_BITS
        acc_buf = buffer("acc_buf", config.acc_buf_rows, acc_row, TensorRole.OUTPUTS)
        levels = (*levels, acc_buf, dram)
    return Architecture(name=config.top_name, compute=compute, levels=levels, clock_mhz=clock_mhz)


def controller_mapping(
    config: AcceleratorConfig, m: int, n: int, k: int, tile_m: int | None = None
) -> Any:
    """The ``codesign.mapping.Mapping`` the controller executes for a GEMM nest with dims
    ``M N K`` (see the module docstring). The spatial factors are always the full array:
    the streams carry zero-padded rows and columns when a dim is smaller (a beat is always
    the array's width), and the model then counts the same bits."""
    from codesign.mapping.mapping import LevelMapping, Mapping

    t = config.tiling(m, n, k, tile_m)
    dram = LevelMapping(name="dram", loops=(("N", t["N_TILES"]), ("M", t["M_TILES"])))
    if config.output_stationary:
        return Mapping(
            levels=(LevelMapping(name="acc_reg", loops=(("K", k),)), dram),
            rows=(("M", config.rows),),
            cols=(("N", config.cols),),
        )
    weight_reg = LevelMapping(name="weight_reg", loops=(("M", t["TILE_M"]),))
    acc_buf = LevelMapping(name="acc_buf", loops=(("K", t["K_TILES"]),))
    if config.input_buffer:  # m2 at DRAM, k2 at acc_buf, n2 at in_buf (inputs reused)
        in_buf = LevelMapping(name="in_buf", loops=(("N", t["N_TILES"]),))
        inner: tuple = (weight_reg, in_buf, acc_buf)
        dram = LevelMapping(name="dram", loops=(("M", t["M_TILES"]),))
    else:
        inner = (weight_reg, acc_buf)
    return Mapping(
        levels=(*inner, dram),
        rows=(("K", config.pass_depth),),
        cols=(("N", config.cols),),
    )


def executed_tile_m(
    config: AcceleratorConfig, mapping: Any, m: int, n: int, k: int
) -> int | None:
    """The TILE_M with which the controller executes ``mapping`` (e.g. a mapper's choice on
    `accelerator_architecture`) for a GEMM ``M x N x K``; None for ``os`` (no TILE_M).
    `SpecError` naming the first difference if the controller cannot execute it: the
    controller runs exactly the mappings of `controller_mapping` (loop order at DRAM aside,
    which changes no traffic here because no on-chip level keeps inputs or weights)."""
    from codesign.mapping.mapping import Mapping

    if not isinstance(mapping, Mapping):
        raise SpecError(f"mapping must be a codesign.mapping.Mapping, not {type(mapping)}")
    loops = {lv.name: dict(lv.loops) for lv in mapping.levels}
    tile_m = None
    if not config.output_stationary:
        tile_m = loops.get("weight_reg", {}).get("M", 1)
    reference = controller_mapping(config, m, n, k, tile_m)

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
                f"{config.dataflow.value} controller; it runs {want[place]} there for this "
                f"layer (see AcceleratorConfig.mapping)"
            )
    holds = {lv.name: lv.holds for lv in accelerator_architecture(config).levels}
    for lv in mapping.levels:
        if lv.keep is not None and lv.name in holds and lv.keep != holds[lv.name]:
            raise SpecError(
                f"mapping level {lv.name!r} keep must be what the RTL keeps there, "
                f"{sorted(r.value for r in holds[lv.name])}, not "
                f"{sorted(r.value for r in lv.keep)}"
            )
    return tile_m
