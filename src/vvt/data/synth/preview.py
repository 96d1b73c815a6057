"""SynthVVT contact sheet (issue 3, item 9): a few frames of every stream of every sample in one PNG.

One block per video: rows are the first, middle and last frames; columns are the garment photo, the
person, agnostic video, agnostic mask, DensePose (vvt IUV), skeleton, worn-garment mask, then, for a
test video, the first unpaired ground truth with its garment photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from vvt.data.synth.garments import product_image

COLUMNS = (
    "garment",
    "person",
    "agnostic",
    "agnostic mask",
    "densepose",
    "skeleton",
    "worn mask",
    "GT garment",
    "ground truth",
)
TILE_H = 128
_HEADER = 18


def _tile(img: np.ndarray, h: int, w: int) -> np.ndarray:
    if img.dtype == bool:
        img = np.repeat(img[..., None].astype(np.uint8) * 255, 3, axis=-1)
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def _label(img: np.ndarray, text: str, color=(0, 0, 0)) -> None:
    cv2.putText(img, text, (3, _HEADER - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)


def preview_block(person, clip) -> np.ndarray:
    """The block of a :class:`~vvt.data.synth.writer.PersonPlan` and its clip, ``(h, w, 3)`` uint8."""
    n, height, width = clip.person.shape[:3]
    th, tw = TILE_H, max(1, round(TILE_H * width / height))
    frames = sorted({0, n // 2, n - 1})
    white = np.full((th, tw, 3), 255, np.uint8)
    garment = _tile(product_image(person.garment)[0], th, tw)
    gt_name, gt = next(iter(clip.ground_truth.items()), (None, None))
    gt_garment = _tile(product_image(person.unpaired[0])[0], th, tw) if gt_name else white
    rows = []
    for k, t in enumerate(frames):
        tiles = [garment if k == 0 else white] + [_tile(s[t], th, tw) for s in clip.streams().values()]
        tiles += [gt_garment if k == 0 else white, _tile(gt[0][t], th, tw) if gt_name else white]
        rows.append(np.concatenate(tiles, axis=1))
    block = np.concatenate(rows, axis=0)
    header = np.full((_HEADER, block.shape[1], 3), 235, np.uint8)
    title = (
        f"{person.vid} ({person.category}, {person.split}) wears {person.garment.name} "
        f"[{person.garment.kind}, {person.garment.family}]"
    )
    if gt_name:
        title += f"; ground truth with {gt_name} [{person.unpaired[0].kind}, {person.unpaired[0].family}]"
    _label(header, title)
    return np.concatenate([header, block], axis=0)


def contact_sheet(blocks: list[np.ndarray]) -> np.ndarray:
    """Stack blocks under one column-title bar: ``(H, W, 3)`` uint8."""
    width = max(b.shape[1] for b in blocks)
    tw = blocks[0].shape[1] // len(COLUMNS)
    bar = np.full((_HEADER, width, 3), 60, np.uint8)
    for i, name in enumerate(COLUMNS):
        cv2.putText(
            bar,
            name,
            (i * tw + 3, _HEADER - 5),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    padded = [np.pad(b, ((0, 4), (0, width - b.shape[1]), (0, 0)), constant_values=255) for b in blocks]
    return np.concatenate([bar, *padded], axis=0)
