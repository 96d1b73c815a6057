"""FashionMirror Gaussian-windowed warp (Eq. 8, warp.py) and sample correctness loss (Eqs. 5-6)."""

from __future__ import annotations

import math

import pytest
import torch

from vvt.fashionmirror.losses import sample_correctness_loss
from vvt.fashionmirror.warp import gaussian_warp, relative_change, resize_flow


def test_zero_flow_is_exactly_the_identity():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 9, 7, generator=g, dtype=torch.float64)
    assert torch.equal(gaussian_warp(x, torch.zeros(2, 2, 9, 7, dtype=torch.float64)), x)
    x32 = x.float()
    assert relative_change(x32, gaussian_warp(x32, torch.zeros(2, 2, 9, 7))) < 1e-6


def test_integer_flow_shifts_exactly_with_border_padding():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 12, 10, generator=g, dtype=torch.float64)
    dx, dy = 2, -1
    flow = torch.zeros(1, 2, 12, 10, dtype=torch.float64)
    flow[:, 0], flow[:, 1] = dx, dy
    out = gaussian_warp(x, flow)
    # out(y, x) = x(clamp(y + dy), clamp(x + dx)), computed by indexing
    rows = (torch.arange(12) + dy).clamp(0, 11)
    cols = (torch.arange(10) + dx).clamp(0, 9)
    assert torch.equal(out, x[:, :, rows][:, :, :, cols])


def test_constant_map_stays_constant_up_to_the_corners():
    g = torch.Generator().manual_seed(5)
    flow = 3 * torch.randn(2, 2, 6, 5, generator=g, dtype=torch.float64)
    out = gaussian_warp(torch.full((2, 4, 6, 5), 0.7, dtype=torch.float64), flow)
    assert torch.allclose(out, torch.full_like(out, 0.7), atol=1e-12)


def test_half_pixel_flow_matches_the_kernel_written_out():
    """x-flow 0.5 on a 1-D ramp: the weights k(-1.5), k(-0.5), k(0.5), k(1.5), renormalised inside the map."""
    x = torch.arange(8, dtype=torch.float64).view(1, 1, 1, 8) ** 2
    flow = torch.zeros(1, 2, 1, 8, dtype=torch.float64)
    flow[:, 0] = 0.5
    out = gaussian_warp(x, flow)[0, 0, 0]
    for col in range(8):
        p = min(col + 0.5, 7.0)
        taps = [q for q in range(math.floor(p) - 1, math.floor(p) + 3) if 0 <= q < 8]
        k = [math.sin(math.pi * (q - p)) / (math.pi * (q - p)) if q != p else 1.0 for q in taps]
        k = [v * math.exp(-((q - p) ** 2) / 8) for v, q in zip(k, taps)]
        want = sum(v * q**2 for v, q in zip(k, taps)) / sum(k)
        assert out[col].item() == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("at", [0.5, 1.0, -1.0, 2.0])
def test_continuous_in_the_flow(at):
    """No jump where the window moves (half pixels or integers): a tap enters or leaves at weight 0."""
    g = torch.Generator().manual_seed(6)
    x = torch.randn(1, 3, 7, 9, generator=g, dtype=torch.float64)
    base = torch.zeros(1, 2, 7, 9, dtype=torch.float64)
    below = gaussian_warp(x, base + at - 1e-9)
    above = gaussian_warp(x, base + at + 1e-9)
    assert (below - above).abs().max() < 1e-7


def test_gradcheck_features_and_flow():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    # away from integers, where the derivative has a kink (as bilinear sampling's)
    flow = (4 * torch.rand(1, 2, 5, 6, generator=g, dtype=torch.float64) - 2).requires_grad_(True)
    flow.data += 0.05 * (flow.data.frac().abs() < 0.05)
    assert torch.autograd.gradcheck(lambda a, f: gaussian_warp(a, f), (x, flow))
    gaussian_warp(x, flow).square().sum().backward()
    assert flow.grad.abs().sum() > 0


def test_gradient_reaches_a_zero_flow():
    """The SFE's flow heads start at zero: the warp must still pass them a gradient there."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(1, 2, 6, 6, generator=g, dtype=torch.float64)
    flow = torch.zeros(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    target = torch.roll(x, shifts=-1, dims=3)
    (gaussian_warp(x, flow) - target).square().sum().backward()
    assert flow.grad[:, 0, :, :-1].abs().mean() > 0.1


def test_window_size_is_checked():
    with pytest.raises(ValueError, match="even"):
        gaussian_warp(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 4), kernel_size=3)


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
    got = sample_correctness_loss(ft, fn, flow, 4, 2.0).item()
    assert got == pytest.approx(_correctness_loops(ft, fn, flow, 4, 2.0), rel=1e-9)


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
