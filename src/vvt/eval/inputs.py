"""Finding, matching and reading what is evaluated: folders of videos (files or frame folders) or images.

Items are matched by name: a file's stem (``upper1.mp4`` -> ``upper1``) or a frame folder's name. Everything
wrong with a prediction/ground-truth/mask set is collected first and raised as one error listing every
offending item: names present on one side only, frame counts and frame sizes that differ (sizes may differ
when the protocol resizes every stream to one size).

Frame ranges: a dataset may score only part of each video (CatV2TON's ViViD-S lists give each test video
``front_seqs`` ``[start, end)``, read into ``Sample.frame_ranges``). The ground truth, reference and mask are
then those frames (``end`` clipped to the video, as CatV2TON's ``read_video_frames``) and the prediction
holds as many frames (:func:`span_frames`, :func:`select_frames`).

Resizing (:data:`RESIZE_METHODS`): ``"area"`` is OpenCV's pixel-area filter on uint8 frames (vvt's choice
for ``--size``); ``"bicubic"`` is PIL's bicubic filter on uint8 RGB (antialiased when shrinking), the
image libraries' standard when a paper names no filter. Masks are always resized with nearest neighbour.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vvt.errors import InputFileError, ShapeMismatchError
from vvt.io import read_image, read_mask, read_video, video_info
from vvt.io.image import IMAGE_SUFFIXES
from vvt.io.video import VIDEO_SUFFIXES

RESIZE_METHODS = ("area", "bicubic")
#: ``[start, end)`` frame ranges of a video (``Sample.frame_ranges``); empty = every frame
FrameRanges = tuple[tuple[int, int], ...]
PAIR_MODES = ("paired", "unpaired")


def span_frames(num_frames: int, ranges: FrameRanges = ()) -> int:
    """How many frames :func:`select_frames` keeps of a video of ``num_frames`` frames."""
    if not ranges:
        return num_frames
    return sum(max(0, min(end, num_frames) - start) for start, end in ranges)


def select_frames(frames: np.ndarray, ranges: FrameRanges = ()) -> np.ndarray:
    """The frames of ``ranges`` (each ``[start, end)``, ``end`` clipped to the video), in order; all when
    ``ranges`` is empty."""
    if not ranges:
        return frames
    return np.concatenate([frames[start:end] for start, end in ranges])


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
    """One prediction with its ground truth and (optional) mask, checked to agree in length and size.

    An unpaired try-on on real data has no ground truth (``gt`` None): ``reference`` is then the source person
    video, which gives the temporal metrics their motion and joins the real set of FID/KID/VFID. ``ranges``
    are the frames of ``gt``, ``reference`` and ``mask`` that are scored (empty: all); ``info`` describes
    those frames."""

    name: str
    pred: Path
    gt: Path | None
    mask: Path | None
    info: MediaInfo
    reference: Path | None = None
    ranges: FrameRanges = ()


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
    ranges: dict[str, FrameRanges] | None = None,
    unpaired: bool = False,
) -> list[MatchedItem]:
    """Pair name -> path maps of predictions, ground truths and masks (see :func:`match`), in name order.

    ``ranges`` gives an item's scored frames of its ground truth and mask (the prediction holds only those).
    ``unpaired``: ``gts`` are the source person videos of an unpaired try-on on real data, not ground truths:
    each item gets them as ``reference`` and no ``gt``.

    Raises:
        ShapeMismatchError: names only on one side, or frame counts / frame sizes that differ (``what``
            names the two sides in the message).
    """
    truth = "person video" if unpaired else "ground truth"
    problems = []
    only_pred = sorted(set(preds) - set(gts))
    only_gt = sorted(set(gts) - set(preds))
    if only_pred:
        problems.append(f"{len(only_pred)} prediction(s) without {truth}: {_listing(only_pred)}")
    if only_gt:
        problems.append(f"{len(only_gt)} {truth}(s) without prediction: {_listing(only_gt)}")
    if masks is not None:
        no_mask = sorted(set(gts) - set(masks))
        if no_mask:
            problems.append(f"{len(no_mask)} item(s) without a mask in {masks_what}: {_listing(no_mask)}")
    items = []
    for name in sorted(set(preds) & set(gts)):
        p, g = media_info(preds[name]), media_info(gts[name])
        span = (ranges or {}).get(name, ())
        if span:
            kept = span_frames(g.num_frames, span)
            if not kept:
                problems.append(f"{name}: its frames {list(map(list, span))} lie outside the {truth}'s "
                                f"{g.num_frames} frame(s)")
            where = f" (frames {', '.join(f'{a}-{b}' for a, b in span)} of its {g.num_frames})"
            g = replace(g, num_frames=kept)
        else:
            where = ""
        if p.num_frames != g.num_frames:
            problems.append(f"{name}: prediction has {p.num_frames} frame(s), {truth} {g.num_frames}{where}")
        if same_size and (p.height, p.width) != (g.height, g.width):
            problems.append(
                f"{name}: prediction is {p.height}x{p.width} (HxW), {truth} {g.height}x{g.width}"
            )
        mask = (masks or {}).get(name)
        if mask is not None:
            m = media_info(mask)
            m = replace(m, num_frames=span_frames(m.num_frames, span)) if m.is_video else m
            if m.num_frames != g.num_frames:
                problems.append(f"{name}: mask has {m.num_frames} frame(s), {truth} {g.num_frames}")
            if same_size and (m.height, m.width) != (g.height, g.width):
                problems.append(
                    f"{name}: mask is {m.height}x{m.width} (HxW), {truth} {g.height}x{g.width}"
                )
        items.append(MatchedItem(name, preds[name], None if unpaired else gts[name], mask, g,
                                 reference=gts[name] if unpaired else None, ranges=span))
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
    pairs: str = "paired",
) -> list[MatchedItem] | None:
    """Match predictions with the test split of the dataset root ``data``; None when ``data`` is in no layout
    vvt reads (then it is a folder of ground truths for :func:`match`).

    The split is read with :func:`vvt.data.layouts.read_layout` (auto-detected layout, so a skipped sample
    is reported there and ``--strict`` raises). Each sample's prediction is ``PRED/<sample name>`` with a video
    or image suffix or as a frame folder (sample names may hold a ``/``, e.g. ``upper_body/1057795_detail`` in
    CatV2TON's ViViD-S split, the names ``vvt bench quality`` writes); failing that, when no other sample of
    the split shares it, the sample name without its garment part (``upper_body/1057795_detail`` for the
    unpaired ``upper_body/1057795_detail__1222020_in_xl``) or the video's stem alone (``1057795_detail``, the
    flat names CatV2TON's ``eval_video_try_on.py`` writes). Its mask is ``MASKS/<sample name>`` when
    ``masks_dir`` is given, else (``agnostic_masks``) the sample's agnostic mask when every sample has one.
    ``category`` keeps that category's samples only. A sample's ``frame_ranges`` (ViViD-S ``front_seqs``) are
    the frames scored.

    ``pairs="paired"``: the ground truth is the person video or photo (reconstruction). ``"unpaired"``: the
    person wears another garment. When every sample has a rendered ground truth (SynthVVT's
    ``ground_truth/``), that is the ground truth; otherwise (real data, e.g. ViViD-S's
    ``test_data_180_unpaired.jsonl``) there is none, as in CatV2TON's unpaired tables: the full-reference
    metrics are absent, the person videos (their scored frames) form the real set of FID/KID/VFID and give
    the temporal metrics their motion.

    Raises:
        LayoutError: the tree cannot be read, or holds no sample of ``category``.
        InputFileError / ShapeMismatchError: no prediction folder, names or frame counts that do not match.
    """
    from vvt.data.layouts import detect_layout, read_layout
    from vvt.errors import LayoutError, VVTError

    if pairs not in PAIR_MODES:
        raise VVTError(f"unknown pairs mode {pairs!r} (use {' or '.join(PAIR_MODES)})")
    data, pred_dir = Path(data), Path(pred_dir)
    try:
        layout = detect_layout(data)
    except LayoutError:
        return None
    samples = read_layout(data, layout=layout, split="test", pairs=pairs, check=False)
    if category is not None:
        samples = [s for s in samples if s.category == category]
        if not samples:
            raise LayoutError(data, [f"no {category} test samples"])
    if not pred_dir.is_dir():
        raise InputFileError(pred_dir, "prediction folder not found")
    rendered = pairs == "unpaired" and all(s.extra.get("gt_person") is not None for s in samples)
    unpaired = pairs == "unpaired" and not rendered
    truth = {s.name: s.extra["gt_person"] if rendered else s.person for s in samples if s.person is not None}
    names = prediction_names([s for s in samples if s.name in truth])
    preds = {}
    for name in truth:
        path = next((p for n in names[name] if (p := find_media(pred_dir, n)) is not None), None)
        if path is not None:
            preds[name] = path
    if not preds:
        collect(pred_dir, "prediction")  # a folder of nothing evaluable says so
        raise ShapeMismatchError(
            f"no prediction in {pred_dir} is named after a {layout} test sample of {data} (expected e.g. "
            f"{pred_dir / next(iter(truth))}.mp4 or .png)"
        )
    if masks_dir is not None:
        masks = {name: path for name in truth if (path := find_media(Path(masks_dir), name)) is not None}
    elif agnostic_masks and all(s.agnostic_mask is not None for s in samples):
        masks = {s.name: s.agnostic_mask for s in samples}
    else:
        masks = None
    return pair(preds, truth, masks, same_size=same_size,
                what=f"predictions {pred_dir} and the {layout} {pairs} test split of {data}",
                masks_what=str(masks_dir) if masks_dir is not None else f"the agnostic masks of {data}",
                ranges={s.name: s.frame_ranges for s in samples if s.frame_ranges}, unpaired=unpaired)


def prediction_names(samples) -> dict[str, list[str]]:
    """The names a prediction of each sample may have, in the order they are tried: the sample name, then the
    ones no other sample shares: the sample name without its ``__<garment>`` part, and the video's stem."""
    aliases = {}
    for s in samples:
        base = s.name.split("__", 1)[0]
        aliases[s.name] = [a for a in dict.fromkeys((base, Path(base).name)) if a != s.name]
    counts = Counter(a for names in aliases.values() for a in names)
    taken = {s.name for s in samples}
    return {name: [name] + [a for a in alias if counts[a] == 1 and a not in taken] for name, alias in aliases.items()}


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


def _read_video_frames(path: Path, max_frames: int | None, ranges: FrameRanges) -> np.ndarray:
    """The frames of ``ranges`` (:func:`select_frames`), then the first ``max_frames`` of them; the video is
    decoded up to the last frame needed."""
    if not ranges:
        return read_video(path, max_frames=max_frames)[0]
    frames = select_frames(read_video(path, max_frames=max(end for _, end in ranges))[0], ranges)
    return frames[:max_frames] if max_frames is not None else frames


def read_frames(
    path: Path, max_frames: int | None = None, size: tuple[int, int] | None = None, resize: str = "area",
    ranges: FrameRanges = (),
) -> np.ndarray:
    """Frames ``(N, H, W, 3)`` uint8 RGB of a video or image; optionally only the frames of ``ranges``
    (:func:`select_frames`), the first ``max_frames`` (of those), resized to ``size`` = (H, W) with the
    ``resize`` filter."""
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        frames = read_image(path)[None]
    else:
        frames = _read_video_frames(path, max_frames, ranges)
    if size is not None and frames.shape[1:3] != tuple(size):
        frames = resize_frames(frames, size, resize)
    return frames


def read_mask_frames(
    path: Path, max_frames: int | None = None, size: tuple[int, int] | None = None, ranges: FrameRanges = ()
) -> np.ndarray:
    """Mask frames ``(N, H, W)`` bool (grey >= 128 is inside) of a mask video or image (nearest resize), of
    ``ranges`` and ``max_frames`` as :func:`read_frames`."""
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        masks = read_mask(path)[None]
    else:
        masks = _read_video_frames(path, max_frames, ranges).mean(axis=-1) >= 128
    if size is not None and masks.shape[1:3] != tuple(size):
        masks = np.stack(
            [
                cv2.resize(m.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
                for m in masks
            ]
        ).astype(bool)
    return masks
