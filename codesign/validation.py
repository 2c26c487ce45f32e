"""The limits of codesign and the checks of user input against them, in one place.

Every command line option that is a size, every file a command reads and every path it writes
goes through these functions, so that a bad input ends in one ``error: ...`` line naming the
option or field (exit status 2) before any work is done: no traceback, no hang, no memory
exhaustion, nothing the user had overwritten.

- sizes: `int_option` / `float_option` (argparse ``type=``) with the bounds below;
- files read: `read_text_file` (exists, is a file, at most `MAX_SPEC_FILE_BYTES`, UTF-8),
  `parse_spec_text` / `read_spec_file` (strict YAML/JSON: duplicate or unhashable keys,
  aliases expanding beyond `MAX_SPEC_NODES` nodes and over-deep nesting are errors);
- paths written: `check_output_file` / `check_output_dir` (not a folder where a file is meant
  and the reverse, a writable place) and `write_text_file`;
- generated design folders: `read_manifest` and `member_file` (a file the manifest names must
  lie inside the folder).

Nothing here imports more than the standard library and PyYAML (lazily).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codesign.errors import SpecError

__all__ = [
    "MAX_DIM_SIZE",
    "MAX_LAYER_MACS",
    "MAX_TENSOR_BITS",
    "MAX_INPUT_ELEMENTS",
    "MAX_SAMPLES",
    "MAX_SPEC_FILE_BYTES",
    "MAX_SPEC_NODES",
    "MAX_FACTORIZATIONS",
    "shown",
    "int_option",
    "float_option",
    "read_text_file",
    "parse_spec_text",
    "construct_yaml",
    "read_spec_file",
    "check_output_file",
    "check_output_dir",
    "write_text_file",
    "read_manifest",
    "member_file",
]

MAX_DIM_SIZE = 2**31 - 1
"""Largest size of one loop dimension (and of one mapping factor)."""

MAX_LAYER_MACS = 2**53
"""Largest MAC count of one layer: counts stay exact in float64 and far from int64 overflow."""

MAX_TENSOR_BITS = 64
"""Widest element of a tensor (``--activation-bits``, ``--weight-bits``, ``ibits`` ...)."""

MAX_INPUT_ELEMENTS = 2**26
"""Largest example input a command builds from ``--input-shape`` (256 MiB of float32)."""

MAX_SAMPLES = 10**6
"""Most random mappings, design points or evaluations one option may ask for."""

MAX_SPEC_FILE_BYTES = 16 * 2**20
"""Largest specification file read (architecture, mapping, policy, space, design, manifest)."""

MAX_SPEC_NODES = 10**6
"""Most YAML nodes a specification may expand to once its aliases are resolved (a YAML
"billion laughs" file of a few hundred bytes expands to 10**9)."""

MAX_FACTORIZATIONS = 2**20
"""Most ordered factorizations of one dimension a mapper enumerates."""


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages about arbitrary input."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<nested {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 5] + " ...>"


# ----------------------------------------------------------------------------- sizes


def int_option(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse ``type=``: an integer in ``[minimum, maximum]``; the message says which."""

    def convert(text: str) -> int:
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            value = None
        if value is None or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {minimum:,} to {maximum:,}, not {shown(text)}"
            )
        return value

    convert.__name__ = "integer"
    return convert


def float_option(
    minimum: float, maximum: float, *, open_minimum: bool = False
) -> Callable[[str], float]:
    """An argparse ``type=``: a finite number in ``[minimum, maximum]`` (``(minimum, maximum]``
    with ``open_minimum``)."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            value = math.nan
        low_ok = value > minimum if open_minimum else value >= minimum
        if not (math.isfinite(value) and low_ok and value <= maximum):
            bracket = "(" if open_minimum else "["
            raise argparse.ArgumentTypeError(
                f"must be a number in {bracket}{minimum:g}, {maximum:g}], not {shown(text)}"
            )
        return value

    convert.__name__ = "number"
    return convert


# ----------------------------------------------------------------------------- files read


def read_text_file(
    path: str | os.PathLike, what: str, *, max_bytes: int = MAX_SPEC_FILE_BYTES
) -> str:
    """The UTF-8 text of ``path``. ``what`` names it in messages (``"--arch file"``).

    Raises
    ------
    SpecError
        If the path is missing, a folder, larger than ``max_bytes``, unreadable or not UTF-8.
    """
    p = Path(path)
    if p.is_dir():
        raise SpecError(f"{what} {str(p)!r} is a folder, not a file")
    if not p.exists():
        raise SpecError(f"{what} {str(p)!r} does not exist")
    try:
        with p.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise SpecError(f"{what} {str(p)!r} cannot be read: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise SpecError(
            f"{what} {str(p)!r} is larger than {max_bytes // 2**20} MiB, the limit for "
            f"specification files"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{what} {str(p)!r} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start})"
        ) from None


def _strict_loader() -> type:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """A safe loader rejecting duplicate and unhashable keys."""

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                hash(key)
            except TypeError:
                raise SpecError(
                    f"key {shown(key)} at line {line} is not a plain value (keys are names)"
                ) from None
            if key in seen:
                raise SpecError(f"duplicate key {key!r} at line {line}; each key may appear once")
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return StrictLoader


def _expanded_nodes(root: Any, what: str) -> None:
    """Refuse a YAML node graph expanding to more than `MAX_SPEC_NODES` nodes (aliases count
    once per use). Iterative, memoized per node."""
    import yaml

    size: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in size:
            continue
        children: list = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            size[id(node)] = 1 + sum(size.get(id(c), 0) for c in children)
            if size[id(node)] > MAX_SPEC_NODES:
                raise SpecError(
                    f"{what} expands to more than {MAX_SPEC_NODES:,} values once its YAML "
                    f"aliases are resolved (an alias bomb?)"
                )
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def construct_yaml(loader: Any, what: str) -> Any:
    """The document of a PyYAML ``loader`` instance, after checking its expanded size; YAML
    errors and over-deep nesting become `SpecError`s naming ``what``. Disposes the loader."""
    import yaml

    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_nodes(node, what)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise SpecError(f"{what} is not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise SpecError(f"{what} is nested too deeply") from None
    finally:
        loader.dispose()


def _no_dup_pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise SpecError(f"duplicate key {k!r}; each key may appear once")
        out[k] = v
    return out


def parse_spec_text(text: str, *, json_format: bool = False, what: str = "spec file") -> Any:
    """Parse YAML (or JSON) text strictly: duplicate or unhashable keys, alias expansion beyond
    `MAX_SPEC_NODES` and over-deep nesting are `SpecError`s."""
    if json_format:
        try:
            return json.loads(text, object_pairs_hook=_no_dup_pairs)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{what} is not valid JSON: {exc}") from None
        except RecursionError:
            raise SpecError(f"{what} is nested too deeply") from None
    return construct_yaml(_strict_loader()(text), what)


def read_spec_file(path: str | os.PathLike, what: str = "spec file") -> Any:
    """Read a ``.yaml``/``.yml``/``.json`` file strictly (`read_text_file`, `parse_spec_text`)."""
    text = read_text_file(path, what)
    label = f"{what} {str(path)!r}"
    return parse_spec_text(text, json_format=Path(path).suffix.lower() == ".json", what=label)


# ----------------------------------------------------------------------------- paths written


def _writable_ancestor(p: Path, what: str) -> None:
    """The nearest existing ancestor of ``p`` must be a writable folder."""
    parent = p.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise SpecError(f"{what} {str(p)!r}: {str(parent)!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SpecError(f"{what} {str(p)!r}: folder {str(parent)!r} is not writable")


def check_output_file(path: str | os.PathLike, what: str) -> Path:
    """Check, before any work, that a file can be written at ``path``; returns it.

    Raises
    ------
    SpecError
        If ``path`` is a folder, an existing read-only file, or lies below a file or in a
        folder that is not writable.
    """
    p = Path(path)
    if p.is_dir():
        raise SpecError(f"{what} {str(p)!r} is a folder, not a file")
    if p.exists():
        if not os.access(p, os.W_OK):
            raise SpecError(f"{what} {str(p)!r} is not writable")
    else:
        _writable_ancestor(p, what)
    return p


def check_output_dir(path: str | os.PathLike, what: str) -> Path:
    """Check, before any work, that ``path`` is or can become a writable folder; returns it."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise SpecError(f"{what} {str(p)!r} is a file, not a folder")
        if not os.access(p, os.W_OK | os.X_OK):
            raise SpecError(f"{what} {str(p)!r} is not writable")
    else:
        _writable_ancestor(p, what)
    return p


def write_text_file(path: str | os.PathLike, text: str, what: str) -> Path:
    """Write ``text`` to ``path`` (creating its folder); an `OSError` becomes a `SpecError`."""
    p = check_output_file(path, what)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    except OSError as exc:
        raise SpecError(f"{what} {str(p)!r} cannot be written: {exc.strerror}") from None
    return p


# ----------------------------------------------------------------------------- design folders


def read_manifest(folder: str | os.PathLike, hint: str = "") -> dict:
    """The ``manifest.json`` object of a ``codesign generate`` folder.

    Raises
    ------
    SpecError
        If the folder or its manifest is missing, or the manifest is not a JSON object.
    """
    root = Path(folder)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise SpecError(f"design folder {str(root)!r} {what}")
    path = root / "manifest.json"
    if not path.exists():
        raise SpecError(f"design folder {str(root)!r} has no manifest.json{hint}")
    manifest = read_spec_file(path, "manifest")
    if not isinstance(manifest, dict):
        raise SpecError(
            f"manifest {str(path)!r} must hold a JSON object, not {type(manifest).__name__}"
        )
    return manifest


def member_file(folder: str | os.PathLike, manifest: dict, key: str) -> Path:
    """The file ``manifest[key]`` names, which must be a relative path inside ``folder``."""
    root = Path(folder)
    name = manifest.get(key)
    where = f"manifest {str(root / 'manifest.json')!r}"
    if not isinstance(name, str) or not name:
        raise SpecError(f"{where}: {key} must be a file name, not {shown(name)}")
    target = (root / name).resolve()
    if Path(name).is_absolute() or not target.is_relative_to(root.resolve()):
        raise SpecError(
            f"{where}: {key} {name!r} lies outside the design folder; it must name a file in it"
        )
    if not target.is_file():
        raise SpecError(f"{where} names {key} file {name!r}, which is missing")
    return root / name
