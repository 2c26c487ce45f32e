"""Pruning masks: unstructured magnitude, N:M structured and output-channel pruning.

Each function returns a boolean keep-mask of the weight's shape (``True`` = kept). Ties in
magnitude are broken by position (the earlier element is kept), so masks are deterministic.
Weights are ``(out_channels, ...)`` as in ``torch.nn.Conv*d`` and ``Linear``; the reduction
axis of output channel ``k`` is ``w[k].reshape(-1)`` (torch's ``(C, R, S)`` order, the order
im2col uses).
"""

from __future__ import annotations

import numpy as np
import torch

from codesign.errors import SpecError

__all__ = ["magnitude_mask", "nm_mask", "channel_mask", "density"]


def _check_sparsity(sparsity: float) -> None:
    if (
        isinstance(sparsity, bool)
        or not isinstance(sparsity, (int, float))
        or not 0.0 <= sparsity < 1.0
    ):
        raise SpecError(f"sparsity must be a number in [0, 1), not {sparsity!r}")


def _keep_largest(scores: torch.Tensor, n_zero: int) -> torch.Tensor:
    """Mask of a 1-D score vector with the ``n_zero`` smallest scores removed (among equal
    scores, the later elements go first)."""
    idx = np.arange(scores.numel())
    order = np.lexsort((-idx, scores.detach().to(torch.float64).numpy()))
    mask = torch.ones(scores.numel(), dtype=torch.bool)
    mask[torch.from_numpy(order[:n_zero])] = False
    return mask


def magnitude_mask(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep-mask removing ``round(sparsity * w.numel())`` weights of smallest magnitude."""
    _check_sparsity(sparsity)
    n_zero = int(round(sparsity * w.numel()))
    return _keep_largest(w.detach().abs().reshape(-1), n_zero).reshape(w.shape)


def nm_mask(w: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep-mask with at most ``n`` non-zeros in every group of ``m`` consecutive weights along
    each output channel's reduction axis: the ``n`` largest magnitudes of each group are kept.

    A trailing group shorter than ``m`` (reduction size not a multiple of ``m``) is a group
    padded with zeros, as a sparse array pads the reduction: it keeps ``min(n, length)``.
    """
    if not (isinstance(n, int) and isinstance(m, int) and 1 <= n < m):
        raise SpecError(f"N:M pruning needs integers 1 <= N < M, not N={n!r}, M={m!r}")
    flat = w.detach().abs().reshape(w.shape[0], -1)
    red = flat.shape[1]
    pad = (-red) % m
    padded = torch.cat([flat, torch.full((flat.shape[0], pad), -1.0)], dim=1)
    groups = padded.reshape(flat.shape[0], -1, m)
    # rank within each group: descending magnitude, earlier position first on ties
    order = torch.argsort(groups, dim=2, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(2, order, torch.arange(m).expand_as(order).contiguous())
    keep = (rank < n).reshape(flat.shape[0], -1)[:, :red]
    return keep.reshape(w.shape)


def channel_mask(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep-mask removing the ``round(sparsity * out_channels)`` output channels of smallest
    L2 norm (whole filters)."""
    _check_sparsity(sparsity)
    norms = w.detach().reshape(w.shape[0], -1).to(torch.float64).norm(dim=1)
    n_zero = int(round(sparsity * w.shape[0]))
    keep = _keep_largest(norms, n_zero)
    return keep.reshape([-1] + [1] * (w.dim() - 1)).expand(w.shape).clone()


def density(w: torch.Tensor) -> float:
    """Fraction of non-zero elements."""
    return float(torch.count_nonzero(w)) / w.numel()
