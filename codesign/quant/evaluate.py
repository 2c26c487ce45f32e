"""Accuracy of a policy, per-layer sensitivity and a mixed-precision suggestion.

With data (``dataset="digits"``, chosen automatically for a model taking ``(N, 1, 8, 8)`` and
returning 10 logits), the model is trained once (weights cached, `codesign.quant.data`),
calibrated on the first 256 training samples and evaluated on the 450 held-out samples. Without
data, a proxy: 256 inputs drawn uniformly in the range of the example input (seed 0), the first
half calibrates and the second half measures the output SQNR and KL divergence against the
float model.

`evaluate_policy` is the explorer's hook: results are cached in memory by
``(model spec, dataset, policy hash)``, so identical policies are evaluated once per process.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from codesign.errors import SpecError
from codesign.quant.data import (
    digits_dataset,
    load_model_spec,
    single_thread,
    top1_accuracy,
    trained_model,
)
from codesign.quant.model import QuantizedModel, quantizable_layers, quantize_model
from codesign.quant.policy import LayerPolicy, QuantPolicy

__all__ = [
    "DATASETS",
    "AccuracyResult",
    "EvalContext",
    "SensitivityRow",
    "MixedPrecisionSuggestion",
    "sqnr_db",
    "kl_divergence",
    "load_context",
    "evaluate_model",
    "evaluate_in_context",
    "evaluate_policy",
    "sensitivity",
    "allocate_bits",
    "suggest_mixed_precision",
]

DATASETS = ("auto", "digits", "none")
"""Accepted ``dataset`` values: ``auto`` (digits when the model fits it, else the proxy),
``digits``, ``none`` (proxy metrics only)."""

CALIBRATION_SAMPLES = 256
PROXY_SAMPLES = 256


@dataclass(frozen=True, kw_only=True, slots=True)
class AccuracyResult:
    """What a policy costs in accuracy, and what it saves in storage.

    Parameters
    ----------
    model : str
        Model spec (or ``"<module>"`` for `evaluate_model`).
    dataset : str or None
        ``"digits"``, or ``None`` when only proxy metrics were measured.
    policy_hash : str
        `QuantPolicy.hash` of the policy.
    accuracy, float_accuracy : float or None
        Top-1 accuracy (fraction) of the quantized and of the float model on the held-out split
        (``None`` without data).
    sqnr_db : float
        Output signal-to-quantization-noise ratio vs the float model, in dB (``inf`` if equal).
    kl_divergence : float
        Mean ``KL(softmax(float) || softmax(quantized))`` over the last axis, in nats.
    model_size_bits : int
        Dense weight storage at the policy's widths plus 32-bit biases (MAC layers).
    mac_weighted_weight_bits, mac_weighted_act_bits : float
        Bit-widths averaged over MAC layers weighted by their MACs (float counts as 32).
    weight_density : float
        Non-zero fraction of all MAC-layer weights.
    samples : int
        Number of evaluation samples.
    """

    model: str
    dataset: str | None
    policy_hash: str
    accuracy: float | None
    float_accuracy: float | None
    sqnr_db: float
    kl_divergence: float
    model_size_bits: int
    mac_weighted_weight_bits: float
    mac_weighted_act_bits: float
    weight_density: float
    samples: int

    @property
    def accuracy_drop(self) -> float | None:
        """``float_accuracy - accuracy`` (fraction), ``None`` without data."""
        if self.accuracy is None or self.float_accuracy is None:
            return None
        return self.float_accuracy - self.accuracy


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class EvalContext:
    """A float model with its calibration and evaluation data.

    Parameters
    ----------
    model_spec : str
        Where the model came from.
    dataset : str or None
        ``"digits"`` or ``None`` (proxy).
    model : torch.nn.Module
        The float model (trained when there is data); never modified by evaluation.
    calibration_inputs, eval_inputs : tuple of torch.Tensor
        Positional model inputs, batched.
    labels : torch.Tensor or None
        Labels of ``eval_inputs``.
    """

    model_spec: str
    dataset: str | None
    model: nn.Module
    calibration_inputs: tuple[torch.Tensor, ...]
    eval_inputs: tuple[torch.Tensor, ...]
    labels: torch.Tensor | None


def sqnr_db(reference: torch.Tensor, approx: torch.Tensor) -> float:
    """``10 log10(sum(ref**2) / sum((ref - approx)**2))`` in dB (``inf`` when equal)."""
    ref = reference.detach().to(torch.float64)
    noise = float(((ref - approx.detach().to(torch.float64)) ** 2).sum())
    signal = float((ref**2).sum())
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def kl_divergence(reference: torch.Tensor, approx: torch.Tensor) -> float:
    """Mean over samples of ``KL(softmax(reference) || softmax(approx))`` along the last axis,
    in nats."""
    p_log = torch.log_softmax(reference.detach().to(torch.float64), dim=-1)
    q_log = torch.log_softmax(approx.detach().to(torch.float64), dim=-1)
    kl = (p_log.exp() * (p_log - q_log)).sum(dim=-1)
    return float(kl.mean())


def _is_digits_model(spec_model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> bool:
    if len(inputs) != 1 or tuple(inputs[0].shape[1:]) != (1, 8, 8):
        return False
    with torch.no_grad():
        out = spec_model(*inputs)
    return isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[-1] == 10


@functools.cache
def load_context(model_spec: str, dataset: str = "auto") -> EvalContext:
    """Model and data for ``model_spec`` (cached per process; see the module docstring)."""
    if dataset not in DATASETS:
        raise SpecError(f"dataset must be one of {list(DATASETS)}, not {dataset!r}")
    spec = load_model_spec(model_spec)
    if dataset == "auto":
        dataset = "digits" if _is_digits_model(spec.module, spec.example_inputs) else "none"
    if dataset == "digits":
        if not _is_digits_model(spec.module, spec.example_inputs):
            raise SpecError(
                f"dataset 'digits' needs a model taking (N, 1, 8, 8) and returning 10 logits; "
                f"{model_spec!r} takes {[tuple(x.shape) for x in spec.example_inputs]}"
            )
        data = digits_dataset()
        return EvalContext(
            model_spec=model_spec,
            dataset="digits",
            model=trained_model(spec, data),
            calibration_inputs=(data.train_x[:CALIBRATION_SAMPLES],),
            eval_inputs=(data.test_x,),
            labels=data.test_y,
        )
    gen = torch.Generator().manual_seed(0)
    samples = []
    for x in spec.example_inputs:
        if not torch.is_floating_point(x):
            raise SpecError(
                f"model {model_spec!r}: proxy evaluation needs floating-point example inputs, "
                f"not {x.dtype}"
            )
        lo, hi = float(x.min()), float(x.max())
        u = torch.rand((PROXY_SAMPLES, *x.shape[1:]), generator=gen, dtype=x.dtype)
        samples.append(lo + (hi - lo) * u)
    half = PROXY_SAMPLES // 2
    return EvalContext(
        model_spec=model_spec,
        dataset=None,
        model=spec.module,
        calibration_inputs=tuple(s[:half] for s in samples),
        eval_inputs=tuple(s[half:] for s in samples),
        labels=None,
    )


def evaluate_model(
    model: nn.Module,
    policy: QuantPolicy,
    *,
    calibration_inputs: Sequence[torch.Tensor],
    eval_inputs: Sequence[torch.Tensor],
    labels: torch.Tensor | None = None,
    model_name: str = "<module>",
    dataset: str | None = None,
) -> tuple[AccuracyResult, QuantizedModel]:
    """Quantize ``model`` under ``policy`` and measure it on ``eval_inputs`` against the float
    model (top-1 accuracy when ``labels`` are given, SQNR and KL always)."""
    with single_thread():
        qmodel = quantize_model(model, policy, tuple(calibration_inputs))
        with torch.no_grad():
            ref = model(*eval_inputs)
            out = qmodel.module(*eval_inputs)
    w_bits, a_bits = qmodel.mac_weighted_bits()
    weights = sum(i.weight_elements for i in qmodel.layers)
    nonzero = sum(i.weight_elements * i.weight_density for i in qmodel.layers)
    result = AccuracyResult(
        model=model_name,
        dataset=dataset,
        policy_hash=policy.hash(),
        accuracy=None if labels is None else top1_accuracy(out, labels),
        float_accuracy=None if labels is None else top1_accuracy(ref, labels),
        sqnr_db=sqnr_db(ref, out),
        kl_divergence=kl_divergence(ref, out),
        model_size_bits=qmodel.model_size_bits,
        mac_weighted_weight_bits=w_bits,
        mac_weighted_act_bits=a_bits,
        weight_density=nonzero / weights if weights else 1.0,
        samples=int(eval_inputs[0].shape[0]),
    )
    return result, qmodel


def evaluate_in_context(
    ctx: EvalContext, policy: QuantPolicy
) -> tuple[AccuracyResult, QuantizedModel]:
    """`evaluate_model` on a context's model and data (uncached; also returns the quantized
    model, for per-layer reports)."""
    return evaluate_model(
        ctx.model,
        policy,
        calibration_inputs=ctx.calibration_inputs,
        eval_inputs=ctx.eval_inputs,
        labels=ctx.labels,
        model_name=ctx.model_spec,
        dataset=ctx.dataset,
    )


_RESULTS: dict[tuple[str, str, str], AccuracyResult] = {}


def evaluate_policy(
    model_spec: str, policy: QuantPolicy, *, dataset: str = "auto"
) -> AccuracyResult:
    """Accuracy (or proxy metrics) of ``model_spec`` under ``policy``; the explorer's hook.

    Results are cached in memory by ``(model_spec, dataset, policy.hash())``: evaluating an
    identical policy again returns the cached `AccuracyResult` without quantizing anything.

    Parameters
    ----------
    model_spec : str
        ``path/to/file.py:factory``.
    policy : QuantPolicy
        The per-layer policy.
    dataset : str
        One of `DATASETS`.
    """
    key = (model_spec, dataset, policy.hash())
    cached = _RESULTS.get(key)
    if cached is not None:
        return cached
    result, _ = evaluate_in_context(load_context(model_spec, dataset), policy)
    _RESULTS[key] = result
    return result


@dataclass(frozen=True, kw_only=True, slots=True)
class SensitivityRow:
    """One layer quantized to ``bits`` (weights and activations), every other layer float.

    Parameters
    ----------
    layer : str
        Module path.
    bits : int
        Weight and activation width of that layer.
    accuracy : float or None
        Top-1 accuracy (``None`` without data).
    sqnr_db : float
        Output SQNR vs the float model.
    size_bits : int
        That layer's dense weight storage at ``bits`` plus its 32-bit biases.
    """

    layer: str
    bits: int
    accuracy: float | None
    sqnr_db: float
    size_bits: int


def sensitivity(
    model_spec: str,
    bits: Sequence[int] = (2, 4, 8),
    *,
    template: LayerPolicy | None = None,
    dataset: str = "auto",
) -> list[SensitivityRow]:
    """Per-layer sensitivity: for each MAC layer and each width in ``bits``, quantize only that
    layer (``template`` with ``weight_bits = act_bits = b``; default `LayerPolicy()`) and
    measure accuracy and SQNR. Rows are layer-major in execution order."""
    template = template or LayerPolicy()
    ctx = load_context(model_spec, dataset)
    layers = quantizable_layers(ctx.model)
    rows = []
    for layer in layers:
        for b in bits:
            pol = replace(template, weight_bits=b, act_bits=b)
            policy = QuantPolicy(default=None, layers=((layer, pol),))
            result = evaluate_policy(model_spec, policy, dataset=dataset)
            rows.append(
                SensitivityRow(
                    layer=layer,
                    bits=b,
                    accuracy=result.accuracy,
                    sqnr_db=result.sqnr_db,
                    size_bits=_layer_size_bits(ctx.model.get_submodule(layer), b),
                )
            )
    return rows


def _layer_size_bits(module: nn.Module, bits: int) -> int:
    bias = 0 if module.bias is None else module.bias.numel()
    return module.weight.numel() * bits + 32 * bias


def allocate_bits(
    options: Mapping[str, Mapping[int, tuple[int, float]]], budget_bits: int
) -> dict[str, int]:
    """Exact multiple-choice knapsack: one width per layer minimizing the summed cost with the
    summed size within ``budget_bits``.

    ``options[layer][bits] = (size_bits, cost)``. Solved by merging Pareto fronts of
    ``(size, cost)`` layer by layer (exact; the fronts stay small in practice). Ties in cost go
    to the smaller size, then to the wider choice.
    """
    front: list[tuple[int, float, tuple[int, ...]]] = [(0, 0.0, ())]
    names = list(options)
    for name in names:
        choices = sorted(options[name].items(), key=lambda kv: -kv[0])
        if not choices:
            raise SpecError(f"allocate_bits: layer {name!r} has no bit-width options")
        merged = [
            (size + c_size, cost + c_cost, (*picks, b))
            for size, cost, picks in front
            for b, (c_size, c_cost) in choices
        ]
        merged.sort(key=lambda t: (t[0], t[1]))
        front = []
        for entry in merged:
            if not front or entry[1] < front[-1][1]:
                front.append(entry)
    feasible = [e for e in front if e[0] <= budget_bits]
    if not feasible:
        raise SpecError(
            f"budget_bits must be at least {front[0][0]} (every layer at its narrowest width), "
            f"not {budget_bits}"
        )
    best = min(feasible, key=lambda e: (e[1], e[0]))
    return dict(zip(names, best[2], strict=True))


@dataclass(frozen=True, kw_only=True, slots=True)
class MixedPrecisionSuggestion:
    """A per-layer width assignment under a storage budget, and its measured result.

    Parameters
    ----------
    policy : QuantPolicy
        The suggested policy (weights and activations of each layer at the chosen width).
    bits : tuple of (str, int)
        The chosen width per layer.
    budget_bits : int
        The storage budget (`AccuracyResult.model_size_bits` must not exceed it).
    predicted_noise : float
        Sum over layers of the relative output noise power ``10**(-SQNR/10)`` measured when
        that layer alone is quantized: the additive objective that was minimized.
    result : AccuracyResult
        The suggested policy, evaluated.
    """

    policy: QuantPolicy
    bits: tuple[tuple[str, int], ...]
    budget_bits: int
    predicted_noise: float
    result: AccuracyResult


def suggest_mixed_precision(
    model_spec: str,
    budget_bits: int,
    *,
    bits: Sequence[int] = (2, 4, 8),
    template: LayerPolicy | None = None,
    dataset: str = "auto",
) -> MixedPrecisionSuggestion:
    """The widths (one of ``bits`` per layer) minimizing the summed per-layer output noise
    (from `sensitivity`) with the model size within ``budget_bits``, then evaluated.

    The per-layer noise powers are assumed additive (independent quantization noise), as in
    HAWQ-style allocation; the returned result is a real measurement of the chosen policy.
    """
    if isinstance(budget_bits, bool) or not isinstance(budget_bits, int) or budget_bits <= 0:
        raise SpecError(f"budget_bits must be a positive integer, not {budget_bits!r}")
    template = template or LayerPolicy()
    rows = sensitivity(model_spec, bits, template=template, dataset=dataset)
    options: dict[str, dict[int, tuple[int, float]]] = {}
    for row in rows:
        noise = 0.0 if math.isinf(row.sqnr_db) and row.sqnr_db > 0 else 10 ** (-row.sqnr_db / 10)
        options.setdefault(row.layer, {})[row.bits] = (row.size_bits, noise)
    chosen = allocate_bits(options, budget_bits)
    policy = QuantPolicy(
        default=None,
        layers=tuple(
            (layer, replace(template, weight_bits=b, act_bits=b)) for layer, b in chosen.items()
        ),
    )
    predicted = sum(options[layer][b][1] for layer, b in chosen.items())
    return MixedPrecisionSuggestion(
        policy=policy,
        bits=tuple(chosen.items()),
        budget_bits=budget_bits,
        predicted_noise=predicted,
        result=evaluate_policy(model_spec, policy, dataset=dataset),
    )
