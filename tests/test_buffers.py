"""The activation buffer model (liveness, peak on-chip memory) on graphs with residuals,
key/value reuse across attention, views and concatenations, derived by hand."""

import torch
import torch.nn.functional as F
from torch import nn

from codesign.workload import from_torch


class _Block(nn.Module):
    """relu -> fc -> residual add -> K, V projections -> attention of the sum over itself ->
    cat with the relu output (kept alive across the whole block)."""

    def __init__(self):
        super().__init__()
        self.fc, self.k, self.v = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        a = torch.relu(x)
        c = a + self.fc(a)
        k, v = self.k(c), self.v(c)
        att = F.scaled_dot_product_attention(c.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0))
        return torch.cat([att.squeeze(0), a], dim=-1)


def test_residual_kv_and_concat_liveness_by_hand():
    w = from_torch(_Block().eval(), torch.randn(4, 8))
    assert w.schedule == (
        "x", "relu", "fc", "add", "k", "v", "unsqueeze", "unsqueeze_1", "unsqueeze_2",
        "scaled_dot_product_attention.qk", "scaled_dot_product_attention.softmax",
        "scaled_dot_product_attention.pv", "squeeze", "cat",
    )  # fmt: skip
    live = w.liveness()
    # views (unsqueeze, squeeze) own no buffer: they extend their producer's
    assert not {"unsqueeze", "unsqueeze_1", "unsqueeze_2", "squeeze"} & set(live)
    assert live["relu"] == (1, 13)  # read by the residual add and, at the end, by cat
    assert live["add"] == (3, 9)  # the query, through a view, is read by Q.K^T at step 9
    assert live["k"] == (4, 9)
    assert live["v"] == (5, 11)  # V waits for P.V, two steps after Q.K^T
    assert live["scaled_dot_product_attention.pv"] == (11, 13)  # through squeeze, into cat
    # float32: a 4x8 activation is 1,024 bits, the 1x4x4 scores 512, the cat output 2,048
    bits = {"x": 1024, "relu": 1024, "fc": 1024, "add": 1024, "k": 1024, "v": 1024,
            "scaled_dot_product_attention.qk": 512, "scaled_dot_product_attention.softmax": 512,
            "scaled_dot_product_attention.pv": 1024, "cat": 2048}  # fmt: skip
    expected = [
        sum(bits[b] for b, (s, e) in live.items() if s <= t <= e) for t in range(len(w.schedule))
    ]
    assert list(w.live_bits()) == expected
    # the peak: relu, add, k, v and the scores are live together when Q.K^T runs
    assert w.peak_activation_bits == 4 * 1024 + 512 == w.live_bits()[9]


def test_transformer_peak_holds_the_largest_layer_and_its_live_residual():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    import models

    w = from_torch(models.vit_tiny().eval(), torch.randn(1, 3, 32, 32))
    live = w.liveness()
    bits = w.live_bits()
    for name in w.schedule:
        node = w.node(name)
        if node.is_view:
            continue
        # at the step a layer runs, its output and every input buffer are live
        step = w.schedule.index(name)
        assert live[name][0] == step
        for pred in w.graph.predecessors(name):
            root = pred
            while w.node(root).is_view:
                (root,) = w.graph.predecessors(root)
            assert live[root][0] <= step <= live[root][1], (name, root)
        assert bits[step] >= node.output_bits
    assert w.peak_activation_bits == max(bits)
