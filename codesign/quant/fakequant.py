"""Fake quantization: quantize to integers and back to float, so a float model computes with
exactly the values integer hardware would hold.

Integers are signed two's complement of ``bits`` bits: ``qmin = -2**(bits-1)``,
``qmax = 2**(bits-1) - 1``. A real value is ``x = scale * (q - zero_point)``.

- symmetric: ``zero_point = 0``, ``scale = max|x| / qmax``;
- asymmetric: the range is widened to include 0, ``scale = (max - min) / (2**bits - 1)``,
  ``zero_point = qmin - round(min / scale)``, so 0.0 is exactly representable (pruned zeros
  and zero padding stay exact).

Rounding is torch's ``round`` (half to even); values beyond the range saturate. Power-of-two
weights are 0 or ``±scale * 2**-k`` for ``k`` in ``0 .. 2**(bits-1) - 2`` with
``scale = max|w|``; rounding is to the nearest level in the log domain (the threshold between
``2**-k`` and ``2**-(k+1)`` is ``2**-(k+0.5)``) and magnitudes below half the smallest level
become 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codesign.errors import SpecError
from codesign.quant.policy import Calibration

__all__ = [
    "QParams",
    "int_range",
    "qparams_from_range",
    "quantize",
    "dequantize",
    "fake_quantize",
    "weight_qparams",
    "pow2_fake_quantize",
    "pow2_weight_qparams",
    "calibrate_range",
]


def int_range(bits: int) -> tuple[int, int]:
    """``(qmin, qmax)`` of a signed ``bits``-bit integer."""
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class QParams:
    """Quantization parameters of one tensor.

    Parameters
    ----------
    scale : torch.Tensor
        float32, shape ``()`` (per tensor) or ``(channels,)`` (per channel along ``axis``).
    zero_point : torch.Tensor
        int64, same shape as ``scale``, within ``[qmin, qmax]``.
    bits : int
        Signed integer width.
    axis : int or None
        The channel axis of per-channel parameters, ``None`` for per tensor.
    """

    scale: torch.Tensor
    zero_point: torch.Tensor
    bits: int
    axis: int | None = None

    @property
    def qmin(self) -> int:
        return int_range(self.bits)[0]

    @property
    def qmax(self) -> int:
        return int_range(self.bits)[1]

    def broadcast(self, t: torch.Tensor, ndim: int) -> torch.Tensor:
        """``t`` (scale or zero point) shaped to broadcast against an ``ndim``-d tensor."""
        if self.axis is None:
            return t
        shape = [1] * ndim
        shape[self.axis] = -1
        return t.reshape(shape)


def qparams_from_range(
    x_min: torch.Tensor | float,
    x_max: torch.Tensor | float,
    bits: int,
    *,
    symmetric: bool,
    axis: int | None = None,
) -> QParams:
    """Quantization parameters covering ``[x_min, x_max]`` (element-wise for per-channel
    ranges). An all-zero range gets scale 1."""
    lo = torch.as_tensor(x_min, dtype=torch.float32).clamp(max=0.0)
    hi = torch.as_tensor(x_max, dtype=torch.float32).clamp(min=0.0)
    qmin, qmax = int_range(bits)
    if symmetric:
        scale = torch.maximum(-lo, hi) / qmax
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        zero_point = torch.zeros_like(scale, dtype=torch.int64)
    else:
        scale = (hi - lo) / (qmax - qmin)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        zero_point = (qmin - torch.round(lo / scale)).to(torch.int64).clamp(qmin, qmax)
    return QParams(scale=scale, zero_point=zero_point, bits=bits, axis=axis)


def quantize(x: torch.Tensor, qp: QParams) -> torch.Tensor:
    """``clamp(round(x / scale) + zero_point, qmin, qmax)`` as int64."""
    scale = qp.broadcast(qp.scale, x.dim())
    zp = qp.broadcast(qp.zero_point, x.dim())
    return (torch.round(x / scale).to(torch.int64) + zp).clamp(qp.qmin, qp.qmax)


def dequantize(q: torch.Tensor, qp: QParams) -> torch.Tensor:
    """``scale * (q - zero_point)`` as float32."""
    scale = qp.broadcast(qp.scale, q.dim())
    zp = qp.broadcast(qp.zero_point, q.dim())
    return (q - zp).to(torch.float32) * scale


def fake_quantize(x: torch.Tensor, qp: QParams) -> torch.Tensor:
    """``dequantize(quantize(x))``: the float value integer hardware would hold."""
    return dequantize(quantize(x, qp), qp)


def weight_qparams(w: torch.Tensor, bits: int, *, per_channel: bool, symmetric: bool) -> QParams:
    """Min/max quantization parameters of a weight tensor; per channel along axis 0 (output
    channels of ``Conv*d`` and ``Linear``)."""
    if per_channel:
        flat = w.detach().reshape(w.shape[0], -1)
        return qparams_from_range(
            flat.min(dim=1).values, flat.max(dim=1).values, bits, symmetric=symmetric, axis=0
        )
    return qparams_from_range(w.detach().min(), w.detach().max(), bits, symmetric=symmetric)


def pow2_fake_quantize(w: torch.Tensor, bits: int, *, per_channel: bool) -> torch.Tensor:
    """Power-of-two (logarithmic) weights: 0 or ``±scale * 2**-k``, ``k < 2**(bits-1) - 1``,
    ``scale = max|w|`` per output channel or per tensor (see the module docstring)."""
    w = w.detach()
    mag = w.abs()
    if per_channel:
        scale = mag.reshape(w.shape[0], -1).max(dim=1).values
        scale = scale.reshape([-1] + [1] * (w.dim() - 1))
    else:
        scale = mag.max()
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    levels = 2 ** (bits - 1) - 1
    ratio = (mag / scale).clamp(min=torch.finfo(torch.float32).tiny)
    k = torch.round(-torch.log2(ratio)).clamp(0, levels - 1)
    value = scale * torch.exp2(-k)
    smallest = scale * 2.0 ** -(levels - 1)
    return torch.where(mag < smallest / 2, torch.zeros_like(w), torch.sign(w) * value)


def pow2_weight_qparams(w_fq: torch.Tensor, bits: int, *, per_channel: bool) -> QParams | None:
    """Integer form of power-of-two weights ``w_fq`` (output of `pow2_fake_quantize`): scale
    ``max|w| * 2**-(L-1)`` with ``L = 2**(bits-1) - 1`` levels, so every weight is exactly
    ``±2**j`` (``0 <= j <= L-1``) or 0 as an integer of ``L + 1`` bits, zero point 0.

    ``None`` for ``bits > 5``, whose integers would not fit 16 bits.
    """
    levels = 2 ** (bits - 1) - 1
    if levels - 1 > 14:
        return None
    mag = w_fq.detach().abs()
    if per_channel:
        top = mag.reshape(w_fq.shape[0], -1).max(dim=1).values
    else:
        top = mag.max()
    top = torch.where(top > 0, top, torch.ones_like(top))
    scale = top * 2.0 ** -(levels - 1)
    return QParams(
        scale=scale,
        zero_point=torch.zeros_like(scale, dtype=torch.int64),
        bits=levels + 1,
        axis=0 if per_channel else None,
    )


def calibrate_range(
    samples: torch.Tensor, calibration: Calibration, percentile: float = 99.99
) -> tuple[float, float]:
    """``(min, max)`` of observed activations: the extremes (``minmax``) or the
    ``100 - percentile`` and ``percentile`` percentiles (``percentile``)."""
    flat = samples.detach().reshape(-1).to(torch.float64)
    if flat.numel() == 0:
        raise SpecError("calibration data must contain at least one value, got an empty tensor")
    if calibration is Calibration.MINMAX:
        return float(flat.min()), float(flat.max())
    ordered = torch.sort(flat).values
    n = ordered.numel()

    def at(p: float) -> float:
        # linear interpolation between closest ranks (numpy's default 'linear' method)
        pos = (n - 1) * p / 100.0
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))

    return at(100.0 - percentile), at(percentile)
