"""``codesign.hw``: Amaranth generators of systolic DNN arrays, Verilog export with a manifest.

* `SystolicConfig` (amaranth-free): parameters of one array, validated at construction, built
  from Python, a dict, an explored ``Architecture`` or a design point JSON.
* `WeightStationaryArray`, `OutputStationaryArray`, `SparseWeightStationaryArray`: the
  ``wiring.Component`` of each dataflow, with valid/ready streams whose payload layouts come
  from `weight_layout`, `input_layout` and `output_layout` (`pack`/`unpack` for test benches).
* `export_verilog`: ``<top>.v`` and ``manifest.json``.
* `AcceleratorConfig`, `Accelerator`, `export_accelerator`, `REGISTERS`: the whole accelerator
  (buffers, controller, AXI4-Stream and CSR interfaces) around a WS or OS array.

Only the configuration is imported eagerly; the Amaranth-based names load on first use, so
``codesign generate --help`` and the CLI stay free of amaranth.
"""

from __future__ import annotations

import importlib

from codesign.accel.array import Dataflow, SystolicConfig, required_acc_bits

__all__ = [
    "Dataflow",
    "SystolicConfig",
    "required_acc_bits",
    "WeightStationaryPE",
    "SparseWeightStationaryPE",
    "OutputStationaryPE",
    "WeightStationaryArray",
    "OutputStationaryArray",
    "SparseWeightStationaryArray",
    "weight_layout",
    "input_layout",
    "output_layout",
    "pack",
    "unpack",
    "build_array",
    "export_verilog",
    "ExportResult",
    "AcceleratorConfig",
    "REGISTERS",
    "Accelerator",
    "export_accelerator",
]

_LAZY = {
    "WeightStationaryPE": "codesign.hw.pe",
    "SparseWeightStationaryPE": "codesign.hw.pe",
    "OutputStationaryPE": "codesign.hw.pe",
    "WeightStationaryArray": "codesign.hw.systolic",
    "OutputStationaryArray": "codesign.hw.systolic",
    "SparseWeightStationaryArray": "codesign.hw.sparse",
    "weight_layout": "codesign.hw.layouts",
    "input_layout": "codesign.hw.layouts",
    "output_layout": "codesign.hw.layouts",
    "pack": "codesign.hw.layouts",
    "unpack": "codesign.hw.layouts",
    "build_array": "codesign.hw.export",
    "export_verilog": "codesign.hw.export",
    "ExportResult": "codesign.hw.export",
    "AcceleratorConfig": "codesign.accel.config",
    "REGISTERS": "codesign.accel.config",
    "Accelerator": "codesign.hw.accelerator",
    "export_accelerator": "codesign.hw.accel_export",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codesign.hw' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
