"""The vector-unit model of non-MAC operators (`codesign.cost.vector`): hand-derived costs on
an architecture with round numbers, invariants (hypothesis), the explorer's totals, and the
design point's JSON."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.arch import (
    Architecture,
    ComputeArray,
    MemoryLevel,
    VectorUnit,
    architecture_from_dict,
    architecture_to_dict,
    vector_unit,
)
from codesign.arch import technology as tech
from codesign.arch.dataflow import Dataflow
from codesign.cost.vector import evaluate_vector, host_cost
from codesign.errors import SpecError
from codesign.explore.buildable import AcceleratorEvaluator
from codesign.explore.design import DesignEvaluator, DesignPoint
from codesign.workload import OtherOp, TensorRole, linear

ALL = frozenset(TensorRole)


def _arch(*, glb_bits: int = 1 << 20, lanes: int = 8, vector: bool = True) -> Architecture:
    """A 2x2 array, a per-PE register, a 1 Mbit buffer (128 b/cycle read, 64 b/cycle write,
    64-bit words, 2 pJ per read and 3 pJ per write) and DRAM (64 b/cycle, 100 pJ per word);
    a vector unit of ``lanes`` lanes, 16 bits, 0.5 pJ per element op."""
    return Architecture(
        name="hand",
        compute=ComputeArray(
            rows=2,
            cols=2,
            mac_energy_pj=1.0,
            mac_area_um2=100.0,
            dataflow=Dataflow.WEIGHT_STATIONARY,
        ),
        levels=(
            MemoryLevel(
                name="reg", size_bits=64, instances=4, word_bits=8, read_bits_per_cycle=8,
                write_bits_per_cycle=8, read_energy_pj=0.1, write_energy_pj=0.1, holds=ALL,
            ),
            MemoryLevel(
                name="glb", size_bits=glb_bits, word_bits=64, read_bits_per_cycle=128,
                write_bits_per_cycle=64, read_energy_pj=2.0, write_energy_pj=3.0, holds=ALL,
            ),
            MemoryLevel(
                name="dram", size_bits=None, word_bits=64, read_bits_per_cycle=64,
                write_bits_per_cycle=64, read_energy_pj=100.0, write_energy_pj=100.0, holds=ALL,
            ),
        ),
        vector=VectorUnit(lanes=lanes, bits=16, energy_per_op_pj=0.5) if vector else None,
    )  # fmt: skip


def _op(name="op", op="layer_norm", category="normalization", ins=((1, 10, 64),), out=None,
        ops=None):  # fmt: skip
    out = out if out is not None else ins[0]
    n = 1
    for d in out:
        n *= d
    return OtherOp(
        name=name, op=op, input_shapes=tuple(ins), output_shape=tuple(out),
        element_ops=7 * n if ops is None else ops, category=category,
    )  # fmt: skip


def test_layer_norm_in_the_buffer_is_compute_bound():
    # 640 elements: 7 ops each = 4480 ops / 8 lanes = 560 cycles; 640 x 16 = 10,240 bits read
    # (80 cycles at 128 b/cycle) and written (160 cycles at 64 b/cycle); 20,480 bits fit the
    # 1 Mbit buffer. Energy: 4480 x 0.5 + 160 reads x 2 + 160 writes x 3 = 3040 pJ.
    c = evaluate_vector(_op(), _arch())
    assert (c.level, c.read_bits, c.write_bits) == ("glb", 10240, 10240)
    assert (c.compute_cycles, c.transfer_cycles, c.cycles) == (560, 160, 560)
    assert c.energy_pj == pytest.approx(3040.0)
    assert c.unit == "vector"


def test_residual_add_spills_to_dram_and_is_bandwidth_bound():
    # two 65,536-element inputs and one output, 16 bits: 3,145,728 bits > 1 Mbit -> DRAM.
    # 65,536 ops / 8 = 8192 cycles; reads 2,097,152 bits / 64 = 32,768 cycles; writes 16,384.
    # Energy: 65,536 x 0.5 + (32,768 + 16,384) words x 100 pJ = 4,947,968 pJ.
    shape = (1, 64, 32, 32)
    add = _op(op="add", category="elementwise", ins=(shape, shape), ops=65536)
    c = evaluate_vector(add, _arch())
    assert c.level == "dram"
    assert (c.compute_cycles, c.transfer_cycles, c.cycles) == (8192, 32768, 32768)
    assert c.energy_pj == pytest.approx(4_947_968.0)
    # with a 4 Mbit buffer the same add stays on chip: 2,097,152 / 128 = 16,384 read cycles
    # and 1,048,576 / 64 = 16,384 write cycles
    big = evaluate_vector(add, _arch(glb_bits=4 << 20))
    assert (big.level, big.cycles) == ("glb", 16384)
    assert big.energy_pj == pytest.approx(65536 * 0.5 + 32768 * 2.0 + 16384 * 3.0)


def test_views_are_free_and_data_movement_is_traffic_only():
    view = _op(op="reshape", category="view", ins=((4, 16),), out=(64,), ops=0)
    c = evaluate_vector(view, _arch())
    assert (c.cycles, c.energy_pj, c.level, c.read_bits) == (0, 0.0, None, 0)
    # cat of (1, 8) and (1, 24) -> (1, 32): 512 bits read (4 cycles, 8 words), 512 written
    # (8 cycles, 8 words): 8 x 2 + 8 x 3 = 40 pJ, no element ops
    cat = _op(op="cat", category="data_movement", ins=((1, 8), (1, 24)), out=(1, 32), ops=0)
    c = evaluate_vector(cat, _arch())
    assert (c.element_ops, c.compute_cycles, c.transfer_cycles, c.cycles) == (0, 0, 8, 8)
    assert c.energy_pj == pytest.approx(40.0)
    inp = _op(op="input", category="input", ins=(), out=(1, 3, 8, 8), ops=0)
    assert evaluate_vector(inp, _arch()).cycles == 0


def test_no_vector_unit_is_a_clear_error_and_host_layers_are_listed():
    with pytest.raises(SpecError, match="has no vector unit to run 'op'"):
        evaluate_vector(_op(), _arch(vector=False))
    h = host_cost(_op())
    assert (h.unit, h.element_ops, h.cycles, h.energy_pj) == ("host", 4480, 0, 0.0)
    with pytest.raises(SpecError, match="needs an OtherOp"):
        evaluate_vector(linear("fc", in_features=4, out_features=4), _arch())


def test_vector_unit_fields_are_checked_and_round_trip():
    with pytest.raises(SpecError, match="vector: lanes must be a positive integer"):
        VectorUnit(lanes=0, energy_per_op_pj=1.0)
    with pytest.raises(SpecError, match="vector: energy_per_op_pj must be a non-negative"):
        VectorUnit(lanes=4, energy_per_op_pj=-1.0)
    arch = _arch()
    data = architecture_to_dict(arch)
    assert data["vector"] == {"lanes": 8, "bits": 16, "energy_per_op_pj": 0.5, "area_um2": 0.0}
    assert architecture_from_dict(json.loads(json.dumps(data))) == arch
    data["vector"]["lane"] = 3
    with pytest.raises(SpecError, match="vector.lane is not a field of VectorUnit"):
        architecture_from_dict(data)


def test_vector_unit_preset_from_the_technology_tables():
    v = vector_unit(16, bits=8)
    # an 8x8 multiply (0.2 pJ, Horowitz) and a 16-bit add
    assert v.energy_per_op_pj == pytest.approx(0.2 + tech.add_energy_pj(16))
    assert v.area_um2 == pytest.approx(tech.mac_area_um2(8, 8, 16) + tech.register_area_um2(8))
    arch = _arch()
    with_unit = Architecture(**{**{f: getattr(arch, f) for f in arch.__slots__}, "vector": v})
    without = Architecture(**{**{f: getattr(arch, f) for f in arch.__slots__}, "vector": None})
    assert with_unit.area_um2 - without.area_um2 == pytest.approx(16 * v.area_um2)


_shapes = st.lists(st.integers(1, 64), min_size=1, max_size=4).map(tuple)


@settings(max_examples=200, deadline=None)
@given(
    ins=st.lists(_shapes, min_size=1, max_size=3),
    per=st.integers(0, 8),
    lanes=st.integers(1, 64),
    glb_bits=st.integers(1, 1 << 22),
    cat=st.sampled_from(["elementwise", "normalization", "softmax", "data_movement", "other"]),
)
def test_invariants(ins, per, lanes, glb_bits, cat):
    op = _op(category=cat, ins=ins, out=ins[0], ops=per * _count(ins[0]))
    c = evaluate_vector(op, _arch(glb_bits=glb_bits, lanes=lanes))
    # cycles: neither below the work on the lanes nor below either transfer
    assert c.cycles == max(c.compute_cycles, c.transfer_cycles)
    assert c.compute_cycles * lanes >= op.element_ops > (c.compute_cycles - 1) * lanes or (
        op.element_ops == c.compute_cycles == 0
    )
    assert c.read_bits == 16 * sum(_count(s) for s in ins)
    assert c.write_bits == 16 * _count(ins[0])
    assert c.energy_pj >= op.element_ops * 0.5
    # the buffer is used exactly when the operator's tensors fit in it
    assert (c.level == "glb") == (c.read_bits + c.write_bits <= glb_bits)
    # more lanes are never slower; a bigger buffer never costs more energy
    assert evaluate_vector(op, _arch(glb_bits=glb_bits, lanes=2 * lanes)).cycles <= c.cycles
    assert evaluate_vector(op, _arch(glb_bits=2 * glb_bits, lanes=lanes)).energy_pj <= (
        c.energy_pj + 1e-9
    )


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


LAYERS = (
    linear("fc1", in_features=64, out_features=32),
    linear("fc2", in_features=32, out_features=10),
)
OTHERS = (
    _op(name="relu", op="relu", category="elementwise", ins=((1, 32),), ops=32),
    _op(name="flat", op="flatten", category="view", ins=((1, 32),), ops=0),
    _op(name="softmax", op="softmax", category="softmax", ins=((1, 10),), ops=40),
)


def test_explorer_totals_include_the_vector_unit():
    ev = DesignEvaluator(LAYERS, OTHERS, mapper="local", mapper_budget=200)
    point = ev.design_point({"pe_rows": 4, "pe_cols": 4, "vector_lanes": 4})
    m = point.metrics
    assert point.arch.vector.lanes == 4
    assert [v.name for v in point.vector_layers] == ["relu", "flat", "softmax"]
    mac = sum(lay.cycles for lay in point.layers)
    vec = sum(v.cycles for v in point.vector_layers)
    assert vec == sum(evaluate_vector(op, point.arch).cycles for op in OTHERS) > 0
    assert m["mac_cycles"] == mac and m["vector_cycles"] == vec
    assert m["latency_cycles"] == mac + vec
    e = sum(lay.energy_pj for lay in point.layers) + sum(v.energy_pj for v in point.vector_layers)
    assert m["energy_pj"] == pytest.approx(e)
    assert m["non_mac_element_ops"] == 72
    # more lanes: the vector share shrinks (softmax: 40 ops on 4 lanes is 10 cycles, on 16 lanes
    # the 10-element transfers bound it)
    wide = ev.design_point({"pe_rows": 4, "pe_cols": 4, "vector_lanes": 16})
    assert wide.metrics["vector_cycles"] < vec
    assert wide.metrics["area_mm2"] > m["area_mm2"]
    # the JSON keeps every vector layer
    again = DesignPoint.from_dict(json.loads(json.dumps(point.to_dict())))
    assert again.vector_layers == point.vector_layers
    assert again.arch == point.arch


def test_buildable_points_list_host_layers_without_costing_them():
    ev = AcceleratorEvaluator(LAYERS, OTHERS)
    point = ev.design_point({"pe_rows": 4, "pe_cols": 4, "dataflow": "ws"})
    assert point.arch.vector is None
    assert {v.unit for v in point.vector_layers} == {"host"}
    assert point.metrics["latency_cycles"] == sum(lay.cycles for lay in point.layers)
    assert point.metrics["non_mac_element_ops"] == 72
    assert "vector_cycles" not in point.metrics


def test_version_2_design_points_still_load(tmp_path):
    ev = DesignEvaluator(LAYERS, OTHERS, mapper="local", mapper_budget=50)
    data = ev.design_point({"pe_rows": 2, "pe_cols": 2}).to_dict()
    data["version"] = 2
    del data["vector_layers"]
    del data["arch"]["vector"]
    old = DesignPoint.from_dict(data)
    assert old.vector_layers == () and old.arch.vector is None
    data["vector_layers"] = []
    with pytest.raises(SpecError, match="unknown \\['vector_layers'\\]"):
        DesignPoint.from_dict(data)


def test_bad_others_name_the_entry():
    with pytest.raises(SpecError, match="others\\[0\\] must be an OtherOp"):
        DesignEvaluator(LAYERS, [LAYERS[0]])


def test_explore_reports_the_non_mac_layers_of_a_transformer(tmp_path, capsys):
    import csv

    from codesign.cli import main

    out = tmp_path / "out"
    argv = [
        "explore", "examples/models.py:vit_tiny", "--space", "examples/space_vit.yaml",
        "--objectives", "latency,energy", "--budget", "2", "--executor", "serial",
        "--no-progress", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    assert "non-MAC operators on the 16-lane vector unit" in capsys.readouterr().out
    best = json.loads((out / "best.json").read_text())
    rows = list(csv.DictReader((out / "best_layers.csv").open()))
    kinds = {r["kind"] for r in rows}
    assert {"mac", "softmax", "normalization", "elementwise"} <= kinds and "view" not in kinds
    # every row's cycles and energy add up to the point's totals
    m = best["metrics"]
    assert sum(float(r["cycles"]) for r in rows) == pytest.approx(m["latency_cycles"])
    assert sum(float(r["energy_pj"]) for r in rows) == pytest.approx(m["energy_pj"])
    # a layer norm of 65 tokens x 64 features: 7 element ops per output element
    norm = next(r for r in rows if r["name"] == "encoder.layers.0.norm1")
    assert int(norm["element_ops"]) == 7 * 65 * 64 and float(norm["cycles"]) > 0
    assert m["vector_cycles"] > 0.05 * m["latency_cycles"]  # softmax and norms are not free
