"""Mapping, MappingBatch, validation messages, YAML I/O, dataflow templates and sampling."""

import numpy as np
import pytest

from codesign.arch import eyeriss, output_stationary, weight_stationary
from codesign.errors import MappingError, SpecError
from codesign.mapping import (
    TEMPLATES,
    Dataflow,
    LevelMapping,
    Mapping,
    MappingBatch,
    dim_roles,
    load_mapping,
    mapping_from_dict,
    mapping_to_dict,
    save_mapping,
    validate_batch,
)
from codesign.mapping.sampling import factorizations, random_mappings
from codesign.workload import TensorRole, conv2d, linear

I, W, O = TensorRole.INPUTS, TensorRole.WEIGHTS, TensorRole.OUTPUTS
GEMM = linear("g", in_features=32, out_features=32, leading=32)  # dims M N K
WS = weight_stationary(4, 4)


def ws_mapping(**over):
    base = dict(
        levels=(
            LevelMapping(name="weight_reg", loops=(("M", 32),)),
            LevelMapping(name="scratchpad", loops=(("K", 8),)),
            LevelMapping(name="dram", loops=(("N", 8),)),
        ),
        rows=(("K", 4),),
        cols=(("N", 4),),
    )
    base.update(over)
    return Mapping(**base)


def check(mapping, nest=GEMM, arch=WS):
    validate_batch(nest, arch, MappingBatch.from_mappings(nest, arch, [mapping]))


def test_dim_roles_classify_conv_and_gemm():
    conv = conv2d("c", in_channels=8, out_channels=8, input_size=(6, 6), kernel_size=3, groups=2)
    roles = dim_roles(conv)
    assert roles["C"] == roles["R"] == roles["S"] == {I, W}
    assert roles["K"] == {W, O} and roles["P"] == roles["N"] == {I, O}
    assert roles["G"] == {I, W, O}
    assert dim_roles(GEMM) == {"M": {I, O}, "N": {W, O}, "K": {I, W}}
    assert TEMPLATES[Dataflow.WEIGHT_STATIONARY].stationary is W
    assert TEMPLATES[Dataflow.OUTPUT_STATIONARY].stationary is O


def test_batch_round_trip_and_arrays():
    m = ws_mapping()
    batch = MappingBatch.from_mappings(GEMM, WS, [m, m])
    assert batch.factors.shape == (2, 6, 3) and batch.orders.shape == (2, 4, 3)
    assert batch.factors[0, 0].tolist() == [32, 1, 1]  # weight_reg: M=32
    assert batch.factors[0, 4].tolist() == [1, 1, 4]  # rows: K=4
    assert batch.factors[0, 5].tolist() == [1, 4, 1]  # cols: N=4
    assert batch.keep[0].tolist() == [
        [False, True, False],
        [False, False, True],
        [True, True, False],
        [True, True, True],
    ]
    back = batch.mapping(1, WS)
    again = MappingBatch.from_mappings(GEMM, WS, [back])
    for name in ("factors", "orders", "keep"):
        assert np.array_equal(getattr(again, name)[0], getattr(batch, name)[1])
    assert len(batch.take([1])) == 1
    validate_batch(GEMM, WS, batch)


def test_yaml_and_json_round_trip(tmp_path):
    m = ws_mapping(levels=(LevelMapping(name="dram", loops=(("N", 8), ("M", 32)), keep=None),))
    for suffix in (".yaml", ".json"):
        assert load_mapping(save_mapping(m, tmp_path / f"m{suffix}")) == m
    d = mapping_to_dict(ws_mapping())
    assert mapping_from_dict(d) == ws_mapping()


def test_mapping_file_errors(tmp_path):
    with pytest.raises(SpecError, match=r"^levles is not a mapping field"):
        mapping_from_dict({"version": 1, "levles": {}})
    with pytest.raises(SpecError, match=r"^levels\.dram\.loops\.N must be an integer from 1 to"):
        mapping_from_dict({"version": 1, "levels": {"dram": {"loops": {"N": 0}}}})
    with pytest.raises(SpecError, match=r"^levels\.dram\.keep must be a list of"):
        mapping_from_dict({"version": 1, "levels": {"dram": {"keep": ["psums"]}}})
    with pytest.raises(SpecError, match=r"^levels\.dram\.order is not a field"):
        mapping_from_dict({"version": 1, "levels": {"dram": {"order": []}}})
    with pytest.raises(SpecError, match=r"^version must be 1"):
        mapping_from_dict({"levels": {}})
    p = tmp_path / "m.yaml"
    p.write_text("version: 1\nrows: {K: 4}\nrows: {K: 2}\n")
    with pytest.raises(SpecError, match=r"^duplicate key 'rows'"):
        load_mapping(p)


def test_factor_product_must_cover_each_dim_and_padding_is_allowed():
    with pytest.raises(MappingError, match=r"^mapping 0: factors of dim N multiply to 16, must be"):
        check(ws_mapping(cols=(("N", 2),)))
    padded = ws_mapping(
        levels=(
            LevelMapping(name="weight_reg", loops=(("M", 33),)),
            LevelMapping(name="scratchpad", loops=(("K", 8),)),
            LevelMapping(name="dram", loops=(("N", 8),)),
        )
    )
    check(padded)


def test_spatial_fan_out_and_template_errors():
    with pytest.raises(MappingError, match=r"^mapping 0: rows spatial factors multiply to 8, more"):
        check(
            ws_mapping(
                rows=(("K", 8),),
                levels=(
                    LevelMapping(name="weight_reg", loops=(("M", 32),)),
                    LevelMapping(name="scratchpad", loops=(("K", 4),)),
                    LevelMapping(name="dram", loops=(("N", 8),)),
                ),
            )
        )
    with pytest.raises(MappingError, match=r"^mapping 0: rows may not unroll dim M under dataflow"):
        check(
            ws_mapping(
                rows=(("M", 4),),
                levels=(
                    LevelMapping(name="weight_reg", loops=(("M", 8),)),
                    LevelMapping(name="scratchpad", loops=(("K", 32),)),
                    LevelMapping(name="dram", loops=(("N", 8),)),
                ),
            )
        )
    with pytest.raises(MappingError, match=r"^mapping 0: per-PE levels may not loop over dims of"):
        check(
            ws_mapping(
                levels=(
                    LevelMapping(name="weight_reg", loops=(("M", 32), ("K", 2))),
                    LevelMapping(name="scratchpad", loops=(("K", 4),)),
                    LevelMapping(name="dram", loops=(("N", 8),)),
                )
            )
        )
    with pytest.raises(MappingError, match=r"^mapping 0: a per-PE level must keep the stationary"):
        check(
            ws_mapping(
                levels=(
                    LevelMapping(name="weight_reg", loops=(("M", 32),), keep=frozenset()),
                    LevelMapping(name="scratchpad", loops=(("K", 8),)),
                    LevelMapping(name="dram", loops=(("N", 8),)),
                )
            )
        )


def test_level_keep_and_name_errors():
    with pytest.raises(MappingError, match=r"^mapping 0: level 'weight_reg' keep must be within"):
        check(
            ws_mapping(
                levels=(
                    LevelMapping(name="weight_reg", loops=(("M", 32),), keep=frozenset({I, W})),
                    LevelMapping(name="scratchpad", loops=(("K", 8),)),
                    LevelMapping(name="dram", loops=(("N", 8),)),
                )
            )
        )
    with pytest.raises(MappingError, match=r"^mapping 0: level 'dram' keep must include every"):
        check(
            ws_mapping(
                levels=(
                    LevelMapping(name="weight_reg", loops=(("M", 32),)),
                    LevelMapping(name="scratchpad", loops=(("K", 8),)),
                    LevelMapping(name="dram", loops=(("N", 8),), keep=frozenset({I, W})),
                )
            )
        )
    with pytest.raises(MappingError, match=r"^mapping 0: level name must be one of"):
        check(ws_mapping(levels=(LevelMapping(name="glb"),)))
    with pytest.raises(MappingError, match=r"^mapping 0: levels\['dram'\]: dim must be one of"):
        check(ws_mapping(levels=(LevelMapping(name="dram", loops=(("Z", 2),)),)))
    with pytest.raises(SpecError, match=r"^levels\['dram'\]\.loops: dim N is listed twice"):
        LevelMapping(name="dram", loops=(("N", 2), ("N", 4)))
    with pytest.raises(SpecError, match=r"^levels: level 'dram' is listed twice"):
        Mapping(levels=(LevelMapping(name="dram"), LevelMapping(name="dram")))
    with pytest.raises(SpecError, match=r"^rows: factor of dim K must be a positive integer"):
        Mapping(rows=(("K", 0),))


def test_batch_array_errors():
    batch = MappingBatch.from_mappings(GEMM, WS, [ws_mapping()] * 3)
    orders = batch.orders.copy()
    orders[2, 1] = [0, 0, 1]
    bad = MappingBatch(dims=batch.dims, factors=batch.factors, orders=orders, keep=batch.keep)
    with pytest.raises(
        MappingError, match=r"^mapping 2: orders must be permutations of range\(3\)"
    ):
        validate_batch(GEMM, WS, bad)
    factors = batch.factors.copy()
    factors[1, 2, 0] = 0
    bad = MappingBatch(dims=batch.dims, factors=factors, orders=batch.orders, keep=batch.keep)
    with pytest.raises(MappingError, match=r"^mapping 1: factors must be positive integers"):
        validate_batch(GEMM, WS, bad)
    with pytest.raises(SpecError, match=r"^orders must have shape \(3, 4, 3\)"):
        MappingBatch(dims=batch.dims, factors=batch.factors, orders=orders[:, :2], keep=batch.keep)
    with pytest.raises(MappingError, match=r"^mapping levels must number 3"):
        validate_batch(GEMM, output_stationary(4, 4), batch)


def test_factorizations_are_exhaustive():
    table = factorizations(12, (True, False, True, True))
    assert (table[:, 1] == 1).all()
    assert (table.prod(axis=1) == 12).all()
    # ordered factorizations of 12 = 2^2 * 3 into 3 slots: C(4,2) * C(3,2) = 18
    assert len({tuple(r) for r in table}) == len(table) == 18


@pytest.mark.parametrize("arch", [weight_stationary(4, 4), output_stationary(4, 2), eyeriss(3, 4)])
def test_random_mappings_are_valid_and_deterministic(arch):
    conv = conv2d("c", in_channels=8, out_channels=12, input_size=(8, 8), kernel_size=3)
    a = random_mappings(conv, arch, 200, seed=3)
    b = random_mappings(conv, arch, 200, seed=3)
    validate_batch(conv, arch, a)
    assert np.array_equal(a.factors, b.factors) and np.array_equal(a.orders, b.orders)
    assert (a.factors.prod(axis=1) == [n for _, n in conv.dims]).all()
