"""Try-on metrics inside a mask that SSIM alone does not give: PSNR in the mask and the garment colour error.

SSIM rewards blur: a grey smudge where the garment should be scores better than a sharp garment of the wrong
colour. These two metrics catch what it misses, on frames ``(N, H, W, 3)`` in [0, 1] and masks ``(N, H, W)``
bool:

* **PSNR in the mask**: ``10 log10(1 / MSE)`` with the MSE taken over the mask's pixels (all three channels)
  of each frame; a frame with an empty mask has no value (NaN).
* **Garment colour error**: per frame, the mean RGB of the prediction and of the ground truth inside the
  ground truth's garment mask (SynthVVT's ``worn_mask``), and the mean over the three channels of their
  absolute difference (in [0, 1]; 0 is the right colour). A flat fill with the garment's true mean colour
  scores 0 here and badly on SSIM; a blurred truth scores well on both; a grey smudge scores badly here. The
  two are read together.
"""

from __future__ import annotations

import numpy as np

from vvt.eval.image import PSNR_MSE_FLOOR


def _inside(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inside = mask.astype(bool).reshape(mask.shape[0], -1)
    return inside, inside.sum(axis=1)


def masked_psnr(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """PSNR in dB per frame ``(N,)`` over the pixels of ``mask`` ``(N, H, W)``; NaN where the mask is
    empty. Frames ``(N, H, W, 3)`` in [0, 1]."""
    inside, count = _inside(mask)
    sq = ((pred.astype(np.float64) - gt.astype(np.float64)) ** 2).mean(axis=-1).reshape(pred.shape[0], -1)
    mse = np.maximum((sq * inside).sum(axis=1) / np.maximum(count, 1), PSNR_MSE_FLOOR)
    return np.where(count > 0, 10 * np.log10(1.0 / mse), np.nan)


def mean_colour(frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean RGB ``(N, 3)`` of frames ``(N, H, W, 3)`` inside ``mask`` ``(N, H, W)``; NaN rows where empty."""
    inside, count = _inside(mask)
    flat = frames.astype(np.float64).reshape(frames.shape[0], -1, 3)
    total = (flat * inside[..., None]).sum(axis=1)
    return np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], np.nan)


def garment_colour_error(pred: np.ndarray, gt: np.ndarray, garment_mask: np.ndarray) -> np.ndarray:
    """Per frame ``(N,)``: mean over channels of ``|mean RGB(pred) - mean RGB(gt)|`` inside the ground
    truth's ``garment_mask`` ``(N, H, W)``; NaN where the mask is empty. Frames ``(N, H, W, 3)`` in [0, 1]."""
    return np.abs(mean_colour(pred, garment_mask) - mean_colour(gt, garment_mask)).mean(axis=1)
