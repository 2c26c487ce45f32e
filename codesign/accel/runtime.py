"""The host runtime: a whole quantized network, layer after layer, on one accelerator.

`HostRuntime` takes an `AcceleratorConfig`, the network's `NetworkPlan` (schedules) and a
``codesign.quant`` `QuantizedModel`, and runs the model's forward pass with every MAC layer
sent to a `Device`: for each layer it quantizes the input (the layer's input scale and zero
point), builds the GEMM (``codesign.accel.program.layer_operands``: im2col of a
convolution, the input zero point folded into the bias), programs one run per image (CSR
writes, parameter writes, ``s_axis`` words in the controller's order), lets the device run
them, decodes the ``m_axis`` words and hands the int outputs back, dequantized, to the model.

What runs on the host, in float on dequantized values exactly as in the integer reference
(``codesign.quant.model.integer_forward``): every operator that is not a conv1d/conv2d
(``groups == 1``) or linear layer: ReLU, pooling, flatten, residual adds, softmax, ... The
accelerator runs the MAC layers and their requantization.

A `Device` is anything with ``run(programs) -> list[DeviceRun]``: ``codesign.sim`` provides
the RTL simulation (``codesign.sim.network.SimulatedAccelerator``); a user's FPGA driver sends
the same CSR writes and words over its bus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from codesign.accel.config import AcceleratorConfig
from codesign.accel.costview import NetworkPlan, default_schedule
from codesign.accel.program import LayerProgram, decode_outputs, layer_operands, program_layer
from codesign.errors import SpecError

__all__ = ["Device", "DeviceRun", "HostRuntime", "LayerRun", "NetworkRun"]


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceRun:
    """What a device returns for one `LayerProgram`.

    Parameters
    ----------
    out_words : tuple of int
        The ``m_axis_tdata`` words, in order.
    cycles : int
        Cycles from the first ``s_axis`` handshake to the last ``m_axis`` handshake, inclusive.
    out_last : tuple of int
        ``m_axis_tlast`` of every word.
    status : int
        STATUS read after the run.
    """

    out_words: tuple[int, ...]
    cycles: int
    out_last: tuple[int, ...] = ()
    status: int = 0


class Device(Protocol):
    """Runs layer programs on an accelerator, in order, without a reset in between."""

    def run(self, programs: Sequence[LayerProgram]) -> list[DeviceRun]:
        """One `DeviceRun` per program."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class LayerRun:
    """One MAC layer of a network run.

    Parameters
    ----------
    name : str
    gemm : tuple of int
        ``(M, N, K)`` of one image.
    input_q, output_q : torch.Tensor
        The integer input the accelerator got and the integer output it produced (batch).
    cycles : tuple of int
        Measured cycles of every image.
    runs : tuple of DeviceRun
        The device's records, one per image.
    """

    name: str
    gemm: tuple[int, int, int]
    input_q: torch.Tensor
    output_q: torch.Tensor
    cycles: tuple[int, ...]
    runs: tuple[DeviceRun, ...]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class NetworkRun:
    """A network run: the model's output and every MAC layer's record, in execution order."""

    output: torch.Tensor
    layers: tuple[LayerRun, ...]


class HostRuntime:
    """Runs a quantized model on an accelerator (see the module docstring).

    Parameters
    ----------
    config : AcceleratorConfig
        The accelerator (``manifest.json``'s ``accelerator``).
    qmodel : codesign.quant.model.QuantizedModel
        The calibrated model; every MAC layer needs an integer form (weights and activations
        quantized) no wider than the array's operands and activations exactly as wide as its
        requantizer's ``act_bits``.
    plan : NetworkPlan or None
        Schedules per layer; None: each layer's `default_schedule`.
    """

    def __init__(
        self, config: AcceleratorConfig, qmodel: object, plan: NetworkPlan | None = None
    ) -> None:
        if not isinstance(config, AcceleratorConfig):
            raise SpecError(f"config must be an AcceleratorConfig, not {type(config).__name__}")
        self.config = config
        self.qmodel = qmodel
        self.plan = plan
        arr = config.array
        for info in qmodel.layers:
            integer = qmodel.integer_layer(info.name)
            if integer.act_bits != arr.act_bits:
                raise SpecError(
                    f"layer {info.name!r} has {integer.act_bits}-bit activations; the "
                    f"accelerator's requantizer produces act_bits={arr.act_bits}"
                )
            if integer.weight_bits > arr.weight_bits:
                raise SpecError(
                    f"layer {info.name!r} has {integer.weight_bits}-bit weights, wider than the "
                    f"array's weight_bits={arr.weight_bits}"
                )
            if plan is not None:
                plan.layer(info.name)

    def tile_m(self, name: str, m: int) -> int | None:
        """The row tile layer ``name`` runs with (``os``: None)."""
        if self.config.output_stationary:
            return None
        if self.plan is not None:
            return self.plan.layer(name).schedule.tile_m
        return default_schedule(self.config, m).tile_m

    def pruning(self, name: str) -> str:
        """The pruning layer ``name`` runs with (`program_layer`): the plan's, else ``2:4``
        when the model's policy prunes the layer 2:4 and ``none`` otherwise."""
        from codesign.quant.policy import Pruning

        if self.plan is not None:
            return self.plan.layer(name).pruning
        policy = self.qmodel.policy.for_layer(name)
        nm = policy is not None and policy.pruning is Pruning.NM and policy.nm == (2, 4)
        return "2:4" if nm else "none"

    def programs(self, layer: object, x_q: torch.Tensor) -> tuple[object, list[LayerProgram]]:
        """The GEMM operands of ``layer`` (an ``IntegerLayer``) on the batch ``x_q`` and one
        program per image."""
        ops = layer_operands(layer, x_q)
        m_all, n, _ = ops.gemm
        images = x_q.shape[0]
        m = m_all // images
        tile_m = self.tile_m(layer.name, m)
        pruning = self.pruning(layer.name)
        programs = [
            program_layer(
                self.config,
                ops.a[i * m : (i + 1) * m],
                ops.w,
                ops.bias,
                ops.multiplier,
                ops.shift,
                ops.zero_point,
                tile_m=tile_m,
                pruning=pruning,
            )
            for i in range(images)
        ]
        return ops, programs

    def run(self, device: Device, inputs: torch.Tensor | Sequence[torch.Tensor]) -> NetworkRun:
        """The model's output on ``inputs`` (a batch of images) with every MAC layer on
        ``device``."""
        from codesign.quant.model import integer_forward

        records: list[LayerRun] = []

        def execute(layer: object, x_q: torch.Tensor) -> torch.Tensor:
            ops, programs = self.programs(layer, x_q)
            runs = device.run(programs)
            if len(runs) != len(programs):
                raise SpecError(
                    f"device returned {len(runs)} runs for {len(programs)} programs of layer "
                    f"{layer.name!r}"
                )
            outs = [
                decode_outputs(self.config, prog, list(run.out_words))
                for prog, run in zip(programs, runs, strict=True)
            ]
            out_q = ops.to_output(np.concatenate(outs, axis=0))
            records.append(
                LayerRun(
                    name=layer.name,
                    gemm=(programs[0].m, programs[0].n, programs[0].k),
                    input_q=x_q,
                    output_q=out_q,
                    cycles=tuple(r.cycles for r in runs),
                    runs=tuple(runs),
                )
            )
            return out_q

        output = integer_forward(self.qmodel, inputs, executor=execute)
        return NetworkRun(output=output, layers=tuple(records))
