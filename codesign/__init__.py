"""codesign: hardware/software co-design of DNN accelerators.

``import codesign`` is light: it never imports amaranth or cocotb (``codesign.hw`` and
``codesign.sim`` do, on demand).
"""

from codesign.errors import (
    CodesignError,
    MappingError,
    SpecError,
    ToolNotFoundError,
    TraceError,
    UnsupportedOperatorError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "CodesignError",
    "MappingError",
    "SpecError",
    "ToolNotFoundError",
    "TraceError",
    "UnsupportedOperatorError",
]
