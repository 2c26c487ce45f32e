"""Amaranth-simulator tests of the generated arrays (fast tier).

Oracles: numpy int64 matmul of the same operands (bit-exactness) and the cost model's
``codesign.cost.systolic`` formulas (cycles from the first input handshake to the last output
handshake, exact when no stream stalls).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Value
from amaranth.sim import Simulator
from codesign.hw import (
    OutputStationaryArray,
    OutputStationaryPE,
    SparseWeightStationaryArray,
    SystolicConfig,
    WeightStationaryArray,
    WeightStationaryPE,
    output_layout,
    unpack,
)

from codesign.cost.systolic import (
    os_tile_cycles,
    sparse_ws_tile_cycles,
    ws_tile_cycles,
)

ALWAYS = (True,)


@dataclass
class Trace:
    outputs: list  # unpacked output payloads in order
    taken: dict  # stream name -> handshake cycles
    out_cycles: list  # handshake cycles of the output beats


def run_streams(dut, sources, n_out, *, out_pattern=ALWAYS, max_cycles=2000):
    """Drive ``sources`` ({port name: (beats, valid pattern)}) into ``dut`` and collect
    ``n_out`` output beats, honouring ready and keeping a presented beat until it is taken."""
    layout = output_layout(dut.config)
    trace = Trace(outputs=[], taken={name: [] for name in sources}, out_cycles=[])

    async def bench(ctx):
        index = dict.fromkeys(sources, 0)
        holding = dict.fromkeys(sources, False)
        patterns = {name: itertools.cycle(pat) for name, (_, pat) in sources.items()}
        ready = itertools.cycle(out_pattern)
        for cycle in range(max_cycles):
            for name, (beats, _) in sources.items():
                port = getattr(dut, name)
                offer = holding[name] or (index[name] < len(beats) and next(patterns[name]))
                holding[name] = offer
                ctx.set(port.valid, int(offer))
                if offer:
                    ctx.set(port.payload, beats[index[name]])
            ctx.set(dut.outputs.ready, int(next(ready)))
            for name in sources:
                port = getattr(dut, name)
                if ctx.get(port.valid) and ctx.get(port.ready):
                    trace.taken[name].append(cycle)
                    index[name] += 1
                    holding[name] = False
            if ctx.get(dut.outputs.valid) and ctx.get(dut.outputs.ready):
                trace.outputs.append(unpack(layout, ctx.get(Value.cast(dut.outputs.payload))))
                trace.out_cycles.append(cycle)
            await ctx.tick()
            if len(trace.outputs) == n_out:
                return
        raise AssertionError(f"only {len(trace.outputs)} of {n_out} outputs in {max_cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return trace


def tile_cycles(trace):
    first = min(cycles[0] for cycles in trace.taken.values())
    return trace.out_cycles[-1] - first + 1


def rand_int(rng, bits, shape):
    """Random signed values including the extremes (most negative, most positive, zero)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = rng.integers(lo, hi + 1, size=shape, dtype=np.int64)
    flat = values.reshape(-1)
    extremes = [lo, hi, 0, lo, -1]
    flat[: min(len(flat), len(extremes))] = extremes[: len(flat)]
    return values


# --- weight-stationary -------------------------------------------------------------------------


def ws_beats(w, x):
    weights = [[int(v) for v in row] for row in w]
    inputs = [
        {"data": [int(v) for v in vec], "last": int(t == len(x) - 1)} for t, vec in enumerate(x)
    ]
    return weights, inputs


def check_ws_outputs(trace, expected_tiles):
    got = np.array([beat["data"] for beat in trace.outputs], dtype=np.int64)
    np.testing.assert_array_equal(got, np.concatenate(expected_tiles))
    lasts = [[0] * (len(tile) - 1) + [1] for tile in expected_tiles]
    assert [beat["last"] for beat in trace.outputs] == [v for tile in lasts for v in tile]


@pytest.mark.parametrize(
    ("rows", "cols", "stream_len"),
    [(2, 2, 3), (3, 4, 5), (4, 4, 2), (1, 3, 2), (3, 1, 4), (1, 1, 1)],
)
def test_ws_matches_numpy_and_cycle_formula(rows, cols, stream_len):
    rng = np.random.default_rng(rows * 100 + cols * 10 + stream_len)
    cfg = SystolicConfig(
        rows=rows, cols=cols, act_bits=8, weight_bits=8, acc_bits=16 + rows.bit_length() + 1
    )
    w = rand_int(rng, 8, (rows, cols))
    x = rand_int(rng, 8, (stream_len, rows))
    weights, inputs = ws_beats(w, x)
    trace = run_streams(
        WeightStationaryArray(cfg),
        {"weights": (weights, ALWAYS), "inputs": (inputs, ALWAYS)},
        stream_len,
    )
    check_ws_outputs(trace, [x @ w])
    assert tile_cycles(trace) == ws_tile_cycles(rows, cols, stream_len)
    # Input beat t leaves rows + cols - 1 cycles after it entered.
    assert [o - i for o, i in zip(trace.out_cycles, trace.taken["inputs"], strict=True)] == [
        rows + cols - 1
    ] * stream_len


def test_ws_most_negative_operands_at_minimal_acc_bits():
    rows, cols = 4, 3
    cfg = SystolicConfig(rows=rows, cols=cols, act_bits=4, weight_bits=4, acc_bits=10)
    w = np.full((rows, cols), -8, dtype=np.int64)
    x = np.array([[-8] * rows, [7] * rows, [0] * rows], dtype=np.int64)
    weights, inputs = ws_beats(w, x)
    trace = run_streams(
        WeightStationaryArray(cfg),
        {"weights": (weights, ALWAYS), "inputs": (inputs, ALWAYS)},
        len(x),
    )
    check_ws_outputs(trace, [x @ w])
    assert trace.outputs[0]["data"] == [256] * cols  # 4 * (-8 * -8): needs all 10 bits (255 < 256)


@pytest.mark.parametrize("seed", [0, 1])
def test_ws_back_pressure_and_back_to_back_tiles(seed):
    rows, cols = 3, 4
    rng = np.random.default_rng(seed)
    cfg = SystolicConfig(rows=rows, cols=cols, act_bits=6, weight_bits=5, acc_bits=14)
    tiles = [(rand_int(rng, 5, (rows, cols)), rand_int(rng, 6, (t, rows))) for t in (4, 1, 3)]
    weights, inputs, expected = [], [], []
    for w, x in tiles:
        wb, ib = ws_beats(w, x)
        weights += wb
        inputs += ib
        expected.append(x @ w)
    pattern = [bool(b) for b in rng.integers(0, 2, size=17)]
    trace = run_streams(
        WeightStationaryArray(cfg),
        {"weights": (weights, [True, False, True]), "inputs": (inputs, pattern[::-1] + [True])},
        len(inputs),
        out_pattern=pattern + [True],
    )
    check_ws_outputs(trace, expected)


@pytest.mark.parametrize("stalls", [False, True])
@pytest.mark.parametrize("rows", [2, 4])
def test_ws_retimed_products_across_one_vector_tiles(rows, stalls):
    """The retimed PEs multiply by the weight they hold one cycle early: exact when a weight
    write is followed by a bubble, the tightest case being two-row arrays with one-vector tiles
    back to back (the next weights right behind the last input)."""
    cols = 3
    rng = np.random.default_rng(rows * 10 + stalls)
    cfg = SystolicConfig(rows=rows, cols=cols, act_bits=8, weight_bits=8, acc_bits=20)
    tiles = [(rand_int(rng, 8, (rows, cols)), rand_int(rng, 8, (t, rows))) for t in (1, 1, 2, 1, 1)]
    weights, inputs, expected = [], [], []
    for w, x in tiles:
        wb, ib = ws_beats(w, x)
        weights += wb
        inputs += ib
        expected.append(x @ w)
    pattern = [bool(b) for b in rng.integers(0, 2, size=13)] + [True] if stalls else ALWAYS
    trace = run_streams(
        WeightStationaryArray(cfg),
        {"weights": (weights, pattern), "inputs": (inputs, pattern[::-1] if stalls else ALWAYS)},
        len(inputs),
        out_pattern=pattern,
    )
    check_ws_outputs(trace, expected)


def test_ws_next_weights_may_follow_last_input_immediately():
    """Without stalls the second tile's weights enter the cycle after the first tile's last
    input, while that input is still in the array, and both tiles stay exact."""
    rows, cols = 3, 3
    rng = np.random.default_rng(7)
    cfg = SystolicConfig(rows=rows, cols=cols, act_bits=8, weight_bits=8, acc_bits=20)
    (w1, x1), (w2, x2) = [
        (rand_int(rng, 8, (rows, cols)), rand_int(rng, 8, (2, rows))) for _ in range(2)
    ]
    wb1, ib1 = ws_beats(w1, x1)
    wb2, ib2 = ws_beats(w2, x2)
    trace = run_streams(
        WeightStationaryArray(cfg),
        {"weights": (wb1 + wb2, ALWAYS), "inputs": (ib1 + ib2, ALWAYS)},
        4,
    )
    assert trace.taken["weights"][rows] == trace.taken["inputs"][1] + 1
    check_ws_outputs(trace, [x1 @ w1, x2 @ w2])


# --- 2:4 sparse --------------------------------------------------------------------------------


def sparse_weights(rng, rows, cols, bits):
    """Compressed 2:4 weights (values, indices) per group and column, and the dense matrix."""
    values = rand_int(rng, bits, (rows, cols, 2))
    indices = np.array(
        [[rng.choice(4, size=2, replace=False) for _ in range(cols)] for _ in range(rows)]
    )
    dense = np.zeros((4 * rows, cols), dtype=np.int64)
    for r, c, j in itertools.product(range(rows), range(cols), range(2)):
        dense[4 * r + indices[r, c, j], c] = values[r, c, j]
    beats = [
        {
            "values": [int(v) for v in values[r].reshape(-1)],
            "indices": [int(i) for i in indices[r].reshape(-1)],
        }
        for r in range(rows)
    ]
    return beats, dense


@pytest.mark.parametrize(("rows", "cols", "stream_len"), [(2, 2, 3), (3, 4, 4), (1, 2, 2)])
def test_sparse_matches_dense_numpy_and_cycle_formula(rows, cols, stream_len):
    rng = np.random.default_rng(rows * 10 + cols)
    cfg = SystolicConfig(
        rows=rows, cols=cols, dataflow="sparse24", act_bits=8, weight_bits=8, acc_bits=20
    )
    weights, dense = sparse_weights(rng, rows, cols, 8)
    x = rand_int(rng, 8, (stream_len, 4 * rows))
    inputs = [
        {"data": [int(v) for v in vec], "last": int(t == stream_len - 1)} for t, vec in enumerate(x)
    ]
    trace = run_streams(
        SparseWeightStationaryArray(cfg),
        {"weights": (weights, ALWAYS), "inputs": (inputs, ALWAYS)},
        stream_len,
    )
    check_ws_outputs(trace, [x @ dense])
    assert tile_cycles(trace) == sparse_ws_tile_cycles(rows, cols, stream_len)


def test_sparse_back_pressure():
    rows, cols = 2, 3
    rng = np.random.default_rng(11)
    cfg = SystolicConfig(
        rows=rows, cols=cols, dataflow="sparse24", act_bits=4, weight_bits=4, acc_bits=10
    )
    weights, dense = sparse_weights(rng, rows, cols, 4)
    x = rand_int(rng, 4, (5, 4 * rows))
    inputs = [{"data": [int(v) for v in vec], "last": int(t == 4)} for t, vec in enumerate(x)]
    trace = run_streams(
        SparseWeightStationaryArray(cfg),
        {"weights": (weights, [False, True]), "inputs": (inputs, [True, True, False])},
        len(x),
        out_pattern=[False, True, True, False, False],
    )
    check_ws_outputs(trace, [x @ dense])


# --- output-stationary -------------------------------------------------------------------------


def os_beats(a, b):
    k_len = a.shape[1]
    return [
        {"a": [int(v) for v in a[:, k]], "b": [int(v) for v in b[k]], "last": int(k == k_len - 1)}
        for k in range(k_len)
    ]


def check_os_outputs(trace, expected_tiles):
    got = np.array([beat["data"] for beat in trace.outputs], dtype=np.int64)
    np.testing.assert_array_equal(got, np.concatenate(expected_tiles))
    rows = expected_tiles[0].shape[0]
    assert [beat["last"] for beat in trace.outputs] == ([0] * (rows - 1) + [1]) * len(
        expected_tiles
    )


@pytest.mark.parametrize(
    ("rows", "cols", "k_len"), [(2, 2, 3), (3, 4, 5), (4, 4, 1), (1, 3, 2), (3, 1, 2), (1, 1, 1)]
)
def test_os_matches_numpy_and_cycle_formula(rows, cols, k_len):
    rng = np.random.default_rng(rows * 100 + cols * 10 + k_len)
    cfg = SystolicConfig(
        rows=rows, cols=cols, dataflow="os", act_bits=8, weight_bits=8, acc_bits=20
    )
    a = rand_int(rng, 8, (rows, k_len))
    b = rand_int(rng, 8, (k_len, cols))
    trace = run_streams(OutputStationaryArray(cfg), {"inputs": (os_beats(a, b), ALWAYS)}, rows)
    check_os_outputs(trace, [a @ b])
    assert tile_cycles(trace) == os_tile_cycles(rows, cols, k_len)


@pytest.mark.parametrize("seed", [0, 1])
def test_os_back_pressure_and_consecutive_tiles(seed):
    rows, cols = 3, 2
    rng = np.random.default_rng(seed)
    cfg = SystolicConfig(
        rows=rows, cols=cols, dataflow="os", act_bits=5, weight_bits=7, max_reduction_len=6
    )
    tiles = [(rand_int(rng, 5, (rows, k)), rand_int(rng, 7, (k, cols))) for k in (6, 1, 4)]
    beats = [beat for a, b in tiles for beat in os_beats(a, b)]
    pattern = [bool(v) for v in rng.integers(0, 2, size=13)]
    trace = run_streams(
        OutputStationaryArray(cfg),
        {"inputs": (beats, pattern + [True])},
        rows * len(tiles),
        out_pattern=pattern[::-1] + [True],
    )
    check_os_outputs(trace, [a @ b for a, b in tiles])


# --- processing elements -----------------------------------------------------------------------


def test_ws_pe_holds_when_disabled_and_computes_when_enabled():
    pe = WeightStationaryPE(act_bits=8, weight_bits=8, acc_bits=18)
    seen = []

    async def bench(ctx):
        ctx.set(pe.en, 1)
        ctx.set(pe.w_we, 1)
        ctx.set(pe.w_in, -128)
        await ctx.tick()
        ctx.set(pe.w_we, 0)
        ctx.set(pe.a_in, -128)
        ctx.set(pe.psum_in, 1000)
        await ctx.tick()
        seen.append((ctx.get(pe.a_out), ctx.get(pe.psum_out)))
        ctx.set(pe.en, 0)
        ctx.set(pe.a_in, 5)
        await ctx.tick()
        seen.append((ctx.get(pe.a_out), ctx.get(pe.psum_out)))

    sim = Simulator(pe)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(-128, 1000 + 128 * 128), (-128, 1000 + 128 * 128)]


def test_os_pe_restarts_on_first_and_ignores_invalid_steps():
    pe = OutputStationaryPE(act_bits=4, weight_bits=4, acc_bits=12)
    accs = []

    async def bench(ctx):
        for valid, first, a, b in [(1, 1, -8, -8), (1, 0, 7, -8), (0, 0, 7, 7), (1, 1, 3, 2)]:
            ctx.set(pe.valid, valid)
            ctx.set(pe.first, first)
            ctx.set(pe.a_in, a)
            ctx.set(pe.b_in, b)
            await ctx.tick()
            accs.append(ctx.get(pe.acc))

    sim = Simulator(pe)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert accs == [64, 64 - 56, 8, 6]
