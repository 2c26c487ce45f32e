"""Quantization policies: validation messages, strict YAML/JSON, merging, hashing."""

import json

import pytest

from codesign.errors import SpecError
from codesign.quant.policy import Calibration, LayerPolicy, Pruning, QuantPolicy, WeightFormat


@pytest.mark.parametrize("bits", [0, 1, 17, 33, -8, 2.5, True, "8"])
def test_bad_weight_bits(bits):
    with pytest.raises(SpecError, match=r"^weight_bits must be an integer in 2\.\.16 or null"):
        LayerPolicy(weight_bits=bits)


@pytest.mark.parametrize("bits", [0, 33])
def test_bad_act_bits(bits):
    with pytest.raises(SpecError, match=rf"^act_bits must be an integer in 2\.\.16 .*not {bits}$"):
        LayerPolicy(act_bits=bits)


def test_pow2_bits_limited_to_8():
    with pytest.raises(SpecError, match=r"^weight_bits must be an integer in 2\.\.8 or null"):
        LayerPolicy(weight_bits=9, weight_format=WeightFormat.POW2)
    assert LayerPolicy(weight_bits=8, weight_format=WeightFormat.POW2).weight_bits == 8


@pytest.mark.parametrize("sparsity", [1.0, 1.5, -0.1, "half"])
def test_bad_sparsity(sparsity):
    with pytest.raises(SpecError, match=r"^sparsity must be a number in \[0, 1\), not "):
        LayerPolicy(pruning=Pruning.UNSTRUCTURED, sparsity=sparsity)


def test_sparsity_needs_a_pruning_method():
    with pytest.raises(SpecError, match=r"^sparsity 0\.5 needs pruning 'unstructured' or "):
        LayerPolicy(sparsity=0.5)


@pytest.mark.parametrize("nm", [(4, 4), (0, 4), (2, 17), (2,), "2:4"])
def test_bad_nm(nm):
    with pytest.raises(SpecError, match=r"^nm must be a pair \(N, M\) of integers"):
        LayerPolicy(pruning=Pruning.NM, nm=nm)


def test_bad_percentile_and_enum():
    with pytest.raises(SpecError, match=r"^percentile must be a number in \(50, 100\], not 40"):
        LayerPolicy(percentile=40)
    with pytest.raises(SpecError, match=r"^pruning must be one of \['none', 'unstructured'"):
        LayerPolicy(pruning="nm")


def test_yaml_merges_layer_over_default_and_null_keeps_float(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\n"
        "default: {weight_bits: 6, act_bits: 8, calibration: percentile}\n"
        "layers:\n"
        "  conv1: {weight_bits: 4}\n"
        "  fc: {pruning: nm, nm: [1, 4]}\n"
        "  conv2: null\n"
    )
    pol = QuantPolicy.load(path)
    assert pol.for_layer("conv1") == LayerPolicy(
        weight_bits=4, act_bits=8, calibration=Calibration.PERCENTILE
    )
    assert pol.for_layer("fc").nm == (1, 4) and pol.for_layer("fc").weight_bits == 6
    assert pol.for_layer("conv2") is None
    assert pol.for_layer("other") == pol.default
    # round trip through the resolved dict and JSON
    again = tmp_path / "p.json"
    again.write_text(json.dumps(pol.to_dict()))
    assert QuantPolicy.load(again).hash() == pol.hash()


def test_hash_is_stable_and_discriminating():
    a = QuantPolicy.uniform(8).with_layer("fc", LayerPolicy(weight_bits=4))
    b = QuantPolicy.uniform(8).with_layer("fc", LayerPolicy(weight_bits=4))
    c = QuantPolicy.uniform(8).with_layer("fc", LayerPolicy(weight_bits=5))
    assert a.hash() == b.hash() and a.hash() != c.hash()
    assert len(a.hash()) == 16
    assert QuantPolicy.uniform(8).hash() != QuantPolicy.uniform(8, per_channel=False).hash()


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "default: {weight_bits: 8, wieght_bits: 4}\n",
            r"^policy default: unknown keys \['wieght_bits'\]",
        ),
        (
            "default: {weight_bits: 8}\ndefault: {weight_bits: 4}\n",
            r"^duplicate key 'default' at line 2",
        ),
        (
            "layers: {fc: {weight_bits: 33}}\n",
            r"^policy layer 'fc': weight_bits must be an integer",
        ),
        (
            "layers: {fc: {pruning: magic}}\n",
            r"^policy layer 'fc': pruning must be one of \['none'",
        ),
        ("version: 2\n", r"^policy: version must be 1, not 2"),
    ],
)
def test_strict_yaml(tmp_path, text, message):
    bad = tmp_path / "a.yaml"
    bad.write_text(text)
    with pytest.raises(SpecError, match=message):
        QuantPolicy.load(bad)


def test_strict_files(tmp_path):
    with pytest.raises(SpecError, match=r"^spec file .*missing\.yaml' does not exist"):
        QuantPolicy.load(tmp_path / "missing.yaml")
    js = tmp_path / "a.json"
    js.write_text('{"default": {}, "default": null}')
    with pytest.raises(SpecError, match=r"^duplicate key 'default'"):
        QuantPolicy.load(js)


def test_duplicate_layer_in_python():
    with pytest.raises(SpecError, match=r"^layers: layer 'fc' is listed twice"):
        QuantPolicy(layers=(("fc", None), ("fc", LayerPolicy())))
