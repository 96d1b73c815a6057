"""Garment product photos: background removal (the garment mask), centring and padding (issue 9, item 6).

Catalogue photos show the garment on a plain, light background. The background colour is the median
of the image border; a pixel is garment when its CIELAB distance to that colour exceeds ``threshold``
(Delta E). The mask is closed, its holes are filled (a white print on a shirt stays garment) and only
components larger than 5 % of the largest are kept (dust, shadows). :func:`centre_and_pad` crops to
the mask's box plus a margin, pads to the model's aspect ratio with the background colour (white) and
resizes, so every garment sits centred at the same relative scale.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import binary_fill_holes

from vvt.errors import InputFileError


def garment_mask(image: np.ndarray, threshold: float = 12.0) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB catalogue photo -> ``(H, W)`` bool garment mask (see the module docstring)."""
    lab = cv2.cvtColor(cv2.GaussianBlur(image, (3, 3), 0), cv2.COLOR_RGB2LAB).astype(np.float32)
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    background = np.median(border, axis=0)
    fg = (np.linalg.norm(lab - background, axis=-1) > threshold).astype(np.uint8)
    r = max(1, round(0.005 * max(image.shape[:2])))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    fg = binary_fill_holes(fg).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 1:
        return np.zeros(image.shape[:2], bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.flatnonzero(areas >= 0.05 * areas.max())
    return np.isin(labels, keep)


def centre_and_pad(image: np.ndarray, mask: np.ndarray, height: int, width: int,
                   margin: float = 0.05, fill: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """Centre the garment and pad to ``height x width``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        mask: ``(H, W)`` bool garment mask.
        height, width: output size (its aspect ratio is the model's).
        margin: free border around the garment, as a fraction of the output's sides.
        fill: grey level of the padding and of the background outside the mask.

    Returns the ``(height, width, 3)`` uint8 image (background set to ``fill``) and its ``(height, width)``
    bool mask.
    """
    if not mask.any():
        raise ValueError("the garment mask is empty")
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = np.where(mask[y0:y1, x0:x1, None], image[y0:y1, x0:x1], np.uint8(fill))
    crop_mask = mask[y0:y1, x0:x1]
    inner_h, inner_w = height * (1 - 2 * margin), width * (1 - 2 * margin)
    scale = min(inner_h / crop.shape[0], inner_w / crop.shape[1])
    nh, nw = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.resize(crop, (nw, nh), interpolation=interp)
    crop_mask = cv2.resize(crop_mask.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST) > 0
    out = np.full((height, width, 3), fill, np.uint8)
    out_mask = np.zeros((height, width), bool)
    top, left = (height - nh) // 2, (width - nw) // 2
    out[top:top + nh, left:left + nw] = crop
    out_mask[top:top + nh, left:left + nw] = crop_mask
    out[~out_mask] = fill
    return out, out_mask


def prepare_garment(image: np.ndarray, height: int, width: int,
                    name: str = "garment") -> tuple[np.ndarray, np.ndarray]:
    """Mask, centre and pad a catalogue photo; ``name`` names it in the error when no garment is found."""
    mask = garment_mask(image)
    if mask.sum() < 0.01 * mask.size:
        raise InputFileError(name, "no garment found: expected a garment photo on a plain light background")
    return centre_and_pad(image, mask, height, width)
