"""Whole layers through the accelerator's bus interfaces: the host's program (CSR writes and
``s_axis`` words), the simulation in Icarus, bit-exact comparison with the quantization
package's integer reference, and measured cycles against the cost model.

The host side of a layer ``O = requant(bias + A @ W)`` (``A`` is ``M x K``, ``W`` is ``K x N``):

* weights are symmetric (zero point 0), so the input zero point folds into the bias:
  ``bias'[n] = bias[n] - zp_in * sum_k W[k, n]``; a convolution arrives as its im2col patches
  (padded with ``zp_in``), rows ordered ``(n, p, q)``, columns ``(c, r, s)``;
* ``K`` is zero-padded to a multiple of ``rows`` and ``N`` to a multiple of ``cols``; outputs of
  padded channels are dropped;
* the words are sent in the controller's loop order (``codesign.hw.accel_config``).

The cycles measured are those from the first ``s_axis`` handshake to the last ``m_axis``
handshake, inclusive; the prediction is ``codesign.cost.evaluate_one`` of the GEMM loop nest on
``AcceleratorConfig.architecture()`` with ``AcceleratorConfig.mapping``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from codesign.hw.accel_config import AcceleratorConfig, register_address
from codesign.sim.runner import BenchRun, Build, build_design, run_bench
from codesign.sim.scoreboard import Mismatch, Scoreboard, verify_json
from codesign.sim.verify import _load_layer_model, im2col

from codesign.errors import SpecError

__all__ = [
    "AcceleratorDesign",
    "AcceleratorResult",
    "LayerProgram",
    "load_accelerator",
    "program_layer",
    "decode_outputs",
    "predict",
    "run_program",
    "verify_accelerator_gemm",
    "verify_accelerator_conv2d",
    "verify_accelerator_layer",
    "CYCLE_TOLERANCE",
    "STATUS_DONE",
    "TB_MODULE",
]

TB_MODULE = "codesign.sim.tb_accelerator"
"""The cocotb test module of the accelerator."""

STATUS_DONE = 0b10
"""STATUS after a layer: done, not busy."""

CYCLE_TOLERANCE = 0.02
"""Largest relative difference between measured and predicted cycles a run passes with."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AcceleratorDesign:
    """A generated accelerator folder.

    Parameters
    ----------
    folder : pathlib.Path
    top : str
    verilog_path : pathlib.Path
    config : AcceleratorConfig
    manifest : dict
    """

    folder: Path
    top: str
    verilog_path: Path
    config: AcceleratorConfig
    manifest: dict


def load_accelerator(folder: str | os.PathLike) -> AcceleratorDesign:
    """Read a folder written by ``codesign.hw.accel_export.export_accelerator``."""
    root = Path(folder)
    path = root / "manifest.json"
    if not path.is_file():
        raise SpecError(f"design folder {str(root)!r} has no manifest.json")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if manifest.get("kind") != "accelerator":
        raise SpecError(
            f"{str(path)!r} has kind {manifest.get('kind')!r}; expected 'accelerator' (generate "
            f"it with `codesign generate --top accelerator`)"
        )
    config = AcceleratorConfig.from_dict(manifest["accelerator"])
    verilog_path = root / manifest["verilog"]
    if not verilog_path.is_file():
        raise SpecError(
            f"{str(path)!r} names Verilog file {manifest['verilog']!r}, which is missing"
        )
    return AcceleratorDesign(
        folder=root,
        top=manifest["top"],
        verilog_path=verilog_path,
        config=config,
        manifest=manifest,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerProgram:
    """What the host sends for one GEMM layer.

    Parameters
    ----------
    m, n, k, tile_m : int
        GEMM sizes and the rows per pass.
    csr_writes : tuple of (int, int)
        Register writes in order (parameters, dims, then CTRL start).
    stream_words : tuple of int
        ``s_axis_tdata`` words.
    out_beats : int
        ``m_axis`` beats the layer produces.
    out_rows : tuple of (int, int)
        For each ``m_axis`` beat, in order: the row of ``O`` (os: possibly a padded row) and
        the column tile ``n2`` it carries.
    """

    m: int
    n: int
    k: int
    tile_m: int
    csr_writes: tuple[tuple[int, int], ...]
    stream_words: tuple[int, ...]
    out_beats: int
    out_rows: tuple[tuple[int, int], ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class AcceleratorResult:
    """Outcome of one accelerator run; `to_json` has the keys of an array's ``verify.json``.

    Parameters
    ----------
    what : str
        What was verified.
    passed : bool
        Bit-exact, ``tlast`` on the last beat only, and (without back-pressure or idle cycles)
        measured cycles within `CYCLE_TOLERANCE` of the cost model's.
    compared : int
        Output elements compared with the reference.
    mismatch_count : int
    mismatches : tuple of Mismatch
        The first few, with indices.
    cycles_measured : int
        First ``s_axis`` handshake to last ``m_axis`` handshake, inclusive.
    cycles_predicted : int
        ``codesign.cost.evaluate_one`` cycles of the layer on the accelerator's architecture and
        mapping.
    cycles_register : int
        The CYCLES register read after the run (start to done).
    breakdown : dict
        The prediction's compute, fill/drain and stall cycles and each level's cycles.
    stalled : bool
        Random back-pressure or idle cycles were applied.
    simulator, simulator_version : str
    seconds : float
        Wall time of the simulation.
    work_dir : str
    waves_path : str or None
    """

    what: str
    passed: bool
    compared: int
    mismatch_count: int
    mismatches: tuple[Mismatch, ...]
    cycles_measured: int
    cycles_predicted: int
    cycles_register: int
    breakdown: dict
    stalled: bool
    simulator: str
    simulator_version: str
    seconds: float
    work_dir: str
    waves_path: str | None

    @property
    def cycles_error(self) -> float:
        """``(measured - predicted) / predicted``."""
        return (self.cycles_measured - self.cycles_predicted) / self.cycles_predicted

    def to_json(self) -> dict:
        """The ``verify.json`` content."""
        return verify_json(
            self,
            {
                "cycles_measured": self.cycles_measured,
                "cycles_predicted": self.cycles_predicted,
                "cycles_error": round(self.cycles_error, 6),
                "cycles_register": self.cycles_register,
                "cycles_breakdown": self.breakdown,
            },
        )


def _matrix(name: str, x: object) -> np.ndarray:
    arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise SpecError(f"{name} must be a 2-D integer matrix, not shape {arr.shape} {arr.dtype}")
    return arr.astype(np.int64)


def _vector(name: str, x: object, n: int) -> np.ndarray:
    arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x).reshape(-1)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise SpecError(f"{name} must hold {n} integers (one per output channel), not {arr.shape}")
    return arr.astype(np.int64)


def _check_range(name: str, arr: np.ndarray, bits: int) -> None:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise SpecError(
            f"{name} values must lie in the signed {bits}-bit range [{lo}, {hi}], not "
            f"[{arr.min()}, {arr.max()}]"
        )


def _pack(values: np.ndarray, bits: int) -> int:
    mask = (1 << bits) - 1
    word = 0
    for i, v in enumerate(values.tolist()):
        word |= (int(v) & mask) << (i * bits)
    return word


def program_layer(
    config: AcceleratorConfig,
    a: object,
    w: object,
    bias: object,
    multiplier: object,
    shift: object,
    zero_point: int,
    *,
    tile_m: int | None = None,
) -> LayerProgram:
    """The CSR writes and ``s_axis`` words of ``requant(bias + a @ w)``.

    Parameters
    ----------
    config : AcceleratorConfig
    a : matrix
        ``M x K`` activations (signed ``act_bits``).
    w : matrix
        ``K x N`` weights (signed ``weight_bits``).
    bias : vector
        ``N`` int32 biases (zero-point terms already folded in).
    multiplier, shift : vector
        ``N`` requantization multipliers (``0 <= M < 2**31``) and shifts (``1..62``).
    zero_point : int
        Output zero point.
    tile_m : int, optional
        Rows per pass; default: the fewest row tiles of at most ``max_tile_m`` rows, balanced
        (``ceil(M / ceil(M / max_tile_m))``), so the last tile is shorter by fewer rows than
        there are row tiles (the cost model charges it as a full tile).
    """
    arr = config.array
    a = _matrix("a", a)
    w = _matrix("w", w)
    m, k = a.shape
    if w.shape[0] != k:
        raise SpecError(f"w must have {k} rows (the columns of a), not {w.shape[0]}")
    n = w.shape[1]
    _check_range("a", a, arr.act_bits)
    _check_range("w", w, arr.weight_bits)
    bias = _vector("bias", bias, n)
    multiplier = _vector("multiplier", multiplier, n)
    shift = _vector("shift", shift, n)
    _check_range("bias", bias, 32)
    if multiplier.min() < 0 or multiplier.max() >= 1 << 31:
        raise SpecError(
            f"multiplier values must lie in [0, 2**31), not [{multiplier.min()}, "
            f"{multiplier.max()}]"
        )
    if shift.min() < 1 or shift.max() > 62:
        raise SpecError(f"shift values must lie in 1..62, not [{shift.min()}, {shift.max()}]")
    if not isinstance(zero_point, int) or not -(2**31) <= zero_point < 2**31:
        raise SpecError(f"zero_point must be an int32, not {zero_point!r}")
    os_flow = config.output_stationary
    if tile_m is None and not os_flow:  # balanced row tiles: the least padding the model charges
        tile_m = math.ceil(m / math.ceil(m / config.max_tile_m))
    t = config.tiling(m, n, k, tile_m)
    rows, cols = config.rows, config.cols
    k_pad = k if os_flow else t["K_TILES"] * rows
    m_pad = t["M_TILES"] * rows if os_flow else m
    n_pad = t["N_TILES"] * cols
    a_p = np.zeros((m_pad, k_pad), dtype=np.int64)
    a_p[:m, :k] = a
    w_p = np.zeros((k_pad, n_pad), dtype=np.int64)
    w_p[:k, :n] = w

    writes: list[tuple[int, int]] = []
    for ch in range(n):
        writes += [
            (register_address("PARAM_BIAS"), int(bias[ch]) & 0xFFFFFFFF),
            (register_address("PARAM_MULT"), int(multiplier[ch])),
            (register_address("PARAM_SHIFT"), int(shift[ch])),
            (register_address("PARAM_WRITE"), ((ch // cols) << 8) | (ch % cols)),
        ]
    for name in ("M", "K", "TILE_M", "K_TILES", "N_TILES"):
        writes.append((register_address(name), t[name]))
    writes.append((register_address("ZP_OUT"), zero_point & 0xFFFFFFFF))
    writes.append((register_address("CTRL"), 1))

    words_per_beat, bus = config.words_per_beat, config.axis_in_bits
    bus_mask = (1 << bus) - 1
    words: list[int] = []

    def send(beat: int) -> None:
        for i in range(words_per_beat):
            words.append((beat >> (i * bus)) & bus_mask)

    tile_m = t["TILE_M"]
    a_bits = rows * arr.act_bits
    out_rows: list[tuple[int, int]] = []  # (row of O, column tile) of each m_axis beat

    def weight_rows(k2: int, n2: int) -> None:
        for r in range(rows):
            send(_pack(w_p[k2 * rows + r, n2 * cols : (n2 + 1) * cols], arr.weight_bits))

    def input_rows(m_lo: int, m_hi: int, k2: int) -> None:
        for row in range(m_lo, m_hi):
            send(_pack(a_p[row, k2 * rows : (k2 + 1) * rows], arr.act_bits))

    if config.input_buffer:  # m2, k2, n2: each input slice streamed once, in its n2 = 0 pass
        for m2 in range(t["M_TILES"]):
            m_lo, m_hi = m2 * tile_m, min(m, (m2 + 1) * tile_m)
            for k2 in range(t["K_TILES"]):
                for n2 in range(t["N_TILES"]):
                    weight_rows(k2, n2)
                    if n2 == 0:
                        input_rows(m_lo, m_hi, k2)
            out_rows += [(row, n2) for n2 in range(t["N_TILES"]) for row in range(m_lo, m_hi)]
    else:  # n2, m2, k2
        for n2 in range(t["N_TILES"]):
            for m2 in range(t["M_TILES"]):
                if os_flow:  # a column of the row tile of I and a row of W per beat
                    a_rows = slice(m2 * rows, (m2 + 1) * rows)
                    w_cols = slice(n2 * cols, (n2 + 1) * cols)
                    for kk in range(k):
                        a_part = _pack(a_p[a_rows, kk], arr.act_bits)
                        send(a_part | _pack(w_p[kk, w_cols], arr.weight_bits) << a_bits)
                    out_rows += [(row, n2) for row in range(m2 * rows, (m2 + 1) * rows)]
                    continue
                m_lo, m_hi = m2 * tile_m, min(m, (m2 + 1) * tile_m)
                for k2 in range(t["K_TILES"]):
                    weight_rows(k2, n2)
                    input_rows(m_lo, m_hi, k2)
                out_rows += [(row, n2) for row in range(m_lo, m_hi)]
    return LayerProgram(
        m=m,
        n=n,
        k=k,
        tile_m=tile_m,
        csr_writes=tuple(writes),
        stream_words=tuple(words),
        out_beats=len(out_rows),
        out_rows=tuple(out_rows),
    )


def decode_outputs(
    config: AcceleratorConfig, program: LayerProgram, beats: list[int]
) -> np.ndarray:
    """The ``M x N`` output matrix from the ``m_axis`` words (padded rows and channels
    dropped)."""
    bits = config.array.act_bits
    cols = config.cols
    if len(beats) != program.out_beats:
        raise SpecError(f"expected {program.out_beats} output beats, got {len(beats)}")
    n_tiles = math.ceil(program.n / cols)
    rows_out = max(row for row, _ in program.out_rows) + 1
    out = np.zeros((rows_out, n_tiles * cols), dtype=np.int64)
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    for (row, n2), word in zip(program.out_rows, beats, strict=True):
        for c in range(cols):
            v = (word >> (c * bits)) & mask
            out[row, n2 * cols + c] = v - (1 << bits) if v & sign else v
    return out[: program.m, : program.n]


def predict(config: AcceleratorConfig, m: int, n: int, k: int, tile_m: int | None = None) -> object:
    """The cost model's `CostReport` of the GEMM on the accelerator's architecture and mapping
    (outputs counted at ``act_bits``: they leave requantized)."""
    from codesign.cost.model import evaluate_one
    from codesign.workload.loopnest import linear

    arr = config.array
    nest = linear(
        "accelerator_gemm",
        in_features=k,
        out_features=n,
        leading=m,
        input_bits=arr.act_bits,
        weight_bits=arr.weight_bits,
        output_bits=arr.act_bits,
    )
    tile = None if config.output_stationary else tile_m
    return evaluate_one(nest, config.architecture(), config.mapping(m, n, k, tile))


def run_program(
    design: AcceleratorDesign,
    program: LayerProgram,
    *,
    seed: int = 1,
    back_pressure: float = 0.0,
    idle: float = 0.0,
    waves: bool = False,
    work_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    repeat: int = 1,
) -> tuple[dict, Build, BenchRun, float]:
    """Simulate the program; returns the bench's result dict (see
    ``codesign.sim.tb_accelerator``), the build, the run and the wall time in seconds."""
    for name, p in (("back_pressure", back_pressure), ("idle", idle)):
        if not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise SpecError(f"{name} must be a probability in [0, 1), not {p!r}")
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise SpecError(f"repeat must be a positive integer, not {repeat!r}")
    build = build_design([design.verilog_path], design.top, waves=waves, cache_dir=cache_dir)
    slack = 5 if back_pressure > 0 or idle > 0 else 1
    job = {
        "seed": seed,
        "csr_writes": [list(x) for x in program.csr_writes],
        "stream_in": list(program.stream_words),
        "out_beats": program.out_beats,
        "repeat": repeat,
        "input_pause_probability": idle,
        "output_pause_probability": back_pressure,
        "status_address": register_address("STATUS"),
        "cycles_address": register_address("CYCLES"),
        "timeout_cycles": repeat
        * (
            10_000
            + 8 * slack * (len(program.stream_words) + program.out_beats)
            + 4 * slack * len(program.csr_writes)
        ),
    }
    start = time.perf_counter()
    run = run_bench(build, TB_MODULE, job=job, seed=seed, work_dir=work_dir, waves=waves)
    return run.result, build, run, time.perf_counter() - start


def _verify(
    design: AcceleratorDesign,
    program: LayerProgram,
    reference: np.ndarray,
    *,
    what: str,
    seed: int = 1,
    back_pressure: float = 0.0,
    idle: float = 0.0,
    waves: bool = False,
    work_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    repeat: int = 1,
) -> AcceleratorResult:
    res, build, run, seconds = run_program(
        design,
        program,
        seed=seed,
        back_pressure=back_pressure,
        idle=idle,
        waves=waves,
        work_dir=work_dir,
        cache_dir=cache_dir,
        repeat=repeat,
    )
    board = Scoreboard()  # output elements
    protocol = Scoreboard()  # tlast and the STATUS register
    runs = res.get("runs", [])
    if res.get("timed_out") or len(runs) != repeat:
        board.record_missing("timeout", received=len(runs), expected=repeat)
    for i, layer in enumerate(runs):
        outs = layer.get("out", [])
        where = "O" if i == 0 else f"O (run {i + 1})"
        if len(outs) != program.out_beats:
            board.record_missing(where, received=len(outs), expected=program.out_beats)
            continue
        board.compare_arrays(where, reference, decode_outputs(design.config, program, outs))
        lasts = layer.get("out_last", [])
        protocol.compare_items("m_axis_tlast", [0] * (len(lasts) - 1) + [1], lasts)
        protocol.compare_items("STATUS", [STATUS_DONE], [layer.get("status")])
    report = predict(design.config, program.m, program.n, program.k, program.tile_m)
    measured = int(res.get("cycles", -1))
    predicted = int(report.cycles)
    stalled = back_pressure > 0 or idle > 0
    close = abs(measured - predicted) <= CYCLE_TOLERANCE * predicted
    mismatch_count = board.mismatch_count + protocol.mismatch_count
    return AcceleratorResult(
        what=what,
        passed=run.passed and mismatch_count == 0 and (stalled or close),
        compared=board.compared,
        mismatch_count=mismatch_count,
        mismatches=(*board.mismatches, *protocol.mismatches)[:10],
        cycles_measured=measured,
        cycles_predicted=predicted,
        cycles_register=int(res.get("csr_cycles", -1)),
        breakdown={
            "compute": report.compute_cycles,
            "fill_drain": report.fill_drain_cycles,
            "stall": report.stall_cycles,
            "levels": dict(report.level_cycles),
        },
        stalled=stalled,
        simulator=build.simulator.name,
        simulator_version=build.simulator.version,
        seconds=seconds,
        work_dir=str(run.work_dir),
        waves_path=str(run.waves_path) if run.waves_path else None,
    )


def _reference(acc: np.ndarray, multiplier, shift, zero_point: int, bits: int) -> np.ndarray:
    from codesign.quant.intref import requantize

    out = requantize(
        torch.as_tensor(acc, dtype=torch.int64),
        torch.as_tensor(np.asarray(multiplier), dtype=torch.int64),
        torch.as_tensor(np.asarray(shift), dtype=torch.int64),
        zero_point,
        bits,
        channel_axis=1,
    )
    return out.numpy()


def verify_accelerator_gemm(
    design: AcceleratorDesign,
    a: object,
    w: object,
    bias: object,
    multiplier: object,
    shift: object,
    zero_point: int,
    *,
    tile_m: int | None = None,
    what: str | None = None,
    **options: object,
) -> AcceleratorResult:
    """Run ``requant(bias + a @ w)`` through the accelerator and compare with
    ``codesign.quant.intref.requantize`` of the int64 torch product (see `program_layer`;
    ``options``: ``seed``, ``back_pressure``, ``idle``, ``waves``, ``work_dir``,
    ``cache_dir``, ``repeat`` (run the layer this many times back to back without a reset;
    every run is compared, cycles are the first run's))."""
    program = program_layer(design.config, a, w, bias, multiplier, shift, zero_point, tile_m=tile_m)
    acc = torch.matmul(
        torch.as_tensor(_matrix("a", a)), torch.as_tensor(_matrix("w", w))
    ).numpy() + _vector("bias", bias, program.n)
    acc = ((acc + 2**31) % 2**32) - 2**31  # int32 accumulators
    reference = _reference(acc, multiplier, shift, zero_point, design.config.array.act_bits)
    return _verify(
        design,
        program,
        reference,
        what=what or f"gemm {program.m}x{program.n}x{program.k}",
        **options,
    )


def verify_accelerator_conv2d(
    design: AcceleratorDesign,
    layer: object,
    x_q: torch.Tensor,
    output_q: torch.Tensor,
    *,
    tile_m: int | None = None,
    what: str = "conv2d",
    **options: object,
) -> AcceleratorResult:
    """Run an ``IntegerLayer`` (``codesign.quant``) conv2d or linear on input ``x_q`` through
    the accelerator and compare with ``output_q``, the quantization package's integer
    reference."""
    if layer.groups != 1:
        raise SpecError(
            f"layer {layer.name!r} has groups={layer.groups}; only groups=1 is supported"
        )
    if bool((layer.weight_zero_point != 0).any()):
        raise SpecError(
            f"layer {layer.name!r} has asymmetric weights (non-zero weight_zero_point); the "
            f"accelerator folds only the input zero point into the bias (use weight_symmetric)"
        )
    zx = int(layer.input_zero_point)
    w_q = layer.weight_q.to(torch.int64)
    if layer.op == "conv2d":
        kout = w_q.shape[0]
        patches, (p, q) = im2col(
            x_q.to(torch.int64),
            tuple(w_q.shape[2:]),
            stride=tuple(layer.stride),
            padding=tuple(layer.padding),
            dilation=tuple(layer.dilation),
            pad_value=zx,
        )
        wmat = w_q.reshape(kout, -1).T.contiguous()
        reference = output_q.to(torch.int64).permute(0, 2, 3, 1).reshape(-1, kout).numpy()
    elif layer.op == "linear":
        patches = x_q.to(torch.int64).reshape(-1, x_q.shape[-1])
        wmat = w_q.T.contiguous()
        reference = output_q.to(torch.int64).reshape(patches.shape[0], -1).numpy()
    else:
        raise SpecError(f"layer {layer.name!r} is a {layer.op}; supported: conv2d, linear")
    bias = layer.bias_int32.to(torch.int64) - zx * wmat.sum(dim=0)
    program = program_layer(
        design.config,
        patches,
        wmat,
        bias,
        layer.multiplier,
        layer.shift,
        int(layer.output_zero_point),
        tile_m=tile_m,
    )
    return _verify(design, program, reference, what=what, **options)


def verify_accelerator_layer(
    design: AcceleratorDesign,
    layer_spec: str,
    *,
    bits: int | None = None,
    tile_m: int | None = None,
    **options: object,
) -> AcceleratorResult:
    """Verify one layer of a model, ``"MODULE_PATH:FACTORY:LAYER"``, quantized uniformly to the
    design's activation width (weights symmetric per channel, activations asymmetric) and
    calibrated on the model's example inputs; the reference is the layer's requantized
    ``output_q`` from ``codesign.quant.model.int_layer_io``."""
    from codesign.quant.model import int_layer_io, quantize_model
    from codesign.quant.policy import QuantPolicy

    _, layer_name, module, inputs = _load_layer_model(layer_spec)
    arr = design.config.array
    width = bits if bits is not None else min(arr.act_bits, arr.weight_bits)
    qmodel = quantize_model(module, QuantPolicy.uniform(width), inputs)
    io = int_layer_io(qmodel, layer_name, inputs)
    return verify_accelerator_conv2d(
        design,
        io.layer,
        io.input_q,
        io.output_q,
        tile_m=tile_m,
        what=f"{layer_spec} ({io.layer.op}, int{width}, accelerator)",
        **options,
    )
