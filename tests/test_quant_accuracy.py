"""Accuracy in the loop on scikit-learn's digits: the issue's acceptance figures, caching,
sensitivity, mixed precision, the integer reference on the trained model, and the CLI.

The digits CNN is trained once per test session (about two seconds) into a temporary cache
directory; every evaluation below reuses it.
"""

import itertools
import json
import random
from pathlib import Path

import pytest
import torch

import codesign.quant.data as qdata
import codesign.quant.evaluate as qeval
from codesign.cli import main
from codesign.errors import SpecError
from codesign.quant.evaluate import (
    allocate_bits,
    evaluate_policy,
    load_context,
    sensitivity,
    suggest_mixed_precision,
)
from codesign.quant.fakequant import quantize
from codesign.quant.model import int_layer_io, quantize_model
from codesign.quant.policy import LayerPolicy, QuantPolicy

SPEC = str(Path(__file__).resolve().parents[1] / "examples" / "models.py") + ":digits_cnn"


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("codesign-cache")
    mp.setenv("CODESIGN_CACHE_DIR", str(path))
    yield path
    mp.undo()


def test_eight_bit_per_channel_loses_less_than_one_point():
    r = evaluate_policy(SPEC, QuantPolicy.uniform(8, per_channel=True))
    assert r.dataset == "digits" and r.samples == 450
    assert r.float_accuracy > 0.95  # the float model really is trained
    assert r.accuracy_drop < 0.01
    assert r.model_size_bits == (72 + 1152 + 2560) * 8 + 32 * (8 + 16 + 10)
    assert r.mac_weighted_weight_bits == r.mac_weighted_act_bits == 8.0


def test_two_bit_everywhere_loses_much_more():
    r8 = evaluate_policy(SPEC, QuantPolicy.uniform(8))
    r4 = evaluate_policy(SPEC, QuantPolicy.uniform(4))
    r2 = evaluate_policy(SPEC, QuantPolicy.uniform(2))
    assert r2.accuracy_drop > r8.accuracy_drop + 0.3
    assert r2.accuracy < r4.accuracy
    assert r2.sqnr_db < r4.sqnr_db < r8.sqnr_db
    assert r2.kl_divergence > r4.kl_divergence > r8.kl_divergence >= 0


def test_identical_policies_are_evaluated_once(monkeypatch):
    policy = QuantPolicy.uniform(6)
    first = evaluate_policy(SPEC, policy)
    calls = []
    real = qeval.quantize_model
    monkeypatch.setattr(qeval, "quantize_model", lambda *a: calls.append(1) or real(*a))
    assert evaluate_policy(SPEC, QuantPolicy.uniform(6)) is first
    assert calls == []
    other = evaluate_policy(SPEC, QuantPolicy.uniform(6, per_channel=False))
    assert calls == [1] and other.policy_hash != first.policy_hash


def test_trained_weights_are_cached_and_reused(cache_dir, monkeypatch):
    ctx = load_context(SPEC)
    files = list((cache_dir / "quant").glob("digits_cnn-*.pt"))
    assert len(files) == 1
    spec = qdata.load_model_spec(SPEC)

    def no_training(*_args):
        raise AssertionError("the cached weights should have been used")

    monkeypatch.setattr(qdata, "train_classifier", no_training)
    again = qdata.trained_model(spec, qdata.digits_dataset())
    for (k, a), (_, b) in zip(
        ctx.model.state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k
    assert not any(Path(__file__).resolve().parents[1].rglob("digits_cnn-*.pt"))


def test_integer_reference_on_the_trained_model_within_one_lsb():
    ctx = load_context(SPEC)
    q = quantize_model(ctx.model, QuantPolicy.uniform(8), ctx.calibration_inputs)
    x = ctx.eval_inputs[0][:64]
    for name in ("conv1", "conv2", "fc"):
        seen = []
        hook = q.layer(name).register_forward_hook(lambda _m, _a, out, seen=seen: seen.append(out))
        io = int_layer_io(q, name, x)
        hook.remove()
        diff = (io.output_q.to(torch.int64) - quantize(seen[0], q.layer(name).output_qp)).abs()
        assert int(diff.max()) <= 1, name
        assert io.input_q.dtype == torch.int8 and io.acc.dtype == torch.int32


def test_sensitivity_table():
    rows = sensitivity(SPEC, (2, 8))
    assert [(r.layer, r.bits) for r in rows] == [
        (layer, b) for layer in ("conv1", "conv2", "fc") for b in (2, 8)
    ]
    by = {(r.layer, r.bits): r for r in rows}
    for layer in ("conv1", "conv2", "fc"):
        assert by[(layer, 2)].sqnr_db < by[(layer, 8)].sqnr_db
        assert by[(layer, 8)].accuracy > by[(layer, 2)].accuracy
    assert by[("fc", 8)].size_bits == 2560 * 8 + 32 * 10
    # a row is the evaluation of that single-layer policy
    single = QuantPolicy(default=None, layers=(("conv2", LayerPolicy(weight_bits=2, act_bits=2)),))
    assert evaluate_policy(SPEC, single).accuracy == by[("conv2", 2)].accuracy


def test_allocate_bits_matches_brute_force():
    rng = random.Random(0)
    for _ in range(30):
        layers = [f"l{i}" for i in range(rng.randint(1, 4))]
        options = {
            name: {b: (rng.randint(1, 50) * b, rng.random() / b) for b in (2, 4, 8)}
            for name in layers
        }
        budget = rng.randint(sum(o[2][0] for o in options.values()), 1200)
        got = allocate_bits(options, budget)
        best = min(
            (
                sum(options[n][b][1] for n, b in zip(layers, combo, strict=True)),
                combo,
            )
            for combo in itertools.product((2, 4, 8), repeat=len(layers))
            if sum(options[n][b][0] for n, b in zip(layers, combo, strict=True)) <= budget
        )
        assert sum(options[n][got[n]][1] for n in layers) == pytest.approx(best[0])
        assert sum(options[n][got[n]][0] for n in layers) <= budget
    with pytest.raises(SpecError, match=r"^budget_bits must be at least 4 \(every layer at its"):
        allocate_bits({"a": {2: (4, 1.0), 8: (16, 0.0)}}, 3)


def test_mixed_precision_suggestion_respects_the_budget():
    all8 = evaluate_policy(SPEC, QuantPolicy.uniform(8)).model_size_bits
    roomy = suggest_mixed_precision(SPEC, all8, bits=(2, 4, 8))
    assert dict(roomy.bits) == {"conv1": 8, "conv2": 8, "fc": 8}
    tight = suggest_mixed_precision(SPEC, 16_000, bits=(2, 4, 8))
    assert tight.result.model_size_bits <= 16_000
    assert tight.result.accuracy is not None
    with pytest.raises(SpecError, match=r"^budget_bits must be at least 8656 "):
        suggest_mixed_precision(SPEC, 1000, bits=(2, 4, 8))
    with pytest.raises(SpecError, match=r"^budget_bits must be a positive integer, not -5"):
        suggest_mixed_precision(SPEC, -5)


def test_proxy_metrics_without_data():
    r16 = evaluate_policy(SPEC, QuantPolicy.uniform(16), dataset="none")
    r8 = evaluate_policy(SPEC, QuantPolicy.uniform(8), dataset="none")
    assert r8.accuracy is None and r8.dataset is None and r8.samples == 128
    assert r16.sqnr_db > r8.sqnr_db > 20
    with pytest.raises(SpecError, match=r"^dataset must be one of \['auto', 'digits', 'none'\]"):
        evaluate_policy(SPEC, QuantPolicy.uniform(8), dataset="cifar")


def test_cli_policy_sensitivity_and_errors(tmp_path, capsys):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\ndefault: {weight_bits: 8, act_bits: 8}\nlayers:\n  conv1: {weight_bits: 4}\n"
    )
    assert main(["quant", SPEC, "--policy", str(policy)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "model size" in out and "MAC-weighted" in out
    assert "conv1  conv2d       4       8" in out
    # 72 x 4 + (1152 + 2560) x 8 weight bits + 34 32-bit biases; MACs 4608 (4 b), 73728 + 2560 (8 b)
    assert "model size     31,072 bits (3.79 KiB)" in out
    assert "MAC-weighted   weights 7.77 bits, activations 8.00 bits" in out
    assert main(["quant", SPEC, "--sensitivity", "--bits", "4,8"]) == 0
    out = capsys.readouterr().out
    assert "acc@4b %" in out and out.count("\nconv") == 2 and "\nfc " in out
    policy.write_text("layers: {conv9: {weight_bits: 8}}\n")
    assert main(["quant", SPEC, "--policy", str(policy)]) == 2
    assert "error: policy names layer 'conv9'" in capsys.readouterr().err
    assert main(["quant", SPEC, "--sensitivity", "--bits", "4,x"]) == 2
    assert "error: --bits must be up to 16 comma-separated integers" in capsys.readouterr().err


def test_cli_uniform_export_and_suggest(tmp_path, capsys):
    exported = tmp_path / "int.json"
    assert main(["quant", SPEC, "--uniform", "8", "--export-int", str(exported)]) == 0
    out = capsys.readouterr().out
    assert out.endswith(f"\nwrote {exported} (3 integer layers)\n")
    layers = json.loads(exported.read_text())["layers"]
    assert [layer["name"] for layer in layers] == ["conv1", "conv2", "fc"]
    # the only assignment within 3,784 x 4 + 34 x 32 bits: every layer at 4 bits
    assert main(["quant", SPEC, "--suggest", "16224", "--bits", "4,8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("budget 16,224 bits; widths from [4, 8]\n")
    assert "conv1     4\nconv2     4\nfc        4\n" in out
    assert "model size     16,224 bits" in out


def test_float_policy_is_the_float_model():
    r = evaluate_policy(SPEC, QuantPolicy(default=None))
    assert r.accuracy == r.float_accuracy
    assert r.sqnr_db == float("inf") and r.kl_divergence == 0.0
    assert r.model_size_bits == 32 * (72 + 8 + 1152 + 16 + 2560 + 10)
    assert r.mac_weighted_weight_bits == 32.0
