"""DesignSpace: typed axes, strict YAML, expansion per layer, enumeration."""

import itertools
import json

import pytest

from codesign.errors import SpecError
from codesign.explore.space import (
    Axis,
    Constraints,
    DesignSpace,
    load_space,
    parse_pruning,
    split_param,
)


def _space() -> DesignSpace:
    return DesignSpace(
        axes=(
            Axis(name="pe_rows", values=(8, 16)),
            Axis(name="pe_cols", values=(4, 8, 32)),
            Axis(name="dataflow", values=("ws", "os")),
            Axis(name="weight_bits", values=(4, 8), per_layer=True),
        )
    )


def test_size_points_and_point_index_agree_with_itertools_product():
    s = _space()
    expected = [
        dict(zip(s.names, combo, strict=True))
        for combo in itertools.product(*(a.values for a in s.axes))
    ]
    assert s.size == 2 * 3 * 2 * 2 == len(expected)
    assert list(s.points()) == expected
    assert [s.point(i) for i in range(s.size)] == expected


def test_expand_gives_every_layer_its_own_axis():
    e = _space().expand(["conv1", "fc"])
    assert e.names == ("pe_rows", "pe_cols", "dataflow", "weight_bits@conv1", "weight_bits@fc")
    assert e.size == 2 * 3 * 2 * 2 * 2
    assert split_param("weight_bits@fc") == ("weight_bits", "fc")
    assert split_param("pe_rows") == ("pe_rows", None)


def test_yaml_round_trip(tmp_path):
    s = DesignSpace(axes=_space().axes, constraints=Constraints(max_area_mm2=2.5))
    p = tmp_path / "space.yaml"
    p.write_text(json.dumps(s.to_dict()))  # JSON is YAML
    assert load_space(p) == s


def test_yaml_file_with_every_axis(tmp_path):
    p = tmp_path / "space.yaml"
    p.write_text(
        "version: 1\n"
        "axes:\n"
        "  pe_rows: [8, 16]\n"
        "  pe_cols: [16]\n"
        "  dataflow: [ws, os, is, rs]\n"
        "  glb_kib: [64, 128]\n"
        "  rf_bytes: [64]\n"
        "  dram_bw_bits_per_cycle: [64, 128]\n"
        "  clock_mhz: [200, 333.3]\n"
        "  activation_bits: [8, 16]\n"
        "  pruning: {values: [none, '2:4', 'unstructured:0.5'], per_layer: true}\n"
        "constraints: {max_latency_s: 0.01, min_accuracy: 0.9}\n"
    )
    s = load_space(p)
    assert s.axis("pruning").per_layer
    assert s.axis("clock_mhz").values == (200, 333.3)
    assert s.constraints == Constraints(max_latency_s=0.01, min_accuracy=0.9)
    assert s.size == 2 * 1 * 4 * 2 * 1 * 2 * 2 * 2 * 3


@pytest.mark.parametrize(
    "text, match",
    [
        ("axes: {pe_rows: [8], pe_rows: [16]}\n", r"^.*duplicate key 'pe_rows' at line 1"),
        ("axes: {pe_rows: [8]}\nmode: fast\n", r"^.*unknown keys \['mode'\]"),
        ("axes: {pe_rowz: [8]}\n", r"^axis name must be one of \[.*'pe_rows'"),
        ("axes: {pe_rows: []}\n", r"^axis pe_rows: values must not be empty"),
        ("axes: {}\n", r"^.*axes must be a non-empty mapping"),
        ("axes: {pe_rows: [8, -4]}\n", r"^axis pe_rows: value must be a positive integer, not -4"),
        ("axes: {pe_rows: [8, 8]}\n", r"^axis pe_rows: values must not repeat"),
        ("axes: {dataflow: [ws, xs]}\n", r"^axis dataflow: value must be one of \['ws'"),
        ("axes: {weight_bits: [1, 8]}\n", r"^axis weight_bits: value must be an integer bit-width"),
        ("axes: {pruning: [2:4]}\n", r"^axis pruning: value must be .*quote '2:4'"),
        ("axes: {pe_rows: {values: [8], per_layer: true}}\n", r"^axis pe_rows: only \["),
        ("axes: {pe_rows: {values: [8], step: 2}}\n", r"^.*axis pe_rows: unknown keys \['step'\]"),
        ("axes: {pe_rows: 8}\n", r"^axis pe_rows: values must be a list, not 8"),
        ("version: 2\naxes: {pe_rows: [8]}\n", r"^.*version must be 1, not 2"),
        ("axes: {pe_rows: [8]}\nconstraints: {max_area: 1}\n", r"^.*unknown keys \['max_area'\]"),
        ("axes: {pe_rows: [8]}\nconstraints: {min_accuracy: 2}\n", r"^min_accuracy must be"),
        ("- 1\n", r"^.*must be a mapping with 'axes', not list"),
        ("axes: [\n", r"^.*not valid YAML"),
    ],
)
def test_bad_yaml_is_a_spec_error_naming_the_field(tmp_path, text, match):
    p = tmp_path / "space.yaml"
    p.write_text(text)
    with pytest.raises(SpecError, match=match):
        load_space(p)


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match=r"^design space file .* does not exist"):
        load_space(tmp_path / "nope.yaml")


def test_empty_space_and_duplicate_axes_rejected_in_python():
    with pytest.raises(SpecError, match=r"^axes must not be empty"):
        DesignSpace(axes=())
    a = Axis(name="pe_rows", values=(8,))
    with pytest.raises(SpecError, match=r"^axes: axis names must be unique, \['pe_rows'\] repeat"):
        DesignSpace(axes=(a, a))


def test_check_names_the_bad_field():
    s = _space()
    p = s.point(0)
    assert s.check(p) == p
    with pytest.raises(SpecError, match=r"^pe_cols must be one of \[4, 8, 32\], not 5"):
        s.check({**p, "pe_cols": 5})
    with pytest.raises(SpecError, match=r"^point does not match the design space: unknown \['x'\]"):
        s.check({**p, "x": 1})
    with pytest.raises(SpecError, match=r"^point index must be an integer in \[0, 24\)"):
        s.point(24)


def test_parse_pruning():
    assert parse_pruning("none") == ("none", 1.0)
    assert parse_pruning("2:4") == ("2:4", 0.5)
    kind, density = parse_pruning("unstructured:0.75")
    assert kind == "unstructured" and density == pytest.approx(0.25)
    with pytest.raises(SpecError, match=r"^pruning must be"):
        parse_pruning("unstructured:1.0")


def test_constraints_violations_are_relative_excess():
    c = Constraints(max_area_mm2=2.0, min_accuracy=0.9)
    assert c.violations({"area_mm2": 1.0, "accuracy": 0.95}) == {}
    v = c.violations({"area_mm2": 3.0, "accuracy": 0.45})
    assert v == pytest.approx({"max_area_mm2": 0.5, "min_accuracy": 0.5})
    with pytest.raises(SpecError, match=r"^constraint min_accuracy needs the metric 'accuracy'"):
        c.violations({"area_mm2": 1.0})
    with pytest.raises(SpecError, match=r"^max_area_mm2 must be a positive number, not -1"):
        Constraints(max_area_mm2=-1)
