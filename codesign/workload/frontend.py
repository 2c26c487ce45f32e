"""The torch.fx front end: ``torch.nn.Module`` + example inputs -> :class:`Workload`.

The module is traced symbolically with ``torch.fx`` (modules from ``torch.nn`` are leaves, user
modules are traced through), then run once node by node on the example inputs to record every
activation's shape, dtype and measured density. MAC-bearing operators (convolutions, linear
layers, matmuls) become :class:`LoopNest` objects; every other tensor operator becomes an
:class:`OtherOp` with its tensor sizes and element-op count. An operator outside the supported
set is an error naming the node, the operator and the supported set, never a silent zero.

Values that are not tensors (``x.shape``, sizes, Python numbers) are not layers. Nodes computed
from parameters only (``self.weight.t()``) are constants: a matmul reading one treats it as a
trained weight.

This module holds the entry point `from_torch` (for both front ends) and the torch.fx tracing;
the operator tables are in ``_fx_ops``, the torch.fx builder in ``_fx_builder``, what both front
ends share in ``_builder`` and the loading of model files in ``_model_file``.
"""

from __future__ import annotations

import torch
import torch.fx as fx
from torch import nn

from codesign.errors import SpecError, TraceError
from codesign.workload._builder import _execute, _first_line, _Options
from codesign.workload._builder import _GraphBuilder as _GraphBuilder  # re-exported for tests
from codesign.workload._fx_builder import _Builder
from codesign.workload._fx_ops import SUPPORTED_OPS
from codesign.workload._model_file import import_file, load_model
from codesign.workload.graph import Workload

__all__ = [
    "from_torch",
    "load_model",
    "import_file",
    "SUPPORTED_OPS",
]

# --- entry points --------------------------------------------------------------------------------


def _trace(module: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(module)
    except Exception as exc:  # torch raises several types; all mean "cannot trace"
        raise TraceError(
            f"cannot trace {type(module).__name__} with torch.fx: {_first_line(exc)} "
            f"(data-dependent control flow is not supported; make branches depend on "
            f"constructor arguments, not on tensor values)"
        ) from exc


def from_torch(
    module: nn.Module,
    *example_inputs: torch.Tensor,
    fold_batchnorm: bool = True,
    activation_bits: int | None = None,
    weight_bits: int | None = None,
    accumulator_bits: int | None = None,
    name: str | None = None,
    frontend: str = "export",
) -> Workload:
    """Capture a module on example inputs into a :class:`Workload`.

    Parameters
    ----------
    module : torch.nn.Module
        The model; evaluated as is (put it in eval mode for inference statistics).
    *example_inputs : torch.Tensor
        One tensor per ``forward`` argument; their shapes fix every layer's size.
    fold_batchnorm : bool
        Fold a BatchNorm that is the only reader of a convolution into it (the convolution
        gets a bias and scaled weights; the BatchNorm disappears from the graph and its
        parameters are counted with the convolution).
    activation_bits, weight_bits : int, optional
        Bits per activation / weight element; default from each tensor's dtype (float32 -> 32).
    accumulator_bits : int, optional
        Bits of the output tensor of each loop nest (partial sums); default
        ``max(32, output activation bits)``, the 32-bit accumulator the LoopNest factories
        assume. Activation buffers between layers use ``activation_bits``.
    name : str, optional
        Workload name (default: the module's class name).
    frontend : {"export", "fx"}
        ``"export"`` (default): ``torch.export`` at the ATen level (`codesign.workload.capture`);
        every operator is accepted, MAC-bearing ones become loop nests. ``"fx"``: the older
        ``torch.fx`` symbolic tracer with its fixed operator table (:data:`SUPPORTED_OPS`), for
        models torch.export cannot capture but torch.fx can.

    Raises
    ------
    TraceError
        The module cannot be traced (data-dependent control flow) or fails on the example
        inputs (wrong shape).
    UnsupportedOperatorError
        An operator outside :data:`SUPPORTED_OPS`.
    SpecError
        Bad arguments.
    """
    if not isinstance(module, nn.Module):
        raise SpecError(f"module must be a torch.nn.Module, not {type(module).__name__}")
    for i, t in enumerate(example_inputs):
        if not isinstance(t, torch.Tensor):
            raise SpecError(f"example_inputs[{i}] must be a torch.Tensor, not {type(t).__name__}")
    for field_name, value in (
        ("activation_bits", activation_bits),
        ("weight_bits", weight_bits),
        ("accumulator_bits", accumulator_bits),
    ):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value <= 0
        ):
            raise SpecError(f"{field_name} must be a positive integer or None, not {value!r}")
    if frontend not in ("export", "fx"):
        raise SpecError(f"frontend must be 'export' or 'fx', not {frontend!r}")
    opts = _Options(
        fold_batchnorm=fold_batchnorm,
        activation_bits=activation_bits,
        weight_bits=weight_bits,
        accumulator_bits=accumulator_bits,
    )
    if frontend == "export":
        from codesign.workload.capture import capture

        return capture(module, tuple(example_inputs), opts, name or type(module).__name__)
    gm = _trace(module)
    placeholders = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(example_inputs):
        raise SpecError(
            f"{type(module).__name__}.forward takes {len(placeholders)} inputs {placeholders}, "
            f"got {len(example_inputs)} example inputs"
        )
    values, densities = _execute(gm, example_inputs)
    graph = _Builder(gm, values, densities, opts).build()
    return Workload(graph=graph, name=name or type(module).__name__)
