"""The DensePose-style IUV encoding shared by every stream of vvt.

Internally a DensePose frame is a part index ``I`` in ``0..24`` (0 = background, 1..24 the 24 DensePose
body parts in detectron2's order) and chart coordinates ``U, V`` in ``[0, 1]``. vvt stores it as an
RGB image on black (this module's *vvt IUV* format)::

    R = round(I * 10), G = round(U * 255), B = round(V * 255)

so the background is exactly black (as RealVVT Sec. 3.5 requires for the pose distance of Algorithm 1)
and ``I = round(R / 10)`` survives video compression. Models take the RGB IUV frames scaled to [-1, 1].

Other formats convert to it with :func:`to_vvt_iuv` (:data:`DENSEPOSE_FORMATS`):

- ``"detectron2_parts"``: what ViViD ships (``densepose/<vid>.mp4``) and what detectron2's
  ``apply_net.py show ... dp_segm`` draws: the part index only, coloured by OpenCV's VIRIDIS colour map
  at grey level ``int(I * 255 / 24)`` (detectron2's ``DensePoseResultsFineSegmentationVisualizer``), the
  background (I = 0) dark purple ``(68, 1, 84)``. Each pixel takes the part of the nearest palette colour
  (RGB distance), then a 3x3 median filter removes compression speckle at part borders. The chart
  coordinates are not in these videos; vvt sets ``U = V = 0.5`` (the chart centre, the value nearest on
  average to the unknown true one) on every body pixel.
- ``"dresscode_parts"``: Dress Code's ``dense/<id>_5.png``, the part index itself stored as a grey level
  (0 = background, 1..24), read as RGB with equal channels. vvt takes ``I`` from the first channel and sets
  ``U = V = 0.5`` as above (the charts in ``dense/<id>_5_uv.npz`` are not read yet).

Using real DensePose output: run detectron2's DensePose (``apply_net.py dump``) and encode each frame's
``I, U, V`` arrays with :func:`encode_iuv` (the exact format), or render them with ``show ... dp_segm``
and declare ``"densepose_format": "detectron2_parts"`` in the dataset's ``layout.json``.
"""

from __future__ import annotations

import functools

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


DENSEPOSE_FORMATS = ("vvt_iuv", "detectron2_parts", "dresscode_parts")
UNKNOWN_UV = 0.5


def detectron2_palette() -> np.ndarray:
    """``(25, 3)`` uint8 RGB colour of part index 0..24 in detectron2's DensePose part rendering."""
    import cv2

    levels = np.array([[int(i * 255.0 / NUM_PARTS) for i in range(NUM_PARTS + 1)]], dtype=np.uint8)
    return cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS)[0, :, ::-1].copy()


@functools.lru_cache(maxsize=1)
def _palette_lut() -> np.ndarray:
    """``(64, 64, 64)`` uint8: the nearest palette index for each cell of 4 grey levels per channel."""
    palette = detectron2_palette().astype(np.float32)
    centres = np.arange(64, dtype=np.float32) * 4 + 1.5
    lut = np.empty((64, 64, 64), np.uint8)
    g, b = np.meshgrid(centres, centres, indexing="ij")
    gb = np.stack([g, b], -1).reshape(-1, 2)
    for r in range(64):  # one red plane at a time keeps the distance table small
        rgb = np.concatenate([np.full((len(gb), 1), centres[r], np.float32), gb], 1)
        d = ((rgb[:, None, :] - palette[None]) ** 2).sum(-1)
        lut[r] = d.argmin(1).reshape(64, 64)
    return lut


def detectron2_parts_to_index(frames: np.ndarray) -> np.ndarray:
    """``(..., H, W, 3)`` uint8 detectron2 part rendering -> ``(..., H, W)`` int64 part index 0..24."""
    import cv2

    q = np.asarray(frames) >> 2
    index = _palette_lut()[q[..., 0], q[..., 1], q[..., 2]]
    images = index.reshape(-1, *index.shape[-2:])
    return np.stack([cv2.medianBlur(im, 3) for im in images]).reshape(index.shape).astype(np.int64)


def to_vvt_iuv(frames: np.ndarray, source_format: str) -> np.ndarray:
    """Convert DensePose frames ``(..., H, W, 3)`` uint8 in ``source_format`` to the vvt IUV format."""
    if source_format == "vvt_iuv":
        return frames
    if source_format in ("detectron2_parts", "dresscode_parts"):
        if source_format == "detectron2_parts":
            part = detectron2_parts_to_index(frames)
        else:
            part = np.asarray(frames)[..., 0].astype(np.int64).clip(0, NUM_PARTS)
        uv = np.full(part.shape, UNKNOWN_UV, dtype=np.float32)
        return encode_iuv(part, uv, uv)
    raise ValueError(f"unknown DensePose format {source_format!r} (known: {', '.join(DENSEPOSE_FORMATS)})")
