"""Packing and unpacking of stream payloads: named fields of signed or unsigned elements at bit
offsets of one integer, the way an Amaranth ``data.Struct`` lays them out in a Verilog port.

A codec is built from the RTL's own layout (:meth:`PayloadCodec.from_layout` reads an Amaranth
``StructLayout``/``ArrayLayout`` without importing Amaranth) or from a manifest description, so
the test bench and the RTL share one source of truth for bit positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from codesign.errors import SpecError

__all__ = ["FieldSpec", "PayloadCodec", "to_signed"]


def to_signed(value: int, width_bits: int) -> int:
    """Interpret the low ``width_bits`` bits of ``value`` as a two's-complement integer."""
    value &= (1 << width_bits) - 1
    return value - (1 << width_bits) if value >> (width_bits - 1) else value


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldSpec:
    """One payload field: ``count`` elements of ``width_bits`` each, element ``i`` at bit
    ``offset + i * width_bits``.

    Parameters
    ----------
    name : str
        Field name (an Amaranth struct member name).
    offset : int
        Bit offset of element 0 in the payload.
    width_bits : int
        Bits per element.
    count : int
        Number of elements; 0 means a scalar field (one element, unpacked as an int).
    signed : bool
        Two's-complement elements.
    """

    name: str
    offset: int
    width_bits: int
    count: int = 0
    signed: bool = True

    def __post_init__(self) -> None:
        for attr in ("offset", "count"):
            v = getattr(self, attr)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise SpecError(
                    f"field {self.name!r}: {attr} must be a non-negative integer, not {v!r}"
                )
        w = self.width_bits
        if not isinstance(w, int) or isinstance(w, bool) or w <= 0:
            raise SpecError(
                f"field {self.name!r}: width_bits must be a positive integer, not {w!r}"
            )

    @property
    def end_bit(self) -> int:
        """One past the last bit this field occupies."""
        return self.offset + self.width_bits * max(self.count, 1)

    @property
    def value_range(self) -> tuple[int, int]:
        """Smallest and largest element value."""
        if self.signed:
            return -(1 << (self.width_bits - 1)), (1 << (self.width_bits - 1)) - 1
        return 0, (1 << self.width_bits) - 1


def _shape_of(shape: object) -> tuple[int, bool]:
    """``(width, signed)`` of an Amaranth shape-like object (``Shape``, ``signed(8)``, int)."""
    if isinstance(shape, int):
        return shape, False
    width, signed = getattr(shape, "width", None), getattr(shape, "signed", None)
    if width is None:
        as_shape = getattr(shape, "as_shape", None)
        if as_shape is None:
            raise SpecError(f"layout: cannot read the width of shape {shape!r}")
        return _shape_of(as_shape())
    return int(width), bool(signed)


@dataclass(frozen=True, kw_only=True, slots=True)
class PayloadCodec:
    """The fields of one stream payload.

    Parameters
    ----------
    fields : tuple of FieldSpec
        Non-overlapping fields.
    width_bits : int
        Total payload width (the Verilog port width).
    """

    fields: tuple[FieldSpec, ...]
    width_bits: int

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise SpecError(f"payload fields must have distinct names, not {names}")
        spans = sorted((f.offset, f.end_bit, f.name) for f in self.fields)
        for (_, end_a, a), (start_b, _, b) in zip(spans, spans[1:], strict=False):
            if start_b < end_a:
                raise SpecError(f"payload fields {a!r} and {b!r} overlap")
        if spans and spans[-1][1] > self.width_bits:
            raise SpecError(
                f"payload field {spans[-1][2]!r} ends at bit {spans[-1][1]}, beyond "
                f"width_bits={self.width_bits}"
            )

    @classmethod
    def vector(cls, name: str, width_bits: int, count: int, *, signed: bool = True) -> PayloadCodec:
        """A payload that is one array of ``count`` elements (e.g. a row of accumulators)."""
        field = FieldSpec(name=name, offset=0, width_bits=width_bits, count=count, signed=signed)
        return cls(fields=(field,), width_bits=field.end_bit)

    @classmethod
    def from_layout(cls, layout: object) -> PayloadCodec:
        """Read an Amaranth ``StructLayout`` whose members are scalars or one-dimensional
        ``ArrayLayout``s, or a bare ``ArrayLayout`` (one field named ``"data"``).

        Amaranth is not imported: the layout is read through its public attributes
        (iteration yields ``(name, Field)``; ``Field.shape``/``Field.offset``; ``ArrayLayout``'s
        ``elem_shape``/``length``).
        """
        if hasattr(layout, "elem_shape") and hasattr(layout, "length"):
            width, signed = _shape_of(layout.elem_shape)
            return cls.vector("data", width, int(layout.length), signed=signed)
        try:
            members = list(layout)
        except TypeError:
            raise SpecError(
                f"layout must be an Amaranth struct or array layout, not {layout!r}"
            ) from None
        fields = []
        for name, fld in members:
            shape = fld.shape
            if hasattr(shape, "elem_shape") and hasattr(shape, "length"):
                width, signed = _shape_of(shape.elem_shape)
                count = int(shape.length)
            else:
                width, signed = _shape_of(shape)
                count = 0
            fields.append(
                FieldSpec(
                    name=name, offset=int(fld.offset), width_bits=width, count=count, signed=signed
                )
            )
        return cls(fields=tuple(fields), width_bits=int(layout.size))

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise SpecError(
            f"payload has no field {name!r}; fields are {[f.name for f in self.fields]}"
        )

    def pack(self, values: Mapping[str, int | Sequence[int]]) -> int:
        """The payload integer holding ``values`` (missing fields are zero).

        Raises
        ------
        SpecError
            For an unknown field, a wrong element count or a value out of the field's range.
        """
        word = 0
        for name, value in values.items():
            f = self.field(name)
            elems = [value] if f.count == 0 else list(value)
            if f.count == 0 and not isinstance(value, int):
                raise SpecError(f"payload field {name!r} is a scalar, not {value!r}")
            if f.count and len(elems) != f.count:
                raise SpecError(
                    f"payload field {name!r} holds {f.count} elements, not {len(elems)}"
                )
            lo, hi = f.value_range
            mask = (1 << f.width_bits) - 1
            for i, v in enumerate(elems):
                v = int(v)
                if not lo <= v <= hi:
                    raise SpecError(
                        f"payload field {name!r} element {i}: value {v} outside [{lo}, {hi}]"
                    )
                word |= (v & mask) << (f.offset + i * f.width_bits)
        return word

    def unpack(self, word: int) -> dict[str, int | list[int]]:
        """Field values of a payload integer (scalars as int, arrays as lists)."""
        out: dict[str, int | list[int]] = {}
        for f in self.fields:
            mask = (1 << f.width_bits) - 1
            elems = []
            for i in range(max(f.count, 1)):
                raw = (word >> (f.offset + i * f.width_bits)) & mask
                elems.append(to_signed(raw, f.width_bits) if f.signed else raw)
            out[f.name] = elems if f.count else elems[0]
        return out
