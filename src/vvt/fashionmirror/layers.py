"""Convolutional building blocks shared by SFE and HSG: conv blocks and a multi-scale encoder.

Feature widths follow one rule, ``channels(stride) = min(base * stride, max_channels)``, so the SFE flows,
the HSG features and the masks of one stride always meet with the same width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def channels_at(stride: int, base: int, max_channels: int) -> int:
    """Feature width at ``stride`` (1, 2, 4, ...)."""
    return min(base * stride, max_channels)


class ConvBlock(nn.Sequential):
    """3x3 convolution, instance norm, LeakyReLU(0.2); ``stride=2`` halves the size (rounding up)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
            nn.InstanceNorm2d(out_channels, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
        )


class ResBlock(nn.Module):
    """Two 3x3 conv blocks with an identity shortcut."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvBlock(channels, channels),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Encoder(nn.Module):
    """``num_layers`` encoded layers: a stride-1 stem, then stride-2 blocks; returns every level's features.

    Output ``{stride: (B, channels_at(stride), ceil(H/stride), ceil(W/stride))}`` for strides
    ``1, 2, ..., 2**(num_layers-1)``.
    """

    def __init__(self, in_channels: int, num_layers: int, base: int, max_channels: int):
        super().__init__()
        self.strides = [2**i for i in range(num_layers)]
        widths = [channels_at(s, base, max_channels) for s in self.strides]
        self.blocks = nn.ModuleList(
            [ConvBlock(in_channels, widths[0])]
            + [ConvBlock(widths[i - 1], widths[i], stride=2) for i in range(1, num_layers)]
        )

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        out = {}
        for stride, block in zip(self.strides, self.blocks):
            x = block(x)
            out[stride] = x
        return out


def upsample_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour upsampling of ``x`` to ``ref``'s spatial size."""
    return F.interpolate(x, size=ref.shape[-2:], mode="nearest")
