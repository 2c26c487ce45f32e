"""Quantization and pruning in the loop: per-layer policies, fake quantization with calibrated
activation ranges, pruning (unstructured, N:M, channel), accuracy and sensitivity evaluation,
mixed-precision suggestion, and the integer export that is the RTL's golden model.

Names are imported from their submodules on first use, so ``import codesign.quant`` (and the
``codesign quant`` command's registration) does not import torch.
"""

import importlib

_SUBMODULE = {
    # policy (no torch)
    "Calibration": "policy",
    "LayerPolicy": "policy",
    "Pruning": "policy",
    "QuantPolicy": "policy",
    "WeightFormat": "policy",
    # fake quantization and pruning
    "QParams": "fakequant",
    "calibrate_range": "fakequant",
    "fake_quantize": "fakequant",
    "pow2_fake_quantize": "fakequant",
    "channel_mask": "prune",
    "magnitude_mask": "prune",
    "nm_mask": "prune",
    # models and the integer export
    "IntegerLayer": "model",
    "LayerIO": "model",
    "LayerInfo": "model",
    "QuantizedModel": "model",
    "annotate_workload": "model",
    "int_layer_io": "model",
    "integer_forward": "model",
    "quantize_model": "model",
    # JSON export of the integer layers
    "export_integer": "export",
    "integer_layer_from_dict": "export",
    "integer_layer_to_dict": "export",
    # evaluation
    "AccuracyResult": "evaluate",
    "MixedPrecisionSuggestion": "evaluate",
    "SensitivityRow": "evaluate",
    "allocate_bits": "evaluate",
    "evaluate_model": "evaluate",
    "evaluate_policy": "evaluate",
    "sensitivity": "evaluate",
    "suggest_mixed_precision": "evaluate",
}

__all__ = sorted(_SUBMODULE)


def __getattr__(name: str) -> object:
    sub = _SUBMODULE.get(name)
    if sub is None:
        raise AttributeError(f"module 'codesign.quant' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"codesign.quant.{sub}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
