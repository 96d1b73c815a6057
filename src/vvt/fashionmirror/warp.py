"""Gaussian-sampling feature warping (FashionMirror Eq. 8 ``GaussianWarping``, after Ren et al., "Deep Image
Spatial Transformation for Person Image Generation", CVPR 2020, and GFLA).

The flow is in pixels of the feature map, ``flow[:, 0]`` horizontal (x), ``flow[:, 1]`` vertical (y), and says
*where to read from*: output location ``l`` reads around ``p = l + F(l)``.

**Our reading of Gaussian sampling (a documented departure).** GFLA's Gaussian sampling weights a window of
samples around ``p`` by a normalised Gaussian of their distance to ``p``. That is a blur even at zero flow: with
a ``3 x 3``, ``sigma = 1`` window the relative L2 change of random features is 0.84, so a zero-initialised SFE
does *not* warp by the identity and every step of an autoregressive rollout blurs the frame once more. We keep
GFLA's window (``4 x 4``: the taps ``floor(p) - 1 .. floor(p) + 2`` on each axis) and its Gaussian
(``sigma = 2`` pixels) but use it as the *window of an interpolating kernel*, separable in x and y::

    k(d) = sinc(d) * exp(-d^2 / (2 sigma^2)),        sinc(d) = sin(pi d) / (pi d)
    out(l) = sum_q k(q_x - p_x) k(q_y - p_y) x(q)  /  sum_{q inside} k(q_x - p_x) k(q_y - p_y)

* **Identity at zero flow, exact integer shifts**: ``sinc`` is 1 at 0 and 0 at every other integer, so at an
  integer ``p`` one tap has all the weight and ``out(l) = x(p)``.
* **Continuous in the flow**: a tap enters or leaves the window at distance exactly ``kernel_size / 2`` (an
  integer), where ``sinc`` and so its weight is 0; the weights are smooth in between (the derivative has kinks
  at integer ``p``, as bilinear sampling's has).
* **Normalised, border renormalisation**: the weights are divided by their sum over the taps *inside* the map,
  so a constant map stays constant up to the corners; the sampling point is first clamped to the map (border
  padding, its gradient is 0 outside), which keeps at least one positive weight (the denominator is >= 0.8).
* The Gaussian window makes the kernel's tails decay smoothly (a windowed sinc); its negative lobes
  (``1 < |d| < 2``) can overshoot the input range by a few percent between samples of very different values.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: GFLA's Gaussian sampling window and standard deviation (pixels of the feature map)
KERNEL_SIZE = 4
SIGMA = 2.0


def interpolation_kernel(d: torch.Tensor, sigma: float = SIGMA) -> torch.Tensor:
    """``k(d) = sinc(d) exp(-d^2 / (2 sigma^2))`` (module docstring); exactly 1 at 0 and 0 at the other integers.

    ``torch.sinc`` gives ~1e-17 rather than 0 at nonzero integers; those values are snapped to 0 in the forward
    pass only (straight through), so the gradient is the kernel's everywhere, zero flow included.
    """
    k = torch.sinc(d) * torch.exp(-(d**2) / (2 * sigma**2))
    exact = torch.where(d == torch.round(d), (d == 0).to(k.dtype), k)
    return k + (exact - k).detach()


def gaussian_warp(
    x: torch.Tensor, flow: torch.Tensor, kernel_size: int = KERNEL_SIZE, sigma: float = SIGMA
) -> torch.Tensor:
    """Warp features with a flow by Gaussian-windowed interpolation (module docstring).

    Args:
        x: features ``(B, C, H, W)``.
        flow: sampling offsets in pixels ``(B, 2, H, W)`` (x then y).
        kernel_size: even window size ``k`` (``k x k`` taps; GFLA's 4).
        sigma: Gaussian standard deviation in pixels (GFLA's 2).

    Returns:
        Warped features ``(B, C, H, W)``; exactly ``x`` where the flow is 0.
    """
    if kernel_size % 2 != 0 or kernel_size < 2:
        raise ValueError(f"kernel_size must be even and >= 2 (taps floor(p)-k/2+1 .. floor(p)+k/2), got {kernel_size}")
    b, c, h, w = x.shape
    if flow.shape != (b, 2, h, w):
        raise ValueError(f"flow must be {(b, 2, h, w)} for features {tuple(x.shape)}, got {tuple(flow.shape)}")
    ys, xs = torch.meshgrid(
        torch.arange(h, device=x.device, dtype=flow.dtype),
        torch.arange(w, device=x.device, dtype=flow.dtype),
        indexing="ij",
    )
    sx = (xs + flow[:, 0]).clamp(0, w - 1)  # (B, H, W) sampling points, border padding
    sy = (ys + flow[:, 1]).clamp(0, h - 1)
    fx, fy = torch.floor(sx.detach()).long(), torch.floor(sy.detach()).long()
    offsets = range(1 - kernel_size // 2, kernel_size // 2 + 1)
    # separable weights per axis: (tap index, weight inside the map)
    taps_x = [(fx + o, interpolation_kernel(fx + o - sx, sigma) * ((fx + o >= 0) & (fx + o < w))) for o in offsets]
    taps_y = [(fy + o, interpolation_kernel(fy + o - sy, sigma) * ((fy + o >= 0) & (fy + o < h))) for o in offsets]
    values = x.reshape(b, c, h * w)
    num = x.new_zeros(b, c, h, w)
    den = x.new_zeros(b, 1, h, w)
    for py, wy in taps_y:
        for px, wx in taps_x:
            weight = (wy * wx).unsqueeze(1)
            index = (py.clamp(0, h - 1) * w + px.clamp(0, w - 1)).reshape(b, 1, h * w).expand(b, c, h * w)
            num = num + weight * values.gather(2, index).reshape(b, c, h, w)
            den = den + weight
    return num / den


def relative_change(x: torch.Tensor, y: torch.Tensor) -> float:
    """``|y - x| / |x|`` (L2), e.g. of a warp at zero flow (0 for the identity)."""
    return float((y - x).norm() / x.norm().clamp_min(math.ulp(1.0)))


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a pixel flow ``(B, 2, H, W)`` to ``size = (h, w)``, rescaling values to the new pixel units."""
    h, w = flow.shape[-2:]
    if (h, w) == tuple(size):
        return flow
    out = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    scale = torch.tensor([size[1] / w, size[0] / h], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
    return out * scale
