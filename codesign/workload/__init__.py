"""Workload analysis: loop nests of MAC-bearing operators, the workload graph, the torch.fx
front end and the activation buffer model.

``from_torch``, ``load_model``, ``import_file`` and ``SUPPORTED_OPS`` live in
``codesign.workload.frontend`` and are imported on first use, so that ``import codesign.workload``
does not import torch.
"""

from codesign.workload.graph import LayerStats, Node, OtherOp, Workload
from codesign.workload.loopnest import (
    Axis,
    LoopNest,
    TensorRole,
    TensorSpec,
    Term,
    axis_extent,
    conv1d,
    conv2d,
    conv3d,
    einsum,
    linear,
    matmul,
)

__all__ = [
    "Axis",
    "LayerStats",
    "LoopNest",
    "Node",
    "OtherOp",
    "SUPPORTED_OPS",
    "TensorRole",
    "TensorSpec",
    "Term",
    "Workload",
    "axis_extent",
    "conv1d",
    "conv2d",
    "conv3d",
    "einsum",
    "from_torch",
    "import_file",
    "linear",
    "load_model",
    "matmul",
]

_FRONTEND = ("from_torch", "load_model", "import_file", "SUPPORTED_OPS")


def __getattr__(name: str) -> object:
    if name in _FRONTEND:
        from codesign.workload import frontend

        return getattr(frontend, name)
    raise AttributeError(f"module 'codesign.workload' has no attribute {name!r}")
