"""Finding, matching and reading what is evaluated: folders of videos (files or frame folders) or images.

Items are matched by name: a file's stem (``upper1.mp4`` -> ``upper1``) or a frame folder's name. Everything
wrong with a prediction/ground-truth/mask set is collected first and raised as one error listing every
offending item: names present on one side only, frame counts and frame sizes that differ (sizes may differ
when the protocol resizes every stream to one size).

Resizing (:data:`RESIZE_METHODS`): ``"area"`` is OpenCV's pixel-area filter on uint8 frames (vvt's choice
for ``--size``); ``"bicubic"`` is PIL's bicubic filter on uint8 RGB (antialiased when shrinking), the
image libraries' standard when a paper names no filter. Masks are always resized with nearest neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vvt.errors import InputFileError, ShapeMismatchError
from vvt.io import read_image, read_mask, read_video, video_info
from vvt.io.image import IMAGE_SUFFIXES
from vvt.io.video import VIDEO_SUFFIXES

RESIZE_METHODS = ("area", "bicubic")


@dataclass(frozen=True)
class MediaInfo:
    """Frame count and size of a video or image (an image is one frame)."""

    num_frames: int
    height: int
    width: int
    is_video: bool


def media_info(path: Path) -> MediaInfo:
    """Frame count and size read from the header (videos are demuxed, not decoded)."""
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            with Image.open(path) as im:
                w, h = im.size
        except OSError as exc:
            raise InputFileError(path, f"not a readable image ({exc})") from None
        return MediaInfo(1, h, w, False)
    info = video_info(path)
    return MediaInfo(info.num_frames, info.height, info.width, True)


def collect(folder: str | Path, what: str) -> dict[str, Path]:
    """Name -> path of the videos, frame folders and images directly inside ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, f"{what} folder not found")
    items: dict[str, Path] = {}
    duplicates = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in entry.iterdir()):
                continue
            name = entry.name
        elif entry.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
            name = entry.stem
        else:
            continue
        if name in items:
            duplicates.append(f"{name}: both {items[name].name} and {entry.name}")
        items[name] = entry
    if duplicates:
        raise InputFileError(folder, "several files share a name: " + "; ".join(duplicates))
    if not items:
        raise InputFileError(folder, f"no videos, frame folders or images found in the {what} folder")
    return items


@dataclass(frozen=True)
class MatchedItem:
    """One prediction with its ground truth and (optional) mask, checked to agree in length and size."""

    name: str
    pred: Path
    gt: Path
    mask: Path | None
    info: MediaInfo


def _listing(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def match(
    pred_dir: str | Path, gt_dir: str | Path, masks_dir: str | Path | None = None, *, same_size: bool = True
) -> list[MatchedItem]:
    """Pair predictions with ground truths (and masks) by name; raise one error listing every mismatch.

    ``same_size=False`` accepts frames of different sizes (a protocol that resizes every stream to one size).

    Raises:
        InputFileError: a folder is missing or holds nothing to evaluate.
        ShapeMismatchError: names only on one side, or frame counts / frame sizes that differ.
    """
    preds, gts = collect(pred_dir, "prediction"), collect(gt_dir, "ground-truth")
    masks = collect(masks_dir, "mask") if masks_dir is not None else None
    return pair(preds, gts, masks, same_size=same_size, what=f"predictions {pred_dir} and ground truth {gt_dir}",
                masks_what=str(masks_dir))


def pair(
    preds: dict[str, Path],
    gts: dict[str, Path],
    masks: dict[str, Path] | None = None,
    *,
    same_size: bool = True,
    what: str = "predictions and ground truth",
    masks_what: str = "the masks",
) -> list[MatchedItem]:
    """Pair name -> path maps of predictions, ground truths and masks (see :func:`match`), in name order.

    Raises:
        ShapeMismatchError: names only on one side, or frame counts / frame sizes that differ (``what``
            names the two sides in the message).
    """
    problems = []
    only_pred = sorted(set(preds) - set(gts))
    only_gt = sorted(set(gts) - set(preds))
    if only_pred:
        problems.append(f"{len(only_pred)} prediction(s) without ground truth: {_listing(only_pred)}")
    if only_gt:
        problems.append(f"{len(only_gt)} ground truth(s) without prediction: {_listing(only_gt)}")
    if masks is not None:
        no_mask = sorted(set(gts) - set(masks))
        if no_mask:
            problems.append(f"{len(no_mask)} item(s) without a mask in {masks_what}: {_listing(no_mask)}")
    items = []
    for name in sorted(set(preds) & set(gts)):
        p, g = media_info(preds[name]), media_info(gts[name])
        if p.num_frames != g.num_frames:
            problems.append(f"{name}: prediction has {p.num_frames} frame(s), ground truth {g.num_frames}")
        if same_size and (p.height, p.width) != (g.height, g.width):
            problems.append(
                f"{name}: prediction is {p.height}x{p.width} (HxW), ground truth {g.height}x{g.width}"
            )
        mask = (masks or {}).get(name)
        if mask is not None:
            m = media_info(mask)
            if m.num_frames != g.num_frames:
                problems.append(f"{name}: mask has {m.num_frames} frame(s), ground truth {g.num_frames}")
            if same_size and (m.height, m.width) != (g.height, g.width):
                problems.append(
                    f"{name}: mask is {m.height}x{m.width} (HxW), ground truth {g.height}x{g.width}"
                )
        items.append(MatchedItem(name, preds[name], gts[name], mask, g))
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise ShapeMismatchError(f"{what} do not match ({len(problems)} problem(s)):\n{listed}")
    return items


def dataset_items(
    data: str | Path,
    pred_dir: str | Path,
    masks_dir: str | Path | None = None,
    *,
    same_size: bool = True,
    category: str | None = None,
    agnostic_masks: bool = True,
) -> list[MatchedItem] | None:
    """Match predictions with the paired test split of the dataset root ``data``; None when ``data`` is in no
    layout vvt reads (then it is a folder of ground truths for :func:`match`).

    The split is read with :func:`vvt.data.layouts.read_layout` (auto-detected layout, so a skipped sample
    is reported there and ``--strict`` raises): each sample's ground truth is its person video or photo, its
    prediction ``PRED/<sample name>`` with a video or image suffix or as a frame folder (sample names may hold
    a ``/``, e.g. ``upper_body/1057795_detail`` in CatV2TON's ViViD-S split, the names ``vvt bench quality``
    writes), its mask ``MASKS/<sample name>`` when ``masks_dir`` is given, else (``agnostic_masks``) the
    sample's agnostic mask when every sample has one. ``category`` keeps that category's samples only.

    Raises:
        LayoutError: the tree cannot be read, or holds no sample of ``category``.
        InputFileError / ShapeMismatchError: no prediction folder, names or frame counts that do not match.
    """
    from vvt.data.layouts import detect_layout, read_layout
    from vvt.errors import LayoutError

    data, pred_dir = Path(data), Path(pred_dir)
    try:
        layout = detect_layout(data)
    except LayoutError:
        return None
    samples = read_layout(data, layout=layout, split="test", pairs="paired", check=False)
    if category is not None:
        samples = [s for s in samples if s.category == category]
        if not samples:
            raise LayoutError(data, [f"no {category} test samples"])
    if not pred_dir.is_dir():
        raise InputFileError(pred_dir, "prediction folder not found")
    gts = {s.name: s.person for s in samples if s.person is not None}
    preds = {name: path for name in gts if (path := find_media(pred_dir, name)) is not None}
    if not preds:
        collect(pred_dir, "prediction")  # a folder of nothing evaluable says so
        raise ShapeMismatchError(
            f"no prediction in {pred_dir} is named after a {layout} test sample of {data} (expected e.g. "
            f"{pred_dir / next(iter(gts))}.mp4 or .png)"
        )
    if masks_dir is not None:
        masks = {name: path for name in gts if (path := find_media(Path(masks_dir), name)) is not None}
    elif agnostic_masks and all(s.agnostic_mask is not None for s in samples):
        masks = {s.name: s.agnostic_mask for s in samples}
    else:
        masks = None
    return pair(preds, gts, masks, same_size=same_size,
                what=f"predictions {pred_dir} and the {layout} test split of {data}",
                masks_what=str(masks_dir) if masks_dir is not None else f"the agnostic masks of {data}")


def find_media(folder: Path, name: str) -> Path | None:
    """``folder/<name>`` as a video or image file (any known suffix) or a frame folder; None when absent.
    ``name`` may hold ``/`` (a dataset sample name such as ``upper_body/upper1``)."""
    base = Path(folder) / name
    if base.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in base.iterdir()):
        return base
    for suffix in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        candidate = base.with_name(base.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def resize_frames(frames: np.ndarray, size: tuple[int, int], method: str = "area") -> np.ndarray:
    """Frames ``(N, H, W, 3)`` uint8 resized to ``size`` = (H, W) with a :data:`RESIZE_METHODS` filter."""
    if method == "area":
        return np.stack([cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_AREA) for f in frames])
    if method == "bicubic":
        return np.stack(
            [np.asarray(Image.fromarray(f).resize((size[1], size[0]), Image.BICUBIC)) for f in frames]
        )
    raise ValueError(f"unknown resize method {method!r} (choose from {', '.join(RESIZE_METHODS)})")


def read_frames(
    path: Path, max_frames: int | None = None, size: tuple[int, int] | None = None, resize: str = "area"
) -> np.ndarray:
    """Frames ``(N, H, W, 3)`` uint8 RGB of a video or image; optionally the first ``max_frames``, resized
    to ``size`` = (H, W) with the ``resize`` filter."""
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        frames = read_image(path)[None]
    else:
        frames = read_video(path, max_frames=max_frames)[0]
    if size is not None and frames.shape[1:3] != tuple(size):
        frames = resize_frames(frames, size, resize)
    return frames


def read_mask_frames(
    path: Path, max_frames: int | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Mask frames ``(N, H, W)`` bool (grey >= 128 is inside) of a mask video or image (nearest resize)."""
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        masks = read_mask(path)[None]
    else:
        masks = read_video(path, max_frames=max_frames)[0].mean(axis=-1) >= 128
    if size is not None and masks.shape[1:3] != tuple(size):
        masks = np.stack(
            [
                cv2.resize(m.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
                for m in masks
            ]
        ).astype(bool)
    return masks
