"""`LoopNest`: one MAC-bearing operator as a perfectly nested loop.

A loop nest has named dimensions with sizes and three tensors (inputs, weights, outputs). Each
tensor is indexed by a *projection*: one affine expression per tensor axis, a sum of
``coefficient x dim`` terms (Timeloop's representation). A convolution's input row is
``stride*P + dilation*R``; a grouped convolution's input channel is ``C_per_group*G + C``.
Everything downstream (cost model, mapper, oracle) reads only this representation, so a new
operator is a new factory here, not a new code path elsewhere.

Dimension names are upper-case: convolutions use ``N K C P Q R S`` (plus ``G`` for groups > 1,
where ``K`` and ``C`` are then per group), GEMMs ``M N K`` (plus ``B`` for batched matmul).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from codesign.errors import SpecError
from codesign.validation import MAX_DIM_SIZE, MAX_LAYER_MACS, MAX_TENSOR_BITS

__all__ = [
    "TensorRole",
    "Term",
    "Axis",
    "TensorSpec",
    "LoopNest",
    "conv1d",
    "conv2d",
    "conv3d",
    "linear",
    "matmul",
    "einsum",
    "axis_extent",
]

_DIM_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class TensorRole(enum.Enum):
    """The part a tensor plays in ``outputs += inputs * weights``.

    For a matmul of two activations (attention), the first operand is ``INPUTS`` and the second
    ``WEIGHTS`` (the one a weight-stationary array would hold); ``TensorSpec.is_parameter`` says
    whether the tensor is a trained parameter.
    """

    INPUTS = "inputs"
    WEIGHTS = "weights"
    OUTPUTS = "outputs"


Term = tuple[str, int]
"""``(dim, coefficient)``: one term of an index expression."""

Axis = tuple[Term, ...]
"""One tensor axis: the index is the sum of its terms, e.g. ``(("P", 2), ("R", 1))``."""


def axis_extent(axis: Axis, sizes: Mapping[str, int]) -> int:
    """Number of distinct index values an axis takes when every dim ``d`` ranges over
    ``range(sizes[d])``.

    Exact for one and two terms (``a*i + b*j`` has ``ti*tj - max(0, ti - b')*max(0, tj - a')``
    distinct values with ``a' = a/g, b' = b/g, g = gcd(a, b)``); for more terms, the terms are
    folded pairwise, which is exact when the folded terms do not overlap (grouped channels).
    """
    terms = [(sizes[d], c) for d, c in axis if sizes[d] > 1]
    if not terms:
        return 1
    if len(terms) == 1:
        return terms[0][0]
    if len(terms) == 2:
        (ti, a), (tj, b) = terms
        g = math.gcd(a, b)
        a, b = a // g, b // g
        return ti * tj - max(0, ti - b) * max(0, tj - a)
    # General case (not produced by the built-in factories): the span of the affine sum.
    return sum(c * (t - 1) for t, c in terms) + 1


@dataclass(frozen=True, kw_only=True, slots=True)
class TensorSpec:
    """A tensor of a loop nest.

    Parameters
    ----------
    name : str
        Tensor name, e.g. ``"I"``, ``"W"``, ``"O"``.
    role : TensorRole
        Inputs, weights or outputs.
    axes : tuple of Axis
        The projection: one index expression per tensor axis, outermost axis first.
    bits : int
        Bits per element (a float32 activation is 32, an int8 weight 8).
    density : float
        Fraction of non-zero elements in (0, 1].
    is_parameter : bool
        Whether this tensor is a trained parameter (counted in ``params``).
    """

    name: str
    role: TensorRole
    axes: tuple[Axis, ...]
    bits: int = 8
    density: float = 1.0
    is_parameter: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.role, TensorRole):
            raise SpecError(
                f"tensor {self.name!r}: role must be one of "
                f"{[r.value for r in TensorRole]}, not {self.role!r}"
            )
        if not isinstance(self.bits, int) or isinstance(self.bits, bool) or self.bits <= 0:
            raise SpecError(
                f"tensor {self.name!r}: bits must be a positive integer, not {self.bits!r}"
            )
        if self.bits > MAX_TENSOR_BITS:
            raise SpecError(
                f"tensor {self.name!r}: bits must be at most {MAX_TENSOR_BITS}, not {self.bits}"
            )
        if not (isinstance(self.density, (int, float)) and 0.0 < self.density <= 1.0):
            raise SpecError(
                f"tensor {self.name!r}: density must be a number in (0, 1], not {self.density!r}"
            )
        for axis in self.axes:
            if not axis:
                raise SpecError(f"tensor {self.name!r}: every axis needs at least one term")
            for d, c in axis:
                if not isinstance(c, int) or c <= 0:
                    raise SpecError(
                        f"tensor {self.name!r}: coefficient of dim {d} must be a positive "
                        f"integer, not {c!r}"
                    )

    @property
    def dims(self) -> frozenset[str]:
        """The dims that index this tensor (its *relevant* dims)."""
        return frozenset(d for axis in self.axes for d, _ in axis)

    def shape(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """Extent of each axis for the given dim sizes (a tile or the whole nest)."""
        return tuple(axis_extent(axis, sizes) for axis in self.axes)

    def elements(self, sizes: Mapping[str, int]) -> int:
        """Number of distinct elements touched for the given dim sizes."""
        return math.prod(self.shape(sizes))


@dataclass(frozen=True, kw_only=True, slots=True)
class LoopNest:
    """One MAC-bearing operator: ``outputs[...] += inputs[...] * weights[...]`` over all dims.

    Parameters
    ----------
    name : str
        Layer name (the torch.fx node or module path).
    op : str
        Operator kind: ``conv1d``, ``conv2d``, ``linear``, ``matmul``, ``einsum``.
    dims : tuple of (str, int)
        Dim names and sizes, outermost first in the canonical order.
    tensors : tuple of TensorSpec
        Exactly one tensor per role.
    bias_elements : int
        Number of bias elements added after the reduction (not MACs; counted as parameters).
    attrs : tuple of (str, object)
        Operator attributes kept for reports and RTL (stride, dilation, padding, groups, ...).
    """

    name: str
    op: str
    dims: tuple[tuple[str, int], ...]
    tensors: tuple[TensorSpec, ...]
    bias_elements: int = 0
    attrs: tuple[tuple[str, object], ...] = field(default=())

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for d, n in self.dims:
            if not isinstance(d, str) or not _DIM_NAME.match(d):
                raise SpecError(
                    f"layer {self.name!r}: dim name must be upper-case letters/digits, not {d!r}"
                )
            if d in seen:
                raise SpecError(f"layer {self.name!r}: dim {d} is listed twice")
            seen.add(d)
            if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
                raise SpecError(
                    f"layer {self.name!r}: dim {d} must be a positive integer, not {n!r}"
                )
            if n > MAX_DIM_SIZE:
                raise SpecError(
                    f"layer {self.name!r}: dim {d} must be at most {MAX_DIM_SIZE:,} (2**31 - 1), "
                    f"not {n:,}"
                )
        if math.prod(n for _, n in self.dims) > MAX_LAYER_MACS:
            raise SpecError(
                f"layer {self.name!r}: {math.prod(n for _, n in self.dims):,} MACs exceed the "
                f"limit of {MAX_LAYER_MACS:,} (2**53) per layer"
            )
        roles = [t.role for t in self.tensors]
        if sorted(r.value for r in roles) != sorted(r.value for r in TensorRole):
            raise SpecError(
                f"layer {self.name!r}: needs exactly one tensor per role "
                f"{[r.value for r in TensorRole]}, got {[r.value for r in roles]}"
            )
        for t in self.tensors:
            unknown = t.dims - seen
            if unknown:
                raise SpecError(
                    f"layer {self.name!r}: tensor {t.name!r} indexes unknown dims "
                    f"{sorted(unknown)}; dims are {[d for d, _ in self.dims]}"
                )
        out = self.tensor(TensorRole.OUTPUTS)
        if any(len(axis) != 1 or axis[0][1] != 1 for axis in out.axes):
            raise SpecError(
                f"layer {self.name!r}: output axes must each be a single dim with coefficient 1"
            )

    # --- views -------------------------------------------------------------------------------
    @property
    def sizes(self) -> dict[str, int]:
        """``{dim: size}`` in canonical order."""
        return dict(self.dims)

    @property
    def dim_names(self) -> tuple[str, ...]:
        return tuple(d for d, _ in self.dims)

    def tensor(self, role: TensorRole) -> TensorSpec:
        """The tensor playing ``role``."""
        for t in self.tensors:
            if t.role is role:
                return t
        raise AssertionError("unreachable: validated in __post_init__")

    @property
    def inputs(self) -> TensorSpec:
        return self.tensor(TensorRole.INPUTS)

    @property
    def weights(self) -> TensorSpec:
        return self.tensor(TensorRole.WEIGHTS)

    @property
    def outputs(self) -> TensorSpec:
        return self.tensor(TensorRole.OUTPUTS)

    @property
    def reduction_dims(self) -> frozenset[str]:
        """Dims that do not index the output: the loops that accumulate partial sums."""
        return frozenset(self.dim_names) - self.outputs.dims

    @property
    def macs(self) -> int:
        """Multiply-accumulates: the product of all dim sizes."""
        return math.prod(n for _, n in self.dims)

    @property
    def params(self) -> int:
        """Trained parameters: weight elements (if a parameter) plus bias."""
        w = self.weights
        return (w.elements(self.sizes) if w.is_parameter else 0) + self.bias_elements

    def elements(self, role: TensorRole) -> int:
        """Distinct elements of a tensor over the whole nest."""
        return self.tensor(role).elements(self.sizes)

    def bits(self, role: TensorRole) -> int:
        """Storage of a tensor over the whole nest, in bits (dense)."""
        t = self.tensor(role)
        return t.elements(self.sizes) * t.bits

    def attr(self, key: str, default: object = None) -> object:
        return dict(self.attrs).get(key, default)

    def with_bits(
        self, *, inputs: int | None = None, weights: int | None = None, outputs: int | None = None
    ) -> LoopNest:
        """A copy with new bit-widths (``None`` keeps a tensor's width)."""
        new = {TensorRole.INPUTS: inputs, TensorRole.WEIGHTS: weights, TensorRole.OUTPUTS: outputs}
        return replace(
            self,
            tensors=tuple(
                t if new[t.role] is None else replace(t, bits=new[t.role]) for t in self.tensors
            ),
        )

    def with_density(
        self, *, inputs: float | None = None, weights: float | None = None
    ) -> LoopNest:
        """A copy with new densities (``None`` keeps a tensor's density)."""
        new = {TensorRole.INPUTS: inputs, TensorRole.WEIGHTS: weights, TensorRole.OUTPUTS: None}
        return replace(
            self,
            tensors=tuple(
                t if new[t.role] is None else replace(t, density=float(new[t.role]))
                for t in self.tensors
            ),
        )

    def shape_key(self) -> tuple:
        """Hashable key of everything the cost model reads (not the name): layers with equal
        keys have equal costs, so the explorer maps them once."""
        return (self.dims, tuple((t.role, t.axes, t.bits, t.density) for t in self.tensors))


# --- factories ---------------------------------------------------------------------------------


def _positive(layer: str, field_name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SpecError(f"layer {layer!r}: {field_name} must be a positive integer, not {value!r}")
    return value


def _nonneg(layer: str, field_name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SpecError(
            f"layer {layer!r}: {field_name} must be a non-negative integer, not {value!r}"
        )
    return value


def _out_size(
    layer: str, axis: str, n_in: int, kernel: int, stride: int, dilation: int, pad: int
) -> int:
    span = dilation * (kernel - 1) + 1
    out = (n_in + 2 * pad - span) // stride + 1
    if out <= 0:
        raise SpecError(
            f"layer {layer!r}: input {axis} size {n_in} with padding {pad} is smaller than the "
            f"dilated kernel span {span}"
        )
    return out


def _conv(
    *,
    name: str,
    op: str,
    spatial: list[tuple[str, str, int, int, int, int, int]],
    n: int,
    in_channels: int,
    out_channels: int,
    groups: int,
    bias: bool,
    input_bits: int,
    weight_bits: int,
    output_bits: int,
    weight_density: float,
    input_density: float,
) -> LoopNest:
    """Shared builder of conv1d/conv2d. ``spatial`` lists
    ``(out_dim, kernel_dim, in_size, kernel, stride, dilation, padding)``."""
    _positive(name, "batch", n)
    _positive(name, "in_channels", in_channels)
    _positive(name, "out_channels", out_channels)
    _positive(name, "groups", groups)
    if in_channels % groups or out_channels % groups:
        raise SpecError(
            f"layer {name!r}: groups={groups} must divide in_channels={in_channels} and "
            f"out_channels={out_channels}"
        )
    kg, cg = out_channels // groups, in_channels // groups
    dims: list[tuple[str, int]] = [("N", n)]
    if groups > 1:
        dims.append(("G", groups))
    dims += [("K", kg), ("C", cg)]
    out_dims, kernel_dims, in_axes, w_axes, attrs = [], [], [], [], []
    for od, kd, n_in, kern, stride, dil, pad in spatial:
        _positive(name, f"input size ({od})", n_in)
        _positive(name, f"kernel size ({kd})", kern)
        _positive(name, f"stride ({od})", stride)
        _positive(name, f"dilation ({kd})", dil)
        _nonneg(name, f"padding ({od})", pad)
        out_dims.append((od, _out_size(name, od, n_in, kern, stride, dil, pad)))
        kernel_dims.append((kd, kern))
        in_axes.append(((od, stride), (kd, dil)))
        w_axes.append(((kd, 1),))
        attrs.append((od, stride, dil, pad, n_in))
    dims += out_dims + kernel_dims
    # Input channel index is g*C_per_group + c; the output keeps G and K as separate axes.
    ch_in: Axis = (("G", cg), ("C", 1)) if groups > 1 else (("C", 1),)
    out_ch: tuple[Axis, ...] = ((("G", 1),), (("K", 1),)) if groups > 1 else ((("K", 1),),)
    out_axes: tuple[Axis, ...] = ((("N", 1),),) + out_ch + tuple(((od, 1),) for od, _ in out_dims)
    tensors = (
        TensorSpec(
            name="I",
            role=TensorRole.INPUTS,
            axes=((("N", 1),), ch_in, *in_axes),
            bits=input_bits,
            density=input_density,
        ),
        TensorSpec(
            name="W",
            role=TensorRole.WEIGHTS,
            axes=_weight_axes(groups, w_axes),
            bits=weight_bits,
            density=weight_density,
            is_parameter=True,
        ),
        TensorSpec(name="O", role=TensorRole.OUTPUTS, axes=out_axes, bits=output_bits),
    )
    return LoopNest(
        name=name,
        op=op,
        dims=tuple(dims),
        tensors=tensors,
        bias_elements=out_channels if bias else 0,
        attrs=(
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("groups", groups),
            ("stride", tuple(a[1] for a in attrs)),
            ("dilation", tuple(a[2] for a in attrs)),
            ("padding", tuple(a[3] for a in attrs)),
            ("input_size", tuple(a[4] for a in attrs)),
        ),
    )


def _weight_axes(groups: int, kernel_axes: list[Axis]) -> tuple[Axis, ...]:
    lead: tuple[Axis, ...] = ((("G", 1),),) if groups > 1 else ()
    return lead + ((("K", 1),), (("C", 1),)) + tuple(kernel_axes)


def conv2d(
    name: str,
    *,
    in_channels: int,
    out_channels: int,
    input_size: tuple[int, int],
    kernel_size: tuple[int, int] | int,
    stride: tuple[int, int] | int = 1,
    dilation: tuple[int, int] | int = 1,
    padding: tuple[int, int] | int = 0,
    groups: int = 1,
    batch: int = 1,
    bias: bool = False,
    input_bits: int = 8,
    weight_bits: int = 8,
    output_bits: int = 32,
    weight_density: float = 1.0,
    input_density: float = 1.0,
) -> LoopNest:
    """A 2-D convolution (``torch.nn.Conv2d`` semantics, zero padding).

    Dims ``N [G] K C P Q R S``; with ``groups > 1`` ``K`` and ``C`` are per group (depthwise:
    ``G = channels, K = C = 1``). ``input_size`` is ``(height, width)`` before padding.
    """

    return _spatial_conv(
        name, "conv2d", (("P", "R"), ("Q", "S")), input_size, kernel_size, stride, dilation,
        padding, batch=batch, in_channels=in_channels, out_channels=out_channels, groups=groups,
        bias=bias, input_bits=input_bits, weight_bits=weight_bits, output_bits=output_bits,
        weight_density=weight_density, input_density=input_density,
    )  # fmt: skip


def _spatial_conv(
    name: str,
    op: str,
    dims: tuple[tuple[str, str], ...],
    input_size: object,
    kernel_size: object,
    stride: object,
    dilation: object,
    padding: object,
    *,
    batch: int,
    **rest: object,
) -> LoopNest:
    """conv2d/conv3d: each geometry argument an int or one int per spatial dim (``dims``:
    ``(output dim, kernel dim)`` pairs, outermost first)."""
    nd = len(dims)
    word = {2: "pair", 3: "triple"}[nd]

    def per_dim(v: object, field_name: str) -> tuple[int, ...]:
        if isinstance(v, int):
            return (v,) * nd
        if isinstance(v, (tuple, list)) and len(v) == nd:
            return tuple(v)
        raise SpecError(
            f"layer {name!r}: {field_name} must be an int or a {word} of ints, not {v!r}"
        )

    geometry = [
        per_dim(v, f)
        for v, f in (
            (input_size, "input_size"), (kernel_size, "kernel_size"), (stride, "stride"),
            (dilation, "dilation"), (padding, "padding"),
        )
    ]  # fmt: skip
    spatial = [(o, k, *(g[i] for g in geometry)) for i, (o, k) in enumerate(dims)]
    return _conv(name=name, op=op, spatial=spatial, n=batch, **rest)


def conv1d(
    name: str,
    *,
    in_channels: int,
    out_channels: int,
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    dilation: int = 1,
    padding: int = 0,
    groups: int = 1,
    batch: int = 1,
    bias: bool = False,
    input_bits: int = 8,
    weight_bits: int = 8,
    output_bits: int = 32,
    weight_density: float = 1.0,
    input_density: float = 1.0,
) -> LoopNest:
    """A 1-D convolution (``torch.nn.Conv1d`` semantics). Dims ``N [G] K C P R``."""
    return _conv(
        name=name,
        op="conv1d",
        spatial=[("P", "R", input_size, kernel_size, stride, dilation, padding)],
        n=batch,
        in_channels=in_channels,
        out_channels=out_channels,
        groups=groups,
        bias=bias,
        input_bits=input_bits,
        weight_bits=weight_bits,
        output_bits=output_bits,
        weight_density=weight_density,
        input_density=input_density,
    )


def conv3d(
    name: str,
    *,
    in_channels: int,
    out_channels: int,
    input_size: tuple[int, int, int],
    kernel_size: tuple[int, int, int] | int,
    stride: tuple[int, int, int] | int = 1,
    dilation: tuple[int, int, int] | int = 1,
    padding: tuple[int, int, int] | int = 0,
    groups: int = 1,
    batch: int = 1,
    bias: bool = False,
    input_bits: int = 8,
    weight_bits: int = 8,
    output_bits: int = 32,
    weight_density: float = 1.0,
    input_density: float = 1.0,
) -> LoopNest:
    """A 3-D convolution (``torch.nn.Conv3d`` semantics). Dims ``N [G] K C D P Q T R S``: the
    output depth ``D`` with kernel depth ``T``, then height ``P``/``R`` and width ``Q``/``S``.
    ``input_size`` is ``(depth, height, width)`` before padding."""

    return _spatial_conv(
        name, "conv3d", (("D", "T"), ("P", "R"), ("Q", "S")), input_size, kernel_size, stride,
        dilation, padding, batch=batch, in_channels=in_channels, out_channels=out_channels,
        groups=groups, bias=bias, input_bits=input_bits, weight_bits=weight_bits,
        output_bits=output_bits, weight_density=weight_density, input_density=input_density,
    )  # fmt: skip


def linear(
    name: str,
    *,
    in_features: int,
    out_features: int,
    leading: tuple[int, ...] | int = 1,
    bias: bool = False,
    input_bits: int = 8,
    weight_bits: int = 8,
    output_bits: int = 32,
    weight_density: float = 1.0,
    input_density: float = 1.0,
) -> LoopNest:
    """``torch.nn.Linear`` on an input of shape ``(*leading, in_features)``.

    A GEMM ``O[M, N] += I[M, K] * W[N, K]`` with ``M = prod(leading)``, ``N = out_features``,
    ``K = in_features``.
    """
    lead = (leading,) if isinstance(leading, int) else tuple(leading)
    for i, v in enumerate(lead):
        _positive(name, f"leading[{i}]", v)
    m = math.prod(lead)
    nest = einsum(
        "O[m,n] += I[m,k] * W[n,k]",
        name=name,
        m=m,
        n=_positive(name, "out_features", out_features),
        k=_positive(name, "in_features", in_features),
        input_bits=input_bits,
        weight_bits=weight_bits,
        output_bits=output_bits,
        weight_density=weight_density,
        input_density=input_density,
        weights_are_parameters=True,
    )
    return replace(
        nest,
        op="linear",
        bias_elements=out_features if bias else 0,
        attrs=(("leading", lead), ("in_features", in_features), ("out_features", out_features)),
    )


def matmul(
    name: str,
    *,
    m: int,
    n: int,
    k: int,
    batch: int = 1,
    input_bits: int = 8,
    weight_bits: int = 8,
    output_bits: int = 32,
    input_density: float = 1.0,
    weight_density: float = 1.0,
) -> LoopNest:
    """``A @ B`` of two activations, ``(batch, m, k) @ (batch, k, n)``: attention's ``Q K^T`` and
    ``A V``. ``A`` plays the inputs role and ``B`` the weights role (neither is a parameter).
    Dims ``[B] M N K``."""
    if batch == 1:
        spec, sizes = "Z[m,n] += A[m,k] * B[k,n]", {"m": m, "n": n, "k": k}
    else:
        spec, sizes = "Z[b,m,n] += A[b,m,k] * B[b,k,n]", {"b": batch, "m": m, "n": n, "k": k}
    nest = einsum(
        spec,
        name=name,
        input_bits=input_bits,
        weight_bits=weight_bits,
        output_bits=output_bits,
        input_density=input_density,
        weight_density=weight_density,
        **sizes,
    )
    return replace(nest, op="matmul")


_EINSUM = re.compile(
    r"^\s*(\w+)\s*\[([^\]]*)\]\s*\+=\s*(\w+)\s*\[([^\]]*)\]\s*\*\s*(\w+)\s*\[([^\]]*)\]\s*$"
)
_TERM = re.compile(r"^\s*(?:(\d+)\s*\*\s*)?([A-Za-z]\w*)\s*$")


def _parse_axis(spec: str, text: str) -> Axis:
    terms = []
    for part in text.split("+"):
        m = _TERM.match(part)
        if not m:
            raise SpecError(
                f"einsum {spec!r}: index term {part.strip()!r} must be 'dim' or 'coefficient*dim'"
            )
        terms.append((m.group(2).upper(), int(m.group(1) or 1)))
    return tuple(terms)


def einsum(
    spec: str,
    *,
    name: str = "einsum",
    input_bits: int = 8,
    weight_bits: int = 8,
    output_bits: int = 32,
    input_density: float = 1.0,
    weight_density: float = 1.0,
    weights_are_parameters: bool = False,
    **sizes: int,
) -> LoopNest:
    """A loop nest from an einsum-like statement with affine indices.

    ``einsum("Z[m,n] += A[m,k]*B[k,n]", m=64, n=64, k=64)``; sliding windows are written as
    sums: ``einsum("O[k,p] += I[c,2*p+r] * W[k,c,r]", k=8, c=4, p=10, r=3)``. The first
    operand plays the inputs role, the second the weights role. Dims are the keyword sizes,
    upper-cased, in the order given.
    """
    m = _EINSUM.match(spec)
    if not m:
        raise SpecError(f"einsum spec must look like 'Z[m,n] += A[m,k] * B[k,n]', not {spec!r}")
    names = (m.group(1), m.group(3), m.group(5))
    axes = [
        tuple(_parse_axis(spec, a) for a in group.split(",")) if group.strip() else ()
        for group in (m.group(2), m.group(4), m.group(6))
    ]
    used = {d for group in axes for axis in group for d, _ in axis}
    given = {k.upper(): v for k, v in sizes.items()}
    missing, extra = used - set(given), set(given) - used
    if missing:
        raise SpecError(
            f"einsum {spec!r}: no size given for dims {sorted(d.lower() for d in missing)}"
        )
    if extra:
        raise SpecError(
            f"einsum {spec!r}: sizes given for unused dims {sorted(d.lower() for d in extra)}"
        )
    return LoopNest(
        name=name,
        op="einsum",
        dims=tuple((d, v) for d, v in given.items()),
        tensors=(
            TensorSpec(
                name=names[1],
                role=TensorRole.INPUTS,
                axes=axes[1],
                bits=input_bits,
                density=input_density,
            ),
            TensorSpec(
                name=names[2],
                role=TensorRole.WEIGHTS,
                axes=axes[2],
                bits=weight_bits,
                density=weight_density,
                is_parameter=weights_are_parameters,
            ),
            TensorSpec(name=names[0], role=TensorRole.OUTPUTS, axes=axes[0], bits=output_bits),
        ),
    )
