"""Architectures: the PE array, memory levels (innermost first), technology tables, presets,
strict YAML/JSON I/O and the Yosys-calibrated FPGA area estimate (`estimate_fpga_area`)."""

from codesign.arch.dataflow import Dataflow
from codesign.arch.fpga_area import FpgaArea
from codesign.arch.fpga_area import estimate as estimate_fpga_area
from codesign.arch.io import (
    architecture_from_dict,
    architecture_to_dict,
    load_architecture,
    save_architecture,
)
from codesign.arch.presets import (
    PRESETS,
    eyeriss,
    fpga_edge,
    output_stationary,
    preset,
    vector_unit,
    weight_stationary,
    ws_gated,
    ws_sparse24,
)
from codesign.arch.spec import (
    Architecture,
    CompressionFormat,
    ComputeArray,
    MemoryLevel,
    Sparsity,
    VectorUnit,
)

__all__ = [
    "Architecture",
    "Dataflow",
    "CompressionFormat",
    "ComputeArray",
    "VectorUnit",
    "MemoryLevel",
    "Sparsity",
    "PRESETS",
    "preset",
    "vector_unit",
    "weight_stationary",
    "ws_gated",
    "ws_sparse24",
    "output_stationary",
    "eyeriss",
    "fpga_edge",
    "FpgaArea",
    "estimate_fpga_area",
    "architecture_from_dict",
    "architecture_to_dict",
    "load_architecture",
    "save_architecture",
]
