"""Verification of a generated array against PyTorch: drive a GEMM, a convolution (im2col) or
a layer of a quantized model through the RTL in Icarus, compare bit-exactly with the
reference, and compare measured cycles with ``codesign.cost.systolic``.

Two references are checked: per tile, the bench's scoreboard compares every output beat with
the tile's own product; per layer, the reassembled output is compared element by element with
an independent reference (``torch`` int32 matmul of the int8 operands for GEMMs, the
quantization package's integer accumulators for model layers).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from codesign.sim.design import ArrayDesign
from codesign.sim.gemm import GemmPlan, cost_model_cycles, plan_gemm
from codesign.sim.runner import build_design, run_bench
from codesign.sim.scoreboard import Mismatch, Scoreboard, verify_json

from codesign.accel.array import Dataflow
from codesign.accel.program import im2col
from codesign.errors import SpecError

if TYPE_CHECKING:
    from codesign.quant.policy import QuantPolicy

__all__ = [
    "VerifyResult",
    "verify_gemm",
    "verify_conv2d",
    "verify_layer",
    "verify_attention",
    "attention_operands",
    "random_operands",
    "im2col",
    "TB_MODULE",
]

TB_MODULE = "codesign.sim.tb_streams"
"""The cocotb test module every array is verified with."""


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyResult:
    """Outcome of one verification run.

    Parameters
    ----------
    what : str
        What was verified, e.g. ``"gemm 64x64x64"``.
    passed : bool
        Bit-exact, and (without back-pressure or idle cycles) the measured cycles equal the
        predicted ones.
    compared : int
        Number of output elements compared with the layer reference.
    mismatch_count : int
        Wrong output elements (layer reference) plus wrong beats (tile scoreboard).
    mismatches : tuple of Mismatch
        The first few, with indices.
    cycles_measured : int
        From the first input beat accepted to the last output beat, inclusive.
    cycles_predicted : int
        ``codesign.cost.systolic`` for the same tiles in the same issue mode.
    cycles_cost_model : int
        The analytical cost model's array cycles for the same GEMM and mapping
        in the same issue mode (`codesign.sim.gemm.cost_model_cycles`: overlapped issue is the
        weight-stationary preset with ``overlap_passes``; the 2:4 array is the preset with
        ``nm=(2, 4)``).
    sequential : bool
        Tiles were issued one after another instead of overlapped.
    tile_cycles_measured, tile_cycles_predicted : tuple of int
        The same per tile.
    stalled : bool
        Whether random back-pressure or idle cycles were applied (cycles then differ).
    simulator, simulator_version : str
        The HDL simulator.
    seconds : float
        Wall time of the simulation (build excluded when cached).
    work_dir : str or None
        Folder with the bench's files (results, logs, waveforms); None when a temporary
        folder was used and removed (it is kept when the run failed or dumped waveforms).
    waves_path : str or None
        VCD file when waveforms were dumped.
    """

    what: str
    passed: bool
    compared: int
    mismatch_count: int
    mismatches: tuple[Mismatch, ...]
    cycles_measured: int
    cycles_predicted: int
    cycles_cost_model: int
    sequential: bool
    tile_cycles_measured: tuple[int, ...]
    tile_cycles_predicted: tuple[int, ...]
    stalled: bool
    simulator: str
    simulator_version: str
    seconds: float
    work_dir: str | None
    waves_path: str | None

    @property
    def cycles_match(self) -> bool:
        """Measured layer and tile cycles equal the predicted ones."""
        return (
            self.cycles_measured == self.cycles_predicted
            and self.tile_cycles_measured == self.tile_cycles_predicted
        )

    def to_json(self) -> dict:
        """The ``verify.json`` content."""
        return verify_json(
            self,
            {
                "cycles_measured": self.cycles_measured,
                "cycles_predicted": self.cycles_predicted,
                "cycles_match": self.cycles_match,
                "cycles_cost_model": self.cycles_cost_model,
                "issue": "sequential" if self.sequential else "overlapped",
                "tile_cycles_measured": list(self.tile_cycles_measured),
                "tile_cycles_predicted": list(self.tile_cycles_predicted),
            },
        )


def random_operands(design: ArrayDesign, m: int, n: int, k: int, *, seed: int = 1):
    """Random ``A`` (``M x K``) and ``B`` (``K x N``) spanning the full signed ranges of the
    design's operands, with ``B`` pruned to 2:4 for a sparse array; int64 torch tensors."""
    for name, v in (("M", m), ("N", n), ("K", k)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise SpecError(f"gemm size {name} must be a positive integer, not {v!r}")
    cfg = design.config
    g = torch.Generator().manual_seed(seed)
    a_lo, a_hi = -(1 << (cfg.act_bits - 1)), 1 << (cfg.act_bits - 1)
    w_lo, w_hi = -(1 << (cfg.weight_bits - 1)), 1 << (cfg.weight_bits - 1)
    a = torch.randint(a_lo, a_hi, (m, k), generator=g, dtype=torch.int64)
    b = torch.randint(w_lo, w_hi, (k, n), generator=g, dtype=torch.int64)
    if cfg.dataflow is Dataflow.SPARSE_2_4:
        b = prune_2_4(b)
    return a, b


def prune_2_4(b: torch.Tensor) -> torch.Tensor:
    """Keep the two largest-magnitude entries of every aligned group of four rows of each
    column of ``b`` (``K x N``)."""
    k, n = b.shape
    pad = (-k) % 4
    padded = torch.cat([b, torch.zeros((pad, n), dtype=b.dtype)]) if pad else b.clone()
    groups = padded.reshape(-1, 4, n)
    drop = groups.abs().argsort(dim=1, stable=True)[:, :2, :]
    groups = groups.scatter(1, drop, 0)
    return groups.reshape(-1, n)[:k]


def _simulate(
    design: ArrayDesign,
    plan: GemmPlan,
    *,
    what: str,
    reference: np.ndarray,
    post: object,
    seed: int,
    back_pressure: float,
    idle: float,
    sequential: bool,
    waves: bool,
    work_dir: str | os.PathLike | None,
    cache_dir: str | os.PathLike | None,
    simulator: str,
) -> VerifyResult:
    for name, p in (("back_pressure", back_pressure), ("idle", idle)):
        if not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise SpecError(f"{name} must be a probability in [0, 1), not {p!r}")
    build = build_design(
        [design.verilog_path], design.top, waves=waves, cache_dir=cache_dir, simulator=simulator
    )
    job = plan.job(
        sequential=sequential,
        seed=seed,
        input_pause_probability=idle,
        output_pause_probability=back_pressure,
    )
    start = time.perf_counter()
    run = run_bench(build, TB_MODULE, job=job, seed=seed, work_dir=work_dir, waves=waves)
    seconds = time.perf_counter() - start
    res = run.result
    tiles = res.get("tiles", [])
    board = Scoreboard()
    if res.get("timed_out") or len(tiles) != len(plan.tiles):
        board.record_missing("timeout", received=len(tiles), expected=len(plan.tiles))
    else:
        got = post(plan.assemble([t["out"]["outputs"] for t in tiles]))
        board.compare_arrays("O", reference, got)
    beat_mismatches = int(res.get("mismatch_count", 0))
    mismatches = list(board.mismatches)
    for m in res.get("mismatches", [])[: max(0, 10 - len(mismatches))]:
        mismatches.append(
            Mismatch(
                where=m["where"],
                index=tuple(m["index"]),
                expected=m["expected"],
                actual=m["actual"],
            )
        )
    measured = tuple(int(t.get("cycles", -1)) for t in tiles)
    predicted = tuple(t.predicted_cycles for t in plan.tiles)
    stalled = back_pressure > 0 or idle > 0
    cycles_measured = int(res.get("layer_cycles", -1))
    mismatch_count = board.mismatch_count + beat_mismatches
    cycles_predicted = plan.predicted_cycles(sequential=sequential)
    cycles_match = cycles_measured == cycles_predicted and measured == predicted
    passed = run.passed and mismatch_count == 0 and (stalled or cycles_match)
    keep = work_dir is not None or waves or not passed
    if not keep:
        shutil.rmtree(run.work_dir, ignore_errors=True)
    return VerifyResult(
        what=what,
        passed=passed,
        compared=board.compared,
        mismatch_count=mismatch_count,
        mismatches=tuple(mismatches),
        cycles_measured=cycles_measured,
        cycles_predicted=cycles_predicted,
        cycles_cost_model=cost_model_cycles(plan, sequential=sequential),
        sequential=sequential,
        tile_cycles_measured=measured,
        tile_cycles_predicted=predicted,
        stalled=stalled,
        simulator=build.simulator.name,
        simulator_version=build.simulator.version,
        seconds=seconds,
        work_dir=str(run.work_dir) if keep else None,
        waves_path=str(run.waves_path) if run.waves_path else None,
    )


def verify_gemm(
    design: ArrayDesign,
    a: object,
    b: object,
    *,
    stream_len: int | None = None,
    seed: int = 1,
    back_pressure: float = 0.0,
    idle: float = 0.0,
    sequential: bool = False,
    waves: bool = False,
    work_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    simulator: str = "icarus",
    what: str | None = None,
) -> VerifyResult:
    """Run ``A @ B`` through the array and compare with ``torch`` (int32 matmul of the operands).

    Parameters
    ----------
    design : ArrayDesign
        From `codesign.sim.load_design`.
    a, b : matrix
        ``M x K`` activations and ``K x N`` weights (integers within the operand widths).
    stream_len : int, optional
        The mapping's temporal tile (see `codesign.sim.gemm.plan_gemm`).
    seed : int
        Seed of the random pauses and of cocotb.
    back_pressure, idle : float
        Probability of ready low on the output / valid low before an input beat, per cycle.
    sequential : bool
        Start each tile after the previous tile's last output instead of overlapping them.
    waves : bool
        Dump a VCD file into the work folder.
    work_dir, cache_dir : path, optional
        Where the bench runs (default: a temporary folder, removed unless the run failed or
        dumped waveforms) and where compiled designs are cached.
    simulator : str
        ``"icarus"`` or ``"verilator"`` (`codesign.sim.runner.build_design`).
    what : str, optional
        Label in the result (default ``"gemm MxNxK"``).
    """
    plan = plan_gemm(design, a, b, stream_len=stream_len)
    a_t = torch.as_tensor(np.asarray(_np(a)), dtype=torch.int32)
    b_t = torch.as_tensor(np.asarray(_np(b)), dtype=torch.int32)
    reference = torch.matmul(a_t, b_t).numpy().astype(np.int64)
    return _simulate(
        design,
        plan,
        what=what or f"gemm {plan.m}x{plan.n}x{plan.k}",
        reference=reference,
        post=lambda raw: raw,
        seed=seed,
        back_pressure=back_pressure,
        idle=idle,
        sequential=sequential,
        waves=waves,
        work_dir=work_dir,
        cache_dir=cache_dir,
        simulator=simulator,
    )


def _np(x: object) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _zero_point_correction(
    x: torch.Tensor,
    w: torch.Tensor,
    input_zero_point: int,
    weight_zero_point: torch.Tensor | None,
    bias: torch.Tensor | None,
) -> np.ndarray:
    """What to add to the raw product ``x @ w`` (``R x K`` by ``K x N`` integers) to get
    ``bias + (x - zp_x) @ (w - zp_w)``: ``-zp_x * sum_k w - zp_w * sum_k x + K zp_x zp_w + bias``
    (``R x N``, int64; ``zp_w`` and ``bias`` per column)."""
    n, depth = w.shape[1], w.shape[0]
    zero = torch.zeros(n, dtype=torch.int64)
    zw = zero if weight_zero_point is None else weight_zero_point.to(torch.int64).reshape(n)
    b = zero if bias is None else bias.to(torch.int64).reshape(n)
    zx = int(input_zero_point)
    row_sum_x = x.to(torch.int64).sum(dim=1, keepdim=True)
    col_sum_w = w.to(torch.int64).sum(dim=0)
    return (-zx * col_sum_w - row_sum_x * zw + depth * zx * zw + b).numpy()


def verify_conv2d(
    design: ArrayDesign,
    x_q: torch.Tensor,
    w_q: torch.Tensor,
    reference_acc: torch.Tensor,
    *,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    input_zero_point: int = 0,
    weight_zero_point: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    what: str = "conv2d",
    **options: object,
) -> VerifyResult:
    """Run a (non-grouped) 2-D convolution through the array via im2col and compare its
    accumulators with ``reference_acc`` (``N x K x P x Q``).

    The array multiplies the raw integer operands; the zero-point corrections and the bias are
    added on the host, so the result is
    ``bias + sum (x_q - zp_x) * (w_q - zp_w)`` (padding is ``x_q = zp_x``), the accumulators of
    ``codesign.quant``'s integer reference. ``options`` are those of `verify_gemm`.
    """
    if x_q.dim() != 4 or w_q.dim() != 4 or x_q.shape[1] != w_q.shape[1]:
        raise SpecError(
            f"conv2d needs x (N, C, H, W) and w (K, C, R, S) with the same C, not "
            f"{tuple(x_q.shape)} and {tuple(w_q.shape)}"
        )
    kout, c, r, s = w_q.shape
    n = x_q.shape[0]
    x64, w64 = x_q.to(torch.int64), w_q.to(torch.int64)
    patches, (p, q) = im2col(
        x64, (r, s), stride=stride, padding=padding, dilation=dilation, pad_value=input_zero_point
    )
    wmat = w64.reshape(kout, c * r * s).T.contiguous()  # (CRS, K)
    correction = _zero_point_correction(patches, wmat, input_zero_point, weight_zero_point, bias)

    def post(raw: np.ndarray) -> np.ndarray:
        acc = raw + correction  # (NPQ, K)
        return acc.reshape(n, p, q, kout).transpose(0, 3, 1, 2)

    plan = plan_gemm(design, patches, wmat, stream_len=options.pop("stream_len", None))
    return _simulate(
        design,
        plan,
        what=what,
        reference=reference_acc.to(torch.int64).numpy(),
        post=post,
        **_sim_options(options),
    )


def _sim_options(options: dict) -> dict:
    allowed = {
        "seed", "back_pressure", "idle", "sequential", "waves", "work_dir", "cache_dir", "simulator"
    }
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise SpecError(f"unknown option {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
    defaults = {
        "seed": 1,
        "back_pressure": 0.0,
        "idle": 0.0,
        "sequential": False,
        "waves": False,
        "work_dir": None,
        "cache_dir": None,
        "simulator": "icarus",
    }
    return {**defaults, **options}


def _load_layer_model(
    spec: str,
    *,
    usage: str = "layer must be MODULE_PATH:FACTORY:LAYER (e.g. "
    "examples/models.py:digits_cnn:conv2)",
) -> tuple[str, str, torch.nn.Module, tuple]:
    """Split ``"MODULE_PATH:FACTORY:NAME"`` and load the model with its example inputs; returns
    ``(model_spec, name, module, inputs)``. ``usage`` opens the message of a malformed spec."""
    from codesign.workload import load_model

    model_spec, sep, name = spec.rpartition(":")
    if not sep or ":" not in model_spec or not name:
        raise SpecError(f"{usage}, not {spec!r}")
    module, inputs = load_model(model_spec)
    if inputs is None:
        raise SpecError(f"model {model_spec!r} has no example inputs (define FACTORY_inputs())")
    return model_spec, name, module, inputs


def verify_layer(
    design: ArrayDesign,
    layer_spec: str,
    *,
    bits: int | None = None,
    policy: QuantPolicy | None = None,
    **options: object,
) -> VerifyResult:
    """Verify one layer of a model, ``"MODULE_PATH:FACTORY:LAYER"`` (e.g.
    ``"examples/models.py:digits_cnn:conv2"``), quantized uniformly to the design's operand
    width with ``codesign.quant`` (and pruned 2:4 along the reduction for a sparse array),
    the reference is the quantization package's integer accumulators of that layer. A model
    with data (the digits CNN, see ``codesign.quant.evaluate.load_context``) is trained (or
    loaded from the cache), calibrated on training images and driven with the first held-out
    image; other models are calibrated on and driven with their example inputs.

    ``Conv2d`` layers run through im2col, ``Linear`` layers as ``x @ W.T``. ``options`` are
    those of `verify_gemm`.
    """
    from codesign.quant.evaluate import load_context
    from codesign.quant.model import int_layer_io, quantize_model
    from codesign.quant.policy import Pruning, QuantPolicy

    model_spec, layer_name, module, inputs = _load_layer_model(layer_spec)
    calibration = inputs
    context = load_context(model_spec)
    if context.dataset is not None:
        # A model with data (the digits CNN): the trained weights, calibrated on training
        # images, driven with the first held-out image.
        module, calibration = context.model, context.calibration_inputs
        inputs = tuple(x[:1] for x in context.eval_inputs)
    cfg = design.config
    width = bits if bits is not None else min(cfg.act_bits, cfg.weight_bits)
    if policy is not None:
        _check_layer_policy(cfg, layer_name, policy.for_layer(layer_name))
        width = policy.for_layer(layer_name).weight_bits
    elif cfg.dataflow is Dataflow.SPARSE_2_4:  # symmetric weights keep pruned zeros at 0
        policy = QuantPolicy.uniform(width, pruning=Pruning.NM, nm=(2, 4))
    else:
        policy = QuantPolicy.uniform(width)
    qmodel = quantize_model(module, policy, calibration)
    io = int_layer_io(qmodel, layer_name, inputs)
    layer = io.layer
    if layer.groups != 1:
        raise SpecError(
            f"layer {layer_name!r} has groups={layer.groups}; only groups=1 is supported"
        )
    what = f"{layer_spec} ({layer.op}, int{width})"
    if layer.op == "conv2d":
        return verify_conv2d(
            design,
            io.input_q,
            io.weight_q,
            io.acc,
            stride=tuple(layer.stride),
            padding=tuple(layer.padding),
            dilation=tuple(layer.dilation),
            input_zero_point=int(layer.input_zero_point),
            weight_zero_point=layer.weight_zero_point,
            bias=layer.bias_int32,
            what=what,
            **options,
        )
    if layer.op == "linear":
        x = io.input_q.to(torch.int64).reshape(-1, io.input_q.shape[-1])
        w = io.weight_q.to(torch.int64)  # (out, in)
        correction = _zero_point_correction(
            x,
            w.T,
            int(layer.input_zero_point),
            layer.weight_zero_point,
            layer.bias_int32,
        )
        plan = plan_gemm(design, x, w.T.contiguous(), stream_len=options.pop("stream_len", None))
        reference = io.acc.to(torch.int64).reshape(x.shape[0], -1).numpy()
        return _simulate(
            design,
            plan,
            what=what,
            reference=reference,
            post=lambda raw: raw + correction,
            **_sim_options(options),
        )
    raise SpecError(f"layer {layer_name!r} is a {layer.op}; supported: conv2d, linear")


def _check_layer_policy(cfg, layer_name: str, lp) -> None:
    """A layer's quantization policy must be one the array can run: quantized, operands no
    wider than the array's, and 2:4-pruned for the sparse array."""
    from codesign.quant.policy import Pruning

    if lp is None:
        raise SpecError(f"policy keeps layer {layer_name!r} in float; the array needs integers")
    for field_name, want, have in (
        ("weight_bits", lp.weight_bits, cfg.weight_bits),
        ("act_bits", lp.act_bits, cfg.act_bits),
    ):
        if want is None or want > have:
            raise SpecError(
                f"policy {field_name} of layer {layer_name!r} is {want}; the array takes at "
                f"most {have} bits"
            )
    if cfg.dataflow is Dataflow.SPARSE_2_4 and (lp.pruning is not Pruning.NM or lp.nm != (2, 4)):
        raise SpecError(
            f"policy pruning of layer {layer_name!r} is {lp.pruning.value}; the 2:4-sparse "
            "array needs pruning nm with nm (2, 4)"
        )


def _quantize_symmetric(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-tensor symmetric quantization (scale ``max|x| / (2**(bits-1) - 1)``, round half to
    even, clamp) as int64."""
    qmax = (1 << (bits - 1)) - 1
    scale = float(x.abs().max()) / qmax or 1.0
    return torch.clamp(torch.round(x / scale), -qmax, qmax).to(torch.int64)


def attention_operands(
    spec: str, *, batch: int = 0, head: int = 0, bits: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """``Q`` (``T x d``) and ``K^T`` (``d x T``) of one head of a self-attention module,
    ``"MODULE_PATH:FACTORY:ATTENTION"`` (e.g.
    ``"examples/models.py:transformer_encoder:layers.0.attn"``), captured on the model's example
    inputs and quantized symmetrically per tensor to ``bits``.

    The attention module must have ``q`` and ``k`` projections and ``heads`` and ``head_dim``
    attributes, like ``examples.models.SelfAttention``.
    """
    model_spec, path, module, inputs = _load_layer_model(
        spec,
        usage="attention must be MODULE_PATH:FACTORY:MODULE (e.g. "
        "examples/models.py:transformer_encoder:layers.0.attn)",
    )
    try:
        attn = module.get_submodule(path)
    except AttributeError:
        raise SpecError(f"model {model_spec!r} has no module {path!r}") from None
    missing = [a for a in ("q", "k", "heads", "head_dim") if not hasattr(attn, a)]
    if missing:
        raise SpecError(
            f"module {path!r} is a {type(attn).__name__} without {missing}; an attention module "
            f"needs q and k projections and heads, head_dim attributes"
        )
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        getattr(attn, name).register_forward_hook(
            lambda _m, _a, out, name=name: seen.setdefault(name, out.detach())
        )
        for name in ("q", "k")
    ]
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in hooks:
            h.remove()
    lo, hi = head * attn.head_dim, (head + 1) * attn.head_dim
    if not 0 <= head < attn.heads:
        raise SpecError(f"head must be in 0..{attn.heads - 1}, not {head!r}")
    q = _quantize_symmetric(seen["q"][batch, :, lo:hi], bits)
    k = _quantize_symmetric(seen["k"][batch, :, lo:hi], bits)
    return q, k.T.contiguous()


def verify_attention(
    design: ArrayDesign, spec: str, *, head: int = 0, **options: object
) -> VerifyResult:
    """Verify the attention scores ``Q K^T`` of one head (`attention_operands`, quantized to the
    design's operand width) against ``torch`` int32 matmul; ``options`` are those of
    `verify_gemm`."""
    width = min(design.config.act_bits, design.config.weight_bits)
    q, k_t = attention_operands(spec, head=head, bits=width)
    if design.config.dataflow is Dataflow.SPARSE_2_4:
        k_t = prune_2_4(k_t)
    return verify_gemm(
        design, q, k_t, what=f"{spec} scores Q K^T, head {head} (int{width})", **options
    )
