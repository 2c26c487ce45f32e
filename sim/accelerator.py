"""Whole layers and whole networks through the accelerator's bus interfaces, simulated in
Icarus: the host's program (``codesign.accel.program``) runs in the cocotb bench, outputs are
compared bit-exactly with the quantization package's integer reference, and measured cycles
with the cost model's prediction (``codesign.accel.costview.predicted_cycles``: the model of
the GEMM on ``AcceleratorConfig.architecture()`` with ``AcceleratorConfig.mapping``, plus the
pipeline constant).

The cycles measured are those from the first ``s_axis`` handshake to the last ``m_axis``
handshake, inclusive.

The manifest's ``integration`` picks the bench: ``codesign.sim.tb_accelerator`` for the simple
CSR bus (the bare accelerator, or the wrapper with ``aresetn``), ``codesign.sim.tb_axi``
(cocotbext-axi) for the AXI4-Lite wrapper. Both take the same job and return the same result;
in the wrapper the ``s_axis`` pad bits carry random garbage (the RTL must ignore them) and the
``m_axis`` pad bits are checked to be zero.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from codesign.sim.runner import BenchRun, Build, build_design, run_bench
from codesign.sim.scoreboard import Mismatch, Scoreboard, verify_json
from codesign.sim.verify import _load_layer_model

from codesign.accel.config import AcceleratorConfig, register_address
from codesign.accel.costview import predict
from codesign.accel.integration import Integration
from codesign.accel.program import (
    LayerProgram,
    _matrix,
    _vector,
    decode_outputs,
    layer_operands,
    program_layer,
)
from codesign.errors import SpecError
from codesign.validation import member_file, read_manifest

__all__ = [
    "AcceleratorDesign",
    "AcceleratorResult",
    "load_accelerator",
    "run_program",
    "verify_accelerator_gemm",
    "verify_accelerator_conv2d",
    "verify_accelerator_layer",
    "CYCLE_TOLERANCE",
    "STATUS_DONE",
    "TB_MODULE",
    "TB_AXI_MODULE",
]

TB_MODULE = "codesign.sim.tb_accelerator"
"""The cocotb test module of the accelerator (simple CSR bus)."""

TB_AXI_MODULE = "codesign.sim.tb_axi"
"""The cocotb test module of the AXI4-Lite integration wrapper (cocotbext-axi)."""

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
    integration : Integration
        The top's interfaces (the manifest's ``integration``; absent: the bare accelerator).
    models : tuple of pathlib.Path
        Simulation models of the vendor cells the Verilog instantiates (the manifest's
        ``simulation_models``, e.g. ``MULT18X18D.v`` of a ``dsp='ecp5'`` design): compiled
        with it for simulation, never read by synthesis.
    """

    folder: Path
    top: str
    verilog_path: Path
    config: AcceleratorConfig
    manifest: dict
    integration: Integration = Integration()
    models: tuple[Path, ...] = ()

    @property
    def sources(self) -> list[Path]:
        """What a simulator compiles: the Verilog and the `models`."""
        return [self.verilog_path, *self.models]


def load_accelerator(folder: str | os.PathLike) -> AcceleratorDesign:
    """Read a folder written by ``codesign.hw.accel_export.export_accelerator``."""
    root = Path(folder)
    path = root / "manifest.json"
    manifest = read_manifest(root)
    if manifest.get("kind") != "accelerator":
        raise SpecError(
            f"{str(path)!r} has kind {manifest.get('kind')!r}; expected 'accelerator' (generate "
            f"it with `codesign generate --top accelerator`)"
        )
    config = AcceleratorConfig.from_dict(manifest.get("accelerator"))
    verilog_path = member_file(root, manifest, "verilog")
    integration = Integration.from_dict(manifest.get("integration", {}))
    models = manifest.get("simulation_models", [])
    if not isinstance(models, list) or not all(isinstance(x, str) for x in models):
        raise SpecError(f"{str(path)!r}: simulation_models must be a list of file names")
    missing = [x for x in models if not (root / x).is_file() or Path(x).name != x]
    if missing:
        raise SpecError(
            f"{str(path)!r}: simulation model {missing[0]!r} is not a file in {str(root)!r} "
            "(regenerate the folder with `codesign generate`)"
        )
    return AcceleratorDesign(
        folder=root,
        top=manifest["top"],
        verilog_path=verilog_path,
        config=config,
        manifest=manifest,
        integration=integration,
        models=tuple(root / x for x in models),
    )


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
    activity : tuple of LevelActivity
        With ``activity=True``: the switching activity per level beside the cost model's
        energy (`codesign.sim.activity`).
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
    activity: tuple = ()

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
                **({"activity": [a.to_dict() for a in self.activity]} if self.activity else {}),
            },
        )


def run_program(
    design: AcceleratorDesign,
    program: LayerProgram | Sequence[LayerProgram],
    *,
    seed: int = 1,
    back_pressure: float = 0.0,
    idle: float = 0.0,
    waves: bool = False,
    work_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    repeat: int = 1,
    simulator: str = "icarus",
) -> tuple[dict, Build, BenchRun, float]:
    """Simulate the program (or several, one after the other without a reset); returns the
    bench's result dict (see ``codesign.sim.tb_accelerator``; ``runs`` holds one record per
    program and repetition), the build, the run and the wall time in seconds. ``simulator``:
    ``"icarus"`` or ``"verilator"`` (`codesign.sim.runner.build_design`). ``back_pressure``:
    the probability of ``m_axis_tready`` low in a cycle (on the AXI4-Lite wrapper also of a
    pause on each AXI4-Lite channel); ``idle``: of an ``s_axis`` cycle without a beat."""
    programs = [program] if isinstance(program, LayerProgram) else list(program)
    if not programs:
        raise SpecError("programs must not be empty")
    for name, p in (("back_pressure", back_pressure), ("idle", idle)):
        if not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise SpecError(f"{name} must be a probability in [0, 1), not {p!r}")
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise SpecError(f"repeat must be a positive integer, not {repeat!r}")
    build = build_design(
        design.sources, design.top, waves=waves, cache_dir=cache_dir, simulator=simulator
    )
    slack = 5 if back_pressure > 0 or idle > 0 else 1
    job = {
        "seed": seed,
        "programs": [
            {
                "csr_writes": [list(x) for x in p.csr_writes],
                "stream_in": list(p.stream_words),
                "out_beats": p.out_beats,
            }
            for p in programs
        ],
        "repeat": repeat,
        "input_pause_probability": idle,
        "output_pause_probability": back_pressure,
        "status_address": register_address("STATUS"),
        "cycles_address": register_address("CYCLES"),
        "clock_port": design.integration.clock_port,
        "reset_port": design.integration.reset_port,
        "reset_active_low": design.integration.reset_active_low,
        "csr_pause_probability": back_pressure,
        "s_axis_payload_bits": design.config.axis_in_bits,
        "pad_garbage": True,
        "timeout_cycles": repeat
        * sum(
            10_000 + 8 * slack * (len(p.stream_words) + p.out_beats) + 4 * slack * len(p.csr_writes)
            for p in programs
        ),
    }
    start = time.perf_counter()
    module = TB_AXI_MODULE if design.integration.csr == "axi-lite" else TB_MODULE
    run = run_bench(build, module, job=job, seed=seed, work_dir=work_dir, waves=waves)
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
    activity: bool = False,
    simulator: str = "icarus",
) -> AcceleratorResult:
    if activity and simulator != "icarus":
        raise SpecError(
            f"activity=True needs simulator='icarus' (codesign.sim.activity reads Icarus's VCD "
            f"scopes), not {simulator!r}"
        )
    if activity and design.config.dsp != "inferred":
        raise SpecError(
            f"activity=True reads the PEs' weight and operand registers, which a dsp "
            f"{design.config.dsp!r} design keeps inside its DSP cells: measure the activity of "
            "the same design generated with --dsp inferred (same data, same cycles)"
        )
    waves = waves or activity
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
        simulator=simulator,
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
        protocol.compare_items("CSR errors", [0], [layer.get("csr_errors")])
        pad = [w >> design.config.axis_out_bits for w in outs]
        protocol.compare_items("m_axis pad bits", [0] * len(pad), pad)
    report = predict(
        design.config, program.m, program.n, program.k, program.tile_m, pruning=program.pruning
    )
    measured = int(res.get("cycles", -1))
    predicted = int(report.cycles) + design.config.pipeline_cycles
    stalled = back_pressure > 0 or idle > 0
    close = abs(measured - predicted) <= CYCLE_TOLERANCE * predicted
    mismatch_count = board.mismatch_count + protocol.mismatch_count
    rows = ()
    if activity and run.waves_path:
        from codesign.sim.activity import layer_activity

        rows = tuple(layer_activity(run.waves_path, design.config, report))
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
        activity=rows,
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
    pruning: str = "none",
    what: str | None = None,
    **options: object,
) -> AcceleratorResult:
    """Run ``requant(bias + a @ w)`` through the accelerator and compare with
    ``codesign.quant.intref.requantize`` of the int64 torch product (see `program_layer`,
    whose ``pruning`` picks how the 2:4 accelerator runs the weights;
    ``options``: ``seed``, ``back_pressure``, ``idle``, ``waves``, ``activity`` (switching
    activity from the VCD, `codesign.sim.activity`), ``work_dir``, ``cache_dir``, ``simulator``
    (``"icarus"`` or ``"verilator"``), ``repeat``
    (run the layer this many times back to back without a reset;
    every run is compared, cycles are the first run's))."""
    program = program_layer(
        design.config, a, w, bias, multiplier, shift, zero_point, tile_m=tile_m, pruning=pruning
    )
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
    pruning: str = "none",
    what: str = "conv2d",
    **options: object,
) -> AcceleratorResult:
    """Run an ``IntegerLayer`` (``codesign.quant``) conv2d or linear on input ``x_q`` through
    the accelerator and compare with ``output_q``, the quantization package's integer
    reference (``pruning``: the layer's, see `program_layer`)."""
    ops = layer_operands(layer, x_q)
    program = program_layer(
        design.config,
        ops.a,
        ops.w,
        ops.bias,
        ops.multiplier,
        ops.shift,
        ops.zero_point,
        tile_m=tile_m,
        pruning=pruning,
    )
    return _verify(design, program, ops.to_matrix(output_q), what=what, **options)


def verify_accelerator_layer(
    design: AcceleratorDesign,
    layer_spec: str,
    *,
    bits: int | None = None,
    tile_m: int | None = None,
    pruning: str | None = None,
    **options: object,
) -> AcceleratorResult:
    """Verify one layer of a model, ``"MODULE_PATH:FACTORY:LAYER"``, quantized uniformly to the
    design's activation width (weights symmetric per channel, activations asymmetric), pruned
    as ``pruning`` says (``none``, ``2:4`` or ``unstructured:F``; default ``2:4`` on the 2:4
    accelerator, ``none`` otherwise) and calibrated on the model's example inputs; the
    reference is the layer's requantized ``output_q`` from
    ``codesign.quant.model.int_layer_io``."""
    from codesign.quant.model import int_layer_io, quantize_model
    from codesign.quant.policy import QuantPolicy, layer_policy

    _, layer_name, module, inputs = _load_layer_model(layer_spec)
    arr = design.config.array
    width = bits if bits is not None else min(arr.act_bits, arr.weight_bits)
    if pruning is None:
        pruning = "2:4" if design.config.sparse else "none"
    policy = QuantPolicy(default=layer_policy(width, width, pruning))
    qmodel = quantize_model(module, policy, inputs)
    io = int_layer_io(qmodel, layer_name, inputs)
    return verify_accelerator_conv2d(
        design,
        io.layer,
        io.input_q,
        io.output_q,
        tile_m=tile_m,
        pruning=pruning,
        what=f"{layer_spec} ({io.layer.op}, int{width}, pruning {pruning}, accelerator)",
        **options,
    )
