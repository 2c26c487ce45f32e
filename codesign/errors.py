"""Every error codesign raises on purpose, in one place.

Messages name the field (or operator, node, path), the offending value and what is allowed,
so that a user can fix the input without reading a traceback.
"""

from __future__ import annotations

__all__ = [
    "CodesignError",
    "SpecError",
    "MappingError",
    "UnsupportedOperatorError",
    "TraceError",
    "ToolNotFoundError",
]


class CodesignError(Exception):
    """Base class of all errors raised deliberately by codesign."""


class SpecError(CodesignError, ValueError):
    """A specification (architecture, layer, design space, YAML/JSON file, CLI argument) is
    invalid. The message names the field, the value and what is allowed."""


class MappingError(SpecError):
    """A mapping does not fit its loop nest or architecture (factor products, capacity,
    spatial fan-out)."""


class UnsupportedOperatorError(CodesignError, NotImplementedError):
    """The workload front end met an operator it does not understand. The message names the
    graph node, the operator and the supported set."""


class TraceError(CodesignError, RuntimeError):
    """A ``torch.nn.Module`` could not be traced or shape-propagated (data-dependent control
    flow, wrong input shape, ...)."""


class ToolNotFoundError(CodesignError, RuntimeError):
    """An external tool (Icarus Verilog, Yosys, ...) is missing; the message says how to
    install it."""
