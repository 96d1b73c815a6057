"""Inflated 3D Inception-v1 (I3D), the video network of VFID_I3D.

Carreira & Zisserman 2017, "Quo Vadis, Action Recognition?", Sec. 2.4 and Fig. 3: Inception-v1 with every
2D filter and pool inflated to 3D; the first 7x7x7 convolution has stride 2 in time and space, the first two
max-pools do not pool time (1x3x3, stride 1x2x2), the later ones do (3x3x3 stride 2, then 2x2x2 stride 2);
each convolution is followed by batch norm and ReLU; TensorFlow "SAME" padding; 400 Kinetics classes.

Module and parameter names follow pytorch-i3d (``Conv3d_1a_7x7.conv3d.weight``,
``Mixed_3b.b1b.bn.running_mean``, ``logits.conv3d.bias``, ...), the port whose state dict CatV2TON ships as
``i3d.pt``, so that file loads as is.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vvt.eval.weights import load_network, load_torch_file, weight_path


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one axis as (front, back): the output has ``ceil(size / stride)`` steps"""
    total = max(kernel - (stride if size % stride == 0 else size % stride), 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    pads: list[int] = []
    for size, k, s in reversed(list(zip(x.shape[2:], kernel, stride))):  # F.pad wants the last axis first
        pads.extend(_same_padding(size, k, s))
    return F.pad(x, pads)


class Unit3D(nn.Module):
    """Conv3d (no bias) + BatchNorm3d (eps 1e-3) + ReLU, "SAME" padding; the logits variant: conv + bias."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        batch_norm: bool = True,
        activation: bool = True,
    ):
        super().__init__()
        self.kernel, self.stride, self.activation = kernel, stride, activation
        self.conv3d = nn.Conv3d(
            in_channels, out_channels, kernel, stride=stride, padding=0, bias=not batch_norm
        )
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class MaxPool3dSame(nn.Module):
    """Max pool with TensorFlow "SAME" padding (zero padded, as in pytorch-i3d: inputs are post-ReLU)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionModule(nn.Module):
    """Inflated Inception block: 1x1 | 1x1 -> 3x3x3 | 1x1 -> 3x3x3 | 3x3x3 max pool -> 1x1, concatenated.

    ``widths`` = (b0, b1a, b1b, b2a, b2b, b3b) output channels, Fig. 3's numbers.
    """

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int, int, int]):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = Unit3D(in_channels, w0)
        self.b1a = Unit3D(in_channels, w1a)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3))
        self.b2a = Unit3D(in_channels, w2a)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, w3b)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1
        )


# (name, in_channels, widths) of the Inception blocks, Carreira & Zisserman Fig. 3 / Inception-v1.
_MIXED = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


class InceptionI3d(nn.Module):
    """I3D: clips ``(B, 3, T, H, W)`` in [-1, 1] -> Kinetics logits; :meth:`extract_features`: VFID features.

    Args:
        num_classes: logits (400 for Kinetics-400, the VFID checkpoint).
    """

    FEATURE_DIM = 1024

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = InceptionModule(*_MIXED["Mixed_3b"])
        self.Mixed_3c = InceptionModule(*_MIXED["Mixed_3c"])
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = InceptionModule(*_MIXED["Mixed_4b"])
        self.Mixed_4c = InceptionModule(*_MIXED["Mixed_4c"])
        self.Mixed_4d = InceptionModule(*_MIXED["Mixed_4d"])
        self.Mixed_4e = InceptionModule(*_MIXED["Mixed_4e"])
        self.Mixed_4f = InceptionModule(*_MIXED["Mixed_4f"])
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = InceptionModule(*_MIXED["Mixed_5b"])
        self.Mixed_5c = InceptionModule(*_MIXED["Mixed_5c"])
        self.dropout = nn.Dropout(0.5)
        self.logits = Unit3D(self.FEATURE_DIM, num_classes, batch_norm=False, activation=False)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Conv3d_1a_7x7 ... Mixed_5c: ``(B, 3, T, H, W)`` -> ``(B, 1024, T', H', W')``."""
        for child in self.children():
            if child is self.dropout:
                break
            x = child(x)
        return x

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:
        """VFID features ``(B, 1024)``: the trunk output averaged over space, then over time.

        pytorch-i3d average-pools 7x7 (the whole 224x224 input's last map) and CatV2TON then squeezes the
        spatial axes and averages over time; at the protocol's 224x224 that is this global mean.
        """
        return self.trunk(x).mean(dim=(3, 4)).mean(dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Kinetics logits ``(B, num_classes)``, averaged over time."""
        h = self.trunk(x).mean(dim=(3, 4), keepdim=True)
        return self.logits(self.dropout(h)).flatten(2).mean(dim=2)


def load_i3d(weights_dir: str | Path | None) -> InceptionI3d:
    """InceptionI3d (400 classes) with ``i3d.pt`` from the weights directory, in eval mode."""
    path = weight_path("i3d", weights_dir)
    return load_network(InceptionI3d, load_torch_file(path), path)
