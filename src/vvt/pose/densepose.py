"""The DensePose-style IUV encoding shared by every stream of vvt.

Internally a DensePose frame is a part index ``I`` in ``0..24`` (0 = background, 1..24 the 24 DensePose
body parts in detectron2's order) and chart coordinates ``U, V`` in ``[0, 1]``. vvt stores it as an
RGB image on black (this module's *vvt IUV* format)::

    R = round(I * 10), G = round(U * 255), B = round(V * 255)

so the background is exactly black (as RealVVT Sec. 3.5 requires for the pose distance of Algorithm 1)
and ``I = round(R / 10)`` survives video compression. Models take the RGB IUV frames scaled to [-1, 1].
"""

from __future__ import annotations

import numpy as np

NUM_PARTS = 24
PART_STEP = 10  # R value per part index


def encode_iuv(part: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(H, W)`` part index (int, 0..24) and ``u, v`` in [0, 1] -> ``(H, W, 3)`` uint8 vvt IUV image."""
    part = np.asarray(part)
    fg = part > 0
    out = np.zeros(part.shape + (3,), dtype=np.uint8)
    out[..., 0] = (part.clip(0, NUM_PARTS) * PART_STEP).astype(np.uint8)
    out[..., 1] = np.where(fg, np.round(np.clip(u, 0, 1) * 255), 0).astype(np.uint8)
    out[..., 2] = np.where(fg, np.round(np.clip(v, 0, 1) * 255), 0).astype(np.uint8)
    return out


def decode_iuv(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(..., H, W, 3)`` uint8 vvt IUV image -> part index (int64), ``u``, ``v`` (float32 in [0, 1])."""
    image = np.asarray(image)
    part = np.clip(np.rint(image[..., 0].astype(np.float32) / PART_STEP), 0, NUM_PARTS).astype(np.int64)
    u = image[..., 1].astype(np.float32) / 255.0
    v = image[..., 2].astype(np.float32) / 255.0
    u[part == 0] = 0
    v[part == 0] = 0
    return part, u, v


DENSEPOSE_FORMATS = ("vvt_iuv",)


def to_vvt_iuv(frames: np.ndarray, source_format: str) -> np.ndarray:
    """Convert DensePose frames ``(..., H, W, 3)`` uint8 in ``source_format`` to the vvt IUV format."""
    if source_format == "vvt_iuv":
        return frames
    raise ValueError(f"unknown DensePose format {source_format!r} (known: {', '.join(DENSEPOSE_FORMATS)})")
