"""JSON export of a quantized model's integer layers: what the RTL test benches load as the
golden model's parameters.

Format (version 1)::

    {"version": 1, "policy_hash": "...", "requantization": "<the formula>",
     "layers": [{"name": "conv1", "op": "conv2d", "stride": [1, 1], "padding": [1, 1],
                 "dilation": [1, 1], "groups": 1, "weight_shape": [8, 1, 3, 3],
                 "weight_bits": 8, "weight_q": [...flat, row-major...],
                 "weight_zero_point": [...], "weight_scale": [...], "bias_int32": [...],
                 "input_scale": 0.06, "input_zero_point": -128, "output_scale": 0.05,
                 "output_zero_point": -25, "act_bits": 8, "multiplier": [...], "shift": [...]},
                ...]}

Layers are in execution order; only layers with an integer form are listed. Scales are
float32 values written as decimal floats (read back exactly).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from codesign.errors import SpecError
from codesign.quant.model import IntegerLayer, QuantizedModel, int_dtype

__all__ = ["REQUANTIZATION", "export_integer", "integer_layer_to_dict", "integer_layer_from_dict"]

REQUANTIZATION = (
    "acc = bias_int32 + sum((x_q - input_zero_point) * (w_q - weight_zero_point)); "
    "out_q = clamp(((acc * multiplier + 2**(shift - 1)) >> shift) + output_zero_point, "
    "-2**(act_bits - 1), 2**(act_bits - 1) - 1)  # >> arithmetic, per output channel"
)
"""The integer computation of every exported layer, as text for the JSON file."""

_FIELDS = (
    "name", "op", "stride", "padding", "dilation", "groups", "weight_shape", "weight_bits",
    "weight_q", "weight_zero_point", "weight_scale", "bias_int32", "input_scale",
    "input_zero_point", "output_scale", "output_zero_point", "act_bits", "multiplier", "shift",
)  # fmt: skip


def integer_layer_to_dict(layer: IntegerLayer) -> dict[str, object]:
    """One layer as JSON-ready data (see the module docstring)."""
    return {
        "name": layer.name,
        "op": layer.op,
        "stride": list(layer.stride),
        "padding": list(layer.padding),
        "dilation": list(layer.dilation),
        "groups": layer.groups,
        "weight_shape": list(layer.weight_q.shape),
        "weight_bits": layer.weight_bits,
        "weight_q": layer.weight_q.reshape(-1).tolist(),
        "weight_zero_point": layer.weight_zero_point.tolist(),
        "weight_scale": layer.weight_scale.tolist(),
        "bias_int32": layer.bias_int32.tolist(),
        "input_scale": layer.input_scale,
        "input_zero_point": layer.input_zero_point,
        "output_scale": layer.output_scale,
        "output_zero_point": layer.output_zero_point,
        "act_bits": layer.act_bits,
        "multiplier": layer.multiplier.tolist(),
        "shift": layer.shift.tolist(),
    }


def integer_layer_from_dict(data: Mapping[str, object]) -> IntegerLayer:
    """Rebuild an `IntegerLayer` from `integer_layer_to_dict` output (keys checked)."""
    keys = set(data)
    if keys != set(_FIELDS):
        raise SpecError(
            f"integer layer: keys must be {sorted(_FIELDS)}; missing "
            f"{sorted(set(_FIELDS) - keys)}, unknown {sorted(keys - set(_FIELDS))}"
        )
    shape = tuple(data["weight_shape"])
    return IntegerLayer(
        name=data["name"],
        op=data["op"],
        stride=tuple(data["stride"]),
        padding=tuple(data["padding"]),
        dilation=tuple(data["dilation"]),
        groups=data["groups"],
        weight_q=torch.tensor(data["weight_q"], dtype=int_dtype(data["weight_bits"])).reshape(
            shape
        ),
        weight_bits=data["weight_bits"],
        weight_zero_point=torch.tensor(data["weight_zero_point"], dtype=torch.int64),
        weight_scale=torch.tensor(data["weight_scale"], dtype=torch.float32),
        bias_int32=torch.tensor(data["bias_int32"], dtype=torch.int32),
        input_scale=data["input_scale"],
        input_zero_point=data["input_zero_point"],
        output_scale=data["output_scale"],
        output_zero_point=data["output_zero_point"],
        act_bits=data["act_bits"],
        multiplier=torch.tensor(data["multiplier"], dtype=torch.int64),
        shift=torch.tensor(data["shift"], dtype=torch.int64),
    )


def export_integer(qmodel: QuantizedModel) -> dict[str, object]:
    """Every layer of ``qmodel`` that has an integer form, as JSON-ready data."""
    layers = []
    for info in qmodel.layers:
        integer = qmodel.layer(info.name).integer
        if integer is not None:
            layers.append(integer_layer_to_dict(integer))
    return {
        "version": 1,
        "policy_hash": qmodel.policy.hash(),
        "requantization": REQUANTIZATION,
        "layers": layers,
    }
