"""Reference methods the benchmark runs beside the model, so its numbers have a floor to beat.

* ``copy_agnostic``: no try-on at all; the clothing-agnostic video (the region grey) is the prediction.
* ``naive_paste``: the garment product image, cut out by its mask, stretched by an affine map (independent x
  and y scale plus translation) from the garment's bounding box onto the bounding box of the frame's agnostic
  mask, and composited only where both the agnostic mask and the warped garment mask are set; elsewhere the
  agnostic frame is kept. It knows nothing of pose, sleeves or occlusion: what any learned method must beat.
"""

from __future__ import annotations

import cv2
import numpy as np

WHITE_BACKGROUND = 245  # a garment pixel has some channel below this when no garment mask is given


def copy_agnostic(agnostic: np.ndarray) -> np.ndarray:
    """The agnostic video ``(N, H, W, 3)`` uint8 unchanged (a copy)."""
    return agnostic.copy()


def garment_mask_from_image(garment: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: non-white pixels of a product photo on white (used when no garment mask exists)."""
    return (garment < WHITE_BACKGROUND).any(axis=-1)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(y0, x0, y1, x1)`` (end exclusive) of a ``(H, W)`` bool mask, None when it is empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def box_affine(src: tuple[int, int, int, int], dst: tuple[int, int, int, int]) -> np.ndarray:
    """``(2, 3)`` affine matrix taking the box ``src`` onto ``dst`` (boxes as ``(y0, x0, y1, x1)``)."""
    sy = (dst[2] - dst[0]) / (src[2] - src[0])
    sx = (dst[3] - dst[1]) / (src[3] - src[1])
    # pixel centres: x_dst + 0.5 = sx * (x_src + 0.5 - x0_src) + x0_dst
    tx = dst[1] - sx * src[1] + 0.5 * (sx - 1)
    ty = dst[0] - sy * src[0] + 0.5 * (sy - 1)
    return np.array([[sx, 0.0, tx], [0.0, sy, ty]], dtype=np.float64)


def naive_paste(agnostic: np.ndarray, agnostic_mask: np.ndarray, garment: np.ndarray,
                garment_mask: np.ndarray | None = None) -> np.ndarray:
    """Paste the garment into every frame's agnostic-mask bounding box.

    Args:
        agnostic: ``(N, H, W, 3)`` uint8 agnostic video.
        agnostic_mask: ``(N, H, W)`` bool, True = region to fill.
        garment: ``(h, w, 3)`` uint8 product photo.
        garment_mask: ``(h, w)`` bool garment pixels (default: the photo's non-white pixels).

    Returns:
        ``(N, H, W, 3)`` uint8 video.
    """
    if garment_mask is None:
        garment_mask = garment_mask_from_image(garment)
    out = agnostic.copy()
    src = bounding_box(garment_mask)
    if src is None:
        return out
    h, w = agnostic.shape[1:3]
    cutout = np.where(garment_mask[..., None], garment, 0).astype(np.uint8)
    alpha = garment_mask.astype(np.uint8) * 255
    for t in range(agnostic.shape[0]):
        dst = bounding_box(agnostic_mask[t])
        if dst is None:
            continue
        matrix = box_affine(src, dst)
        warped = cv2.warpAffine(cutout, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        warped_alpha = cv2.warpAffine(alpha, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        region = agnostic_mask[t] & (warped_alpha >= 128)
        out[t][region] = warped[region]
    return out
