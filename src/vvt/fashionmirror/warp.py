"""Gaussian-sampling feature warping (FashionMirror Sec. 3.2, after Ren et al., "Deep Image Spatial
Transformation for Person Image Generation", CVPR 2020, and GFLA).

Bilinear sampling reads only the 2x2 pixels around the flow target, so its gradient w.r.t. the flow is
local and poor for large displacements. Gaussian sampling reads a ``k x k`` neighbourhood around the
target and weights each sample by a Gaussian of its distance to the target:

    out(l) = sum_{q in N_k(round(l + F(l)))} g(q - (l + F(l))) x(q)  /  sum_q g(q - (l + F(l))),
    g(d) = exp(-|d|^2 / (2 sigma^2)).

The flow is in pixels of the feature map, ``flow[:, 0]`` horizontal (x), ``flow[:, 1]`` vertical (y), and
says *where to read from*: output location ``l`` reads around ``l + F(l)``. Samples outside the map are
zeros that keep their weight (zero padding), so with zero flow the warp is exactly a convolution with
the normalised ``k x k`` Gaussian kernel and zero padding. The gradient reaches the flow through the
weights ``g`` (the neighbourhood choice ``round(.)`` is piecewise constant).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_warp(
    x: torch.Tensor, flow: torch.Tensor, kernel_size: int = 3, sigma: float = 1.0
) -> torch.Tensor:
    """Warp features with a flow by Gaussian sampling (module docstring).

    Args:
        x: features ``(B, C, H, W)``.
        flow: sampling offsets in pixels ``(B, 2, H, W)`` (x then y).
        kernel_size: odd neighbourhood size ``k``.
        sigma: Gaussian standard deviation in pixels.

    Returns:
        Warped features ``(B, C, H, W)``.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    b, c, h, w = x.shape
    if flow.shape != (b, 2, h, w):
        raise ValueError(
            f"flow must be {(b, 2, h, w)} for features {tuple(x.shape)}, got {tuple(flow.shape)}"
        )
    ys, xs = torch.meshgrid(
        torch.arange(h, device=x.device, dtype=flow.dtype),
        torch.arange(w, device=x.device, dtype=flow.dtype),
        indexing="ij",
    )
    sx, sy = xs + flow[:, 0], ys + flow[:, 1]  # (B, H, W) sampling centres
    cx, cy = torch.floor(sx.detach() + 0.5).long(), torch.floor(sy.detach() + 0.5).long()
    values = x.reshape(b, c, h * w)
    r = kernel_size // 2
    num = x.new_zeros(b, c, h, w)
    den = x.new_zeros(b, 1, h, w)
    for oy in range(-r, r + 1):
        for ox in range(-r, r + 1):
            px, py = cx + ox, cy + oy
            weight = torch.exp(-((px - sx) ** 2 + (py - sy) ** 2) / (2 * sigma**2)).unsqueeze(1)
            inside = ((px >= 0) & (px < w) & (py >= 0) & (py < h)).unsqueeze(1)
            index = (py.clamp(0, h - 1) * w + px.clamp(0, w - 1)).reshape(b, 1, h * w).expand(b, c, h * w)
            sample = values.gather(2, index).reshape(b, c, h, w) * inside
            num = num + weight * sample
            den = den + weight
    return num / den


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a pixel flow ``(B, 2, H, W)`` to ``size = (h, w)``, rescaling values to the new pixel units."""
    h, w = flow.shape[-2:]
    if (h, w) == tuple(size):
        return flow
    out = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    scale = torch.tensor([size[1] / w, size[0] / h], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
    return out * scale
