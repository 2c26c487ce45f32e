"""Mappers: one contract suite for every mapper, the exhaustive optimum against a brute force
that knows nothing of the mapspace pruning, and the optimality gaps."""

import dataclasses
import functools
import itertools
import math

import numpy as np
import pytest

from codesign.arch import eyeriss, output_stationary, weight_stationary
from codesign.cost import evaluate, evaluate_one
from codesign.errors import MappingError, SpecError
from codesign.explore.mapper import (
    MAPPERS,
    ExhaustiveMapper,
    LocalSearchMapper,
    Mapper,
    make_mapper,
    with_exhaustive_gap,
)
from codesign.explore.mapspace import build_mapspace, factorizations
from codesign.mapping.dataflow import TEMPLATES, dim_roles
from codesign.mapping.mapping import MappingBatch
from codesign.workload import conv2d, matmul

CONV = conv2d("conv", in_channels=2, out_channels=4, input_size=(6, 6), kernel_size=3)
OS = output_stationary(2, 4, scratchpad_kib=1)
CASES = [
    (CONV, OS),
    (matmul("gemm", m=4, n=8, k=8), weight_stationary(2, 2, scratchpad_kib=1, accumulator_kib=1)),
    (CONV, eyeriss(2, 2, glb_kib=1, spad_words=16)),
    # the 2:4 array: 2 x 2 PEs, a pass covers K = 4 x 2 = 8
    (
        matmul("gemm", m=4, n=8, k=16, weight_density=0.5),
        weight_stationary(2, 2, scratchpad_kib=1, accumulator_kib=1, nm=(2, 4)),
    ),
]


@functools.cache
def _optimum(case, objective="edp"):
    return ExhaustiveMapper(objective=objective, limit=10**7).map(*CASES[case])


def _mapper(name, objective="edp", seed=0):
    return make_mapper(
        name, objective=objective, budget=1500 if name != "exhaustive" else 10**6, seed=seed
    )


# --- contract suite ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MAPPERS)
@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_result_is_a_valid_mapping_whose_cost_the_model_confirms(name, objective):
    nest, arch = CASES[0]
    m = _mapper(name, objective)
    assert isinstance(m, Mapper)
    r = m.map(nest, arch)
    report = evaluate_one(nest, arch, r.mapping)  # validates the mapping and its capacity
    assert report.fits
    assert r.cycles == report.cycles and r.energy_pj == pytest.approx(report.energy_pj)
    expected = {"latency": report.cycles, "energy": report.energy_pj, "edp": report.edp}
    assert r.value == pytest.approx(expected[objective])
    bound = {
        "latency": report.min_cycles,
        "energy": report.min_energy_pj,
        "edp": report.min_cycles * report.min_energy_pj,
    }[objective]
    assert r.lower_bound == pytest.approx(bound)
    assert r.value >= r.lower_bound and r.gap_to_bound == pytest.approx(r.value / bound - 1)
    assert r.layer == "conv" and r.objective == objective and r.evaluations > 0
    assert r.mapspace_size == build_mapspace(nest, arch).raw_size


@pytest.mark.parametrize("name", MAPPERS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_deterministic_for_a_seed_and_never_better_than_exhaustive(name, case):
    nest, arch = CASES[case]
    if name == "exhaustive":
        a = b = _optimum(case)
    else:
        a, b = _mapper(name).map(nest, arch), _mapper(name).map(nest, arch)
    assert (a.mapping, a.value, a.evaluations) == (b.mapping, b.value, b.evaluations)
    best = _optimum(case)
    assert a.value >= best.value * (1 - 1e-12)
    assert a.gap_to(best) >= -1e-12


@pytest.mark.parametrize("name", ["random", "local"])
def test_budget_bounds_the_evaluations(name):
    r = make_mapper(name, budget=500).map(*CASES[0])
    assert 0 < r.evaluations <= 500 + 200  # local search may finish its last neighbourhood


def test_local_search_reaches_the_exhaustive_optimum_on_small_layers():
    for case, (nest, arch) in enumerate(CASES):
        best = _optimum(case)
        r = LocalSearchMapper(budget=3000, seed=0).map(nest, arch)
        assert r.gap_to(best) <= 0.02, (arch.name, r.gap_to(best))


def test_nothing_fits_is_a_mapping_error():
    tiny = eyeriss(2, 2, glb_kib=1, spad_words=2)  # 32-bit spads cannot hold 3 x 16-bit tiles
    for name in MAPPERS:
        with pytest.raises(MappingError, match=r"^layer 'conv': no mapping fits architecture"):
            _mapper(name).map(CONV, tiny)


def test_bad_arguments():
    with pytest.raises(
        SpecError, match=r"^mapper must be one of \['exhaustive', 'random', 'local'\]"
    ):
        make_mapper("genetic")
    with pytest.raises(
        SpecError, match=r"^objective must be one of \['latency', 'energy', 'edp'\]"
    ):
        make_mapper("random", objective="power")
    with pytest.raises(SpecError, match=r"^budget must be a positive integer, not 0"):
        make_mapper("local", budget=0)
    with pytest.raises(SpecError, match=r"^seed must be a non-negative integer, not -1"):
        make_mapper("random", seed=-1)
    with pytest.raises(SpecError, match=r"^time_limit_s must be a positive number or None"):
        make_mapper("local", time_limit_s=0)
    big = conv2d("big", in_channels=64, out_channels=64, input_size=(56, 56), kernel_size=3)
    with pytest.raises(SpecError, match=r"^layer 'big': the mapspace has more than 1000"):
        ExhaustiveMapper(limit=1000).map(big, OS)


# --- the exhaustive optimum against an independent brute force ------------------------------------


def _brute_force_best(nest, arch, objective):
    """Every perfect-factor tiling of every dim over every slot, every dim order at every level;
    legality from the dataflow template and the array size, capacity from the cost model."""
    dims = nest.dim_names
    n_lv = len(arch.levels)
    slots = n_lv + 2
    per_dim = [factorizations(n, np.ones(slots, dtype=bool)) for _, n in nest.dims]
    template = TEMPLATES[arch.compute.dataflow]
    roles = dim_roles(nest)
    stat = nest.tensor(template.stationary).dims if template.stationary else frozenset()
    n_pe = arch.num_per_pe_levels
    tilings = []
    for combo in itertools.product(*per_dim):
        f = np.stack(combo, axis=1)  # (slots, D)
        if f[n_lv].prod() > arch.compute.rows or f[n_lv + 1].prod() > arch.compute.cols:
            continue
        if any(f[n_lv, i] > 1 and roles[d] not in template.rows for i, d in enumerate(dims)):
            continue
        if any(f[n_lv + 1, i] > 1 and roles[d] not in template.cols for i, d in enumerate(dims)):
            continue
        if any(f[:n_pe, i].prod() > 1 for i, d in enumerate(dims) if d in stat):
            continue
        tilings.append(f)
    orders = list(itertools.permutations(range(len(dims))))
    best = math.inf
    keep = np.array(
        [
            [r in lv.holds for r in ("inputs", "weights", "outputs") for _ in [0]]
            for lv in arch.levels
        ]
    )
    del keep
    keep = np.array(
        [
            [any(r.value == v for r in lv.holds) for v in ("inputs", "weights", "outputs")]
            for lv in arch.levels
        ]
    )
    for f in tilings:
        ords = np.array(list(itertools.product(orders, repeat=n_lv)), dtype=np.int64)
        b = len(ords)
        batch = MappingBatch(
            dims=dims,
            factors=np.broadcast_to(f, (b, *f.shape)).copy(),
            orders=ords,
            keep=np.broadcast_to(keep, (b, *keep.shape)).copy(),
        )
        cb = evaluate(nest, arch, batch)
        v = {"latency": cb.cycles, "energy": cb.energy_pj, "edp": cb.edp}[objective]
        v = np.where(cb.fits, v, np.inf)
        best = min(best, float(v.min()))
    return best


@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_exhaustive_equals_brute_force_over_every_tiling_and_order(objective):
    nest = matmul("tiny", m=4, n=2, k=4)
    arch = output_stationary(2, 2, scratchpad_kib=1)
    expected = _brute_force_best(nest, arch, objective)
    got = ExhaustiveMapper(objective=objective, limit=10**7).map(nest, arch)
    # the mapspace adds padded tilings, so it can only be as good or better
    assert got.value <= expected * (1 + 1e-12)
    unpadded = dataclasses.replace(
        build_mapspace(nest, arch, pad=False),
    )
    assert ExhaustiveMapper(objective=objective, limit=10**7).map_space(unpadded).value == (
        pytest.approx(expected, rel=1e-12)
    )


def test_innermost_class_pruning_loses_nothing_against_all_class_permutations():
    nest = conv2d("c", in_channels=2, out_channels=4, input_size=(4, 4), kernel_size=3)
    arch = output_stationary(2, 2, scratchpad_kib=1)
    space = build_mapspace(nest, arch)
    assert space.innermost_only and len(space.perms) == 3
    full = dataclasses.replace(
        space,
        perms=np.array(list(itertools.permutations(range(3))), dtype=np.int64),
        innermost_only=False,
    )
    ex = ExhaustiveMapper(limit=10**7)
    a, b = ex.map_space(space), ex.map_space(full)
    assert a.value == pytest.approx(b.value, rel=1e-12)
    assert a.evaluations < b.evaluations


def test_mapspace_reports_its_size():
    space = build_mapspace(*CASES[0])
    assert space.raw_size == space.num_tilings_raw * len(space.perms) ** len(OS.levels)
    n = ExhaustiveMapper(limit=10**7).count(*CASES[0])
    assert n == _optimum(0).evaluations
    assert 0 < n < space.raw_size


@pytest.mark.parametrize("name", ["random", "local"])
def test_wall_time_limit_stops_the_search_early(name):
    r = make_mapper(name, budget=10**7, time_limit_s=0.05).map(*CASES[0])
    assert 0 < r.evaluations < 10**7
    assert r.wall_s < 5.0  # stopped long before the evaluation budget


def test_results_carry_the_exhaustive_gap_where_the_space_is_small():
    r = LocalSearchMapper(budget=300, seed=0).map(*CASES[0])
    assert r.gap_to_exhaustive is None
    checked = with_exhaustive_gap(r, *CASES[0], limit=10**7)
    assert checked.exhaustive_value == _optimum(0).value
    assert checked.gap_to_exhaustive == pytest.approx(r.value / _optimum(0).value - 1)
    assert with_exhaustive_gap(r, *CASES[0], limit=10) == r  # too large: unchanged


def test_the_mapspace_of_an_nm_array_spans_its_dense_rows():
    # rows-spatial factors up to M x rows = 8 on the 2 x 2 2:4 array; the latency optimum
    # unrolls K8 (4 passes of 4 vectors instead of 8 on the dense 2 x 2 array)
    nest, arch = CASES[3]
    space = build_mapspace(nest, arch)
    n_lv = len(arch.levels)
    k = nest.dim_names.index("K")
    assert max(int(o[n_lv]) for o in space.options[k]) == 8
    best = ExhaustiveMapper(objective="latency", limit=10**7).map(nest, arch)
    assert dict(best.mapping.rows) == {"K": 8}
    dense = weight_stationary(2, 2, scratchpad_kib=1, accumulator_kib=1)
    dense_best = ExhaustiveMapper(objective="latency", limit=10**7).map(nest, dense)
    assert dict(dense_best.mapping.rows) == {"K": 2}
    assert best.cycles < dense_best.cycles
