"""The analytical model against hand derivations, invariants, sparsity and the timing contract.

The exhaustive comparison with the brute-force simulator is in ``test_reference.py``.
"""

from dataclasses import replace

import numpy as np
import pytest

from codesign.arch import (
    CompressionFormat,
    Sparsity,
    eyeriss,
    fpga_edge,
    output_stationary,
    weight_stationary,
)
from codesign.cost import (
    evaluate,
    evaluate_one,
    lower_bounds,
    os_tile_cycles,
    pass_overhead_cycles,
    sparse_ws_tile_cycles,
    stored_bits_per_element,
    systolic_tile_cycles,
    ws_tile_cycles,
)
from codesign.cost.systolic import ws_stream_cycles
from codesign.cost.timing import pass_overheads_cycles, pass_tail_cycles
from codesign.errors import MappingError, SpecError
from codesign.mapping import Dataflow, LevelMapping, Mapping
from codesign.mapping.sampling import random_mappings
from codesign.workload import TensorRole, conv2d, linear

I, W, O = TensorRole.INPUTS, TensorRole.WEIGHTS, TensorRole.OUTPUTS
# O[M, N] += I[M, K] * W[N, K] with M = N = K = 256
GEMM = linear("gemm256", in_features=256, out_features=256, leading=256)
MACS = 256**3


def _ws_mapping():
    # loops, outermost first: dram N16 | scratchpad K16 | spatial rows K16 x cols N16 |
    # weight_reg M256 (the streamed vectors of one pass)
    return Mapping(
        levels=(
            LevelMapping(name="weight_reg", loops=(("M", 256),)),
            LevelMapping(name="scratchpad", loops=(("K", 16),)),
            LevelMapping(name="dram", loops=(("N", 16),)),
        ),
        rows=(("K", 16),),
        cols=(("N", 16),),
    )


def _ws_mapping_n_inside_k():
    # `_ws_mapping` with N inside K: dram K16 | scratchpad N16 | rows K16 x cols N16 |
    # weight_reg M256 (inputs are re-read from DRAM for every N tile)
    m = _ws_mapping()
    return replace(
        m,
        levels=(
            m.levels[0],
            LevelMapping(name="scratchpad", loops=(("N", 16),)),
            LevelMapping(name="dram", loops=(("K", 16),)),
        ),
    )


def _energy(arch, report, stored=None):
    """Energy recomputed from the report's counts and the architecture's per-word energies."""
    bits = stored or {I: 8, W: 8, O: 32}
    total = report.macs * arch.compute.mac_energy_pj
    for lv in arch.levels:
        for r in (I, W, O):
            total += report.reads[lv.name][r.value] * bits[r] / lv.word_bits * lv.read_energy_pj
            total += report.writes[lv.name][r.value] * bits[r] / lv.word_bits * lv.write_energy_pj
    return total


def test_gemm256_on_16x16_weight_stationary_by_hand():
    arch = weight_stationary(16, 16)
    rep = evaluate_one(GEMM, arch, _ws_mapping())
    steps = 16 * 16 * 256  # temporal iterations: dram N16 x scratchpad K16 x weight_reg M256
    # Weights. Every PE reads its weight register at every step: 65,536 x 256 PEs = MACs.
    assert rep.reads["weight_reg"]["weights"] == steps * 256 == MACS
    # The register refills whenever K or N above it moves: 16 x 16 = 256 events per PE of one
    # weight each, 256 PEs; the scratchpad reads the 16 x 16 distinct weights of each event.
    assert rep.fills["weight_reg"]["weights"] == 256 * 256
    assert rep.reads["scratchpad"]["weights"] == 256 * 256
    # The scratchpad refills when N moves (16 events) with a K256 x N16 tile = 4096 weights:
    # every weight leaves DRAM once.
    assert rep.fills["scratchpad"]["weights"] == 16 * 4096 == 256 * 256
    assert rep.reads["dram"]["weights"] == 256 * 256
    # Inputs bypass the PE registers: each step the array reads the 16 distinct K values
    # (multicast across the 16 columns): 65,536 x 16.
    assert rep.reads["scratchpad"]["inputs"] == steps * 16 == 1_048_576
    # N (dram) does not index the inputs: the whole M256 x K256 input is loaded once.
    assert rep.fills["scratchpad"]["inputs"] == rep.reads["dram"]["inputs"] == 65_536
    # Outputs: each step the 16 columns write 16 sums (reduced over the 16 rows).
    assert rep.writes["accumulator"]["outputs"] == steps * 16
    # A sum is re-read unless it is the first visit of that output: distinct (M, N-tile) output
    # steps are 256 x 16 = 4096, so (65,536 - 4,096) x 16 reloads, plus the final read of the
    # accumulator tile (16 events when N moves, M256 x N16 = 4096 outputs) to write it to DRAM.
    assert rep.reads["accumulator"]["outputs"] == (steps - 4096) * 16 + 16 * 4096
    assert rep.writes["dram"]["outputs"] == 65_536 and rep.reads["dram"]["outputs"] == 0
    # Cycles: 256 passes (dram N16 x scratchpad K16) of ws_tile_cycles(16, 16, T=256) =
    # 16 (weight load) + 256 + 16 + 16 - 1 = 303.
    assert ws_tile_cycles(16, 16, 256) == 303
    assert rep.compute_cycles == 256 * 256
    assert rep.fill_drain_cycles == 256 * 47
    # Bandwidth never binds: scratchpad reads (1,048,576 + 65,536) x 8 bits / 128 = 69,632,
    # accumulator 1,048,576 x 32 / 512 = 65,536, DRAM writes 65,536 x 32 / 64 = 32,768.
    assert rep.level_cycles == {
        "weight_reg": 65_536,
        "accumulator": 65_536,
        "scratchpad": 69_632,
        "dram": 32_768,
    }
    assert rep.cycles == 256 * 303 == 77_568 and rep.stall_cycles == 0
    assert rep.min_cycles == MACS // 256
    assert rep.utilization == pytest.approx(MACS / (77_568 * 256))
    assert rep.energy_pj == pytest.approx(_energy(arch, rep))
    assert rep.edp == pytest.approx(rep.energy_pj * rep.cycles)
    # occupancy: scratchpad holds M256 x K256 inputs + K256 x N16 weights, 8 bits each
    assert rep.occupancy_bits["scratchpad"] == (65_536 + 4096) * 8
    assert rep.occupancy_bits["accumulator"] == 256 * 16 * 32
    assert rep.fits


def test_gemm256_on_16x16_weight_stationary_overlapped_passes_by_hand():
    # The same mapping with overlap_passes: each pass's weight load overlaps the previous
    # pass's drain (codesign.cost.systolic.ws_stream_cycles). 256 passes of T = 256 streamed
    # vectors: sum_i (rows + T_i) + rows + cols - 1 = 256 x (16 + 256) + 16 + 16 - 1
    # = 69,632 + 31 = 69,663 cycles, i.e. 256 x 16 + 31 = 4,127 of fill/drain instead of
    # 256 x 47 = 12,032: (256 - 1) x (16 + 16 - 1) = 7,905 fewer cycles.
    seq = evaluate_one(GEMM, weight_stationary(16, 16), _ws_mapping())
    rep = evaluate_one(GEMM, weight_stationary(16, 16, overlap_passes=True), _ws_mapping())
    assert ws_stream_cycles(16, 16, [256] * 256) == 256 * (16 + 256) + 31 == 69_663
    assert rep.compute_cycles == 256 * 256
    assert rep.fill_drain_cycles == 256 * 16 + 31 == 4_127
    assert seq.fill_drain_cycles - rep.fill_drain_cycles == 255 * 31 == 7_905
    # the scratchpad still needs 69,632 cycles (see the sequential case): it does not bind
    assert rep.level_cycles == seq.level_cycles and rep.level_cycles["scratchpad"] == 69_632
    assert rep.cycles == 69_663 and rep.stall_cycles == 0
    assert rep.utilization == pytest.approx(MACS / (69_663 * 256))
    # overlap changes the timing only: traffic, occupancy and energy are the sequential ones
    for name in ("reads", "writes", "fills", "occupancy_bits", "energy_pj", "mac_energy_pj"):
        assert getattr(rep, name) == getattr(seq, name), name
    assert rep.edp == pytest.approx(rep.energy_pj * 69_663)


def test_overlapped_passes_with_a_bandwidth_stall_and_a_skipping_array():
    # Overlap shortens only the busy time; a level that needs more cycles still sets the layer's
    # cycles (the bandwidth case below: DRAM 524,288 cycles, then the last pass's tail of
    # rows + cols - 1 = 31 cycles), and a skipping array's passes
    # shrink to ceil(T * density) beats each, overlapped the same way.
    arch = weight_stationary(16, 16, overlap_passes=True)
    rep = evaluate_one(GEMM, arch, _ws_mapping_n_inside_k())
    assert rep.compute_cycles + rep.fill_drain_cycles == 69_663
    assert rep.cycles == 524_288 + 31 and rep.stall_cycles == 524_288 + 31 - 69_663
    sparse = replace(
        GEMM, tensors=tuple(replace(t, density=0.3) if t.role is W else t for t in GEMM.tensors)
    )
    skip = replace(
        arch, compute=replace(arch.compute, sparsity=Sparsity.SKIP, sparse_operands=frozenset({W}))
    )
    rep = evaluate_one(sparse, skip, _ws_mapping())
    t = 77  # ceil(256 x 0.3) = ceil(76.8)
    assert rep.compute_cycles == 256 * t
    assert rep.compute_cycles + rep.fill_drain_cycles == ws_stream_cycles(16, 16, [t] * 256)


def test_gemm256_on_16x16_output_stationary_by_hand():
    arch = output_stationary(16, 16)
    # loops, outermost first: dram M16 | scratchpad N16 | rows M16 x cols N16 | accum_reg K256
    mapping = Mapping(
        levels=(
            LevelMapping(name="accum_reg", loops=(("K", 256),)),
            LevelMapping(name="scratchpad", loops=(("N", 16),)),
            LevelMapping(name="dram", loops=(("M", 16),)),
        ),
        rows=(("M", 16),),
        cols=(("N", 16),),
    )
    rep = evaluate_one(GEMM, arch, mapping)
    steps = 16 * 16 * 256
    # Every PE accumulates into its own register every step (256 PEs); the first step of each of
    # its 256 outputs (M16 x N16 tiles) starts from zero, the others re-read the sum; the
    # register is read once more per output to drain it (256 events x 256 PEs).
    assert rep.writes["accum_reg"]["outputs"] == steps * 256 == MACS
    assert rep.reads["accum_reg"]["outputs"] == (steps - 256) * 256 + 256 * 256
    # Drained outputs: 256 events x 256 PEs, never reloaded (K is entirely inside the PE).
    assert rep.writes["scratchpad"]["outputs"] == 65_536
    assert rep.reads["scratchpad"]["outputs"] == 16 * 4096  # written back to DRAM when M moves
    assert rep.writes["dram"]["outputs"] == 65_536 and rep.reads["dram"]["outputs"] == 0
    # Each step the array reads 16 distinct inputs (rows) and 16 distinct weights (columns).
    assert rep.reads["scratchpad"]["inputs"] == steps * 16
    assert rep.reads["scratchpad"]["weights"] == steps * 16
    # The scratchpad refills inputs when M (dram) moves: 16 x (M16 x K256); N does not move
    # weights' tile... M does not index the weights, so all 65,536 weights are loaded once.
    assert rep.fills["scratchpad"]["inputs"] == 16 * 4096
    assert rep.fills["scratchpad"]["weights"] == 65_536
    assert rep.reads["dram"]["inputs"] == rep.reads["dram"]["weights"] == 65_536
    # 256 passes of os_tile_cycles(16, 16, K=256) = 256 + 16 + 16 - 2 + 16 = 302.
    assert os_tile_cycles(16, 16, 256) == 302
    assert rep.cycles == 256 * 302 == 77_312 and rep.stall_cycles == 0
    assert rep.fill_drain_cycles == 256 * 46
    assert rep.energy_pj == pytest.approx(_energy(arch, rep))
    assert rep.occupancy_bits["scratchpad"] == 4096 * 8 + 65_536 * 8 + 4096 * 32


def test_bandwidth_stall_by_hand():
    # Same WS mapping but N inside K: inputs are now re-read from DRAM for every N tile.
    arch = weight_stationary(16, 16)
    m = _ws_mapping_n_inside_k()
    rep = evaluate_one(GEMM, arch, m)
    # Loops, outermost first: dram K16 | scratchpad N16 | rows K16 x cols N16 | weight_reg M256.
    # Inputs: K indexes them, 16 events of an M256 x K16 tile = each input read once.
    # Outputs: above the accumulator run K16 then N16; N is the innermost loop indexing them,
    # so 16 x 16 = 256 visits of an M256 x N16 tile (4096 sums), of which 16 are first visits:
    # 256 write-backs and 240 reloads of partial sums from DRAM.
    assert rep.reads["dram"]["inputs"] == 65_536
    assert rep.writes["dram"]["outputs"] == 256 * 4096
    assert rep.reads["dram"]["outputs"] == (256 - 16) * 4096
    # DRAM writes 1,048,576 x 32 bits / 64 per cycle = 524,288 cycles > 77,568 of compute;
    # the last pass's tail (its drain after its last input beat, rows + cols - 1 = 31 on a
    # 16x16 WS array) cannot overlap the transfers: 524,288 + 31 cycles.
    assert rep.level_cycles["dram"] == 524_288
    assert rep.cycles == 524_319 and rep.stall_cycles == 524_319 - 77_568

    # On a non-systolic array of the same shape a pass has no tail: exactly the DRAM cycles.
    flat = replace(arch, compute=replace(arch.compute, systolic=False))
    rep = evaluate_one(GEMM, flat, m)
    assert rep.compute_cycles + rep.fill_drain_cycles == 65_536
    assert rep.level_cycles["dram"] == 524_288 and rep.cycles == 524_288


def test_pass_tail_cycles_from_the_contract():
    # WS/IS: a tile's latency after its last input beat (the weight load precedes the stream);
    # OS: after its last reduction beat (skew of the last MAC plus the drain of `rows` rows).
    for rows, cols, t in [(16, 16, 256), (3, 5, 7), (8, 8, 1)]:
        for df in (Dataflow.WEIGHT_STATIONARY, Dataflow.INPUT_STATIONARY):
            assert pass_tail_cycles(df, rows, cols, True) == ws_tile_cycles(rows, cols, t) - (
                rows + t
            )
            assert pass_tail_cycles(df, rows, cols, True) == rows + cols - 1
        df = Dataflow.OUTPUT_STATIONARY
        assert pass_tail_cycles(df, rows, cols, True) == os_tile_cycles(rows, cols, t) - t
        assert pass_tail_cycles(df, rows, cols, True) == 2 * rows + cols - 2
        assert pass_tail_cycles(df, rows, cols, False) == 0


def test_timing_contract_functions():
    for rows, cols, t in [(16, 16, 256), (3, 5, 7), (1, 1, 1)]:
        assert systolic_tile_cycles(Dataflow.WEIGHT_STATIONARY, rows, cols, t) == (
            rows + t + rows + cols - 1
        )
        assert systolic_tile_cycles(Dataflow.INPUT_STATIONARY, rows, cols, t) == (
            ws_tile_cycles(rows, cols, t)
        )
        assert systolic_tile_cycles(Dataflow.OUTPUT_STATIONARY, rows, cols, t) == (
            t + rows + cols - 2 + rows
        )
    assert pass_overhead_cycles(Dataflow.WEIGHT_STATIONARY, 16, 16, True) == 47
    assert pass_overhead_cycles(Dataflow.OUTPUT_STATIONARY, 16, 16, True) == 46
    assert pass_overhead_cycles(Dataflow.ROW_STATIONARY, 12, 14, False) == 0
    with pytest.raises(SpecError, match=r"^dataflow must be one of \['ws', 'is', 'os'\]"):
        systolic_tile_cycles(Dataflow.ROW_STATIONARY, 2, 2, 4)


def test_back_to_back_contract_and_overlapped_pass_overheads():
    # ws_stream_cycles against a cycle-by-cycle timeline built from ws_tile_cycles: tile i
    # starts its weight load at s_i, its last input enters at s_i + rows + T_i - 1, the next
    # load starts the cycle after; the stream ends when the last tile's last output leaves.
    for rows, cols, lens in [(16, 16, [256] * 3), (3, 5, [7, 1, 4]), (1, 1, [1]), (4, 2, [2, 9])]:
        start, end = 0, 0
        for t in lens:
            end = max(end, start + ws_tile_cycles(rows, cols, t))
            start += rows + t
        assert ws_stream_cycles(rows, cols, lens) == end
        assert ws_stream_cycles(rows, cols, lens[:1]) == ws_tile_cycles(rows, cols, lens[0])
    assert ws_stream_cycles(4, 4, (5, 5, 5, 5)) == 4 * (4 + 5) + 4 + 4 - 1 == 43
    ws, is_, os_ = Dataflow.WEIGHT_STATIONARY, Dataflow.INPUT_STATIONARY, Dataflow.OUTPUT_STATIONARY
    assert pass_overheads_cycles(ws, 16, 16, True, True) == (16, 31)
    assert pass_overheads_cycles(is_, 3, 5, True, True) == (3, 7)
    assert pass_overheads_cycles(ws, 16, 16, True) == (47, 0)
    assert pass_overheads_cycles(os_, 16, 16, True, False) == (46, 0)
    assert pass_overheads_cycles(Dataflow.ROW_STATIONARY, 2, 2, False) == (0, 0)
    with pytest.raises(
        SpecError, match=r"^compute\.overlap_passes must be false for a systolic 'os'"
    ):
        pass_overheads_cycles(os_, 4, 4, True, True)
    with pytest.raises(
        SpecError, match=r"^compute\.overlap_passes must be false for a non-systolic"
    ):
        pass_overheads_cycles(ws, 4, 4, False, True)
    with pytest.raises(SpecError, match=r"^stream_lens must hold at least one tile's stream"):
        ws_stream_cycles(4, 4, [])
    with pytest.raises(SpecError, match=r"^stream_lens\[1\] must be a positive integer, not 0$"):
        ws_stream_cycles(4, 4, [3, 0])
    with pytest.raises(SpecError, match=r"^stream_lens must be a sequence of positive integers"):
        ws_stream_cycles(4, 4, 5)


CONV = conv2d("c3", in_channels=16, out_channels=32, input_size=(10, 10), kernel_size=3, padding=1)
ARCHS = [weight_stationary(4, 4), output_stationary(4, 8), eyeriss(3, 4), fpga_edge(4, 4)]


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
def test_invariants_on_random_mappings(arch):
    batch = random_mappings(CONV, arch, 3000, seed=11)
    cb = evaluate(CONV, arch, batch)
    assert cb.fits.any() and len(cb) == 3000
    dram = len(arch.levels) - 1
    assert (cb.reads[:, dram, 0] >= CONV.elements(I)).all()
    assert (cb.reads[:, dram, 1] >= CONV.elements(W)).all()
    assert (cb.writes[:, dram, 2] >= CONV.elements(O)).all()
    assert (cb.cycles >= CONV.macs / arch.compute.pes).all()
    assert (cb.cycles >= cb.min_cycles).all()
    assert (cb.energy_pj >= cb.min_energy_pj * (1 - 1e-12)).all()
    assert (cb.utilization <= 1).all()
    assert (cb.padded_macs == CONV.macs).all()
    assert np.allclose(cb.edp, cb.energy_pj * cb.cycles)
    assert np.array_equal(cb.cycles, cb.compute_cycles + cb.fill_drain_cycles + cb.stall_cycles)
    # wider tensors cost more energy for the same mappings
    wide_arch = replace(arch, compute=replace(arch.compute, input_bits=16, weight_bits=16))
    wide = evaluate(CONV.with_bits(inputs=16, weights=16), wide_arch, batch)
    assert (wide.energy_pj > cb.energy_pj).all()
    assert (wide.occupancy_bits >= cb.occupancy_bits).all()


def test_padding_counts_as_wasted_macs():
    arch = weight_stationary(4, 4)
    nest = linear("g", in_features=30, out_features=32, leading=8)  # K = 30 padded to 32
    m = Mapping(
        levels=(
            LevelMapping(name="weight_reg", loops=(("M", 8),)),
            LevelMapping(name="dram", loops=(("N", 8), ("K", 8))),
        ),
        rows=(("K", 4),),
        cols=(("N", 4),),
    )
    rep = evaluate_one(nest, arch, m)
    assert rep.macs == 8 * 32 * 30 and rep.padded_macs == 8 * 32 * 32
    assert rep.utilization == pytest.approx(rep.macs / (rep.cycles * 16))


def test_capacity_overflow_is_flagged_and_raised():
    arch = weight_stationary(16, 16, scratchpad_kib=32)
    batch = random_mappings(GEMM, arch, 500, seed=0)
    cb = evaluate(GEMM, arch, batch)
    sizes = np.array([lv.size_bits or np.inf for lv in arch.levels])
    assert np.array_equal(cb.fits, (cb.occupancy_bits <= sizes).all(axis=1))
    assert not cb.fits.all()
    with pytest.raises(MappingError, match=r"^mapping: level 'scratchpad' tiles need 557,056 bits"):
        evaluate_one(GEMM, arch, _ws_mapping())
    rep = evaluate_one(GEMM, arch, _ws_mapping(), allow_overflow=True)
    assert not rep.fits


def test_operands_wider_than_the_array_are_rejected():
    with pytest.raises(SpecError, match=r"^layer 'gemm256': inputs bits 16 exceed the array's"):
        evaluate_one(GEMM.with_bits(inputs=16), weight_stationary(16, 16), _ws_mapping())


def test_lower_bounds_by_hand():
    arch = weight_stationary(16, 16)
    cycles, energy = lower_bounds(GEMM, arch)
    dram = arch.levels[-1]
    # each tensor moved once: 65,536 8-bit inputs and weights read, 65,536 32-bit outputs
    # written, in 64-bit words
    expected = MACS * arch.compute.mac_energy_pj + (65_536 * 8 * 2 + 65_536 * 32) / 64 * (
        dram.read_energy_pj
    )
    assert cycles == MACS // 256 and energy == pytest.approx(expected)
    rep = evaluate_one(GEMM, arch, _ws_mapping())
    assert rep.cycles_over_bound == pytest.approx(303 / 256)
    assert rep.energy_over_bound == pytest.approx(rep.energy_pj / expected)


def test_dense_array_ignores_density_and_gating_saves_mac_energy_only():
    arch = weight_stationary(16, 16)
    sparse = GEMM.with_density(inputs=0.5, weights=0.25)
    dense = evaluate_one(GEMM, arch, _ws_mapping())
    assert evaluate_one(sparse, arch, _ws_mapping()) == replace(dense, layer=sparse.name)
    gate = replace(
        arch,
        compute=replace(arch.compute, sparsity=Sparsity.GATE, sparse_operands=frozenset({I, W})),
    )
    g = evaluate_one(sparse, gate, _ws_mapping())
    assert g.cycles == dense.cycles
    assert g.mac_energy_pj == pytest.approx(dense.mac_energy_pj * 0.5 * 0.25)
    assert g.energy_pj == pytest.approx(dense.energy_pj - dense.mac_energy_pj * (1 - 0.125))


def test_skipping_shortens_each_pass():
    arch = weight_stationary(16, 16)
    skip = replace(
        arch, compute=replace(arch.compute, sparsity=Sparsity.SKIP, sparse_operands=frozenset({W}))
    )
    rep = evaluate_one(GEMM.with_density(weights=0.3), skip, _ws_mapping())
    # each of the 256 passes streams ceil(256 x 0.3) = 77 effectual vectors, plus the fill/drain
    assert rep.compute_cycles == 256 * 77 and rep.fill_drain_cycles == 256 * 47
    assert rep.mac_energy_pj == pytest.approx(MACS * 0.3 * arch.compute.mac_energy_pj)
    assert rep.min_cycles == int(np.ceil(MACS * 0.3 / 256))


@pytest.mark.parametrize(
    "fmt,bits_per_element",
    [
        (CompressionFormat.DENSE, 8.0),
        (CompressionFormat.BITMASK, 0.25 * 8 + 1),
        (CompressionFormat.RLE, 0.25 * (8 + 4)),
        (CompressionFormat.CSR, 0.25 * (8 + 4)),
    ],
)
def test_compressed_formats_carry_metadata(fmt, bits_per_element):
    arch = replace(weight_stationary(16, 16), weight_format=fmt, index_bits=4)
    nest = GEMM.with_density(weights=0.25)
    assert stored_bits_per_element(nest.weights, fmt, 4) == pytest.approx(bits_per_element)
    rep = evaluate_one(nest, arch, _ws_mapping())
    dram = arch.levels[-1]
    assert rep.energy_by_level_pj["dram"]["weights"] == pytest.approx(
        65_536 * bits_per_element / 64 * dram.read_energy_pj
    )
    assert rep.occupancy_bits["weight_reg"] == pytest.approx(bits_per_element)
    stored = {I: 8, W: bits_per_element, O: 32}
    assert rep.energy_pj == pytest.approx(_energy(arch, rep, stored))


def test_report_format_and_dict():
    rep = evaluate_one(GEMM, weight_stationary(16, 16), _ws_mapping())
    text = rep.format()
    assert "cycles 77,568 = compute 65,536 + fill/drain 12,032 + stall 0" in text
    d = rep.to_dict()
    assert d["cycles"] == 77_568 and d["reads"]["dram"]["inputs"] == 65_536
    assert d["latency_s"] == pytest.approx(77_568 / 1e9)


def test_empty_batch_and_narrow_integer_arrays():
    arch = weight_stationary(4, 4)
    batch = random_mappings(CONV, arch, 50, seed=1)
    empty = evaluate(CONV, arch, batch.take(slice(0, 0)))
    assert len(empty) == 0 and empty.reads.shape == (0, 4, 3)
    narrow = replace(
        batch, factors=batch.factors.astype(np.int16), orders=batch.orders.astype(np.int8)
    )
    a, b = evaluate(CONV, arch, batch), evaluate(CONV, arch, narrow)
    for name in ("reads", "writes", "fills", "cycles", "energy_pj", "occupancy_bits"):
        assert np.array_equal(getattr(a, name), getattr(b, name))


def test_gemm_on_a_4x4_2_4_sparse_array_by_hand():
    # O[M, N] += I[M, K] * W[N, K], M = 5, N = 8, K = 32, weights pruned 2:4 (density 1/2), on
    # the 4 x 4 2:4 array (the sparse24 RTL): each PE serves M = 4 lanes of K with N = 2
    # multipliers, so a pass covers a dense reduction depth of 4 x 4 = 16.
    # Loops, outermost first: scratchpad K2, N2 | rows K16 x cols N4 | weight_reg M5.
    nest = linear("g", in_features=32, out_features=8, leading=5, weight_density=0.5)
    arch = weight_stationary(4, 4, nm=(2, 4))
    m = Mapping(
        levels=(
            LevelMapping(name="weight_reg", loops=(("M", 5),)),
            LevelMapping(name="scratchpad", loops=(("K", 2), ("N", 2))),
        ),
        rows=(("K", 16),),
        cols=(("N", 4),),
    )
    rep = evaluate_one(nest, arch, m)
    # Cycles: 2 x 2 = 4 passes of T = 5 streamed vectors on the physical 4 x 4 array, each
    # rows + T + rows + cols - 1 = 4 + 5 + 4 + 4 - 1 = 16 cycles (sparse_ws_tile_cycles).
    assert sparse_ws_tile_cycles(4, 4, 5) == 16
    assert rep.compute_cycles == 4 * 5 and rep.fill_drain_cycles == 4 * 11
    # DRAM reads 160 inputs x 8 + 256 weights x 5 + 40 partial sums x 32 = 3,840 bits / 64
    # per cycle = 60 cycles; the last pass's tail (rows + cols - 1 = 7) cannot overlap them:
    # max(64, 60 + 7) = 67, a stall of 3.
    assert rep.level_cycles["dram"] == 60
    assert rep.cycles == 67 and rep.stall_cycles == 3
    # 1,280 dense MACs over 67 cycles x 16 PEs x 4 lanes; lower bound 1,280 / 64 = 20 cycles
    assert rep.macs == rep.padded_macs == 5 * 8 * 32 == 1280
    assert rep.utilization == 1280 / (67 * 64) and rep.min_cycles == 20
    # MAC energy: only the 2 of every 4 products the multipliers compute
    assert rep.mac_energy_pj == pytest.approx(640 * arch.compute.mac_energy_pj)
    # Weights: 8 x 32 = 256 dense elements, each moved once DRAM -> scratchpad -> register
    # (N and K both vary across passes); the register is read by every lane at every step:
    # 64 lanes x 5 steps x 4 passes = 1,280. Stored 2:4: 1/2 x (8 + 2) = 5 bits per element.
    assert rep.reads["dram"]["weights"] == rep.fills["scratchpad"]["weights"] == 256
    assert rep.reads["scratchpad"]["weights"] == rep.fills["weight_reg"]["weights"] == 256
    assert rep.reads["weight_reg"]["weights"] == 1280
    dram, reg = arch.levels[3], arch.levels[0]
    assert rep.energy_by_level_pj["dram"]["weights"] == pytest.approx(
        256 * 5 / 64 * dram.read_energy_pj
    )
    assert rep.energy_by_level_pj["weight_reg"]["weights"] == pytest.approx(
        1280 * 5 / 20 * reg.read_energy_pj + 256 * 5 / 20 * reg.write_energy_pj
    )
    # A PE's register holds its 4 lanes' weights: 4 x 5 = 20 bits = 2 values + 2 indices,
    # exactly its capacity. Per PE it reads 4 lanes x 20 steps x 5 bits = 400 bits at 20 bits
    # per cycle: 20 cycles (the compute time; 16 PEs share the 64 lanes' traffic).
    assert rep.occupancy_bits["weight_reg"] == 20 == reg.size_bits and rep.fits
    assert rep.level_cycles["weight_reg"] == 20
    # Inputs: the M5 x K16 tile is refilled when K moves (2 x 80 = all 160 once); every pass
    # reads 5 steps x 16 K values = 80 from the scratchpad (multicast over the 4 columns).
    assert rep.reads["dram"]["inputs"] == rep.fills["scratchpad"]["inputs"] == 160
    assert rep.reads["scratchpad"]["inputs"] == 4 * 80
    # the scratchpad's tile spans its own loops: inputs M5 x K32 x 8 bits + weights
    # N8 x K32 x 5 bits (2:4 compressed)
    assert rep.occupancy_bits["scratchpad"] == 160 * 8 + 256 * 5
    # the dense 4 x 4 array reaches depth 4 only: the mapping does not fit ...
    with pytest.raises(MappingError, match=r"^mapping 0: rows spatial factors multiply to 16"):
        evaluate_one(nest, weight_stationary(4, 4), m)
    # ... and needs K8 at the scratchpad: 16 passes of 16 cycles = 256 cycles, 4x as many
    dense_m = replace(
        m,
        levels=(m.levels[0], LevelMapping(name="scratchpad", loops=(("K", 8), ("N", 2)))),
        rows=(("K", 4),),
    )
    assert evaluate_one(nest, weight_stationary(4, 4), dense_m).cycles == 256


def test_nm_array_limits_and_checks():
    arch = weight_stationary(4, 4, nm=(2, 4))
    m = Mapping(levels=(LevelMapping(name="weight_reg", loops=(("M", 5),)),), rows=(("K", 32),))
    nest = linear("g", in_features=32, out_features=1, leading=5, weight_density=0.5)
    with pytest.raises(
        MappingError,
        match=r"^mapping 0: rows spatial factors multiply to 32, more than the array's 16 rows "
        r"\(4 rows x 4 N:M lanes\)$",
    ):
        evaluate_one(nest, arch, m)
    dense = linear("g", in_features=32, out_features=1, leading=5)
    with pytest.raises(
        SpecError,
        match=r"^layer 'g': weights density 1 exceeds the array's compute\.nm 2:4 \(at most "
        r"0\.5\); prune the weights 2:4 or use a dense array$",
    ):
        evaluate(dense, arch, random_mappings(dense, arch, 1, seed=0))
    # a rows fan-out below M: the PE holds only the lanes in use (6 = 4 + 2 lanes: 4 in PE 0)
    for k, lanes in ((2, 2), (6, 4)):
        nest = linear("g", in_features=k, out_features=1, leading=5, weight_density=0.5)
        mk = replace(m, rows=(("K", k),))
        assert evaluate_one(nest, arch, mk).occupancy_bits["weight_reg"] == lanes * 5
    # lower bounds: M x rows x cols dense MACs per cycle, MACs at N/M energy, 5-bit weights
    nest = linear("g", in_features=64, out_features=8, leading=10, weight_density=0.25)
    cycles, energy = lower_bounds(nest, arch)
    assert cycles == 64 * 8 * 10 // 64
    dram = arch.levels[-1]
    expect = 5120 / 2 * arch.compute.mac_energy_pj
    expect += (640 * 8 + 512 * 5) / 64 * dram.read_energy_pj + 80 * 32 / 64 * dram.write_energy_pj
    assert energy == pytest.approx(expect)
    assert stored_bits_per_element(nest.weights, CompressionFormat.DENSE, 4, (2, 4)) == 5.0
    assert stored_bits_per_element(nest.weights, CompressionFormat.DENSE, 4, (1, 8)) == 11 / 8
