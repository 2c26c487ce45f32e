"""The cost model's view of a generated accelerator: which GEMM the host runs for a layer, the
schedules its controller can execute, and the predicted cycles of a layer.

``AcceleratorConfig.architecture`` and ``AcceleratorConfig.mapping`` give the `Architecture`
and the `Mapping` the RTL implements; this module adds the layer-level pieces the explorer,
the host runtime and the test benches share, so the prediction a design point carries is the
one its verification compares with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from codesign.accel.array import Dataflow, SystolicConfig
from codesign.accel.config import AcceleratorConfig
from codesign.errors import SpecError

__all__ = [
    "PIPELINE_CYCLES",
    "OUTPUT_LATENCY",
    "LayerSchedule",
    "NetworkPlan",
    "PlannedLayer",
    "layer_gemm",
    "gemm_nest",
    "run_nest",
    "weight_density",
    "schedule_candidates",
    "default_schedule",
    "predict",
    "predicted_cycles",
    "array_model_cycles",
]

OUTPUT_LATENCY = AcceleratorConfig(array=SystolicConfig(rows=1, cols=1)).output_latency
"""``AcceleratorConfig.output_latency`` of the default requantizer (10): the output beat with
its addend, the sum register, the requantizer's seven stages and the output register."""

PIPELINE_CYCLES = 2 + OUTPUT_LATENCY
"""``AcceleratorConfig.pipeline_cycles`` of the default requantizer (12): what the RTL adds to
the cost model's count on every whole layer (the prefetch FIFO's two register stages in front
of the array and `OUTPUT_LATENCY` behind it)."""

_MAX_CANDIDATES = 24


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerSchedule:
    """What the controller is told for one layer beyond its sizes.

    Parameters
    ----------
    tile_m : int or None
        ``ws``: rows of ``I`` streamed per pass (the ``TILE_M`` register), at most
        ``max_tile_m``; ``os``: None (the row tile is the array's rows).
    """

    tile_m: int | None = None

    def __post_init__(self) -> None:
        t = self.tile_m
        if t is not None and (not isinstance(t, int) or isinstance(t, bool) or t < 1):
            raise SpecError(f"tile_m must be a positive integer or null, not {t!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"tile_m": self.tile_m}

    @classmethod
    def from_dict(cls, data: Any) -> LayerSchedule:
        """Strict inverse of `to_dict`."""
        if not isinstance(data, dict) or set(data) != {"tile_m"}:
            raise SpecError(f"a layer schedule must be an object with key 'tile_m', not {data!r}")
        return cls(tile_m=data["tile_m"])


def layer_gemm(nest: Any) -> tuple[int, int, int]:
    """``(M, N, K)`` of the GEMM the host runs for a ``codesign.workload.LoopNest``: a
    ``linear`` as it is, a ``conv1d``/``conv2d`` (``groups == 1``) as its im2col patches
    (``M = N*P*Q`` output pixels, ``N = K`` output channels, ``K = C*R*S``)."""
    s = nest.sizes
    if nest.op == "linear":
        return s["M"], s["N"], s["K"]
    if nest.op in ("conv1d", "conv2d"):
        if nest.attr("groups", 1) != 1:
            raise SpecError(
                f"layer {nest.name!r} is a grouped convolution (groups={nest.attr('groups')}); "
                f"the accelerator runs conv1d/conv2d with groups=1 and linear layers"
            )
        m = s["N"] * s["P"] * s.get("Q", 1)
        return m, s["K"], s["C"] * s["R"] * s.get("S", 1)
    raise SpecError(
        f"layer {nest.name!r} is a {nest.op}; the accelerator runs conv1d, conv2d (groups=1) "
        f"and linear layers"
    )


def weight_density(config: AcceleratorConfig, pruning: str = "none") -> float:
    """The weight density the cost model gives a layer on ``config``: 0.5 on the 2:4 array
    (its weights are 2:4, compressed or two halves), the layer's pruning density on a
    zero-gated array (``unstructured:F``: ``1 - F``; its gated MAC energy scales with it), and
    1 otherwise (a dense array multiplies the zeros)."""
    if config.sparse:
        return 0.5
    if config.zero_gate:
        from codesign.quant.policy import parse_pruning

        return parse_pruning(pruning)[1]
    return 1.0


def gemm_nest(
    config: AcceleratorConfig, m: int, n: int, k: int, *, pruning: str = "none"
) -> Any:
    """The GEMM loop nest as the accelerator moves it: operands at the array's widths,
    outputs at ``act_bits`` (they leave requantized), weights at `weight_density`; on the 2:4
    array ``k`` is the reduction the array runs (``AcceleratorConfig.run_k``, `run_nest`)."""
    from codesign.workload.loopnest import linear

    a = config.array
    density = weight_density(config, pruning)
    return linear(
        "accelerator_gemm",
        in_features=k,
        out_features=n,
        leading=m,
        input_bits=a.act_bits,
        weight_bits=a.weight_bits,
        output_bits=a.act_bits,
        weight_density=density,
    )


def default_schedule(config: AcceleratorConfig, m: int) -> LayerSchedule:
    """The fewest row tiles of at most ``max_tile_m`` rows, balanced
    (``ceil(M / ceil(M / max_tile_m))``): the least padding the model charges."""
    if config.output_stationary:
        return LayerSchedule()
    return LayerSchedule(tile_m=math.ceil(m / math.ceil(m / config.max_tile_m)))


def schedule_candidates(
    config: AcceleratorConfig, m: int, n: int, k: int
) -> list[LayerSchedule]:
    """The schedules the explorer scores for a GEMM, largest tile first: ``os`` has one;
    ``ws`` the row tiles that divide ``M``, at most ``max_tile_m`` (a few, largest first).

    Only dividing tiles: the cost model charges a shorter last row tile as a full one
    (measured: 3.3 % pessimistic on the digits CNN with 7-row tiles for 64 rows), and the
    explorer's figure must be the cycles the RTL takes. `default_schedule` (balanced, possibly
    shorter last tile) remains what a bare ``codesign verify --layer`` runs."""
    config.tiling(m, n, k, None if config.output_stationary else 1)  # sizes fit the registers
    if config.output_stationary:
        return [LayerSchedule()]
    top = min(m, config.max_tile_m)
    tiles = [t for t in range(top, 0, -1) if m % t == 0][:_MAX_CANDIDATES]
    return [LayerSchedule(tile_m=t) for t in tiles]


def run_nest(config: AcceleratorConfig, m: int, n: int, k: int, pruning: str = "none") -> Any:
    """The `gemm_nest` the array runs for a layer GEMM ``M x N x K`` pruned ``pruning`` (its
    reduction ``AcceleratorConfig.run_k``)."""
    return gemm_nest(config, m, n, config.run_k(k, pruning), pruning=pruning)


def predict(
    config: AcceleratorConfig,
    m: int,
    n: int,
    k: int,
    tile_m: int | None = None,
    *,
    pruning: str = "none",
) -> Any:
    """The cost model's `CostReport` of the GEMM on the accelerator's architecture and the
    mapping its controller runs with row tile ``tile_m`` (``os``: None); without the
    configuration's ``pipeline_cycles``. ``pruning``: the layer's (on the 2:4 accelerator a
    layer not pruned ``2:4`` runs as two 2:4 halves, ``AcceleratorConfig.run_k``)."""
    from codesign.cost.model import evaluate_one

    k_run = config.run_k(k, pruning)
    mapping = config.mapping(m, n, k_run, None if config.output_stationary else tile_m)
    return evaluate_one(run_nest(config, m, n, k, pruning), config.architecture(), mapping)


def predicted_cycles(
    config: AcceleratorConfig,
    m: int,
    n: int,
    k: int,
    tile_m: int | None = None,
    *,
    pruning: str = "none",
) -> int:
    """Cycles the RTL takes for the layer: the model's count plus the configuration's
    ``pipeline_cycles``."""
    report = predict(config, m, n, k, tile_m, pruning=pruning)
    return int(report.cycles) + config.pipeline_cycles


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannedLayer:
    """One MAC layer of a network as it is deployed on the accelerator.

    Parameters
    ----------
    name : str
        The layer's module path (``codesign.quant`` and the workload name it the same).
    weight_bits, activation_bits : int
        The layer's quantization (the array may be wider: narrower integers run unchanged).
    pruning : str
        ``none``, ``2:4`` or ``unstructured:F`` (``codesign.quant.policy.parse_pruning``).
    schedule : LayerSchedule
        What the controller is told beyond the layer's sizes.
    cycles : float
        The predicted cycles of the layer (model + `PIPELINE_CYCLES`).
    """

    name: str
    weight_bits: int
    activation_bits: int
    pruning: str
    schedule: LayerSchedule
    cycles: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "weight_bits": self.weight_bits,
            "activation_bits": self.activation_bits,
            "pruning": self.pruning,
            "schedule": self.schedule.to_dict(),
            "cycles": self.cycles,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class NetworkPlan:
    """A network's deployment on one accelerator: what a buildable design point tells the
    generator (which writes it into ``manifest.json`` as ``network``) and the host runtime.

    Parameters
    ----------
    layers : tuple of PlannedLayer
        Every MAC layer, in execution order.
    latency_cycles : float
        The explorer's predicted cycles of the whole network (the sum of the layers').
    """

    layers: tuple[PlannedLayer, ...]
    latency_cycles: float

    def layer(self, name: str) -> PlannedLayer:
        """The planned layer called ``name``."""
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise SpecError(
            f"layer {name!r} is not in the design's network plan; it has "
            f"{[lay.name for lay in self.layers]}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; `from_dict` reads it back."""
        return {
            "latency_cycles": self.latency_cycles,
            "layers": [lay.to_dict() for lay in self.layers],
        }

    @classmethod
    def from_dict(cls, data: Any) -> NetworkPlan:
        """Strict inverse of `to_dict`."""
        if not isinstance(data, dict) or set(data) != {"latency_cycles", "layers"}:
            raise SpecError("network plan must be an object with keys 'latency_cycles', 'layers'")
        return cls.from_layers(data["layers"], data["latency_cycles"], source="network plan")

    @classmethod
    def from_design_json(cls, data: Any) -> NetworkPlan:
        """The plan of a buildable design point's JSON (``codesign explore``'s ``best.json``,
        ``target: accelerator``): its layers' quantization, schedule and cycles and its
        ``metrics.latency_cycles``."""
        if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
            raise SpecError("design point must be an object with 'layers' and 'metrics'")
        if "latency_cycles" not in data["metrics"]:
            raise SpecError("design point metrics have no 'latency_cycles'")
        return cls.from_layers(
            data.get("layers"), data["metrics"]["latency_cycles"], source="design point"
        )

    @classmethod
    def from_layers(cls, layers: Any, latency_cycles: Any, *, source: str) -> NetworkPlan:
        """Read the layer objects (`PlannedLayer` keys; extra keys are ignored, as a design
        point's layers carry its mapping and energy too)."""
        keys = ("name", "weight_bits", "activation_bits", "pruning", "schedule", "cycles")
        if not isinstance(layers, list) or not layers:
            raise SpecError(f"{source} layers must be a non-empty list")
        out = []
        for i, lay in enumerate(layers):
            if not isinstance(lay, dict) or any(k not in lay for k in keys):
                raise SpecError(f"{source} layers[{i}] must be an object with keys {list(keys)}")
            fields = {k: lay[k] for k in keys}
            fields["schedule"] = LayerSchedule.from_dict(lay["schedule"])
            out.append(PlannedLayer(**fields))
        if not isinstance(latency_cycles, (int, float)) or isinstance(latency_cycles, bool):
            raise SpecError(f"{source} latency_cycles must be a number, not {latency_cycles!r}")
        return cls(layers=tuple(out), latency_cycles=float(latency_cycles))


def array_model_cycles(
    config: SystolicConfig, m: int, n: int, k: int, stream_len: int, *, sequential: bool = False
) -> int:
    """Array cycles (compute plus fill/drain, no memory stalls) the analytical cost model
    predicts for a GEMM ``M x N x K`` on a bare array streaming ``stream_len`` per pass, on the
    preset architecture of the same array (``codesign.arch.presets.weight_stationary``, with
    ``nm=(2, 4)`` for the 2:4-sparse array, or ``output_stationary``) in the given issue mode
    (``codesign.sim.gemm.cost_model_cycles`` documents the mapping)."""
    from codesign.arch import presets
    from codesign.cost.model import evaluate_one
    from codesign.mapping.mapping import LevelMapping, Mapping
    from codesign.workload.loopnest import matmul

    cfg = config
    rows, cols, t = cfg.rows, cfg.cols, stream_len
    sparse = cfg.dataflow is Dataflow.SPARSE_2_4
    nest = matmul(
        "gemm",
        m=m,
        n=n,
        k=k,
        input_bits=cfg.act_bits,
        weight_bits=cfg.weight_bits,
        output_bits=cfg.acc_bits,
        weight_density=0.5 if sparse else 1.0,
    )

    # dataflow -> (preset, per-PE level, dim on rows, dim on columns, streamed dim)
    shapes = {
        Dataflow.WEIGHT_STATIONARY: (presets.weight_stationary, "weight_reg", "K", "N", "M"),
        Dataflow.SPARSE_2_4: (presets.weight_stationary, "weight_reg", "K", "N", "M"),
        Dataflow.OUTPUT_STATIONARY: (presets.output_stationary, "accum_reg", "M", "N", "K"),
    }
    preset, pe_level, on_rows, on_cols, streamed = shapes[cfg.dataflow]
    sizes = {"M": m, "N": n, "K": k}
    depth = cfg.dense_reduction_depth if on_rows == "K" else rows
    per_pass = {on_rows: depth, on_cols: cols, streamed: t}
    options = {}
    if cfg.dataflow is not Dataflow.OUTPUT_STATIONARY:
        options["overlap_passes"] = not sequential
    if sparse:
        options["nm"] = (2, 4)
    arch = preset(
        rows,
        cols,
        input_bits=cfg.act_bits,
        weight_bits=cfg.weight_bits,
        accum_bits=cfg.acc_bits,
        **options,
    )
    mapping = Mapping(
        levels=(
            LevelMapping(name=pe_level, loops=((streamed, t),)),
            LevelMapping(
                name="scratchpad",
                # the bare array reloads its stationary operand for every tile (the host sends
                # it again): the streamed dim's tiles outermost, so every pass is a reload
                loops=tuple((d, -(-sizes[d] // per_pass[d])) for d in (streamed, on_rows, on_cols)),
            ),
        ),
        rows=((on_rows, depth),),
        cols=((on_cols, cols),),
    )
    report = evaluate_one(nest, arch, mapping, allow_overflow=True)
    return report.compute_cycles + report.fill_drain_cycles
