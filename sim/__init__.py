"""``codesign.sim``: cocotb verification of the generated arrays against PyTorch, and cycle
agreement with the cost model.

* `build_design` / `run_bench` (`codesign.sim.runner`): Icarus Verilog through
  ``cocotb_tools.runner``, compiled designs cached by the hash of their Verilog.
* `load_design`: a generated folder (``manifest.json`` + Verilog) with the payload codecs of
  its streams.
* `plan_gemm`: tiling of a GEMM onto the array, beats, reassembly, predicted cycles.
* `verify_gemm`, `verify_conv2d`, `verify_layer`, `verify_attention`: bit-exact comparison
  with torch or the quantized model's integer reference, measured vs predicted cycles
  (`VerifyResult`).
* The cocotb side (run inside the simulator only): `codesign.sim.stream` (stream driver and
  monitor, pause generators) and `codesign.sim.tb_streams` (the `TB` and its test).

Only the test suite and ``codesign verify`` import this package; importing it never imports
cocotb, and names load on first use (the bench inside the simulator stays light).
"""

import importlib

__all__ = [
    "ArrayDesign",
    "load_design",
    "GemmPlan",
    "TilePlan",
    "plan_gemm",
    "FieldSpec",
    "PayloadCodec",
    "BenchRun",
    "Build",
    "SimulationError",
    "SimulatorInfo",
    "build_design",
    "find_simulator",
    "run_bench",
    "Mismatch",
    "Scoreboard",
    "VerifyResult",
    "im2col",
    "random_operands",
    "verify_conv2d",
    "verify_gemm",
    "verify_layer",
    "verify_attention",
    "AcceleratorResult",
    "load_accelerator",
    "verify_network",
    "SimulatedAccelerator",
    "NetworkResult",
    "verify_accelerator_gemm",
    "verify_accelerator_conv2d",
    "verify_accelerator_layer",
]

_HOME = {
    "ArrayDesign": "design",
    "load_design": "design",
    "GemmPlan": "gemm",
    "TilePlan": "gemm",
    "plan_gemm": "gemm",
    "FieldSpec": "payload",
    "PayloadCodec": "payload",
    "BenchRun": "runner",
    "Build": "runner",
    "SimulationError": "runner",
    "SimulatorInfo": "runner",
    "build_design": "runner",
    "find_simulator": "runner",
    "run_bench": "runner",
    "Mismatch": "scoreboard",
    "Scoreboard": "scoreboard",
    "VerifyResult": "verify",
    "im2col": "verify",
    "random_operands": "verify",
    "verify_conv2d": "verify",
    "verify_gemm": "verify",
    "verify_layer": "verify",
    "verify_attention": "verify",
    "AcceleratorResult": "accelerator",
    "load_accelerator": "accelerator",
    "verify_network": "network",
    "SimulatedAccelerator": "network",
    "NetworkResult": "network",
    "verify_accelerator_gemm": "accelerator",
    "verify_accelerator_conv2d": "accelerator",
    "verify_accelerator_layer": "accelerator",
}


def __getattr__(name: str) -> object:
    # Lazy: the test bench inside the simulator imports codesign.sim.runner and must not pay
    # for torch and amaranth, which only the host side (verify, design) needs.
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'codesign.sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"codesign.sim.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
