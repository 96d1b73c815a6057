"""Inception-v3 networks for FID/KID (the FID variant, pool3 features) and for the Inception Score.

FID and KID use the network TensorFlow's original FID code used (``inception-2015-12-05``) in pytorch-fid's
port (weights file ``pt_inception-2015-12-05-6726825d.pth``). It is torchvision's Inception-v3 with 1008
classes and four blocks that differ from torchvision's: TensorFlow's average pooling ignores the zero padding
(``count_include_pad=False``) in the A, C and first E blocks, and the last E block max-pools instead of
average-pooling in its pool branch. Those four blocks are written here on top of torchvision's, nothing else.
The features are the 2048-d global average pool ("pool3") of an input resized to 299x299 by bilinear
interpolation (``align_corners=False``) and scaled to [-1, 1], exactly pytorch-fid's preprocessing.
(The ``pytorch-fid`` package itself is not a dependency: its constructor downloads the weights.)

The Inception Score (Salimans et al. 2016) uses torchvision's ImageNet Inception-v3
(``inception_v3_google-0cc3c7bd.pth``), fed [-1, 1] inputs at 299x299 (the range its TensorFlow-ported weights
expect; torchvision's ``transform_input`` maps ImageNet-normalised inputs to the same thing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import inception as tv_inception

from vvt.eval.weights import load_network, load_torch_file, weight_path

INCEPTION_SIZE = 299
FID_FEATURE_DIM = 2048


class FIDInceptionA(tv_inception.InceptionA):
    """InceptionA with TensorFlow's average pool (padding not counted)."""

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return [self.branch1x1(x), branch5x5, branch3x3dbl, branch_pool]


class FIDInceptionC(tv_inception.InceptionC):
    """InceptionC with TensorFlow's average pool (padding not counted)."""

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            branch7x7dbl = layer(branch7x7dbl)
        branch_pool = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return [self.branch1x1(x), branch7x7, branch7x7dbl, branch_pool]


class FIDInceptionE(tv_inception.InceptionE):
    """InceptionE with the FID pool branch: TF average pool (``Mixed_7b``) or max pool (``Mixed_7c``)."""

    def __init__(self, in_channels: int, pool: str):
        super().__init__(in_channels)
        self.pool = pool

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        b3d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(b3d), self.branch3x3dbl_3b(b3d)], 1)
        if self.pool == "max":
            pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            pooled = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return [self.branch1x1(x), branch3x3, branch3x3dbl, self.branch_pool(pooled)]


def fid_inception_v3() -> tv_inception.Inception3:
    """The FID Inception-v3 architecture (random weights; load ``pt_inception-2015-12-05-6726825d.pth``)."""
    net = tv_inception.Inception3(
        num_classes=1008, aux_logits=False, transform_input=False, init_weights=False
    )
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE(1280, pool="avg")
    net.Mixed_7c = FIDInceptionE(2048, pool="max")
    return net.eval()


def _resize_299(images: torch.Tensor) -> torch.Tensor:
    return F.interpolate(images, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)


class FIDFeatures(nn.Module):
    """pool3 features of the FID Inception: images ``(B, 3, H, W)`` in [-1, 1] -> ``(B, 2048)``."""

    def __init__(self, net: tv_inception.Inception3):
        super().__init__()
        self.net = net.eval()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = _resize_299(images)
        for layer in (
            n.Conv2d_1a_3x3,
            n.Conv2d_2a_3x3,
            n.Conv2d_2b_3x3,
            n.maxpool1,
            n.Conv2d_3b_1x1,
            n.Conv2d_4a_3x3,
            n.maxpool2,
            n.Mixed_5b,
            n.Mixed_5c,
            n.Mixed_5d,
            n.Mixed_6a,
            n.Mixed_6b,
            n.Mixed_6c,
            n.Mixed_6d,
            n.Mixed_6e,
            n.Mixed_7a,
            n.Mixed_7b,
            n.Mixed_7c,
            n.avgpool,
        ):
            x = layer(x)
        return x.flatten(1)


class InceptionClassifier(nn.Module):
    """ImageNet class probabilities for the Inception Score: ``(B, 3, H, W)`` in [-1, 1] -> ``(B, 1000)``."""

    def __init__(self, net: tv_inception.Inception3):
        super().__init__()
        self.net = net.eval()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.net(_resize_299(images)), dim=1)


def imagenet_inception_v3() -> tv_inception.Inception3:
    """torchvision's Inception-v3 architecture as its ImageNet weights file expects it (with the aux head)."""
    return tv_inception.Inception3(
        num_classes=1000, aux_logits=True, transform_input=False, init_weights=False
    ).eval()


def load_fid_features(weights_dir: str | Path | None) -> FIDFeatures:
    """The FID feature extractor with ``pt_inception-2015-12-05-6726825d.pth`` from the weights directory."""
    path = weight_path("fid_inception", weights_dir)
    return FIDFeatures(load_network(fid_inception_v3, load_torch_file(path), path))


def load_inception_classifier(weights_dir: str | Path | None) -> InceptionClassifier:
    """The Inception-Score classifier with ``inception_v3_google-0cc3c7bd.pth`` from the weights directory."""
    path = weight_path("inception_v3", weights_dir)
    return InceptionClassifier(load_network(imagenet_inception_v3, load_torch_file(path), path))


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))``, mean and std over ``splits`` equal chunks.

    Args:
        probs: ``(N, 1000)`` class probabilities of the generated images (in a fixed order).
        splits: chunks, 10 as in Salimans et al.'s code; reduced to N when fewer images are given.
    """
    probs = np.asarray(probs, dtype=np.float64)
    splits = max(1, min(splits, probs.shape[0]))
    scores = []
    for chunk in np.array_split(probs, splits):
        p_y = chunk.mean(axis=0, keepdims=True)
        kl = (chunk * (np.log(chunk + 1e-12) - np.log(p_y + 1e-12))).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
