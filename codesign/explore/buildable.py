"""Buildable design points: a point of a ``target: accelerator`` space *is* an
`AcceleratorConfig` (what ``codesign generate`` builds) plus, per layer, a schedule its
controller executes; it is scored by the cost model on the accelerator's own `Architecture`
with the mapping the controller runs, so the explorer's figure for a point is the prediction
the RTL is verified against (``codesign verify DIR --network``).

Per layer the host runs a GEMM (``codesign.accel.costview.layer_gemm``: a convolution as its
im2col patches). The schedule is the row tile ``tile_m`` of a ``ws`` accelerator (the
accumulator buffer holds ``tile_m`` rows; candidates are the divisors of ``M`` up to
``max_tile_m``, ``codesign.accel.costview.schedule_candidates``) and nothing for ``os`` (its
row tile is the array's rows). The controller's loop order is ``n2, m2, k2`` (no input
buffer).

Bit-widths: the array is as wide as the widest layer; a layer quantized narrower runs on it
unchanged (its integers fit), and the model charges the array's width for its traffic, which
is what the streams carry. Activations have one width (the requantizer's range), so
``activation_bits`` may not be per layer in a buildable space. On a dense accelerator pruning
only changes accuracy: it multiplies zeros like any other weight and the model charges it so,
unless the point has ``zero_gate`` (``ws`` only: the PEs hold a multiplier's operand while its
stationary weight is zero): then each layer's MAC energy scales with its weight density
(``unstructured:F``: ``1 - F``; cycles unchanged), the gated design ``codesign generate
--zero-gate`` builds.
On the 2:4 accelerator (dataflow ``sparse24``) a layer pruned ``2:4`` runs compressed (a pass
covers ``4 * rows`` of its reduction) and every other layer as two 2:4 halves (reduction
``8 * ceil(K / 4)``, ``AcceleratorConfig.run_k``): each layer is scored on the GEMM the array
runs.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from codesign.accel.array import Dataflow as ArrayDataflow
from codesign.accel.array import SystolicConfig
from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import (
    gemm_nest,
    layer_gemm,
    schedule_candidates,
    weight_density,
)
from codesign.cost.vector import host_cost
from codesign.errors import SpecError
from codesign.explore.design import (
    DEFAULT_PARAMS,
    DesignPoint,
    LayerDesign,
    check_others,
    layer_params,
    point_metrics,
)
from codesign.explore.space import parse_pruning, split_param
from codesign.workload.graph import OtherOp
from codesign.workload.loopnest import LoopNest

__all__ = ["ACCELERATOR_AXES", "accelerator_config", "prefetch_depth", "AcceleratorEvaluator"]

ACCELERATOR_AXES: frozenset[str] = frozenset(
    {
        "pe_rows",
        "pe_cols",
        "dataflow",
        "acc_buf_rows",
        "overlap_passes",
        "dram_bw_bits_per_cycle",
        "clock_mhz",
        "weight_bits",
        "activation_bits",
        "pruning",
        "zero_gate",
    }
)
"""Axes a ``target: accelerator`` space may use (each a parameter of the generator, the
per-layer quantization, or the clock the latency in seconds assumes).

Two generator options are not axes, because the model the explorer scores with is not exact
for them: ``fifo_depth`` is derived (`prefetch_depth`: deep enough that the bus never waits
for a drain, which the model assumes), and the ``input_buffer`` stays off (with it the model
spreads a bus-bound layer's input traffic over every pass while the RTL bunches it into the
first column tile's passes: optimistic by up to 40 %, see NOTES.md)."""


def prefetch_depth(rows: int, cols: int) -> int:
    """The prefetch FIFO of a buildable point: at least 32 beats and a power of two holding
    every beat the bus can deliver while a pass drains (``2 * rows + cols`` cycles bounds the
    drain of both dataflows), so the bus never stalls on a full FIFO (measured: a 2-beat FIFO
    costs an 8x4 ``os`` array 7 % on a bus-bound layer, 32 beats cost nothing)."""
    return max(32, 1 << (2 * rows + cols - 1).bit_length())

_OBJECTIVES = ("latency", "energy", "edp")


def _param(params: dict, name: str) -> object:
    return params.get(name, DEFAULT_PARAMS[name])


def accelerator_config(params: dict, layers: Sequence[LoopNest]) -> AcceleratorConfig:
    """The accelerator of a buildable design point for ``layers``.

    The array has the point's shape and dataflow, operands as wide as the widest layer and
    int32 accumulators; ``max_n_tiles`` covers the widest layer (``ceil(N / cols)``);
    ``axis_in_bits`` is the widest divisor of the beat width not above
    ``dram_bw_bits_per_cycle``; the FIFO is `prefetch_depth` deep; no input buffer.
    ``overlap_passes`` and ``zero_gate`` apply to ``ws`` (on ``os`` and ``sparse24`` the
    point's accelerator has them off: its ``accelerator`` entry says so).
    `SpecError` when the point is not a buildable one.
    """
    for name in params:
        base, _ = split_param(name)
        if base not in ACCELERATOR_AXES:
            raise SpecError(
                f"parameter {name!r} is not a parameter of the accelerator generator; a "
                f"buildable point takes {sorted(ACCELERATOR_AXES)}"
            )
    if not layers:
        raise SpecError("the workload has no MAC layers to map")
    per_layer = [layer_params(params, n.name) for n in layers]
    a_bits = {a for _, a, _ in per_layer}
    if len(a_bits) != 1:
        raise SpecError(
            f"activation_bits must be one value for every layer of a buildable point (the "
            f"requantizer has one output range), not {sorted(a_bits)}"
        )
    dataflow = _param(params, "dataflow")
    if dataflow not in {d.value for d in ArrayDataflow}:
        raise SpecError(
            f"dataflow must be 'ws' or 'os' for a buildable point, or 'sparse24' (the "
            f"accelerator's controllers), not {dataflow!r}"
        )
    gemms = [layer_gemm(n) for n in layers]
    cols = _param(params, "pe_cols")
    k_max = max(k for _, _, k in gemms)
    array = SystolicConfig(
        rows=_param(params, "pe_rows"),
        cols=cols,
        act_bits=a_bits.pop(),
        weight_bits=max(w for w, _, _ in per_layer),
        acc_bits=32,
        dataflow=ArrayDataflow(dataflow),
        max_reduction_len=k_max if dataflow == "os" else None,
    )
    n_tiles = max(math.ceil(n / cols) for _, n, _ in gemms)
    beat = AcceleratorConfig(array=array, max_n_tiles=n_tiles).beat_bits
    bandwidth = _param(params, "dram_bw_bits_per_cycle")
    bus = max(d for d in range(1, beat + 1) if beat % d == 0 and d <= bandwidth)
    ws = dataflow != "os"
    config = AcceleratorConfig(array=array, max_n_tiles=n_tiles, axis_in_bits=bus)
    narrower = min(config.weight_beat_bits, config.input_beat_bits)
    if config.sparse and config.words_per_beat > 1 and narrower < beat:
        raise SpecError(
            f"dram_bw_bits_per_cycle {bandwidth} is narrower than the 2:4 accelerator's beat of "
            f"{beat} bits: on such a bus its {narrower}-bit beats cost a whole beat's words, "
            f"which the cost model does not charge; give at least {beat}"
        )
    return AcceleratorConfig(
        array=array,
        max_tile_m=_param(params, "acc_buf_rows") if ws else 64,
        max_n_tiles=n_tiles,
        fifo_depth=prefetch_depth(array.rows, array.cols),
        axis_in_bits=bus,
        overlap_passes=bool(_param(params, "overlap_passes")) and ws,
        zero_gate=bool(_param(params, "zero_gate")) and dataflow == "ws",
    )


class AcceleratorEvaluator:
    """Evaluates buildable design points of one workload (same interface as
    ``DesignEvaluator``: `design_point` and the executors' ``__call__``).

    Parameters
    ----------
    layers : sequence of LoopNest
        The workload's MAC layers, in order (names unique).
    others : sequence of OtherOp
        The workload's non-MAC operators: the host runtime runs them (listed, not costed).
    mapper_objective : str
        What each layer's schedule minimizes: ``latency``, ``energy`` or ``edp``.
    cache_size : int
        Layer schedules remembered across design points (same GEMM, same accelerator).
    """

    def __init__(
        self,
        layers: Sequence[LoopNest],
        others: Sequence[OtherOp] = (),
        *,
        mapper_objective: str = "edp",
        cache_size: int = 4096,
        fpga: str | None = None,
    ) -> None:
        self.layers = tuple(layers)
        self.fpga = fpga
        if fpga is not None:
            from codesign.accel.fpga_fmax import default_model

            self._fmax = default_model(fpga)  # (a SpecError names the devices)
        self.others = check_others(others)
        names = [n.name for n in self.layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"layer names must be unique, {dup} repeat")
        if mapper_objective not in _OBJECTIVES:
            raise SpecError(
                f"mapper_objective must be one of {list(_OBJECTIVES)}, not {mapper_objective!r}"
            )
        self.objective = mapper_objective
        self._gemms = [layer_gemm(n) for n in self.layers]
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size

    def _schedule(
        self, config: AcceleratorConfig, arch, gemm: tuple[int, int, int], pruning: str
    ):
        key = (config, gemm, weight_density(config, pruning))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        from codesign.cost.model import evaluate, lower_bounds
        from codesign.mapping.mapping import MappingBatch

        m, n, k = gemm
        schedules = schedule_candidates(config, m, n, k)
        nest = gemm_nest(config, m, n, k, pruning=pruning)
        mappings = [config.mapping(m, n, k, s.tile_m) for s in schedules]
        batch = evaluate(nest, arch, MappingBatch.from_mappings(nest, arch, mappings))
        cycles = np.asarray(batch.cycles, dtype=float) + config.pipeline_cycles
        energy = np.asarray(batch.energy_pj, dtype=float)
        score = {"latency": cycles, "energy": energy, "edp": cycles * energy}[self.objective]
        best = int(np.argmin(score))  # first of equals: the largest tile
        min_cycles, min_energy = lower_bounds(nest, arch)
        bound = {
            "latency": min_cycles,
            "energy": min_energy,
            "edp": min_cycles * min_energy,
        }[self.objective]
        gap = float(score[best]) / bound - 1.0
        result = (schedules[best], mappings[best], float(cycles[best]), float(energy[best]), gap)
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    def design_point(self, params: dict) -> DesignPoint:
        """Configure the accelerator, schedule every layer on it and total the costs."""
        config = accelerator_config(params, self.layers)
        if self.fpga is None:  # the assumed clock
            clock = float(_param(params, "clock_mhz"))
        else:  # the clock place and route reaches on the device (fitted model)
            if "clock_mhz" in params:
                raise SpecError(
                    f"clock_mhz cannot be given with fpga {self.fpga!r}: the clock is the "
                    "place-and-route model's"
                )
            clock = self._fmax.fmax_mhz(config.rows, config.cols, config.requant_stages)
        arch = config.architecture(clock_mhz=clock)
        out, schedules = [], []
        for nest, gemm in zip(self.layers, self._gemms, strict=True):
            w, a, p = layer_params(params, nest.name)
            parse_pruning(p)
            m, n, k = gemm  # the GEMM the array runs (a dense layer on the 2:4 array: K grows)
            run = (m, n, config.run_k(k, p))
            schedule, mapping, cycles, energy, gap = self._schedule(config, arch, run, p)
            schedules.append(schedule)
            out.append(
                LayerDesign(
                    name=nest.name,
                    weight_bits=w,
                    activation_bits=a,
                    pruning=p,
                    mapping=mapping,
                    macs=nest.macs,
                    cycles=cycles,
                    energy_pj=energy,
                    lower_bound_gap=gap,
                )
            )
        host = tuple(host_cost(op) for op in self.others)
        return DesignPoint(
            params=dict(params),
            arch=arch,
            layers=tuple(out),
            metrics=point_metrics(out, host, arch),
            accelerator=config,
            schedules=tuple(schedules),
            vector_layers=host,
        )

    def __call__(self, params: dict) -> dict:
        """The metrics of ``params`` (the executors' evaluate callable)."""
        return self.design_point(params).metrics
