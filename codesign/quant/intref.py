"""Integer arithmetic of a quantized MAC layer, as the accelerator computes it.

Everything here is torch integer arithmetic (int64 tensors holding int8/int32 values; products
are formed in int64, so nothing wraps like an int8 ``matmul`` would):

1. accumulate: ``acc[k] = bias_int32[k] + sum (x_q - zp_x) * (w_q - zp_w[k])`` over the
   reduction (zero padding is padding of ``x_q - zp_x`` with 0, i.e. ``x_q = zp_x``); the result
   must fit in int32, otherwise `SpecError`;
2. requantize, integer only, per output channel ``k``::

       out_q = clamp(((acc * M[k] + 2**(shift[k] - 1)) >> shift[k]) + zp_out, qmin, qmax)

   ``M[k] * 2**-shift[k]`` approximates the real multiplier ``s_x * s_w[k] / s_out`` with
   ``2**30 <= M < 2**31`` (31-bit unsigned, fits a signed int32) and ``1 <= shift <= 62``;
   ``acc * M`` needs 63 bits. Rounding is half up (towards +inf) and ``>>`` is an arithmetic
   (flooring) shift; saturation to ``[qmin, qmax] = [-2**(b-1), 2**(b-1) - 1]``.
"""

from __future__ import annotations

import math

import torch

from codesign.errors import SpecError
from codesign.quant.fakequant import int_range

__all__ = [
    "MULTIPLIER_BITS",
    "quantize_multiplier",
    "requantize",
    "int_conv",
    "int_linear",
    "check_int32",
]

MULTIPLIER_BITS = 31
"""Width of the unsigned requantization multiplier ``M`` (``2**30 <= M < 2**31``)."""

_INT32 = int_range(32)


def quantize_multiplier(real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(M, shift)`` int64 tensors with ``M * 2**-shift`` the closest such value to each
    positive ``real`` multiplier, ``2**30 <= M < 2**31`` and ``1 <= shift <= 62``."""
    values = real.detach().to(torch.float64).reshape(-1).tolist()
    ms, shifts = [], []
    for r in values:
        if not (math.isfinite(r) and r > 0):
            raise SpecError(f"requantization multiplier must be a positive number, not {r!r}")
        frac, exp = math.frexp(r)  # r = frac * 2**exp, 0.5 <= frac < 1
        m = round(frac * 2**MULTIPLIER_BITS)
        shift = MULTIPLIER_BITS - exp
        if m == 2**MULTIPLIER_BITS:
            m //= 2
            shift -= 1
        if not 1 <= shift <= 62:
            raise SpecError(
                f"requantization multiplier {r!r} needs shift {shift}, outside the supported "
                f"1..62 (scales are out of proportion)"
            )
        ms.append(m)
        shifts.append(shift)
    shape = real.shape
    return (
        torch.tensor(ms, dtype=torch.int64).reshape(shape),
        torch.tensor(shifts, dtype=torch.int64).reshape(shape),
    )


def requantize(
    acc: torch.Tensor,
    multiplier: torch.Tensor,
    shift: torch.Tensor,
    zero_point: int,
    bits: int,
    *,
    channel_axis: int,
) -> torch.Tensor:
    """``clamp(((acc * M + 2**(shift-1)) >> shift) + zero_point, qmin, qmax)`` with ``M`` and
    ``shift`` per channel along ``channel_axis`` of ``acc`` (see the module docstring)."""
    shape = [1] * acc.dim()
    shape[channel_axis] = -1
    m = multiplier.reshape(shape)
    s = shift.reshape(shape)
    rounded = (acc.to(torch.int64) * m + (1 << (s - 1))) >> s
    return (rounded + zero_point).clamp(*int_range(bits))


def check_int32(acc: torch.Tensor, where: str) -> torch.Tensor:
    """``acc`` unchanged if every value fits a signed 32-bit accumulator, else `SpecError`."""
    lo, hi = int(acc.min()), int(acc.max())
    if lo < _INT32[0] or hi > _INT32[1]:
        raise SpecError(
            f"{where}: accumulator range [{lo}, {hi}] does not fit int32 "
            f"[{_INT32[0]}, {_INT32[1]}]; lower the bit-widths"
        )
    return acc


def int_conv(
    x: torch.Tensor,
    w: torch.Tensor,
    *,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
) -> torch.Tensor:
    """Integer convolution (1-D or 2-D, ``torch.nn.Conv*d`` semantics, zero padding) by
    im2col and an int64 matmul. ``x`` is ``(N, C, *spatial)``, ``w`` is
    ``(K, C/groups, *kernel)``; returns int64 ``(N, K, *out)`` without bias."""
    x = x.to(torch.int64)
    w = w.to(torch.int64)
    nsp = x.dim() - 2
    pad: list[int] = []
    for p in reversed(padding):
        pad += [p, p]
    x = torch.nn.functional.pad(x, pad)
    patches = x
    for i in range(nsp):
        kernel = w.shape[2 + i]
        span = dilation[i] * (kernel - 1) + 1
        # new trailing dim: the window along spatial axis i, subsampled by the dilation
        patches = patches.unfold(2 + i, span, stride[i])[..., :: dilation[i]]
    # patches: (N, C, *out, *kernel) -> (N, *out, C, *kernel)
    n, c = patches.shape[:2]
    out_shape = patches.shape[2 : 2 + nsp]
    perm = [0, *range(2, 2 + nsp), 1, *range(2 + nsp, 2 + 2 * nsp)]
    cols = patches.permute(perm).reshape(n, -1, groups, c // groups * math.prod(w.shape[2:]))
    k = w.shape[0]
    wg = w.reshape(groups, k // groups, -1)  # (G, K/G, C/G * kernel)
    acc = torch.einsum("nlgr,gkr->nlgk", cols, wg)  # int64 einsum: exact
    acc = acc.reshape(n, *out_shape, k)
    return acc.permute(0, nsp + 1, *range(1, nsp + 1)).contiguous()


def int_linear(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Integer ``x @ w.T`` in int64 (``x`` is ``(..., in)``, ``w`` is ``(out, in)``)."""
    return torch.matmul(x.to(torch.int64), w.to(torch.int64).T)
