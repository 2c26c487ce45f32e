"""Models from the user's files: importing a Python file by path and resolving
``"MODULE_PATH:FACTORY"`` to a module and its example inputs."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from codesign.errors import SpecError
from codesign.workload._builder import _first_line


def import_file(path: str | Path) -> ModuleType:
    """Import a Python file by path (once per process: later calls return the same module).

    Raises
    ------
    SpecError
        The file does not exist or fails to import.
    """
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise SpecError(f"model file {str(path)!r} does not exist")
    mod_name = "_codesign_file_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:16]
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    loader_spec = importlib.util.spec_from_file_location(mod_name, resolved)
    if loader_spec is None or loader_spec.loader is None:
        raise SpecError(f"model file {str(path)!r} is not a Python file")
    py = importlib.util.module_from_spec(loader_spec)
    sys.modules[mod_name] = py
    try:
        loader_spec.loader.exec_module(py)
    except SystemExit as exc:
        del sys.modules[mod_name]
        raise SpecError(
            f"model file {str(path)!r} called sys.exit({exc.code!r}) on import"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any failure of the user's file
        del sys.modules[mod_name]
        raise SpecError(f"model file {str(path)!r} failed to import: {_first_line(exc)}") from exc
    return py


def _call_user(fn: Callable, label: str) -> object:
    """``fn()`` for a function of the user's model file: required parameters, an exception,
    ``sys.exit`` and endless recursion are `SpecError` s naming ``label``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: just call it
        params = []
    required = [
        p.name for p in params
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]  # fmt: skip
    if required:
        raise SpecError(f"{label} must take no arguments, but it requires {required}")
    try:
        return fn()
    except SystemExit as exc:
        raise SpecError(f"{label} called sys.exit({exc.code!r})") from None
    except RecursionError:
        raise SpecError(f"{label} recursed endlessly (RecursionError)") from None
    except Exception as exc:  # noqa: BLE001 - any failure of the user's code
        raise SpecError(f"{label} raised {type(exc).__name__}: {_first_line(exc)}") from exc


def load_model(spec: str) -> tuple[nn.Module, tuple[torch.Tensor, ...] | None]:
    """Resolve ``"MODULE_PATH:FACTORY"`` (e.g. ``"examples/models.py:resnet18"``).

    The factory is called without arguments and returns a ``torch.nn.Module`` or a
    ``(module, inputs)`` pair (``inputs`` a tensor or a tuple of tensors). Without inputs from
    the factory, a function ``FACTORY_inputs`` in the same file supplies them if present.

    Returns
    -------
    (module, inputs)
        ``inputs`` is ``None`` when neither the factory nor ``FACTORY_inputs`` gives any.
    """
    path_text, sep, factory_name = spec.rpartition(":")
    if not sep or not path_text or not factory_name:
        raise SpecError(
            f"model must be MODULE_PATH:FACTORY (e.g. models.py:resnet18), not {spec!r}"
        )
    py = import_file(path_text)
    mod_name = py.__name__
    factory = getattr(py, factory_name, None)
    if not callable(factory):
        available = sorted(
            n for n, v in vars(py).items() if callable(v) and not n.startswith("_")
            and getattr(v, "__module__", None) == mod_name
        )  # fmt: skip
        raise SpecError(
            f"model file {path_text!r} has no factory {factory_name!r}; callables defined "
            f"there: {available}"
        )
    result = _call_user(factory, f"factory {factory_name!r} of {path_text!r}")
    inputs = None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], nn.Module):
        result, inputs = result
    if not isinstance(result, nn.Module):
        raise SpecError(
            f"factory {factory_name!r} must return a torch.nn.Module or (module, inputs), "
            f"not {type(result).__name__}"
        )
    if inputs is None and callable(getattr(py, f"{factory_name}_inputs", None)):
        inputs = _call_user(getattr(py, f"{factory_name}_inputs"), f"{factory_name}_inputs")
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if inputs is not None:
        if not isinstance(inputs, (tuple, list)) or not all(
            isinstance(t, torch.Tensor) for t in inputs
        ):
            raise SpecError(
                f"the example inputs of {factory_name!r} must be a tensor or a tuple of tensors, "
                f"not {type(inputs).__name__}"
            )
        inputs = tuple(inputs)
    return result, inputs
