"""FashionMirror Gaussian-sampling warp (Sec. 3.2) and sample correctness loss (Eqs. 5-6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from vvt.fashionmirror.losses import sample_correctness_loss
from vvt.fashionmirror.warp import gaussian_warp, resize_flow


def _blur_scipy(x: torch.Tensor, kernel_size: int, sigma: float) -> np.ndarray:
    """The normalised k x k Gaussian kernel with zero padding, applied by scipy per channel."""
    r = kernel_size // 2
    d = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * sigma**2))
    k /= k.sum()
    arr = x.double().numpy()
    return np.stack([[ndimage.correlate(c, k, mode="constant", cval=0.0) for c in b] for b in arr])


@pytest.mark.parametrize(("kernel_size", "sigma"), [(3, 1.0), (5, 0.7)])
def test_zero_flow_is_gaussian_blur(kernel_size, sigma):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 9, 7, generator=g, dtype=torch.float64)
    out = gaussian_warp(x, torch.zeros(2, 2, 9, 7, dtype=torch.float64), kernel_size, sigma)
    np.testing.assert_allclose(out.numpy(), _blur_scipy(x, kernel_size, sigma), atol=1e-12)


def test_integer_flow_shifts():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 12, 10, generator=g, dtype=torch.float64)
    dx, dy = 2, -1
    flow = torch.zeros(1, 2, 12, 10, dtype=torch.float64)
    flow[:, 0], flow[:, 1] = dx, dy
    out = gaussian_warp(x, flow).numpy()
    blurred = _blur_scipy(x, 3, 1.0)
    # out(y, x) reads around (y + dy, x + dx); compare where the source neighbourhood is inside the map
    np.testing.assert_allclose(
        out[..., 2:-1, 1:-3], blurred[..., 2 + dy : -1 + dy, 1 + dx : -3 + dx or None], atol=1e-12
    )
    assert not np.allclose(out, blurred)


def test_gradients_reach_the_flow():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 5, 6, generator=g, dtype=torch.float64)
    # fractional parts away from 0.5, where round() switches neighbourhoods
    flow = (0.3 * torch.rand(1, 2, 5, 6, generator=g, dtype=torch.float64) - 0.15 + 0.7).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: gaussian_warp(x, f), (flow,))
    gaussian_warp(x, flow).square().sum().backward()
    assert flow.grad.abs().sum() > 0


def test_resize_flow_rescales_pixels():
    flow = torch.zeros(1, 2, 8, 6)
    flow[:, 0], flow[:, 1] = 2.0, -4.0
    small = resize_flow(flow, (4, 3))
    assert torch.allclose(small[:, 0], torch.full((1, 4, 3), 1.0))
    assert torch.allclose(small[:, 1], torch.full((1, 4, 3), -2.0))


def _correctness_loops(ft, fn, flow, k, sigma):
    """Eqs. 5-6 written position by position (after the Gaussian warp)."""
    warped = gaussian_warp(ft, flow, k, sigma)
    b, c, h, w = ft.shape
    total = 0.0
    for bi in range(b):
        for y in range(h):
            for x in range(w):
                target = fn[bi, :, y, x]
                cos = lambda u, v: float(u @ v / (u.norm() * v.norm()))  # noqa: E731
                mu = cos(warped[bi, :, y, x], target)
                mu_max = max(cos(ft[bi, :, yy, xx], target) for yy in range(h) for xx in range(w))
                total += math.exp(-mu / mu_max)
    return total / (b * h * w)


def test_sample_correctness_matches_loops():
    g = torch.Generator().manual_seed(3)
    ft = torch.rand(2, 4, 4, 3, generator=g, dtype=torch.float64)
    fn = torch.rand(2, 4, 4, 3, generator=g, dtype=torch.float64)
    flow = 2 * torch.rand(2, 2, 4, 3, generator=g, dtype=torch.float64) - 1
    got = sample_correctness_loss(ft, fn, flow, 3, 1.0).item()
    assert got == pytest.approx(_correctness_loops(ft, fn, flow, 3, 1.0), rel=1e-9)


def test_sample_correctness_is_minimal_at_the_true_shift():
    g = torch.Generator().manual_seed(4)
    feats = torch.randn(
        1, 16, 16, 16, generator=g, dtype=torch.float64
    ).relu()  # non-negative, like VGG ReLUs
    window = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    window[..., 5:11, 5:11] = 1  # content away from the borders, so no shift reads outside the map
    ft = feats * window
    dx, dy = 2, 1
    fn = torch.roll(ft, shifts=(-dy, -dx), dims=(2, 3))  # frame t+1 at l is frame t at l + (dx, dy)
    losses = {}
    for sx in range(-2, 3):
        for sy in range(-2, 3):
            flow = torch.zeros(1, 2, 16, 16, dtype=torch.float64)
            flow[:, 0], flow[:, 1] = sx, sy
            losses[(sx, sy)] = sample_correctness_loss(ft, fn, flow).item()
    assert min(losses, key=losses.get) == (dx, dy)
    assert losses[(dx, dy)] < losses[(0, 0)] - 0.01
