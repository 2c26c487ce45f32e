"""Fake quantization, calibration and pruning masks against brute-force oracles."""

import itertools

import numpy as np
import pytest
import torch

from codesign.errors import SpecError
from codesign.quant.fakequant import (
    QParams,
    calibrate_range,
    dequantize,
    fake_quantize,
    pow2_fake_quantize,
    qparams_from_range,
    quantize,
    weight_qparams,
)
from codesign.quant.policy import Calibration
from codesign.quant.prune import channel_mask, density, magnitude_mask, nm_mask


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
@pytest.mark.parametrize("symmetric", [True, False])
def test_exactly_representable_tensor_is_lossless(bits, symmetric):
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    scale = 2.0**-5
    zp = 0 if symmetric else qmin + 3  # asymmetric grid with zero inside the range
    g = torch.Generator().manual_seed(bits)
    q = torch.randint(qmin, qmax + 1, (200,), generator=g)
    # include the extremes so min/max calibration finds exactly this grid
    lo_q = -qmax if symmetric else qmin
    q = torch.cat([q.clamp(lo_q, qmax), torch.tensor([lo_q, qmax, zp])])
    x = scale * (q - zp).to(torch.float32)
    qp = qparams_from_range(x.min(), x.max(), bits, symmetric=symmetric)
    assert float(qp.scale) == scale and int(qp.zero_point) == zp
    assert torch.equal(fake_quantize(x, qp), x)


def test_per_channel_exact_weights_lossless():
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([2.0**-3, 2.0**-7, 0.5])
    q = torch.randint(-127, 128, (3, 4, 3, 3), generator=g)
    q[:, 0, 0, 0] = 127  # every channel reaches its max
    w = q.to(torch.float32) * scales.reshape(3, 1, 1, 1)
    qp = weight_qparams(w, 8, per_channel=True, symmetric=True)
    assert torch.equal(qp.scale, scales)
    assert torch.equal(quantize(w, qp), q)
    assert torch.equal(fake_quantize(w, qp), w)


@pytest.mark.parametrize("symmetric", [True, False])
def test_fake_quant_is_nearest_grid_point(symmetric):
    """Oracle: brute-force search over every representable value."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(500, generator=g, dtype=torch.float32) * 3 + (0 if symmetric else 1)
    bits = 4
    qp = qparams_from_range(x.min(), x.max(), bits, symmetric=symmetric)
    grid = dequantize(torch.arange(qp.qmin, qp.qmax + 1), qp).to(torch.float64)
    got = fake_quantize(x, qp).to(torch.float64)
    dist = (x.to(torch.float64)[:, None] - grid[None, :]).abs()
    best = dist.min(dim=1).values
    assert torch.allclose((x.to(torch.float64) - got).abs(), best, atol=1e-6)
    # within the range, error is at most half a step
    assert float((x - got).abs().max()) <= float(qp.scale) / 2 + 1e-6


def test_out_of_range_saturates_and_zero_is_exact():
    qp = qparams_from_range(0.5, 2.0, 8, symmetric=False)  # range widened to [0, 2]
    assert float(fake_quantize(torch.tensor([0.0]), qp)) == 0.0
    assert float(fake_quantize(torch.tensor([100.0]), qp)) == pytest.approx(2.0, abs=1e-6)
    assert int(quantize(torch.tensor([100.0]), qp)) == 127
    assert int(quantize(torch.tensor([-100.0]), qp)) == -128


def test_all_zero_range_gets_unit_scale():
    qp = qparams_from_range(0.0, 0.0, 8, symmetric=False)
    assert float(qp.scale) == 1.0
    assert torch.equal(fake_quantize(torch.zeros(3), qp), torch.zeros(3))


def test_pow2_exact_values_are_lossless_and_levels():
    bits = 4  # zero and +-s * 2**-k for k in 0..6
    w = torch.tensor([[1.0, -0.5, 2.0**-6, 0.0, -0.25], [0.125, 0.0, 0.0, 0.0, 0.0]])
    assert torch.equal(pow2_fake_quantize(w, bits, per_channel=True), w)
    # brute-force oracle: nearest level in the log domain, zero below half the smallest level
    g = torch.Generator().manual_seed(2)
    w = torch.randn(8, 16, generator=g)
    got = pow2_fake_quantize(w, bits, per_channel=True)
    for row, out in zip(w, got, strict=True):
        s = float(row.abs().max())
        levels = [s * 2.0**-k for k in range(7)]
        for v, o in zip(row.tolist(), out.tolist(), strict=True):
            if abs(v) < levels[-1] / 2:
                assert o == 0.0
            else:
                want = min(levels, key=lambda lv: abs(np.log2(lv) - np.log2(abs(v))))
                assert o == pytest.approx(np.sign(v) * want, rel=1e-6)


def test_calibration_percentile_matches_numpy():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1000, generator=g)
    lo, hi = calibrate_range(x, Calibration.PERCENTILE, 99.0)
    assert lo == pytest.approx(np.percentile(x.numpy().astype(np.float64), 1.0))
    assert hi == pytest.approx(np.percentile(x.numpy().astype(np.float64), 99.0))
    assert calibrate_range(x, Calibration.MINMAX) == (float(x.min()), float(x.max()))
    with pytest.raises(SpecError, match=r"^calibration data must contain at least one value"):
        calibrate_range(torch.zeros(0), Calibration.MINMAX)


def test_qparams_broadcast_per_channel():
    qp = QParams(scale=torch.tensor([1.0, 2.0]), zero_point=torch.tensor([0, 1]), bits=8, axis=1)
    x = torch.tensor([[2.0, 4.0], [-2.0, 8.0]])
    assert torch.equal(quantize(x, qp), torch.tensor([[2, 3], [-2, 5]]))


# --- pruning -------------------------------------------------------------------------------------


def test_magnitude_mask_removes_exactly_the_smallest():
    g = torch.Generator().manual_seed(4)
    w = torch.randn(16, 8, 3, 3, generator=g)
    for sparsity in (0.0, 0.3, 0.5, 0.9):
        mask = magnitude_mask(w, sparsity)
        n_zero = round(sparsity * w.numel())
        assert int((~mask).sum()) == n_zero
        if 0 < n_zero < w.numel():
            # every removed magnitude <= every kept magnitude (oracle: sorting)
            assert float(w.abs()[~mask].max()) <= float(w.abs()[mask].min())
    with pytest.raises(SpecError, match=r"^sparsity must be a number in \[0, 1\), not 1\.5"):
        magnitude_mask(w, 1.5)


def test_two_four_is_exactly_half_with_the_right_pattern():
    g = torch.Generator().manual_seed(5)
    w = torch.randn(16, 8, 3, 3, generator=g)  # reduction 72, a multiple of 4
    mask = nm_mask(w, 2, 4)
    assert density(w * mask) == 0.5
    groups = mask.reshape(16, -1, 4)
    assert bool((groups.sum(dim=2) == 2).all())
    # the kept two are the two largest of each group (brute force over the 6 choices)
    mags = w.abs().reshape(16, -1, 4)
    for k, j in itertools.product(range(16), range(groups.shape[1])):
        best = max(itertools.combinations(range(4), 2), key=lambda c: sum(mags[k, j, list(c)]))
        assert set(torch.nonzero(groups[k, j]).flatten().tolist()) == set(best)


def test_nm_partial_trailing_group_and_ties():
    w = torch.ones(2, 9)  # groups of 4, 4 and a trailing 1
    mask = nm_mask(w, 2, 4)
    assert mask.tolist() == [[True, True, False, False, True, True, False, False, True]] * 2
    assert nm_mask(torch.ones(1, 8), 1, 4).sum() == 2
    with pytest.raises(SpecError, match=r"^N:M pruning needs integers 1 <= N < M"):
        nm_mask(w, 4, 4)


def test_channel_mask_removes_lowest_norm_filters():
    w = torch.arange(1, 7, dtype=torch.float32).reshape(6, 1, 1, 1).repeat(1, 2, 3, 3)
    w = w[torch.tensor([3, 0, 5, 1, 4, 2])]  # norms in order 4,1,6,2,5,3
    mask = channel_mask(w, 0.5)
    kept = mask.reshape(6, -1).all(dim=1).tolist()
    assert kept == [True, False, True, False, True, False]
    assert bool((mask.reshape(6, -1).all(dim=1) | ~mask.reshape(6, -1).any(dim=1)).all())
