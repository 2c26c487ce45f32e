"""Design points: from a point of the design space to an architecture, per-layer mappings and
metrics (`DesignEvaluator`; the point itself as data, `DesignPoint` and its JSON handed to the
hardware generators, is ``codesign.explore.point``); the accuracy objective.

A point's parameters (`codesign.explore.space`) build an `Architecture` from the presets of
``codesign.arch`` (``ws`` and ``os`` systolic arrays, ``rs`` Eyeriss-like, and ``is``: the
weight-stationary array with an input register per PE instead of a weight register). Axes not
in the space take `DEFAULT_PARAMS`. The array's multipliers are as wide as the widest layer; a
layer's weights and input activations get the point's bit-widths (outputs stay 32-bit partial
sums) and its pruning sets the weight density. A ``ws`` point whose every layer is pruned 2:4
builds the N:M array ``weight_stationary(..., nm=(2, 4))`` (``ComputeArray.nm``: the 2:4 RTL
array of ``codesign.hw``, dataflow ``sparse24``, with a dense reduction depth of ``4 * rows``
per pass and 2-bit indices). Other pruned designs skip zero weights on a ``ws`` array when every
pruned layer is 2:4 (an idealized skipping array; CSR storage with 2-bit indices), otherwise
they gate them (bitmask storage).

Every MAC layer of the workload is mapped (identical layer shapes once, ``LoopNest.shape_key``)
and the costs are summed, layers running one after another: latency (cycles and seconds),
energy, area, EDP and utilization. The non-MAC operators run on the point's vector unit
(``vector_lanes`` lanes, 16 bits; `codesign.cost.vector`), after one another and between the
MAC layers: their cycles and energy are part of the totals and are reported on their own
(``vector_cycles``, ``vector_energy_pj``; ``mac_cycles`` is the MAC layers' share).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

from codesign.cost.vector import evaluate_vector
from codesign.errors import SpecError
from codesign.explore.mapper import MapperResult, make_mapper
from codesign.explore.point import DesignPoint, LayerDesign, point_metrics
from codesign.explore.space import parse_pruning, split_param
from codesign.workload.graph import OtherOp
from codesign.workload.loopnest import LoopNest, TensorRole

__all__ = [
    "DEFAULT_PARAMS",
    "point_metrics",
    "LayerDesign",
    "DesignPoint",
    "DesignEvaluator",
    "AccuracyObjective",
    "build_architecture",
    "layer_params",
]

DEFAULT_PARAMS: dict[str, object] = {
    "pe_rows": 16,
    "pe_cols": 16,
    "dataflow": "ws",
    "glb_kib": 256,
    "rf_bytes": 512,
    "dram_bw_bits_per_cycle": 64,
    "clock_mhz": 1000,
    "weight_bits": 8,
    "activation_bits": 8,
    "pruning": "none",
    "acc_buf_rows": 64,
    "overlap_passes": False,
    "zero_gate": False,
    "vector_lanes": 16,
}
"""Value of every axis a design space leaves out."""

_ACCELERATOR_ONLY = ("acc_buf_rows", "overlap_passes", "zero_gate")


def layer_params(params: dict, layer: str) -> tuple[int, int, str]:
    """``(weight_bits, activation_bits, pruning)`` of ``layer`` under ``params``: the per-layer
    value (``weight_bits@layer``) if any, else the global one, else the default."""

    def get(axis: str) -> object:
        return params.get(f"{axis}@{layer}", params.get(axis, DEFAULT_PARAMS[axis]))

    return get("weight_bits"), get("activation_bits"), get("pruning")


def _param(params: dict, name: str) -> object:
    return params.get(name, DEFAULT_PARAMS[name])


def build_architecture(params: dict, layers: Sequence[LoopNest]):
    """The `Architecture` of a design point for ``layers`` (see the module docstring)."""
    from codesign.arch import (
        CompressionFormat,
        Sparsity,
        eyeriss,
        output_stationary,
        weight_stationary,
    )
    from codesign.arch import technology as tech
    from codesign.arch.dataflow import Dataflow
    from codesign.arch.presets import vector_unit, with_sparsity

    for name in params:
        base, _ = split_param(name)
        if base not in DEFAULT_PARAMS or base in _ACCELERATOR_ONLY:
            allowed = [p for p in DEFAULT_PARAMS if p not in _ACCELERATOR_ONLY]
            raise SpecError(
                f"parameter of a model-only point must be one of {allowed}, not {name!r}"
            )
    if not layers:
        raise SpecError("the workload has no MAC layers to map")
    per_layer = [layer_params(params, n.name) for n in layers]
    w_bits = max(w for w, _, _ in per_layer)
    a_bits = max(a for _, a, _ in per_layer)
    pruned = [parse_pruning(p)[0] for _, _, p in per_layer if p != "none"]
    rows, cols = _param(params, "pe_rows"), _param(params, "pe_cols")
    dataflow = _param(params, "dataflow")
    glb, dram = _param(params, "glb_kib"), _param(params, "dram_bw_bits_per_cycle")
    clock = float(_param(params, "clock_mhz"))
    nm = dataflow == "ws" and all(p == "2:4" for _, _, p in per_layer)
    skip = bool(pruned) and dataflow == "ws" and all(k == "2:4" for k in pruned)
    sparsity = Sparsity.SKIP if skip else (Sparsity.GATE if pruned else Sparsity.DENSE)
    operands = frozenset({TensorRole.WEIGHTS}) if pruned else frozenset()
    if nm:  # the 2:4 array: its N:M structure is its only sparsity
        sparsity, operands = Sparsity.DENSE, frozenset()
    if dataflow in ("ws", "is", "os"):
        preset = (
            output_stationary
            if dataflow == "os"
            else functools.partial(weight_stationary, nm=(2, 4) if nm else None)
        )
        arch = preset(
            rows,
            cols,
            input_bits=a_bits,
            weight_bits=w_bits,
            scratchpad_kib=glb,
            dram_bits_per_cycle=dram,
            clock_mhz=clock,
            sparsity=sparsity,
            sparse_operands=operands,
        )
        if dataflow == "is":
            reg = arch.levels[0]
            e = tech.sram_access_energy_pj(a_bits, a_bits)
            arch = replace(
                arch,
                name=f"is{rows}x{cols}",
                compute=replace(arch.compute, dataflow=Dataflow.INPUT_STATIONARY),
                levels=(
                    replace(
                        reg,
                        name="input_reg",
                        size_bits=a_bits,
                        word_bits=a_bits,
                        read_bits_per_cycle=a_bits,
                        write_bits_per_cycle=a_bits,
                        read_energy_pj=e,
                        write_energy_pj=e,
                        holds=frozenset({TensorRole.INPUTS}),
                        area_um2=tech.register_area_um2(a_bits),
                    ),
                    *arch.levels[1:],
                ),
            )
    else:  # rs
        bits = max(w_bits, a_bits)
        arch = eyeriss(
            rows,
            cols,
            bits=bits,
            spad_words=max(1, _param(params, "rf_bytes") * 8 // bits),
            glb_kib=glb,
            dram_bits_per_cycle=dram,
            clock_mhz=clock,
        )
        if pruned:
            arch = replace(arch, compute=with_sparsity(arch.compute, sparsity, operands))
    if pruned and not nm:
        all_24 = all(k == "2:4" for k in pruned)
        arch = replace(
            arch,
            weight_format=CompressionFormat.CSR if all_24 else CompressionFormat.BITMASK,
            index_bits=2 if all_24 else arch.index_bits,
        )
    return replace(arch, vector=vector_unit(_param(params, "vector_lanes")))


def check_others(others: Sequence[OtherOp]) -> tuple[OtherOp, ...]:
    """``others`` as a tuple, each an `OtherOp` (a SpecError names the first that is not)."""
    others = tuple(others)
    for i, op in enumerate(others):
        if not isinstance(op, OtherOp):
            raise SpecError(f"others[{i}] must be an OtherOp, not {type(op).__name__}")
    return others


class DesignEvaluator:
    """Evaluates design points of one workload: picklable, so it is shipped once to each worker.

    Parameters
    ----------
    layers : sequence of LoopNest
        The workload's MAC layers, in order (names unique).
    others : sequence of OtherOp
        The workload's non-MAC operators, costed on the vector unit (graph inputs cost
        nothing).
    mapper : str
        ``exhaustive``, ``random`` or ``local``.
    mapper_objective : str
        What each layer's mapping minimizes: ``latency``, ``energy`` or ``edp``.
    mapper_budget : int
        Mappings evaluated per distinct layer.
    seed : int
        Mapper seed.
    cache_size : int
        Layer mappings remembered across design points (same layer shape, same architecture).
    """

    def __init__(
        self,
        layers: Sequence[LoopNest],
        others: Sequence[OtherOp] = (),
        *,
        mapper: str = "local",
        mapper_objective: str = "edp",
        mapper_budget: int = 1000,
        seed: int = 0,
        cache_size: int = 4096,
    ) -> None:
        self.layers = tuple(layers)
        self.others = check_others(others)
        names = [n.name for n in self.layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"layer names must be unique, {dup} repeat")
        self._mapper = make_mapper(
            mapper, objective=mapper_objective, budget=mapper_budget, seed=seed
        )
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size

    def _map(self, nest: LoopNest, arch) -> MapperResult:
        key = (nest.shape_key(), arch)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        result = self._mapper.map(nest, arch)
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    def design_point(self, params: dict) -> DesignPoint:
        """Map every layer under ``params`` and total the costs."""
        arch = build_architecture(params, self.layers)
        out = []
        for nest in self.layers:
            w, a, p = layer_params(params, nest.name)
            # the explored designs never exploit activation sparsity: normalizing the input
            # density lets layers of equal shape share one mapping
            layer = nest.with_bits(inputs=a, weights=w, outputs=32).with_density(
                inputs=1.0, weights=parse_pruning(p)[1]
            )
            r = self._map(layer, arch)
            out.append(
                LayerDesign(
                    name=nest.name,
                    weight_bits=w,
                    activation_bits=a,
                    pruning=p,
                    mapping=r.mapping,
                    macs=nest.macs,
                    cycles=r.cycles,
                    energy_pj=r.energy_pj,
                    lower_bound_gap=r.gap_to_bound,
                )
            )
        vector = tuple(evaluate_vector(op, arch) for op in self.others)
        return DesignPoint(
            params=dict(params),
            arch=arch,
            layers=tuple(out),
            metrics=point_metrics(out, vector, arch),
            vector_layers=vector,
        )

    def __call__(self, params: dict) -> dict:
        """The metrics of ``params`` (the executors' evaluate callable)."""
        return self.design_point(params).metrics


class AccuracyObjective:
    """The accuracy of a point's quantization and pruning policy, from
    ``codesign.quant.evaluate_policy`` (cached there by policy: identical policies are
    evaluated once). Called in the exploring process with ``(params, metrics)``.

    Parameters
    ----------
    model_spec : str
        ``path/to/file.py:factory`` of the model.
    layers : sequence of str
        The MAC layer names (module paths) the policy covers.
    dataset : str
        Passed to ``evaluate_policy`` (``auto``, ``digits`` or ``none``).
    """

    def __init__(self, model_spec: str, layers: Sequence[str], *, dataset: str = "auto") -> None:
        self.model_spec = model_spec
        self.layers = tuple(layers)
        self.dataset = dataset

    def policy(self, params: dict):
        """The ``QuantPolicy`` of a design point."""
        from codesign.quant.policy import QuantPolicy, layer_policy

        entries = [(name, layer_policy(*layer_params(params, name))) for name in self.layers]
        return QuantPolicy(default=None, layers=tuple(entries))

    def __call__(self, params: dict, metrics: dict) -> dict:
        from codesign.quant import evaluate_policy

        res = evaluate_policy(self.model_spec, self.policy(params), dataset=self.dataset)
        if res.accuracy is None:
            raise SpecError(
                f"model {self.model_spec!r} has no labelled data for the accuracy objective "
                f"(dataset {self.dataset!r}); use objectives without accuracy"
            )
        return {"accuracy": res.accuracy, "accuracy_drop": res.float_accuracy - res.accuracy}
