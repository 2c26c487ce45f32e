"""`SystolicConfig`: the parameters of one generated array, validated at construction.

This module does not import amaranth, so configurations can be built, checked and serialized
(``codesign generate --help``, the explorer's hand-off) without the hardware toolchain.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codesign.errors import SpecError

__all__ = [
    "Dataflow",
    "SystolicConfig",
    "required_acc_bits",
    "MAX_ARRAY_DIM",
    "MAX_OPERAND_BITS",
    "MAX_ACC_BITS",
]

MAX_ARRAY_DIM = 256
"""Largest ``rows`` or ``cols`` the generators accept."""

MAX_OPERAND_BITS = 32
"""Largest activation or weight bit-width (signed operands, at least 2 bits)."""

MAX_ACC_BITS = 64
"""Largest accumulator bit-width."""


class Dataflow(enum.Enum):
    """The array organizations ``codesign.hw`` can generate."""

    WEIGHT_STATIONARY = "ws"
    OUTPUT_STATIONARY = "os"
    SPARSE_2_4 = "sparse24"


_DATAFLOW_VALUES = ", ".join(repr(d.value) for d in Dataflow)


def required_acc_bits(act_bits: int, weight_bits: int, reduction_depth: int) -> int:
    """Smallest signed accumulator width that holds any sum of ``reduction_depth`` products of
    signed ``act_bits`` x ``weight_bits`` operands without overflow.

    The largest magnitude of one product is ``2**(act_bits-1) * 2**(weight_bits-1)`` (most
    negative times most negative, a positive value), so the sum needs
    ``reduction_depth * 2**(act_bits + weight_bits - 2) <= 2**(acc_bits - 1) - 1``.
    """
    worst = reduction_depth * (1 << (act_bits + weight_bits - 2))
    return worst.bit_length() + 1


def _bounded(field: str, value: object, lo: int, hi: int, *, note: str = "") -> int:
    """``value`` if it is an int (not a bool) in ``lo..hi``, else `SpecError` naming ``field``
    (``note`` goes after the range); shared by the configurations of ``codesign.hw``."""
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise SpecError(f"{field} must be an integer in {lo}..{hi}{note}, not {value!r}")
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class SystolicConfig:
    """Parameters of one ``rows x cols`` systolic array.

    Parameters
    ----------
    rows, cols : int
        PE array shape. Weight-stationary: ``rows`` is the reduction depth of one pass and
        ``cols`` the number of output channels; output-stationary: each PE owns ``O[r, c]``;
        2:4-sparse: each PE row covers a group of four reduction elements (dense depth
        ``4 * rows``).
    act_bits, weight_bits : int
        Signed operand widths (2..32).
    acc_bits : int
        Signed accumulator width; must hold the worst-case sum of the reduction depth
        (see `required_acc_bits`), otherwise `SpecError`.
    dataflow : Dataflow or str
        ``"ws"``, ``"os"`` or ``"sparse24"``.
    max_reduction_len : int or None
        Output-stationary only: the longest reduction ``K`` the accumulators must hold without
        overflow. ``None`` means "whatever ``acc_bits`` allows" (see `reduction_depth`). The
        other dataflows reduce over a fixed depth set by ``rows``, so this must be ``None``.
    """

    rows: int
    cols: int
    act_bits: int = 8
    weight_bits: int = 8
    acc_bits: int = 32
    dataflow: Dataflow = Dataflow.WEIGHT_STATIONARY
    max_reduction_len: int | None = None

    def __post_init__(self) -> None:
        _bounded("rows", self.rows, 1, MAX_ARRAY_DIM)
        _bounded("cols", self.cols, 1, MAX_ARRAY_DIM)
        signed_operands = " (signed operands)"
        _bounded("act_bits", self.act_bits, 2, MAX_OPERAND_BITS, note=signed_operands)
        _bounded("weight_bits", self.weight_bits, 2, MAX_OPERAND_BITS, note=signed_operands)
        if isinstance(self.dataflow, str) and not isinstance(self.dataflow, Dataflow):
            try:
                object.__setattr__(self, "dataflow", Dataflow(self.dataflow))
            except ValueError:
                raise SpecError(
                    f"dataflow must be one of {_DATAFLOW_VALUES}, not {self.dataflow!r}"
                ) from None
        elif not isinstance(self.dataflow, Dataflow):
            raise SpecError(f"dataflow must be one of {_DATAFLOW_VALUES}, not {self.dataflow!r}")
        acc = _bounded("acc_bits", self.acc_bits, 2, MAX_ACC_BITS)
        if self.max_reduction_len is not None:
            if self.dataflow is not Dataflow.OUTPUT_STATIONARY:
                raise SpecError(
                    f"max_reduction_len applies only to dataflow 'os', not "
                    f"{self.dataflow.value!r} (its reduction depth is fixed by rows)"
                )
            _bounded("max_reduction_len", self.max_reduction_len, 1, 2**40)
        depth = self.reduction_depth
        needed = required_acc_bits(self.act_bits, self.weight_bits, max(depth, 1))
        if depth < 1 or acc < needed:
            depth_text = self._depth_text(max(depth, 1))
            raise SpecError(
                f"acc_bits={acc} is too narrow: {depth_text} of {self.act_bits}-bit x "
                f"{self.weight_bits}-bit signed products needs acc_bits >= {needed}"
            )

    def _depth_text(self, depth: int) -> str:
        if self.dataflow is Dataflow.SPARSE_2_4:
            return (
                f"a reduction depth of {depth} non-zero products (2:4 of dense depth "
                f"{4 * self.rows})"
            )
        return f"a reduction depth of {depth}"

    @property
    def reduction_depth(self) -> int:
        """Number of products summed into one accumulator: ``rows`` (ws), ``2 * rows``
        (sparse24, the non-zeros of a dense depth ``4 * rows``) or, for os,
        ``max_reduction_len`` or else the longest reduction ``acc_bits`` holds."""
        if self.dataflow is Dataflow.WEIGHT_STATIONARY:
            return self.rows
        if self.dataflow is Dataflow.SPARSE_2_4:
            return 2 * self.rows
        if self.max_reduction_len is not None:
            return self.max_reduction_len
        return ((1 << (self.acc_bits - 1)) - 1) >> (self.act_bits + self.weight_bits - 2)

    @property
    def dense_reduction_depth(self) -> int:
        """Reduction length of the dense layer one pass covers: ``rows`` (ws), ``4 * rows``
        (sparse24) or `reduction_depth` (os)."""
        if self.dataflow is Dataflow.SPARSE_2_4:
            return 4 * self.rows
        return self.reduction_depth

    @property
    def top_name(self) -> str:
        """Default Verilog module name, e.g. ``ws_array_8x8_a8w8acc32``."""
        return (
            f"{self.dataflow.value}_array_{self.rows}x{self.cols}_"
            f"a{self.act_bits}w{self.weight_bits}acc{self.acc_bits}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; `from_dict` reads it back."""
        out: dict[str, Any] = {
            "rows": self.rows,
            "cols": self.cols,
            "act_bits": self.act_bits,
            "weight_bits": self.weight_bits,
            "acc_bits": self.acc_bits,
            "dataflow": self.dataflow.value,
        }
        if self.max_reduction_len is not None:
            out["max_reduction_len"] = self.max_reduction_len
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SystolicConfig:
        """Strict inverse of `to_dict`: unknown keys and missing ``rows``/``cols`` are errors."""
        if not isinstance(data, Mapping):
            raise SpecError(f"config must be a mapping, not {type(data).__name__}")
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(
                f"config has unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
            )
        for key in ("rows", "cols"):
            if key not in data:
                raise SpecError(f"config is missing {key!r}")
        return cls(**dict(data))

    @classmethod
    def from_architecture(
        cls, arch: Any, *, dataflow: Dataflow | str | None = None
    ) -> SystolicConfig:
        """Derive the array from an explored ``codesign.arch.Architecture``.

        ``compute.rows/cols/input_bits/weight_bits/accum_bits`` become
        ``rows/cols/act_bits/weight_bits/acc_bits``; the dataflow is ``compute.dataflow``
        (``ws`` or ``os``), or ``sparse24`` for a ``ws`` architecture with ``compute.nm``
        ``(2, 4)`` (the same ``rows x cols`` PEs). ``dataflow`` may ask for ``sparse24`` on a
        dense ``ws`` architecture too. What cannot be generated (dataflows ``is``/``rs``,
        ``compute.systolic`` false, ``compute.sparsity`` ``skip`` on a dense array, N:M other
        than 2:4, a dense array from a 2:4 architecture, a too narrow accumulator) is a
        `SpecError` naming the field.
        """
        return _from_architecture(cls, arch, dataflow=dataflow)

    @classmethod
    def from_design_json(cls, path_or_data: str | Path | Mapping[str, Any]) -> SystolicConfig:
        """Read a design point JSON file (or its parsed dict): the array of its ``"arch"``
        object (an architecture as ``codesign.arch.architecture_to_dict`` writes it), via
        `from_architecture`; other top-level keys (mappings, quantization) are not needed by
        the hardware and are ignored."""
        if isinstance(path_or_data, Mapping):
            data = path_or_data
        else:
            path = Path(path_or_data)
            try:
                data = json.loads(path.read_text())
            except FileNotFoundError:
                raise SpecError(f"design file {str(path)!r} does not exist") from None
            except json.JSONDecodeError as exc:
                raise SpecError(f"design file {str(path)!r} is not valid JSON: {exc}") from None
        return _from_design(cls, data)


_ARCH_FIELDS = (
    "compute.rows -> rows, compute.cols -> cols, compute.input_bits -> act_bits, "
    "compute.weight_bits -> weight_bits, compute.accum_bits -> acc_bits"
)


def _from_architecture(cls, arch, *, dataflow):
    from codesign.arch.spec import Architecture, Sparsity

    if not isinstance(arch, Architecture):
        raise SpecError(f"arch must be a codesign.arch.Architecture, not {type(arch).__name__}")
    compute = arch.compute
    arch_dataflow = compute.dataflow.value
    if compute.nm is not None and compute.nm != (2, 4):
        raise SpecError(
            f"compute.nm {list(compute.nm)} of architecture {arch.name!r} cannot be generated; "
            f"codesign.hw builds 2:4 arrays (compute.nm [2, 4], dataflow 'sparse24')"
        )
    if compute.nm is not None and dataflow in (None, Dataflow.SPARSE_2_4, "sparse24"):
        target = Dataflow.SPARSE_2_4
    elif compute.nm is not None:
        raise SpecError(
            f"dataflow {getattr(dataflow, 'value', dataflow)!r} cannot be generated from "
            f"architecture {arch.name!r}: its compute.nm [2, 4] needs dataflow 'sparse24'"
        )
    elif dataflow is None:
        if arch_dataflow not in ("ws", "os"):
            raise SpecError(
                f"compute.dataflow {arch_dataflow!r} of architecture {arch.name!r} cannot be "
                f"generated; codesign.hw builds 'ws' and 'os' arrays (and 'sparse24' from a 'ws' "
                f"architecture)"
            )
        target = Dataflow(arch_dataflow)
    else:
        target = SystolicConfig(rows=1, cols=1, dataflow=dataflow).dataflow  # validates the name
        needed = "ws" if target is Dataflow.SPARSE_2_4 else target.value
        if arch_dataflow != needed:
            raise SpecError(
                f"dataflow {target.value!r} needs compute.dataflow {needed!r}, but architecture "
                f"{arch.name!r} has {arch_dataflow!r}"
            )
    if not compute.systolic:
        raise SpecError(
            f"compute.systolic of architecture {arch.name!r} is false; codesign.hw generates "
            f"systolic arrays only (compute.systolic: true)"
        )
    if compute.sparsity is Sparsity.SKIP and target is not Dataflow.SPARSE_2_4:
        raise SpecError(
            f"compute.sparsity 'skip' of architecture {arch.name!r} cannot be generated: the "
            f"dense arrays spend a cycle on every operand; use 'dense' or 'gate', or the 2:4 "
            f"array (dataflow 'sparse24')"
        )
    try:
        return cls(
            rows=compute.rows,
            cols=compute.cols,
            act_bits=compute.input_bits,
            weight_bits=compute.weight_bits,
            acc_bits=compute.accum_bits,
            dataflow=target,
        )
    except SpecError as exc:
        raise SpecError(
            f"architecture {arch.name!r} cannot be generated: {exc} ({_ARCH_FIELDS})"
        ) from None


def _from_design(cls, data):
    from codesign.arch.io import architecture_from_dict

    if not isinstance(data, Mapping):
        raise SpecError(f"design must be a JSON object, not {type(data).__name__}")
    if "arch" not in data:
        keys = ", ".join(repr(k) for k in sorted(data)) or "none"
        raise SpecError(f"design has no 'arch' key (keys: {keys}); expected {{\"arch\": {{...}}}}")
    return cls.from_architecture(architecture_from_dict(data["arch"]))
