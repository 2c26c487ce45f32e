"""Accelerator (issue 8), fast tier: configuration and its errors, register map, the cost
model's view (architecture + mapping) against hand-derived cycle counts, the host program
against hand-packed words, and the requantizer in the Amaranth simulator against
``codesign.quant.intref.requantize``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codesign.accel.array import SystolicConfig
from codesign.accel.config import (
    CSR_ADDR_BITS,
    REGISTERS,
    AcceleratorConfig,
    register_address,
)
from codesign.errors import SpecError


def _cfg(rows=4, cols=4, **kw) -> AcceleratorConfig:
    return AcceleratorConfig(array=SystolicConfig(rows=rows, cols=cols), **kw)


# every module's __all__: tests/test_package.py


# --- configuration -----------------------------------------------------------------------------


def test_config_errors_name_field_value_and_allowed():
    with pytest.raises(SpecError, match=r"^array.acc_bits must be at most 32 .*not 40$"):
        AcceleratorConfig(array=SystolicConfig(rows=2, cols=2, acc_bits=40))
    with pytest.raises(SpecError, match=r"^max_tile_m must be an integer in 1..65535, not 0$"):
        _cfg(max_tile_m=0)
    with pytest.raises(SpecError, match=r"^fifo_depth must be an integer in 2..4096, not 1$"):
        _cfg(fifo_depth=1)
    with pytest.raises(
        SpecError, match=r"^axis_in_bits must divide the beat width 32 \(one of \[1, 2, 4, 8, 16"
    ):
        _cfg(axis_in_bits=24)
    with pytest.raises(SpecError, match=r"^array must be a SystolicConfig, not dict$"):
        AcceleratorConfig(array={"rows": 2})
    with pytest.raises(SpecError, match=r"^input_buffer applies to 'ws' accelerators only"):
        AcceleratorConfig(array=SystolicConfig(rows=2, cols=2, dataflow="os"), input_buffer=True)
    with pytest.raises(SpecError, match=r"^input_buffer must be true or false, not 1$"):
        _cfg(input_buffer=1)


def test_config_derived_widths_by_hand():
    cfg = AcceleratorConfig(
        array=SystolicConfig(rows=4, cols=6, act_bits=8, weight_bits=4, acc_bits=20),
        axis_in_bits=8,
    )
    assert cfg.beat_bits == max(4 * 8, 6 * 4) == 32
    assert cfg.words_per_beat == 4
    assert cfg.axis_out_bits == 48
    assert cfg.max_channels == 16 * 6
    assert AcceleratorConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(SpecError, match=r"^accelerator config has unknown key 'depth'"):
        AcceleratorConfig.from_dict({**cfg.to_dict(), "depth": 3})


def test_tiling_by_hand_and_errors():
    cfg = _cfg(rows=8, cols=8, max_n_tiles=2, max_tile_m=32)
    assert cfg.tiling(64, 16, 72, 32) == {
        "M": 64,
        "K": 72,
        "TILE_M": 32,
        "K_TILES": 9,
        "N_TILES": 2,
        "M_TILES": 2,
    }
    with pytest.raises(SpecError, match=r"^gemm size N=17 needs 3 column tiles, more than"):
        cfg.tiling(64, 17, 72, 32)
    with pytest.raises(SpecError, match=r"^tile_m must be an integer in 1..32, not 33$"):
        cfg.tiling(64, 16, 72, 33)


def test_output_stationary_tiling_and_errors():
    cfg = AcceleratorConfig(array=SystolicConfig(rows=4, cols=2, dataflow="os", acc_bits=20))
    assert cfg.beat_bits == 4 * 8 + 2 * 8
    assert cfg.tiling(10, 5, 16) == {
        "M": 10,
        "K": 16,
        "TILE_M": 4,
        "K_TILES": 1,
        "N_TILES": 3,
        "M_TILES": 3,
    }
    # 20-bit accumulators hold (2**19 - 1) // 2**14 = 31 products of int8 x int8
    with pytest.raises(SpecError, match=r"^gemm size K=32 exceeds the 31 products"):
        cfg.tiling(10, 5, 32)
    with pytest.raises(SpecError, match=r"^tile_m applies to 'ws' accelerators only"):
        cfg.tiling(10, 5, 16, 4)


def test_register_map_is_word_aligned_unique_and_addressable():
    addresses = [r.address for r in REGISTERS]
    assert len(set(addresses)) == len(addresses)
    assert all(a % 4 == 0 and a < 2**CSR_ADDR_BITS for a in addresses)
    assert register_address("CYCLES") == 0x1C
    with pytest.raises(SpecError, match=r"^register must be one of \['CTRL'"):
        register_address("NOPE")


# --- the cost model's view ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "cols", "bus", "m", "n", "k", "tile_m"),
    [(8, 8, None, 64, 16, 72, 64), (4, 4, 8, 30, 10, 9, 16), (8, 4, 16, 12, 4, 8, 12)],
)
def test_prediction_equals_hand_derived_cycles(rows, cols, bus, m, n, k, tile_m):
    from codesign.accel.costview import predict

    cfg = _cfg(rows=rows, cols=cols, axis_in_bits=bus, max_tile_m=64)
    rep = predict(cfg, m, n, k, tile_m)
    assert rep.fits
    k_tiles, n_tiles, m_tiles = math.ceil(k / rows), math.ceil(n / cols), math.ceil(m / tile_m)
    passes = k_tiles * n_tiles * m_tiles
    # every pass: rows weight beats + tile_m input beats + (rows + cols - 1) drain
    assert rep.compute_cycles + rep.fill_drain_cycles == passes * (tile_m + 2 * rows + cols - 1)
    # DRAM reads: every pass streams its weight tile and its input tile once
    beat = max(rows * 8, cols * 8)
    read_bits = passes * (rows * cols * 8 + tile_m * rows * 8)
    write_bits = m_tiles * tile_m * n_tiles * cols * 8
    bus_bits = beat if bus is None else bus
    dram = max(math.ceil(read_bits / bus_bits), math.ceil(write_bits / (cols * 8)))
    assert rep.level_cycles["dram"] == dram
    # the last pass's drain (rows + cols - 1 after its last input beat) follows the transfers
    assert rep.cycles == max(passes * (tile_m + 2 * rows + cols - 1), dram + rows + cols - 1)


@pytest.mark.parametrize("bus", [None, 16, 8])
def test_from_architecture_inverts_architecture(bus):
    cfg = _cfg(rows=4, cols=4, max_tile_m=24, axis_in_bits=bus, max_n_tiles=16, fifo_depth=32)
    assert AcceleratorConfig.from_architecture(cfg.architecture()) == cfg
    os_cfg = AcceleratorConfig(
        array=SystolicConfig(rows=4, cols=4, dataflow="os"), axis_in_bits=bus or 64
    )
    assert AcceleratorConfig.from_architecture(os_cfg.architecture()) == os_cfg
    reuse = _cfg(rows=4, cols=4, max_tile_m=24, axis_in_bits=bus, input_buffer=True, max_n_tiles=5)
    assert AcceleratorConfig.from_architecture(reuse.architecture()) == reuse


def test_from_architecture_rounds_bus_down_and_names_missing_level():
    from dataclasses import replace

    arch = _cfg(rows=4, cols=4).architecture()
    dram = replace(arch.levels[-1], read_bits_per_cycle=12)
    narrow = replace(arch, levels=(*arch.levels[:-1], dram))
    assert AcceleratorConfig.from_architecture(narrow).axis_in_bits == 8  # divisor of 32, <= 12
    no_acc = replace(arch, levels=(arch.levels[0], dram))
    with pytest.raises(SpecError, match=r"^architecture '.*' has no shared on-chip level holding"):
        AcceleratorConfig.from_architecture(no_acc)


def test_input_buffer_streams_each_input_once_by_hand():
    from codesign.accel.costview import predict
    from codesign.accel.program import program_layer

    m, n, k, tile_m = 32, 12, 20, 16
    plain = _cfg(rows=4, cols=4, max_tile_m=16, axis_in_bits=8)
    reuse = _cfg(rows=4, cols=4, max_tile_m=16, axis_in_bits=8, input_buffer=True, max_n_tiles=3)
    assert reuse.acc_buf_rows == 16 * 3
    passes = 2 * 5 * 3  # M_TILES x K_TILES x N_TILES
    weights = passes * 4 * 4 * 8  # every pass loads its weight tile
    for cfg, input_streams in ((plain, 3), (reuse, 1)):
        rep = predict(cfg, m, n, k, tile_m)
        assert rep.fits
        assert rep.compute_cycles + rep.fill_drain_cycles == passes * (tile_m + 2 * 4 + 4 - 1)
        inputs = input_streams * m * 20 * 8  # K padded to 20 (a multiple of 4)
        assert rep.level_cycles["dram"] == math.ceil((weights + inputs) / 8)
        zeros_a, zeros_w = np.zeros((m, k), dtype=int), np.zeros((k, n), dtype=int)
        prog = program_layer(cfg, zeros_a, zeros_w, [0] * n, [2**30] * n, [1] * n, 0, tile_m=16)
        assert len(prog.stream_words) * 8 == weights + inputs  # the words the model counts
    assert predict(reuse, m, n, k, tile_m).occupancy_bits["acc_buf"] == 16 * 12 * 8


@pytest.mark.parametrize(
    ("rows", "cols", "bus", "m", "n", "k"),
    [(4, 4, None, 16, 8, 72), (4, 2, 8, 10, 5, 3), (8, 8, 32, 1, 10, 256)],
)
def test_output_stationary_prediction_equals_hand_derived_cycles(rows, cols, bus, m, n, k):
    from codesign.accel.costview import predict

    cfg = AcceleratorConfig(
        array=SystolicConfig(rows=rows, cols=cols, dataflow="os"), axis_in_bits=bus
    )
    rep = predict(cfg, m, n, k)
    assert rep.fits
    passes = math.ceil(m / rows) * math.ceil(n / cols)
    # every pass: K beats, then rows + cols - 2 cycles to the last MAC and rows drain beats
    assert rep.compute_cycles + rep.fill_drain_cycles == passes * (k + rows + cols - 2 + rows)
    # every beat carries a padded column of I and a padded row of W
    read_bits = passes * k * (rows * 8 + cols * 8)
    bus_bits = cfg.beat_bits if bus is None else bus
    dram = max(math.ceil(read_bits / bus_bits), passes * rows)
    assert rep.level_cycles["dram"] == dram
    # the last pass's last MAC and drain (2 rows + cols - 2 after its last beat) follow the
    # transfers
    assert rep.cycles == max(passes * (k + 2 * rows + cols - 2), dram + 2 * rows + cols - 2)


def test_tile_m_of_accepts_the_controllers_mappings_and_names_the_first_difference():
    from codesign.mapping.mapping import LevelMapping, Mapping

    ws = _cfg(rows=4, cols=4, max_tile_m=32)
    assert ws.tile_m_of(ws.mapping(64, 8, 20, 16), 64, 8, 20) == 16
    os_cfg = AcceleratorConfig(array=SystolicConfig(rows=4, cols=4, dataflow="os"))
    assert os_cfg.tile_m_of(os_cfg.mapping(10, 8, 20), 10, 8, 20) is None
    other = Mapping(
        levels=(
            LevelMapping(name="weight_reg", loops=(("M", 16),)),
            LevelMapping(name="acc_buf", loops=(("K", 5),)),
            LevelMapping(name="dram", loops=(("M", 2), ("K", 1), ("N", 2))),
        ),
        rows=(("K", 4),),
        cols=(("N", 4),),
    )
    assert ws.tile_m_of(other, 32, 8, 20) == 16  # order at DRAM and unit factors do not matter
    moved = Mapping(
        levels=(
            LevelMapping(name="weight_reg", loops=(("M", 16),)),
            LevelMapping(name="acc_buf", loops=(("K", 5), ("M", 2))),
            LevelMapping(name="dram", loops=(("N", 2),)),
        ),
        rows=(("K", 4),),
        cols=(("N", 4),),
    )
    with pytest.raises(SpecError, match=r"^mapping acc_buf loops \{'K': 5, 'M': 2\} cannot be"):
        ws.tile_m_of(moved, 32, 8, 20)
    bypass = Mapping(
        levels=(
            LevelMapping(name="weight_reg", loops=(("M", 16),)),
            LevelMapping(name="acc_buf", loops=(("K", 5),), keep=frozenset()),
            LevelMapping(name="dram", loops=(("N", 2), ("M", 2))),
        ),
        rows=(("K", 4),),
        cols=(("N", 4),),
    )
    with pytest.raises(SpecError, match=r"^mapping level 'acc_buf' keep must be what the RTL"):
        ws.tile_m_of(bypass, 32, 8, 20)


def test_the_exhaustive_mappers_edp_optimum_is_what_the_controller_runs():
    from codesign.explore.mapper import ExhaustiveMapper
    from codesign.workload.loopnest import linear

    cfg = _cfg(rows=4, cols=4, max_tile_m=16)
    m, n, k = 16, 8, 12
    nest = linear("g", in_features=k, out_features=n, leading=m, output_bits=8)
    best = ExhaustiveMapper(objective="edp").map(nest, cfg.architecture())
    tile_m = cfg.tile_m_of(best.mapping, m, n, k)
    # the largest row tile amortizes the per-pass fill/drain best; keeping the partial sums in
    # acc_buf (not DRAM) costs the same cycles and less energy
    assert tile_m == 16
    assert best.cycles == 3 * 2 * (16 + 2 * 4 + 4 - 1)


# --- host program ------------------------------------------------------------------------------


def test_program_words_by_hand():
    from codesign.accel.program import decode_outputs, program_layer

    cfg = _cfg(rows=2, cols=2, axis_in_bits=8, max_tile_m=4)  # beat 16 bits, 2 words
    a = np.array([[1, -2, 3], [-128, 127, 0], [5, 6, 7]])  # M=3, K=3 -> K_TILES=2
    w = np.array([[1, 2, 3], [4, 5, 6], [-1, -2, -3]])  # N=3 -> N_TILES=2
    prog = program_layer(cfg, a, w, [0, 1, 2], [2**30] * 3, [1, 2, 3], -5, tile_m=2)

    def beat(x0, x1):
        v = (x0 & 0xFF) | ((x1 & 0xFF) << 8)
        return [v & 0xFF, v >> 8]

    expected = []
    for n2 in range(2):
        for m_lo, m_hi in ((0, 2), (2, 3)):
            for k2 in range(2):
                for r in range(2):
                    kk = 2 * k2 + r
                    row = [w[kk, c] if kk < 3 and c < 3 else 0 for c in (2 * n2, 2 * n2 + 1)]
                    expected += beat(*row)
                for mm in range(m_lo, m_hi):
                    vec = [a[mm, kk] if kk < 3 else 0 for kk in (2 * k2, 2 * k2 + 1)]
                    expected += beat(*vec)
    assert list(prog.stream_words) == expected
    assert prog.out_beats == 6
    writes = dict(prog.csr_writes[-6:])
    assert writes[register_address("K_TILES")] == 2 and writes[register_address("N_TILES")] == 2
    assert writes[register_address("ZP_OUT")] == 2**32 - 5
    assert prog.csr_writes[-1] == (register_address("CTRL"), 1)
    # channel 2 = column 0 of column tile 1
    assert (register_address("PARAM_WRITE"), (1 << 8) | 0) in prog.csr_writes

    out = np.array([[1, -1, 2], [-128, 127, 0], [3, 4, -5]])
    beats = []
    for n2 in range(2):
        for mm in range(3):
            lo = out[mm, 2 * n2] & 0xFF
            hi = (out[mm, 2 * n2 + 1] & 0xFF) if 2 * n2 + 1 < 3 else 0
            beats.append(lo | hi << 8)
    assert (decode_outputs(cfg, prog, beats) == out).all()


def test_output_stationary_program_words_by_hand():
    from codesign.accel.program import decode_outputs, program_layer

    cfg = AcceleratorConfig(array=SystolicConfig(rows=2, cols=2, dataflow="os"))
    a = np.array([[1, -2], [3, 4], [-128, 127]])  # M=3 -> 2 row tiles (row 3 padded)
    w = np.array([[5, 6, 7], [-8, 9, 10]])  # N=3 -> 2 column tiles
    prog = program_layer(cfg, a, w, [0] * 3, [2**30] * 3, [1] * 3, 0)

    def pack(values):
        return sum((int(v) & 0xFF) << (8 * i) for i, v in enumerate(values))

    ap = np.vstack([a, [[0, 0]]])
    wp = np.hstack([w, [[0], [0]]])
    expected = [
        pack([*ap[2 * m2 : 2 * m2 + 2, kk], *wp[kk, 2 * n2 : 2 * n2 + 2]])
        for n2 in range(2)
        for m2 in range(2)
        for kk in range(2)
    ]
    assert list(prog.stream_words) == expected
    assert prog.out_beats == 2 * 4  # 2 column tiles x 4 (padded) rows
    assert (register_address("K"), 2) in prog.csr_writes
    out = np.arange(12).reshape(3, 4) - 6
    op = np.vstack([out, [[99, 99, 99, 99]]])
    beats = [pack(op[r, 2 * n2 : 2 * n2 + 2]) for n2 in range(2) for r in range(4)]
    assert (decode_outputs(cfg, prog, beats) == out[:, :3]).all()


def test_default_row_tiles_are_balanced():
    from codesign.accel.program import program_layer

    cfg = _cfg(rows=2, cols=2, max_tile_m=64)
    ok = dict(bias=[0, 0], multiplier=[2**30] * 2, shift=[1, 1], zero_point=0)
    w = [[1, 1], [1, 1]]
    for m, tile in ((100, 50), (64, 64), (65, 33), (129, 43), (7, 7)):
        assert program_layer(cfg, np.zeros((m, 2), dtype=int), w, **ok).tile_m == tile


def test_program_errors():
    from codesign.accel.program import program_layer

    cfg = _cfg(rows=2, cols=2)
    ok = dict(bias=[0, 0], multiplier=[2**30] * 2, shift=[1, 1], zero_point=0)
    with pytest.raises(SpecError, match=r"^a values must lie in the signed 8-bit range"):
        program_layer(cfg, [[200, 0]], [[1, 1], [1, 1]], **ok)
    with pytest.raises(SpecError, match=r"^w must have 2 rows \(the columns of a\), not 3$"):
        program_layer(cfg, [[1, 0]], [[1, 1], [1, 1], [0, 0]], **ok)
    with pytest.raises(SpecError, match=r"^shift values must lie in 1..62, not \[0, 1\]$"):
        program_layer(cfg, [[1, 0]], [[1, 1], [1, 1]], **{**ok, "shift": [0, 1]})
    with pytest.raises(SpecError, match=r"^bias must hold 2 integers"):
        program_layer(cfg, [[1, 0]], [[1, 1], [1, 1]], **{**ok, "bias": [0]})


# --- requantizer vs the quantization package's integer reference ------------------------------


def test_requantizer_matches_intref_bit_exactly():
    from amaranth.sim import Simulator
    from codesign.hw.requant import Requantizer

    from codesign.quant.intref import requantize

    rng = np.random.default_rng(7)
    accs = [-(2**31), 2**31 - 1, 0, -1, 1, 12345, -12345] + rng.integers(
        -(2**31), 2**31, 40
    ).tolist()
    cases = []
    for i, acc in enumerate(accs):
        mult = int(rng.integers(2**30, 2**31)) if i % 5 else 2**31 - 1
        shift = [1, 62, 31, 40, 20][i % 5]
        zp = [-128, 127, 0, -3, 9][(i // 5) % 5]
        cases.append((acc, mult, shift, zp))
    dut = Requantizer(acc_bits=32, out_bits=8, zp_bits=32)
    got = []

    async def bench(ctx):
        for acc, mult, shift, zp in cases:
            ctx.set(dut.acc, acc)
            ctx.set(dut.mult, mult)
            ctx.set(dut.shift, shift)
            ctx.set(dut.zero_point, zp)
            got.append(ctx.get(dut.out))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    for (acc, mult, shift, zp), out in zip(cases, got, strict=True):
        ref = requantize(
            torch.tensor([[acc]]),
            torch.tensor([mult]),
            torch.tensor([shift]),
            zp,
            8,
            channel_axis=1,
        )
        assert out == int(ref), (acc, mult, shift, zp)


@pytest.mark.parametrize("stages", [0, 1, 3, 7])
def test_pipelined_requantizer_matches_intref_and_stalls(stages):
    from amaranth.sim import Simulator
    from codesign.hw.requant import PipelinedRequantizer

    from codesign.quant.intref import requantize

    rng = np.random.default_rng(8)
    accs = [-(2**31), 2**31 - 1, 0, -1, 1] + rng.integers(-(2**31), 2**31, 60).tolist()
    cases = [
        (acc, int(rng.integers(1, 2**31)) if i % 4 else 2**31 - 1, int(rng.integers(1, 63)), -5)
        for i, acc in enumerate(accs)
    ]
    dut = PipelinedRequantizer(acc_bits=32, out_bits=8, zp_bits=32, stages=stages)
    got = []
    enables = [int(x) for x in rng.random(4 * len(cases)) < 0.7]  # random stalls

    async def bench(ctx):
        ctx.set(dut.zero_point, -5)
        fed, history = 0, []
        for en in enables + [1] * (stages + 1):
            if fed < len(cases):
                acc, mult, shift, _ = cases[fed]
                ctx.set(dut.acc, acc)
                ctx.set(dut.mult, mult)
                ctx.set(dut.shift, shift)
            ctx.set(dut.en, en)
            if not stages and en and fed < len(cases):  # combinational: the value just set
                got.append((fed, ctx.get(dut.out)))
            await (ctx.tick() if stages else ctx.delay(1e-8))
            if en:
                history.append(fed if fed < len(cases) else None)
                fed += 1
                # the value entered `stages` enabled cycles ago is at the output now
                if stages and len(history) >= stages and history[-stages] is not None:
                    got.append((history[-stages], ctx.get(dut.out)))

    sim = Simulator(dut)
    if stages:  # (no registers, no clock domain)
        sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert [i for i, _ in got] == list(range(len(cases)))
    for i, out in got:
        acc, mult, shift, zp = cases[i]
        ref = requantize(
            torch.tensor([[acc]]), torch.tensor([mult]), torch.tensor([shift]), zp, 8,
            channel_axis=1,
        )  # fmt: skip
        assert out == int(ref), (acc, mult, shift, zp)


def test_generate_options_take_buffer_sizes_from_a_design_point(tmp_path):
    import argparse
    import json

    from codesign.hw.accel_command import add_arguments, config_from_args

    from codesign.arch.io import architecture_to_dict

    cfg = _cfg(rows=4, cols=4, max_tile_m=24, axis_in_bits=16)
    design = tmp_path / "best.json"
    design.write_text(json.dumps({"arch": architecture_to_dict(cfg.architecture())}))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--fifo-depth", "8"])
    args.design = str(design)
    got = config_from_args(args, cfg.array)
    assert (got.max_tile_m, got.axis_in_bits, got.fifo_depth) == (24, 16, 8)
    args.design = None
    assert config_from_args(args, cfg.array) == AcceleratorConfig(array=cfg.array, fifo_depth=8)


# --- the controller and CSR bank in the Amaranth simulator -------------------------------------


@pytest.mark.parametrize(
    ("dataflow", "input_buffer", "overlap"),
    [
        ("ws", False, False),
        ("ws", True, False),
        ("ws", False, True),
        ("ws", True, True),
        ("os", False, False),
    ],
)
def test_csr_semantics_and_a_small_layer_in_the_amaranth_simulator(dataflow, input_buffer, overlap):
    from amaranth.sim import Simulator
    from codesign.hw.accelerator import Accelerator

    from codesign.accel.program import decode_outputs, program_layer
    from codesign.quant.intref import requantize

    cfg = AcceleratorConfig(
        array=SystolicConfig(rows=2, cols=2, dataflow=dataflow),
        max_tile_m=4,
        max_n_tiles=2,
        fifo_depth=4,
        axis_in_bits=8,
        input_buffer=input_buffer,
        overlap_passes=overlap,
    )
    rng = np.random.default_rng(3)
    m, n, k = 3, 3, 5
    a, w = rng.integers(-128, 128, (m, k)), rng.integers(-128, 128, (k, n))
    bias, mult, shift = rng.integers(-500, 500, n), rng.integers(2**30, 2**31, n), [9, 10, 11]
    prog = program_layer(cfg, a, w, bias, mult, shift, -4)
    expected = requantize(
        torch.tensor(a @ w + bias), torch.tensor(mult), torch.tensor(shift), -4, 8, channel_axis=1
    ).numpy()
    dut = Accelerator(cfg)
    seen: dict = {"out": [], "last": []}
    status, m_addr = register_address("STATUS"), register_address("M")

    async def bench(ctx):
        async def write(address, value):
            ctx.set(dut.csr_addr, address)
            ctx.set(dut.csr_wdata, value)
            ctx.set(dut.csr_we, 1)
            *_, werr = await ctx.tick().sample(dut.csr_werr)
            ctx.set(dut.csr_we, 0)
            return werr

        async def read(address):
            ctx.set(dut.csr_addr, address)
            await ctx.tick()
            return ctx.get(dut.csr_rdata)

        seen["idle_status"] = await read(status)
        seen["werr"] = [await write(address, value) for address, value in prog.csr_writes]
        seen["busy_status"] = await read(status)
        seen["werr"].append(await write(m_addr, 999))  # refused while busy: STATUS.ERROR
        ctx.set(dut.m_axis_tready, 1)
        words = list(prog.stream_words)
        for _ in range(2000):
            if len(seen["out"]) == prog.out_beats:
                break
            ctx.set(dut.s_axis_tvalid, int(bool(words)))
            ctx.set(dut.s_axis_tdata, words[0] if words else 0)
            took = bool(words) and ctx.get(dut.s_axis_tready)
            if ctx.get(dut.m_axis_tvalid):
                seen["out"].append(ctx.get(dut.m_axis_tdata))
                seen["last"].append(ctx.get(dut.m_axis_tlast))
            await ctx.tick()
            if took:
                words.pop(0)
        ctx.set(dut.s_axis_tvalid, 0)
        await ctx.tick()
        seen["done_status"] = await read(status)
        seen["irq"] = ctx.get(dut.irq)
        seen["m"] = await read(m_addr)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # done, and the error bit of the write refused while busy (an accepted start clears it)
    assert (seen["idle_status"], seen["busy_status"], seen["done_status"]) == (0, 1, 0b110)
    assert seen["irq"] == 1 and seen["m"] == m
    assert seen["werr"] == [0] * len(prog.csr_writes) + [1]
    assert seen["last"] == [0] * (prog.out_beats - 1) + [1]
    assert (decode_outputs(cfg, prog, seen["out"]) == expected).all()
