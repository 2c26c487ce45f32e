"""Reading ZigZag's YAML strictly (`codesign.interop.zigzag`): the loader that notes duplicate
keys, the file-path prefix of errors, the notes' report, the field and value checks, and ZigZag's
operand names shared by the workload, mapping and accelerator readers."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import yaml

from codesign.errors import SpecError
from codesign.validation import construct_yaml, read_text_file
from codesign.workload.loopnest import TensorRole

_LOG = logging.getLogger("codesign.interop.zigzag")  # the logger the module docstring names
_I, _W, _O = TensorRole.INPUTS, TensorRole.WEIGHTS, TensorRole.OUTPUTS
_ROLE_OF_OPERAND = {"I": _I, "W": _W, "O": _O}
_MEMORY_OPERANDS = ("I1", "I2", "O")
_DEFAULT_LINKS = {"O": "O", "I": "I1", "W": "I2"}

# --- YAML and field checks ---------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (ZigZag's: the last of duplicate keys wins) recording duplicates."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[object, int, int]] = []


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    first: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports it
        if key in first:
            loader.duplicates.append((key, first[key], line))
        else:
            first[key] = line
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path, notes: list[str]) -> Any:
    if not path.is_file():
        raise SpecError("file does not exist" if not path.exists() else "is a folder, not a file")
    loader = _Loader(read_text_file(path, "file"))
    data = construct_yaml(loader, "file")
    for key, line1, line2 in loader.duplicates:
        notes.append(
            f"key {key!r} appears twice (lines {line1} and {line2}); the last one is used, as "
            f"ZigZag's YAML loader does"
        )
    return data


@contextlib.contextmanager
def _in_file(path: Path) -> Iterator[None]:
    """Prefix every SpecError raised inside with the file's path."""
    try:
        yield
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def _report(path: Path, found: list[str], notes: list[str] | None) -> None:
    for note in found:
        _LOG.info("%s: %s", path, note)
    if notes is not None:
        notes.extend(f"{path}: {n}" for n in found)


def _fields(data: Any, where: str, what: str, required: tuple, optional: tuple = ()) -> dict:
    """``data`` as a mapping with every ``required`` key and no key outside both tuples."""
    if not isinstance(data, dict):
        raise SpecError(f"{where} must be a mapping of {what} fields, not {data!r}")
    allowed = required + optional
    for key in data:
        if key not in allowed:
            raise SpecError(
                f"{where}.{key} is not a ZigZag {what} field; allowed: {sorted(allowed)}"
            )
    for key in required:
        if key not in data:
            raise SpecError(f"{where}.{key} is missing (required ZigZag {what} field)")
    return data


def _int(value: Any, where: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise SpecError(f"{where} must be a {kind} integer, not {value!r}")
    return value


def _num(value: Any, where: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise SpecError(f"{where} must be a non-negative number, not {value!r}")
    return float(value)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(f"{where} must be a non-empty string, not {value!r}")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise SpecError(f"{where} must be a list, not {value!r}")
    return value
