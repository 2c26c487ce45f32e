"""Strict YAML/JSON serialization of architectures (format version 1).

The file is the dataclasses written out: unknown keys, duplicate keys, missing fields, wrong
types and non-positive sizes are ``SpecError``s naming the field (``levels[1].size_bits``).
Enums are written by value (``dataflow: ws``, ``holds: [inputs, weights]``).
``load_architecture(save_architecture(arch, path)) == arch``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from codesign import validation
from codesign.arch.dataflow import Dataflow
from codesign.arch.spec import (
    Architecture,
    CompressionFormat,
    ComputeArray,
    MemoryLevel,
    Sparsity,
    VectorUnit,
)
from codesign.errors import SpecError
from codesign.validation import shown
from codesign.workload.loopnest import TensorRole

__all__ = [
    "FORMAT_VERSION",
    "read_spec_file",
    "write_spec_file",
    "parse_spec_text",
    "build_dataclass",
    "architecture_to_dict",
    "architecture_from_dict",
    "load_architecture",
    "save_architecture",
]

FORMAT_VERSION = 1
"""Version written to and required in every architecture file."""


def parse_spec_text(text: str, *, json_format: bool = False) -> Any:
    """Parse YAML (or JSON) text strictly (`codesign.validation.parse_spec_text`)."""
    return validation.parse_spec_text(text, json_format=json_format)


def read_spec_file(path: str | Path) -> Any:
    """Read a ``.yaml``/``.yml``/``.json`` spec file strictly
    (`codesign.validation.read_spec_file`: size, encoding, duplicate keys, aliases)."""
    return validation.read_spec_file(path)


def _convert_int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(f"{where} must be an integer, not {shown(value)}")
    return value


def _convert_float(value: Any, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise SpecError(f"{where} must be a number, not {shown(value)}")
    return float(value)


def _convert_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{where} must be true or false, not {shown(value)}")
    return value


def _convert_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"{where} must be a string, not {shown(value)}")
    return value


def _enum_converter(cls: type[enum.Enum]) -> Callable[[Any, str], enum.Enum]:
    def convert(value: Any, where: str) -> enum.Enum:
        for member in cls:
            if value == member.value:
                return member
        raise SpecError(f"{where} must be one of {[m.value for m in cls]}, not {shown(value)}")

    return convert


def _roles(value: Any, where: str) -> frozenset[TensorRole]:
    if not isinstance(value, list):
        raise SpecError(
            f"{where} must be a list of {[r.value for r in TensorRole]}, not {shown(value)}"
        )
    conv = _enum_converter(TensorRole)
    roles = [conv(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if len(set(roles)) != len(roles):
        raise SpecError(f"{where} must not list a tensor twice, not {shown(value)}")
    return frozenset(roles)


def _optional_int(value: Any, where: str) -> int | None:
    return None if value is None else _convert_int(value, where)


def _nm(value: Any, where: str) -> tuple[int, int] | None:
    """``null`` or ``[N, M]`` (``ComputeArray`` checks ``0 < N < M``)."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise SpecError(f"{where} must be null (dense) or a pair [N, M], not {shown(value)}")
    return (_convert_int(value[0], f"{where}[0]"), _convert_int(value[1], f"{where}[1]"))


def build_dataclass(
    cls: type, data: Any, where: str, converters: dict[str, Callable[[Any, str], Any]]
) -> Any:
    """Build ``cls`` from a mapping: every key must be a field (with a converter), every field
    without a default must be present. ``where`` prefixes field names in messages."""
    if not isinstance(data, dict):
        raise SpecError(f"{where or 'spec'} must be a mapping of fields, not {shown(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{where}." if where else ""
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        raise SpecError(
            f"{prefix}{unknown[0]} is not a field of {cls.__name__}; allowed: {sorted(fields)}"
        )
    missing = [
        n
        for n, f in fields.items()
        if n not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise SpecError(f"{prefix}{missing[0]} is missing (required field of {cls.__name__})")
    kwargs = {k: converters[k](v, f"{prefix}{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except SpecError as exc:
        msg = str(exc)
        raise SpecError(f"{where}: {msg}" if where and not msg.startswith(where) else msg) from None


_COMPUTE = {
    "rows": _convert_int,
    "cols": _convert_int,
    "input_bits": _convert_int,
    "weight_bits": _convert_int,
    "accum_bits": _convert_int,
    "mac_energy_pj": _convert_float,
    "mac_area_um2": _convert_float,
    "dataflow": _enum_converter(Dataflow),
    "systolic": _convert_bool,
    "overlap_passes": _convert_bool,
    "sparsity": _enum_converter(Sparsity),
    "sparse_operands": _roles,
    "nm": _nm,
}

_LEVEL = {
    "name": _convert_str,
    "size_bits": _optional_int,
    "instances": _convert_int,
    "word_bits": _convert_int,
    "read_bits_per_cycle": _convert_int,
    "write_bits_per_cycle": _convert_int,
    "read_energy_pj": _convert_float,
    "write_energy_pj": _convert_float,
    "holds": _roles,
    "area_um2": _convert_float,
    "sliding_window": _convert_bool,
}


def _levels(value: Any, where: str) -> tuple[MemoryLevel, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError(f"{where} must be a non-empty list of memory levels, innermost first")
    return tuple(
        build_dataclass(MemoryLevel, v, f"{where}[{i}]", _LEVEL) for i, v in enumerate(value)
    )


_VECTOR = {
    "lanes": _convert_int,
    "bits": _convert_int,
    "energy_per_op_pj": _convert_float,
    "area_um2": _convert_float,
}


def _vector(value: Any, where: str) -> VectorUnit | None:
    return None if value is None else build_dataclass(VectorUnit, value, where, _VECTOR)


_ARCH = {
    "name": _convert_str,
    "compute": lambda v, w: build_dataclass(ComputeArray, v, w, _COMPUTE),
    "levels": _levels,
    "clock_mhz": _convert_float,
    "input_format": _enum_converter(CompressionFormat),
    "weight_format": _enum_converter(CompressionFormat),
    "index_bits": _convert_int,
    "vector": _vector,
}


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, frozenset):
        order = list(TensorRole)
        return [r.value for r in sorted(value, key=order.index)]
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def architecture_to_dict(arch: Architecture) -> dict:
    """Plain-data form of ``arch`` (with ``version``), ready for YAML or JSON."""
    return {"version": FORMAT_VERSION, **_plain(arch)}


def architecture_from_dict(data: Any) -> Architecture:
    """Inverse of ``architecture_to_dict``; strict (see the module docstring)."""
    if not isinstance(data, dict):
        raise SpecError(f"architecture spec must be a mapping of fields, not {shown(data)}")
    data = dict(data)
    version = data.pop("version", None)
    if version != FORMAT_VERSION:
        raise SpecError(f"version must be {FORMAT_VERSION}, not {shown(version)}")
    return build_dataclass(Architecture, data, "", _ARCH)


def load_architecture(path: str | Path) -> Architecture:
    """Read an architecture from a YAML or JSON file."""
    return architecture_from_dict(read_spec_file(path))


def write_spec_file(data: Any, path: str | Path) -> Path:
    """Write plain data as YAML (or JSON when the suffix is ``.json``); returns the path."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        p.write_text(json.dumps(data, indent=2) + "\n")
    else:
        p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def save_architecture(arch: Architecture, path: str | Path) -> Path:
    """Write ``arch`` as YAML (or JSON when the suffix is ``.json``); returns the path."""
    return write_spec_file(architecture_to_dict(arch), path)
