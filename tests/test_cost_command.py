"""The ``codesign map`` subcommand (called through its module, as cli.main does)."""

import argparse
import json

import pytest

import codesign.cli
from codesign.cost import command
from codesign.errors import SpecError
from codesign.mapping import LevelMapping, Mapping, save_mapping


def _run(argv):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv))


def test_map_is_registered():
    assert codesign.cli.COMMANDS["map"] == "codesign.cost.command"


def test_map_with_a_mapping_file_prints_and_writes_the_report(tmp_path, capsys):
    mapping = Mapping(
        levels=(
            LevelMapping(name="weight_reg", loops=(("M", 256),)),
            LevelMapping(name="scratchpad", loops=(("K", 16),)),
            LevelMapping(name="dram", loops=(("N", 16),)),
        ),
        rows=(("K", 16),),
        cols=(("N", 16),),
    )
    path = save_mapping(mapping, tmp_path / "m.yaml")
    out = tmp_path / "r.json"
    argv = ["--arch", "ws", "--layer", "gemm:M=256,N=256,K=256", "--mapping", str(path)]
    assert _run([*argv, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cycles 77,568 = compute 65,536 + fill/drain 12,032 + stall 0" in text
    assert json.loads(out.read_text())["cycles"] == 77_568


def test_map_without_mapping_searches_random_mappings(tmp_path, capsys):
    saved = tmp_path / "best.yaml"
    argv = ["--arch", "os", "--layer", "conv:K=16,C=8,P=8,Q=8,R=3,S=3", "--samples", "300"]
    assert _run([*argv, "--save-mapping", str(saved)]) == 0
    assert "best EDP of 300 random mappings (seed 0)" in capsys.readouterr().out
    assert saved.read_text().startswith("version: 1")


def test_parse_layer():
    conv = command.parse_layer("conv:K=64,C=64,P=56,Q=56,R=3,S=3")
    assert conv.sizes == {"N": 1, "K": 64, "C": 64, "P": 56, "Q": 56, "R": 3, "S": 3}
    strided = command.parse_layer("conv:K=4,C=2,P=5,Q=5,R=3,S=3,stride=2,G=2")
    assert strided.sizes["P"] == 5 and strided.sizes["G"] == 2
    assert strided.inputs.shape(strided.sizes) == (1, 4, 11, 11)
    gemm = command.parse_layer("gemm:M=8,N=4,K=2,ibits=4")
    assert gemm.sizes == {"M": 8, "N": 4, "K": 2} and gemm.inputs.bits == 4


@pytest.mark.parametrize(
    "text,message",
    [
        ("fc:M=1", r"^--layer must look like"),
        ("conv:K=4,C=2,P=5,Q=5,R=3", r"^--layer field S is missing for conv"),
        ("gemm:M=1,N=2,K=3,Z=4", r"^--layer field Z is not allowed for gemm"),
        ("gemm:M=0,N=2,K=3", r"^--layer field 'M=0' must be NAME=positive integer"),
        ("gemm:M=1,M=2,N=2,K=3", r"^--layer field M is given twice"),
    ],
)
def test_bad_layer_specs(text, message):
    with pytest.raises(SpecError, match=message):
        command.parse_layer(text)


def test_missing_architecture_file(tmp_path):
    with pytest.raises(SpecError, match=r"^spec file '.*nope\.yaml' does not exist"):
        _run(["--arch", str(tmp_path / "nope.yaml"), "--layer", "gemm:M=4,N=4,K=4"])


def test_map_a_layer_of_a_model(capsys):
    # conv2 of the digits CNN: 8 -> 16 channels, 3x3, 8x8 output (padding 1)
    assert (
        _run(["--arch", "ws", "--layer", "examples/models.py:digits_cnn:conv2", "--samples", "500"])
        == 0
    )
    text = capsys.readouterr().out
    assert "layer conv2 on ws16x16" in text and "MACs 73,728" in text
    with pytest.raises(
        SpecError, match=r"^--layer: layer must be one of \['conv1', 'conv2', 'fc'\]"
    ):
        _run(["--arch", "ws", "--layer", "examples/models.py:digits_cnn:conv9"])


def test_map_on_an_nm_array_takes_the_weight_density(tmp_path, capsys):
    from codesign.arch import save_architecture, weight_stationary
    from codesign.cost import evaluate_one
    from codesign.mapping import load_mapping
    from codesign.workload import linear

    arch = tmp_path / "sparse.yaml"
    save_architecture(weight_stationary(4, 4, nm=(2, 4)), arch)
    layer = ["--arch", str(arch), "--layer", "gemm:M=16,N=8,K=32", "--samples", "300"]
    with pytest.raises(SpecError, match=r"density"):  # a dense layer cannot run on a 2:4 array
        _run(layer)
    saved = tmp_path / "m.yaml"
    out = tmp_path / "r.json"
    _run([*layer, "--weight-density", "0.5", "--save-mapping", str(saved), "--json", str(out)])
    # the printed report is the model's for the sparse layer and the mapping it saved
    nest = linear("gemm", in_features=32, out_features=8, leading=16, weight_density=0.5)
    expected = evaluate_one(nest, weight_stationary(4, 4, nm=(2, 4)), load_mapping(saved))
    assert json.loads(out.read_text())["cycles"] == expected.cycles
    assert f"  cycles {expected.cycles:,} = compute " in capsys.readouterr().out
