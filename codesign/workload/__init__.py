"""Workload analysis: loop nests of MAC-bearing operators, the workload graph, the torch.fx
front end and the activation buffer model."""

from codesign.workload.loopnest import (
    Axis,
    LoopNest,
    TensorRole,
    TensorSpec,
    Term,
    axis_extent,
    conv1d,
    conv2d,
    einsum,
    linear,
    matmul,
)

__all__ = [
    "Axis",
    "LoopNest",
    "TensorRole",
    "TensorSpec",
    "Term",
    "axis_extent",
    "conv1d",
    "conv2d",
    "einsum",
    "linear",
    "matmul",
]
