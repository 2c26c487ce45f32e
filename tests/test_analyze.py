"""``codesign analyze``: the table, the JSON file, and one-line errors with exit status 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.workload.command import format_table, parse_shape

MODELS = str(Path(__file__).resolve().parents[1] / "examples" / "models.py")


def test_analyze_digits_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "digits.json"
    assert main(["analyze", f"{MODELS}:digits_cnn", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["total_macs"] == 4608 + 73728 + 2560
    assert data["total_params"] == 3818
    assert data["peak_activation_bits"] == (16 + 16) * 64 * 32  # conv2 output + relu2 output
    assert [row["name"] for row in data["layers"]] == [
        "x", "conv1", "relu1", "conv2", "relu2", "pool", "flatten", "fc",
    ]  # fmt: skip
    assert "conv1  " in text and "N1 K8 C1 P8 Q8 R3 S3" in text and "4,608" in text
    assert "total MACs          80,896" in text
    assert "peak activations    8.00 KiB (at relu2)" in text
    assert data["total_element_ops"] == 8 * 64 + 16 * 64 + 16 * 16 * 4  # relu1, relu2, 2x2 pool
    assert "total element ops   2,560" in text
    assert "weight storage      14.91 KiB" in text  # 3,818 float32 parameters
    assert "layers              8 (3 with MACs, 0 BatchNorm folded" in text
    # conv1 reads 64 inputs, holds 80 parameters, writes 512 outputs, all 4 bytes
    assert data["layers"][1]["macs_per_byte"] == pytest.approx(4608 / ((64 + 80 + 512) * 4))
    assert "   1.000     1.8\n" in text
    assert text == format_table(data) + f"\nwrote {out}\n"


def test_analyze_resnet18_with_input_shape(tmp_path, capsys):
    out = tmp_path / "r18.json"
    argv = ["analyze", f"{MODELS}:resnet18", "--input-shape", "1,3,224,224"]
    assert main([*argv, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert (data["total_macs"], data["total_params"]) == (1_814_073_344, 11_689_512)
    text = capsys.readouterr().out
    assert "total params        11,689,512" in text
    assert "(21 with MACs, 20 BatchNorm folded into convolutions)" in text


def test_analyze_options(tmp_path, capsys):
    out = tmp_path / "d.json"
    argv = ["analyze", f"{MODELS}:digits_cnn", "--input-shape", "2,1,8,8"]
    argv += ["--activation-bits", "8", "--weight-bits", "4", "--json", str(out)]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    assert data["total_macs"] == 2 * 80896 and data["weight_bits"] == 4 * 3818
    assert data["layers"][0]["output_bits"] == 2 * 64 * 8


def _write(tmp_path, body):
    path = tmp_path / "net.py"
    path.write_text("import torch\nfrom torch import nn\n" + body)
    return str(path)


@pytest.mark.parametrize(
    "argv,first_line",
    [
        (
            [f"{MODELS}:nope"],
            f"error: model file '{MODELS}' has no factory 'nope'",
        ),
        (["missing.py:net"], "error: model file 'missing.py' does not exist"),
        (
            [f"{MODELS}:digits_cnn", "--input-shape", "1,1,16,16"],
            "error: module 'fc' (Linear) failed on example inputs of shapes [(1, 1, 16, 16)]",
        ),
        (
            [f"{MODELS}:digits_cnn", "--input-shape", "1,a"],
            "error: --input-shape must be comma-separated positive integers",
        ),
        (
            # a folder below a regular file cannot be created, even by root
            [f"{MODELS}:digits_cnn", "--json", f"{__file__}/x.json"],
            f"error: --json '{__file__}/x.json': '{__file__}' is a file, not a folder",
        ),
    ],
)
def test_errors_are_one_line_with_status_2(argv, first_line, capsys):
    assert main(["analyze", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(first_line) and err.count("\n") == 1


def test_bad_models_are_one_line_errors(tmp_path, capsys):
    control = _write(
        tmp_path,
        "class Net(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x if x.sum() > 0 else -x\n"
        "def net():\n    return Net(), torch.ones(3)\n"
        "def bare():\n    return nn.ReLU()\n",
    )
    assert main(["analyze", f"{control}:net"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot capture Net with torch.export at ")
    assert "code: return x if x.sum() > 0 else -x:" in err
    assert "data-dependent" in err
    assert err.count("\n") == 1
    assert main(["analyze", f"{control}:bare"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: model '{control}:bare': give --input-shape (the factory returns no inputs and "
        "its file has no bare_inputs function)\n"
    )
    assert main(["analyze", f"{control}:bare", "--input-shape", "4"]) == 0


def test_an_op_outside_the_tables_is_a_costed_layer_not_an_error(tmp_path):
    path = _write(
        tmp_path,
        "class Net(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return torch.cumsum(x, 0)\n"
        "def net():\n    return Net(), torch.ones(3)\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "codesign.cli", "analyze", f"{path}:net", "--json",
         str(tmp_path / "w.json")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    layers = json.loads((tmp_path / "w.json").read_text())["layers"]
    assert [(lay["name"], lay["op"], lay["element_ops"]) for lay in layers] == [
        ("x", "input", 0),
        ("cumsum", "cumsum", 3),
    ]


def test_parse_shape():
    assert parse_shape("1,3,224,224") == (1, 3, 224, 224)
    assert parse_shape("1x3x8x8") == (1, 3, 8, 8)
