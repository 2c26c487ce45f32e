"""Capturing a module with torch.export (`codesign.workload.capture`): the eager run that names
the module a wrong input fails in, the export itself with a one-line reason when it fails, and
outputs holding tensors inside objects torch.export cannot flatten (a KV cache)."""

from __future__ import annotations

import contextlib
import inspect
import io
import logging

import torch
import torch.fx as fx
import torch.utils._pytree as pytree
from torch import nn

from codesign.errors import SpecError, TraceError
from codesign.workload._builder import _first_line


def _run_eagerly(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> object:
    """Run the module once as it is, so that an input it cannot take fails with the name of
    the innermost module that raised (torch.export would report a fake-tensor check); returns
    its output."""
    stack: list[str] = []
    names = {m: n for n, m in module.named_modules()}

    def enter(mod: nn.Module, _args: object) -> None:
        stack.append(names[mod])

    def leave(*_: object) -> None:
        stack.pop()

    hooks = [m.register_forward_pre_hook(enter) for m in names]
    hooks += [m.register_forward_hook(leave) for m in names]
    try:
        with torch.no_grad():
            return module(*inputs)
    except Exception as exc:
        path = stack[-1] if stack else ""
        where = (
            f"module {path!r} ({type(module.get_submodule(path)).__name__})"
            if path
            else f"{type(module).__name__}.forward"
        )
        shapes = [tuple(t.shape) for t in inputs]
        raise TraceError(
            f"{where} failed on example inputs of shapes {shapes}: {_first_line(exc)}"
        ) from exc
    finally:
        for h in hooks:
            h.remove()


def _export_reason(exc: BaseException) -> str:
    """One line of a torch.export failure: the line saying why (they often start with the
    generated code of the graph)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for key in ("data-dependent", "Could not guard", "control flow", "Unsupported", "Error"):
        hit = next((ln for ln in lines if key in ln), None)
        if hit is not None:
            return hit
    code = ("def ", "#", "return ", "File ")
    return next((ln for ln in lines if not ln.startswith(code)), type(exc).__name__)


_PLAIN = (torch.Tensor, int, float, bool, str, type(None))


def _output_tensors(value: object, seen: set[int]) -> list[torch.Tensor]:
    """The tensors of a module's output, in order: its pytree leaves (tuples, lists, dicts,
    Hugging Face ``ModelOutput``s) and, inside a leaf that is some other object (a Hugging Face
    ``DynamicCache``), the tensors of its attributes, found the same way."""
    found: list[torch.Tensor] = []
    for leaf in pytree.tree_leaves(value):
        if isinstance(leaf, torch.Tensor):
            found.append(leaf)
        elif not isinstance(leaf, (nn.Module, type)) and hasattr(leaf, "__dict__"):
            if id(leaf) not in seen:
                seen.add(id(leaf))
                found += _output_tensors(vars(leaf), seen)
    return found


class _TensorOutputs(nn.Module):
    """Exports a module whose output holds tensors inside objects torch.export cannot flatten
    (a KV cache) as the tuple of those tensors. Its ``forward`` has the module's signature (the
    graph inputs keep their names); `_unwrap` removes its level from the module paths."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

        def forward(*inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(_output_tensors(module(*inputs), set()))

        with contextlib.suppress(ValueError):  # a builtin forward has no signature
            forward.__signature__ = inspect.signature(module.forward)
        self.forward = forward


def _unwrap(gm: fx.GraphModule) -> None:
    """The module paths of a `_TensorOutputs` capture as if the module had been exported itself
    (``module.h.0.attn`` -> ``h.0.attn``)."""
    for node in gm.graph.nodes:
        stack = node.meta.get("nn_module_stack")
        if stack:
            node.meta["nn_module_stack"] = {
                key: (path.removeprefix("module").removeprefix("."), *rest)
                for key, (path, *rest) in list(stack.items())[1:]
            }


def _export(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> fx.GraphModule:
    """The module captured by torch.export, as a graph module."""
    label = type(module).__name__
    try:
        sig = inspect.signature(module.forward)
        sig.bind(*inputs)
    except TypeError as exc:
        params = [
            p.name for p in inspect.signature(module.forward).parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]  # fmt: skip
        raise SpecError(
            f"{label}.forward takes {len(params)} inputs {params}, got {len(inputs)} example "
            f"inputs ({_first_line(exc)})"
        ) from exc
    except ValueError:
        pass  # no signature (a builtin forward): let torch.export check the arguments
    output = _run_eagerly(module, inputs)
    wrap = not all(isinstance(v, _PLAIN) for v in pytree.tree_leaves(output))
    sink = io.StringIO()
    quiet = logging.getLogger("torch")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # torch logs the failing graph on stderr before raising
    try:
        # ... and prints the graph code of a failed guard
        with torch.no_grad(), contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            ep = torch.export.export(_TensorOutputs(module) if wrap else module, inputs,
                                     strict=False)  # fmt: skip
    except Exception as exc:  # torch raises many types; all mean "cannot capture"
        where = next(
            (ln.strip().removeprefix("# File: ") for ln in (str(exc) + "\n" + sink.getvalue())
             .splitlines() if ln.strip().startswith("# File:")),
            None,
        )  # fmt: skip
        at = f" at {where}" if where else ""
        raise TraceError(
            f"cannot capture {label} with torch.export{at}: {_export_reason(exc)} (data-dependent "
            f"control flow: make branches depend on constructor arguments or shapes, not on "
            f"tensor values; or try frontend='fx')"
        ) from exc
    finally:
        quiet.setLevel(level)
    try:
        gm = ep.module()
    except Exception as exc:  # noqa: BLE001 - torch regenerates Python code from the graph
        raise TraceError(
            f"cannot capture {label} with torch.export: its graph does not compile back to "
            f"Python ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); a module name "
            f"with quotes? rename it or try frontend='fx'"
        ) from exc
    if wrap:
        _unwrap(gm)
    return gm
