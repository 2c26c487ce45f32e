"""Whole-network verification: every MAC layer of a quantized model through the accelerator
RTL, in order, each layer's integer outputs feeding the next through the host runtime
(``codesign.accel.runtime``), against the PyTorch integer reference and the explorer's
predicted cycles.

One simulation per layer runs that layer for every image back to back (no reset in between);
cycles are measured per image and layer, from the first ``s_axis`` to the last ``m_axis``
handshake (the CSR programming before each layer is not counted: the model's latency is the
layer's streaming time).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from codesign.sim.accelerator import CYCLE_TOLERANCE, AcceleratorDesign, run_program

from codesign.accel.costview import NetworkPlan, predicted_cycles
from codesign.accel.program import LayerProgram
from codesign.accel.runtime import DeviceRun, HostRuntime
from codesign.errors import SpecError

__all__ = [
    "DEFAULT_IMAGES",
    "LayerCheck",
    "NetworkResult",
    "SimulatedAccelerator",
    "network_plan",
    "verify_network",
]

DEFAULT_IMAGES = 8
"""Held-out images a whole-network verification runs by default."""


class SimulatedAccelerator:
    """A `codesign.accel.runtime.Device` that runs programs on the generated RTL in Icarus or
    Verilator.

    Parameters
    ----------
    design : AcceleratorDesign
    work_dir : path, optional
        Where each layer's bench files go (``<work_dir>/<n>``).
    cache_dir : path, optional
        Build cache of the simulator.
    seed : int
    simulator : str
        ``"icarus"`` or ``"verilator"`` (`codesign.sim.runner.build_design`).
    """

    def __init__(
        self,
        design: AcceleratorDesign,
        *,
        work_dir: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
        seed: int = 1,
        simulator: str = "icarus",
    ) -> None:
        self.design = design
        self.simulator_name = simulator
        self.work_dir = None if work_dir is None else Path(work_dir)
        self.cache_dir = cache_dir
        self.seed = seed
        self.simulations = 0
        self.seconds = 0.0
        self.simulator = ""
        self.simulator_version = ""

    def run(self, programs: Sequence[LayerProgram]) -> list[DeviceRun]:
        """Simulate ``programs`` in one run of the bench."""
        work = None if self.work_dir is None else self.work_dir / f"layer{self.simulations}"
        res, build, run, seconds = run_program(
            self.design,
            programs,
            seed=self.seed,
            work_dir=work,
            cache_dir=self.cache_dir,
            simulator=self.simulator_name,
        )
        self.simulations += 1
        self.seconds += seconds
        self.simulator, self.simulator_version = build.simulator.name, build.simulator.version
        if res.get("timed_out") or not run.passed:
            raise SpecError(
                f"the accelerator simulation timed out or failed (bench files in "
                f"{run.work_dir}); received {len(res.get('runs', []))} of {len(programs)} runs"
            )
        return [
            DeviceRun(
                out_words=tuple(r.get("out", [])),
                cycles=int(r.get("cycles", -1)),
                out_last=tuple(r.get("out_last", [])),
                status=int(r.get("status", 0)),
            )
            for r in res["runs"]
        ]


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerCheck:
    """One layer of a network verification.

    Parameters
    ----------
    name : str
    cycles_measured : int
        The first image's cycles (every image's are in ``cycles_per_image``).
    cycles_predicted : float
        The explorer's prediction (the manifest's network plan), else the cost model's.
    bit_exact : bool
        Every image's outputs equal the integer reference of the layer on the same input, and
        ``tlast`` marks only the last beat of each run.
    cycles_per_image : tuple of int
    """

    name: str
    cycles_measured: int
    cycles_predicted: float
    bit_exact: bool
    cycles_per_image: tuple[int, ...]

    @property
    def cycles_error(self) -> float:
        """``(measured - predicted) / predicted``."""
        return (self.cycles_measured - self.cycles_predicted) / self.cycles_predicted

    def to_json(self) -> dict:
        """The ``verify.json`` entry."""
        return {
            "name": self.name,
            "cycles_measured": self.cycles_measured,
            "cycles_predicted": self.cycles_predicted,
            "cycles_error": round(self.cycles_error, 6),
            "bit_exact": self.bit_exact,
            "cycles_per_image": list(self.cycles_per_image),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class NetworkResult:
    """Outcome of `verify_network`; `to_json` is ``verify.json``."""

    what: str
    design: str
    passed: bool
    layers: tuple[LayerCheck, ...]
    cycles_measured_total: int
    cycles_predicted_total: float
    images: int
    top1_agreement: float
    outputs_bit_exact: bool
    accuracy_rtl: float | None
    accuracy_reference: float | None
    prediction_source: str
    simulator: str
    simulator_version: str
    seconds: float

    @property
    def cycles_error(self) -> float:
        """Total ``(measured - predicted) / predicted``."""
        return (self.cycles_measured_total - self.cycles_predicted_total) / (
            self.cycles_predicted_total
        )

    def to_json(self) -> dict:
        """The ``verify.json`` content."""
        return {
            "what": self.what,
            "design": self.design,
            "passed": self.passed,
            "layers": [lay.to_json() for lay in self.layers],
            "cycles_measured_total": self.cycles_measured_total,
            "cycles_predicted_total": self.cycles_predicted_total,
            "cycles_error": round(self.cycles_error, 6),
            "cycles_tolerance": CYCLE_TOLERANCE,
            "prediction_source": self.prediction_source,
            "images": self.images,
            "top1_agreement": self.top1_agreement,
            "outputs_bit_exact": self.outputs_bit_exact,
            "accuracy_rtl": self.accuracy_rtl,
            "accuracy_reference": self.accuracy_reference,
            "simulator": self.simulator,
            "simulator_version": self.simulator_version,
            "seconds": round(self.seconds, 3),
        }


def network_plan(design: AcceleratorDesign) -> NetworkPlan | None:
    """The manifest's network plan (written by ``codesign generate --design`` of a buildable
    point), or None."""
    data = design.manifest.get("network")
    return None if data is None else NetworkPlan.from_dict(data)


def _policy(plan: NetworkPlan | None, layers: Sequence[str], design: AcceleratorDesign):
    from codesign.quant.policy import QuantPolicy, layer_policy

    if plan is None:  # uniform at the array's widths (pruned 2:4 on the 2:4 accelerator)
        a = design.config.array
        pruning = "2:4" if design.config.sparse else "none"
        return QuantPolicy(default=layer_policy(a.weight_bits, a.act_bits, pruning))
    missing = [n for n in layers if n not in {lay.name for lay in plan.layers}]
    if missing or len(layers) != len(plan.layers):
        raise SpecError(
            f"the design's network plan covers layers {[lay.name for lay in plan.layers]}; the "
            f"model has {list(layers)}"
        )
    entries = tuple(
        (lay.name, layer_policy(lay.weight_bits, lay.activation_bits, lay.pruning))
        for lay in plan.layers
    )
    return QuantPolicy(default=None, layers=entries)


def verify_network(
    design: AcceleratorDesign,
    model_spec: str,
    *,
    images: int = DEFAULT_IMAGES,
    dataset: str = "auto",
    seed: int = 1,
    work_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    simulator: str = "icarus",
) -> NetworkResult:
    """Run ``images`` held-out inputs of ``model_spec`` (``MODULE_PATH:FACTORY``) through the
    accelerator, every MAC layer in RTL, and compare with the integer reference.

    The model and data come from ``codesign.quant.evaluate.load_context`` (the digits CNN
    trained on scikit-learn's digits, its calibration and test split: the same the explorer's
    accuracy objective uses); the quantization is the design's network plan (per-layer bits
    and pruning) or, without a plan, uniform at the array's widths (and pruned 2:4 on the 2:4
    accelerator).

    Passes when every layer is bit-exact, the outputs equal the reference's, top-1 agrees on
    every image, and every layer's and the total cycles are within `CYCLE_TOLERANCE` of the
    prediction. ``simulator``: ``"icarus"`` or ``"verilator"``.
    """
    from codesign.quant.evaluate import load_context
    from codesign.quant.model import integer_forward, integer_layer_forward, quantize_model

    if not isinstance(images, int) or isinstance(images, bool) or images < 1:
        raise SpecError(f"images must be a positive integer, not {images!r}")
    t0 = time.perf_counter()
    ctx = load_context(model_spec, dataset)
    available = int(ctx.eval_inputs[0].shape[0])
    if images > available:
        raise SpecError(f"images must be at most {available} (the held-out set), not {images}")
    plan = network_plan(design)
    from codesign.quant.model import quantizable_layers

    policy = _policy(plan, quantizable_layers(ctx.model), design)
    qmodel = quantize_model(ctx.model, policy, ctx.calibration_inputs)
    batch = tuple(x[:images] for x in ctx.eval_inputs)
    runtime = HostRuntime(design.config, qmodel, plan)
    device = SimulatedAccelerator(
        design, work_dir=work_dir, cache_dir=cache_dir, seed=seed, simulator=simulator
    )
    run = runtime.run(device, batch)
    reference = integer_forward(qmodel, batch)

    checks = []
    for lay in run.layers:
        integer = qmodel.integer_layer(lay.name)
        _, expected = integer_layer_forward(integer, lay.input_q)
        lasts_ok = all(list(r.out_last) == [0] * (len(r.out_last) - 1) + [1] for r in lay.runs)
        if plan is not None:
            predicted = float(plan.layer(lay.name).cycles)
        else:
            m, n, k = lay.gemm
            tile_m, pruning = runtime.tile_m(lay.name, m), runtime.pruning(lay.name)
            predicted = float(predicted_cycles(design.config, m, n, k, tile_m, pruning=pruning))
        checks.append(
            LayerCheck(
                name=lay.name,
                cycles_measured=lay.cycles[0],
                cycles_predicted=predicted,
                bit_exact=bool(torch.equal(expected.to(torch.int64), lay.output_q)) and lasts_ok,
                cycles_per_image=lay.cycles,
            )
        )
    measured = sum(c.cycles_measured for c in checks)
    predicted_total = (
        plan.latency_cycles if plan is not None else sum(c.cycles_predicted for c in checks)
    )
    agree = run.output.argmax(dim=-1) == reference.argmax(dim=-1)
    top1 = float(agree.to(torch.float64).mean())
    exact = bool(torch.equal(run.output, reference))
    acc_rtl = acc_ref = None
    if ctx.labels is not None:
        labels = ctx.labels[:images]
        acc_rtl = float((run.output.argmax(dim=-1) == labels).to(torch.float64).mean())
        acc_ref = float((reference.argmax(dim=-1) == labels).to(torch.float64).mean())

    def close(meas: float, pred: float) -> bool:
        return abs(meas - pred) <= CYCLE_TOLERANCE * pred

    passed = (
        exact
        and top1 == 1.0
        and all(c.bit_exact and close(c.cycles_measured, c.cycles_predicted) for c in checks)
        and all(len(set(c.cycles_per_image)) == 1 for c in checks)
        and close(measured, predicted_total)
    )
    return NetworkResult(
        what=f"{model_spec} ({len(checks)} MAC layers, {images} images, accelerator)",
        design=design.top,
        passed=passed,
        layers=tuple(checks),
        cycles_measured_total=measured,
        cycles_predicted_total=predicted_total,
        images=images,
        top1_agreement=top1,
        outputs_bit_exact=exact,
        accuracy_rtl=acc_rtl,
        accuracy_reference=acc_ref,
        prediction_source="explorer (manifest network plan)"
        if plan is not None
        else "cost model (codesign.accel.costview, default schedules)",
        simulator=device.simulator,
        simulator_version=device.simulator_version,
        seconds=time.perf_counter() - t0,
    )
