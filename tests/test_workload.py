"""Workload graph and activation buffer model against hand-computed liveness and sizes."""

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
import torch
from torch import nn

from codesign.errors import SpecError
from codesign.workload import Node, OtherOp, Workload, from_torch, import_file, linear

models = import_file(Path(__file__).resolve().parents[1] / "examples" / "models.py")


def _residual():
    return from_torch(models.residual_block(), *models.residual_block_inputs())


def test_residual_liveness_and_peak_by_hand():
    # float32: x 2x4x4 = 32 el = 1024 bits; conv1, relu 4x4x4 = 2048 bits; conv2, add 1024 bits.
    w = _residual()
    assert w.schedule == ("x", "conv1", "relu", "conv2", "add", "flatten")
    # x is read by conv1 (step 1) and by add (step 4): the residual keeps it alive.
    # flatten is a view of add and a graph output: add's buffer lives to the last step.
    assert w.liveness() == {
        "x": (0, 4),
        "conv1": (1, 2),
        "relu": (2, 3),
        "conv2": (3, 4),
        "add": (4, 5),
    }
    assert w.live_bits() == (
        1024,
        1024 + 2048,
        1024 + 2048 + 2048,
        1024 + 2048 + 1024,
        1024 + 1024 + 1024,
        1024,
    )
    assert w.peak_activation_bits == 5120
    assert w.to_dict()["peak_activation_layer"] == "relu"


def test_without_the_residual_the_input_dies_early():
    w = from_torch(models.ResidualBlock(skip=False).eval(), *models.residual_block_inputs())
    assert w.liveness()["x"] == (0, 1)
    assert w.live_bits() == (1024, 3072, 4096, 3072, 1024)
    assert w.peak_activation_bits == 4096


def test_working_set_and_intensity_by_hand():
    w = _residual()
    conv2 = next(s for s in w.stats() if s.name == "conv2")
    weights = (2 * 4 * 3 * 3 + 2) * 32  # weights + bias, float32
    assert (conv2.input_bits, conv2.weight_bits, conv2.output_bits) == (2048, weights, 1024)
    assert conv2.working_set_bits == 2048 + weights + 1024 == w.working_set_bits("conv2")
    macs = 2 * 4 * 4 * 4 * 3 * 3
    assert conv2.macs == macs
    assert conv2.macs_per_byte == pytest.approx(macs / ((2048 + weights + 1024) / 8))
    add = next(s for s in w.stats() if s.name == "add")
    assert (add.input_bits, add.output_bits, add.element_ops, add.macs) == (2048, 1024, 32, 0)


def test_to_dict_is_json_and_has_the_documented_keys():
    w = _residual()
    data = json.loads(json.dumps(w.to_dict()))
    assert {"total_macs", "total_params", "peak_activation_bits", "layers", "weight_bits"} <= set(
        data
    )
    assert data["total_macs"] == w.total_macs == 2 * 4 * 16 * 9 * 2
    assert data["total_params"] == (4 * 2 * 9 + 4) + (2 * 4 * 9 + 2)
    assert [row["name"] for row in data["layers"]] == list(w.schedule)
    conv1 = data["layers"][1]
    assert conv1["dims"] == {"N": 1, "K": 4, "C": 2, "P": 4, "Q": 4, "R": 3, "S": 3}
    assert conv1["output_shape"] == [1, 4, 4, 4]


def test_pooling_and_reduction_element_ops_by_hand():
    class Pools(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.MaxPool2d(3, stride=2, padding=1)
            self.avg = nn.AdaptiveAvgPool2d(1)

        def forward(self, x):
            return self.avg(self.pool(x)).mean(dim=1)

    w = from_torch(Pools(), torch.randn(1, 3, 8, 8))
    ops = {layer.name: layer for layer in w.layers}
    assert ops["pool"].output_shape == (1, 3, 4, 4)
    assert ops["pool"].element_ops == 3 * 4 * 4 * 9  # 9 comparisons per output
    assert ops["avg"].element_ops == 3 * 4 * 4  # every input added once
    assert ops["mean"].element_ops == 3 and ops["mean"].output_shape == (1, 1, 1)
    assert w.total_element_ops == 432 + 48 + 3 and w.total_macs == 0


def test_hand_built_graph():
    g = nx.DiGraph()
    fc = linear("fc", in_features=4, out_features=2, input_bits=8, weight_bits=8, output_bits=8)
    g.add_node(
        "in",
        node=Node(
            layer=OtherOp(name="in", op="input", input_shapes=(), output_shape=(1, 4)),
            output_shape=(1, 4),
            activation_bits=8,
        ),
    )
    g.add_node("fc", node=Node(layer=fc, output_shape=(1, 2), activation_bits=8, params=8,
                               param_bits=64, is_output=True))  # fmt: skip
    g.add_edge("in", "fc")
    w = Workload(graph=g, name="tiny")
    assert w.layers == (w.node("in").layer, fc) and w.loop_nests == (fc,)
    assert w.live_bits() == (32, 48) and w.peak_activation_bits == 48
    assert (w.total_params, w.weight_bits, w.total_macs) == (8, 64, 8)


def test_invalid_graphs_name_the_problem():
    g = nx.DiGraph()
    g.add_node("a")
    with pytest.raises(SpecError, match=r"^graph node 'a': attribute 'node' must be a Node, not"):
        Workload(graph=g)
    op = OtherOp(name="a", op="relu", input_shapes=((2,),), output_shape=(2,), element_ops=2)
    g = nx.DiGraph()
    g.add_node("b", node=Node(layer=op, output_shape=(2,), activation_bits=8))
    with pytest.raises(SpecError, match=r"^graph node 'b': its layer is named 'a'"):
        Workload(graph=g)
    g = nx.DiGraph()
    for name in ("a", "c"):
        layer = OtherOp(name=name, op="relu", input_shapes=((2,),), output_shape=(2,))
        g.add_node(name, node=Node(layer=layer, output_shape=(2,), activation_bits=8))
    g.add_edges_from([("a", "c"), ("c", "a")])
    with pytest.raises(SpecError, match=r"^graph of workload 'workload' has a cycle"):
        Workload(graph=g)
    with pytest.raises(SpecError, match=r"^layer 'a': activation_bits must be a positive integer"):
        Node(layer=op, output_shape=(2,), activation_bits=0)
    with pytest.raises(SpecError, match=r"^node layer must be a LoopNest or an OtherOp, not 'a'"):
        Node(layer="a", output_shape=(2,), activation_bits=8)
    with pytest.raises(SpecError, match=r"^layer 'a': element_ops must be a non-negative integer"):
        OtherOp(name="a", op="relu", input_shapes=(), output_shape=(2,), element_ops=-1)
    with pytest.raises(SpecError, match=r"^workload 'workload' has no layer 'zz'"):
        Workload(graph=nx.DiGraph()).node("zz")


def test_import_codesign_workload_does_not_import_torch():
    code = "import sys, codesign.workload, codesign.cli\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
