"""Garment self-inpainting samples: an auxiliary training source that makes the garment path necessary.

A sample of a try-on dataset becomes a still "video" of its in-shop garment photo: the target (``person``) is
the garment photo on every frame, the agnostic video is that photo with the garment greyed out exactly as the
agnostic videos grey out the worn garment, the agnostic mask is the garment's silhouette (every non-white
pixel, dilated by one pixel), and DensePose is empty. The only place the colours and prints inside the mask
can come from is the Reference U-Net's garment tokens (and CLIP), so a denoiser that ignores the garment pays
the full price on these samples.

This is not in the RealVVT paper. Its U-Nets start from SVD and SD 2.1, whose self-attention already copies
appearance between views; a small model trained from random weights on a few hundred SynthVVT clips does not
find that path by itself (``benchmarks/tiny-synth-garment-path.md``: the garment-swap score collapses within 60
steps). Mixing these samples in with a source ``weight`` (``task: garment_inpainting``) is the tiny presets'
warm-start for it; the paper's configs do not use it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

#: a garment photo's pixel counts as background when every channel is at least this (in [-1, 1]): white
WHITE = 0.9


def garment_silhouette(garment: torch.Tensor, dilate: int = 1) -> torch.Tensor:
    """``(1, H, W)`` in {0, 1}: the non-white pixels of a ``(3, H, W)`` garment photo in [-1, 1], dilated by
    ``dilate`` pixels (a max-pool), as the agnostic masks cover a little more than the garment."""
    mask = (garment < WHITE).any(dim=0, keepdim=True).float()
    if dilate:
        mask = F.max_pool2d(mask[None], 2 * dilate + 1, stride=1, padding=dilate)[0]
    return mask


class GarmentInpaintingDataset(Dataset):
    """Wrap a try-on dataset (with ``garment`` among its streams) into garment self-inpainting clips of
    ``clip_len`` frames, with the same keys and shapes as the wrapped dataset's items."""

    def __init__(self, base: Dataset, clip_len: int):
        self.base = base
        self.clip_len = int(clip_len)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        item = dict(self.base[index])
        garment = item["garment"]
        mask = garment_silhouette(garment)
        n = self.clip_len
        item["person"] = garment.expand(n, -1, -1, -1).clone()
        item["agnostic_mask"] = mask.expand(n, -1, -1, -1).clone()
        item["agnostic"] = item["person"] * (1 - item["agnostic_mask"])  # grey is 0 in [-1, 1]
        item["densepose"] = torch.full_like(item["person"], -1.0)  # DensePose's background
        return item
