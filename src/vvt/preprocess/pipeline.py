"""A person video (or photo, or a folder of them) and a garment photo -> the ViViD layout (issue 9, item 1).

For a video ``<vid>`` of category ``C`` the output folder (one category folder, COMMON.md) receives::

    videos/<vid>.mp4  agnostic/<vid>.mp4  agnostic_mask/<vid>.mp4  densepose/<vid>.mp4 (vvt IUV)
    skeleton/<vid>.mp4  keypoints/<vid>.json
    layout.json {"layout": "vivid", "densepose_format": "vvt_iuv", "category": C}  (see write_layout_json)
    cloth/<garment>.jpg  cloth_mask/<garment>.jpg          (with a garment photo)

A photo is written as a 1-frame clip in the same folders (the tensor contract reads images as 1-frame
clips). Every file is written atomically; a video whose outputs all exist is skipped (resumable), and
``videos/<vid>.mp4`` is written last, so its presence marks a finished video.

Stages (:func:`analyse_working`, then :func:`analyse_clip` for a clip in memory or
:func:`write_condition_streams` a frame at a time): mediapipe runs at the working resolution
(:func:`vvt.preprocess.keypoints.working_size`); keypoints are smoothed with the zero-phase One-Euro
filter and person masks over time (:mod:`vvt.preprocess.smoothing`); parsing, agnostic masks and
part maps are made at the working resolution and resized to the frame size (masks bilinearly then
thresholded, part maps nearest).
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from vvt.errors import ConfigError, InputFileError, VVTError
from vvt.io import atomic_path, atomic_write_text, iter_frames, read_image, read_video, write_image, write_video
from vvt.io.image import IMAGE_SUFFIXES
from vvt.io.video import VIDEO_SUFFIXES
from vvt.pose.openpose import Keypoints, render_skeleton_video, save_keypoints
from vvt.preprocess.densepose import render_part_map
from vvt.preprocess.garment import prepare_garment
from vvt.preprocess.keypoints import PoseTrack, to_working, track_video
from vvt.preprocess.masks import agnostic_frame, agnostic_mask, body_scale
from vvt.preprocess.outfit import split_outfit
from vvt.preprocess.parsing import OfflineParser
from vvt.preprocess.smoothing import keypoint_jitter, mask_iou_change, smooth_keypoints, smooth_masks

log = logging.getLogger(__name__)

VIDEO_STREAMS = ("agnostic", "agnostic_mask", "densepose", "skeleton")
CATEGORIES = ("upper", "lower", "dresses")


@dataclass
class Smoothing:
    """Temporal smoothing (:mod:`vvt.preprocess.smoothing`); ``enabled=False`` keeps raw detections."""

    enabled: bool = True
    min_cutoff: float = 1.0
    beta: float = 1.0
    mask_sigma: float = 1.0

    def __post_init__(self) -> None:
        if not (self.min_cutoff > 0 and self.beta >= 0 and self.mask_sigma >= 0):
            raise ConfigError(f"smoothing: need min_cutoff > 0 Hz, beta >= 0 and mask_sigma >= 0 frames, got "
                              f"{self.min_cutoff}, {self.beta}, {self.mask_sigma}")


@dataclass
class ClipResult:
    """Everything made for one clip, at the frame size ``(H, W)``.

    Attributes:
        keypoints: smoothed OpenPose keypoints (pixels of the frames).
        person: ``(N, H, W)`` bool person mask.
        agnostic_mask: ``(N, H, W)`` bool, True = inpaint.
        agnostic: ``(N, H, W, 3)`` uint8 frames with the mask filled grey.
        densepose: ``(N, H, W, 3)`` uint8 vvt IUV.
        skeleton: ``(N, H, W, 3)`` uint8 OpenPose-style skeletons.
        found: ``(N,)`` bool, frames where mediapipe found the person.
        seconds: wall time per stage.
        jitter: with and without smoothing (see :func:`analyse_clip`), when measured.
        raw_keypoints: the unsmoothed keypoints (pixels of the frames), when jitter was measured.
    """

    keypoints: Keypoints
    person: np.ndarray
    agnostic_mask: np.ndarray
    agnostic: np.ndarray
    densepose: np.ndarray
    skeleton: np.ndarray
    found: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)
    jitter: dict[str, float] = field(default_factory=dict)
    raw_keypoints: Keypoints | None = None


def _agnostic_masks(category: str, frames_w: list[np.ndarray], kp_w: Keypoints, person_w: np.ndarray,
                    parser) -> np.ndarray:
    masks = []
    for t, frame in enumerate(frames_w):
        hands = (kp_w.hand_left[t], kp_w.hand_right[t])
        body = kp_w.body[t]
        parsing = parser.parse(frame, body, hands, kp_w.face[t], person_w[t])
        outfit = split_outfit(frame, body, person_w[t], body_scale(body))
        masks.append(agnostic_mask(category, body, person_w[t], parsing, outfit))
    return np.stack(masks)


def _upsize_masks(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    size = (width, height)
    return np.stack([cv2.resize(m.astype(np.uint8) * 255, size, interpolation=cv2.INTER_LINEAR) >= 128
                     for m in masks])


@dataclass
class WorkingAnalysis:
    """What :func:`analyse_working` finds at the working resolution: enough to render any frame of the clip at
    its size ``(H, W)`` one at a time (:meth:`agnostic_mask`, :meth:`densepose`), so a long video needs its
    full-size frames only while they are written.

    Attributes:
        size: ``(H, W)`` of the clip's frames.
        keypoints_w: smoothed keypoints in working pixels.
        person_w: ``(N, h, w)`` bool person masks at the working resolution.
        masks_w: ``(N, h, w)`` bool agnostic masks at the working resolution (True = inpaint).
        parts_w: ``(N, h, w, 3)`` uint8 vvt IUV part maps at the working resolution.
        found: ``(N,)`` bool, frames where mediapipe found the person.
        seconds, jitter, raw_keypoints: as in :class:`ClipResult`.
    """

    size: tuple[int, int]
    keypoints_w: Keypoints
    person_w: np.ndarray
    masks_w: np.ndarray
    parts_w: np.ndarray
    found: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)
    jitter: dict[str, float] = field(default_factory=dict)
    raw_keypoints: Keypoints | None = None

    @property
    def num_frames(self) -> int:
        return len(self.masks_w)

    def agnostic_mask(self, t: int) -> np.ndarray:
        """``(H, W)`` bool agnostic mask of frame ``t`` (bilinear resize of the working mask, thresholded)."""
        return _upsize_masks(self.masks_w[t : t + 1], *self.size)[0]

    def densepose(self, t: int) -> np.ndarray:
        """``(H, W, 3)`` uint8 vvt IUV part map of frame ``t`` (nearest resize)."""
        height, width = self.size
        return cv2.resize(self.parts_w[t], (width, height), interpolation=cv2.INTER_NEAREST)

    def head(self, n: int) -> WorkingAnalysis:
        """The first ``n`` frames (a clip analysed beyond the frames wanted, to find the person)."""
        raw = None if self.raw_keypoints is None else self.raw_keypoints[:n]
        return WorkingAnalysis(self.size, self.keypoints_w[:n], self.person_w[:n], self.masks_w[:n],
                               self.parts_w[:n], self.found[:n], self.seconds, self.jitter, raw)


def analyse_working(frames_w: list[np.ndarray], size: tuple[int, int], fps: float, category: str, parser=None,
                    smoothing: Smoothing | None = None, name: str = "input", static: bool = False,
                    measure_jitter: bool = False) -> WorkingAnalysis:
    """Every preprocessing stage of a clip at the working resolution (:func:`analyse_clip` without the
    rendering at the frame size).

    Args:
        frames_w: ``N`` frames ``(h, w, 3)`` uint8 RGB at :func:`vvt.preprocess.keypoints.working_size` of
            ``size`` (:func:`vvt.preprocess.keypoints.to_working`).
        size: ``(H, W)`` of the clip's frames.
        fps, category, parser, smoothing, name, static, measure_jitter: as in :func:`analyse_clip`.
    """
    if category not in CATEGORIES:
        raise VVTError(f"unknown category {category!r}: use upper, lower or dresses")
    parser = parser or OfflineParser()
    smoothing = smoothing or Smoothing()
    n = len(frames_w)
    smooth = smoothing.enabled and not static and n > 1
    height, width = size
    seconds: dict[str, float] = {}
    tick = time.perf_counter()
    h, w = frames_w[0].shape[:2]
    track: PoseTrack = track_video(frames_w, w, h, name=name, static=static)
    seconds["keypoints"] = time.perf_counter() - tick

    tick = time.perf_counter()
    kp_w = track.keypoints
    if smooth:
        kp_w = smooth_keypoints(track.keypoints, fps, smoothing.min_cutoff, smoothing.beta)
    person_w = smooth_masks(track.person_prob, smoothing.mask_sigma if smooth else 0.0)
    seconds["smoothing"] = time.perf_counter() - tick

    tick = time.perf_counter()
    masks_w = _agnostic_masks(category, frames_w, kp_w, person_w, parser)
    seconds["agnostic_masks"] = time.perf_counter() - tick
    tick = time.perf_counter()
    parts_w = np.stack([render_part_map(kp_w.body[t], person_w[t]) for t in range(n)])
    seconds["densepose"] = time.perf_counter() - tick

    jitter: dict[str, float] = {}
    raw_kp = None
    if measure_jitter:
        raw_kp = track.keypoints.resized(width, height)
        raw_person = smooth_masks(track.person_prob, 0.0)
        raw_masks = _agnostic_masks(category, frames_w, track.keypoints, raw_person, parser)
        scale = width / w
        valid = track.keypoints.body[..., 2] > 0.5
        jitter = {
            "keypoint_px_raw": keypoint_jitter(track.keypoints.body[..., :2] * scale, valid=valid),
            "keypoint_px_smoothed": keypoint_jitter(kp_w.body[..., :2] * scale, valid=valid),
            "person_mask_iou_change_raw": mask_iou_change(raw_person),
            "person_mask_iou_change_smoothed": mask_iou_change(person_w),
            "agnostic_mask_iou_change_raw": mask_iou_change(raw_masks),
            "agnostic_mask_iou_change_smoothed": mask_iou_change(masks_w),
        }
    return WorkingAnalysis((height, width), kp_w, person_w, masks_w, parts_w, track.found, seconds, jitter,
                           raw_kp)


def analyse_clip(frames: np.ndarray, fps: float, category: str, parser=None,
                 smoothing: Smoothing | None = None, name: str = "input", static: bool = False,
                 measure_jitter: bool = False) -> ClipResult:
    """Run every preprocessing stage on a clip held in memory (:func:`analyse_working`, then every frame
    rendered at the frame size).

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB.
        fps: frames per second (the One-Euro filter's rate).
        category: ``"upper"``, ``"lower"`` or ``"dresses"``.
        parser: a :mod:`vvt.preprocess.parsing` backend (default: offline).
        smoothing: temporal smoothing settings (default: on).
        name: the input's name for messages.
        static: the frames are unrelated photos (no tracking, no smoothing).
        measure_jitter: also build the unsmoothed masks and report, in ``ClipResult.jitter``, the mean
            frame-to-frame body keypoint displacement (pixels) and the mean ``1 - IoU`` of consecutive
            person and agnostic masks, raw and smoothed.
    """
    height, width = frames.shape[1:3]
    work = analyse_working([to_working(f) for f in frames], (height, width), fps, category, parser, smoothing,
                           name, static, measure_jitter)
    tick = time.perf_counter()
    kp = work.keypoints_w.resized(width, height)
    person = _upsize_masks(work.person_w, height, width)
    masks = _upsize_masks(work.masks_w, height, width)
    agnostic = np.stack([agnostic_frame(f, m) for f, m in zip(frames, masks)])
    densepose = np.stack([work.densepose(t) for t in range(len(frames))])
    skeleton = render_skeleton_video(kp)
    seconds = {**work.seconds, "render": time.perf_counter() - tick}
    return ClipResult(kp, person, masks, agnostic, densepose, skeleton, work.found, seconds, work.jitter,
                      work.raw_keypoints)


#: the conditions :func:`write_condition_streams` writes, each as ``<name>.mkv``
CONDITION_STREAMS = ("agnostic", "agnostic_mask", "densepose")


def read_working_frames(video: str | Path, max_frames: int | None = None) -> tuple[list[np.ndarray], tuple[int, int]]:
    """The first ``max_frames`` frames of ``video`` (all without it) at the working resolution, decoded one at a
    time (:func:`vvt.preprocess.keypoints.to_working`), and the frames' size ``(H, W)``: what
    :func:`analyse_working` needs, without the video's full-size frames in memory."""
    frames_w, size = [], (0, 0)
    for frame in iter_frames(video):
        if max_frames is not None and len(frames_w) >= max_frames:
            break
        size = frame.shape[:2]
        frames_w.append(to_working(frame))
    return frames_w, size


def write_condition_streams(video: str | Path, folder: str | Path, work: WorkingAnalysis,
                            fps: float) -> dict[str, Path]:
    """Write the agnostic video, its mask and DensePose of the first ``work.num_frames`` frames of ``video`` to
    ``folder/<name>.mkv`` (:data:`CONDITION_STREAMS`), rendering and encoding one frame at a time (the video is
    decoded once more), losslessly so that they read back exactly as :func:`analyse_clip` makes them."""
    folder = Path(folder)
    n = work.num_frames
    paths = {name: folder / f"{name}.mkv" for name in CONDITION_STREAMS}
    frames = itertools.islice(iter_frames(video), n)
    write_video(paths["agnostic"], (agnostic_frame(f, work.agnostic_mask(t)) for t, f in enumerate(frames)), fps,
                lossless=True)
    write_video(paths["agnostic_mask"], (work.agnostic_mask(t).astype(np.uint8) * 255 for t in range(n)), fps,
                lossless=True)
    write_video(paths["densepose"], (work.densepose(t) for t in range(n)), fps, lossless=True)
    return paths


def write_layout_json(root: Path, categories: dict[str, str] | None = None) -> None:
    """Write ``root/layout.json``: the vvt IUV DensePose format and the category of each video ``categories``
    names (``{video stem: category}``), so that :func:`vvt.data.layouts.read_layout` reads this flat folder
    without ``category=``. One category is written as ``"category"``; once the folder's videos differ, as
    ``"categories"`` ``{video: category}`` (the videos already there keep the category recorded for them; a
    video of an output written before categories were recorded gets none, and the reader names it)."""
    path = root / "layout.json"
    doc = {}
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            doc = {}
    new = {**doc, "layout": "vivid", "densepose_format": "vvt_iuv"}
    new.setdefault("generator", "vvt preprocess")
    for vid, category in (categories or {}).items():
        others = sorted(p.stem for p in (root / "videos").glob("*") if p.stem != vid and p.name[0] != ".")
        table = new.get("categories")
        if isinstance(table, dict):
            new["categories"] = {**table, vid: category}
        elif not others or new.get("category") == category:
            new["category"] = category
        else:  # the first video of another category, or an output that recorded none
            known = {v: new["category"] for v in others} if "category" in new else {}
            new.pop("category", None)
            new["categories"] = {**known, vid: category}
    if new != doc:
        atomic_write_text(path, json.dumps(new, indent=2) + "\n")


def outputs_for(root: Path, vid: str) -> dict[str, Path]:
    """Output paths of video ``vid`` under ``root`` (``videos`` last: it marks completion)."""
    paths = {s: root / s / f"{vid}.mp4" for s in VIDEO_STREAMS}
    paths["keypoints"] = root / "keypoints" / f"{vid}.json"
    paths["videos"] = root / "videos" / f"{vid}.mp4"
    return paths


def is_finished(root: Path, vid: str) -> bool:
    return all(p.is_file() for p in outputs_for(root, vid).values())


def _read_clip(path: Path) -> tuple[np.ndarray, float, bool]:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return read_image(path)[None], 1.0, True
    frames, fps = read_video(path)
    return frames, fps, False


def preprocess_clip(path: str | Path, out: str | Path, category: str, parser=None,
                    smoothing: Smoothing | None = None, overwrite: bool = False,
                    measure_jitter: bool = False) -> ClipResult | None:
    """Preprocess one video (or photo) into the ViViD layout under ``out``.

    Returns the :class:`ClipResult`, or None when every output already existed (skipped).
    Raises :class:`vvt.errors.VideoError` / :class:`InputFileError` for unreadable inputs and
    :class:`vvt.preprocess.keypoints.NoPersonError` when no frame shows a person.
    """
    path, out = Path(path), Path(out)
    vid = path.stem
    if not overwrite and is_finished(out, vid):
        log.info("%s: already preprocessed in %s; skipped", path, out)
        return None
    frames, fps, static = _read_clip(path)
    result = analyse_clip(frames, fps, category, parser, smoothing, name=str(path), static=static,
                          measure_jitter=measure_jitter)
    paths = outputs_for(out, vid)
    write_layout_json(out, {vid: category})
    write_video(paths["agnostic"], result.agnostic, fps)
    write_video(paths["agnostic_mask"], result.agnostic_mask, fps)
    write_video(paths["densepose"], result.densepose, fps)
    write_video(paths["skeleton"], result.skeleton, fps)
    save_keypoints(paths["keypoints"], result.keypoints)
    if path.suffix.lower() == ".mp4":
        with atomic_path(paths["videos"]) as tmp:
            shutil.copyfile(path, tmp)
    else:
        write_video(paths["videos"], frames, fps)
    if result.jitter:
        atomic_write_text(out / "jitter" / f"{vid}.json", json.dumps(result.jitter, indent=2) + "\n")
    log.info("%s: %d frame(s) -> %s (%s)", path, len(frames), out,
             ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items()))
    return result


def preprocess_garment(path: str | Path, out: str | Path, height: int = 1024, width: int = 768,
                       overwrite: bool = False) -> bool:
    """Write ``cloth/<stem>.jpg`` and ``cloth_mask/<stem>.jpg``; False when both existed (skipped)."""
    path, out = Path(path), Path(out)
    cloth, mask_path = out / "cloth" / f"{path.stem}.jpg", out / "cloth_mask" / f"{path.stem}.jpg"
    if not overwrite and cloth.is_file() and mask_path.is_file():
        return False
    image, mask = prepare_garment(read_image(path), height, width, name=str(path))
    write_image(mask_path, mask)
    write_image(cloth, image)
    return True


def find_inputs(folder: str | Path, images: bool) -> list[Path]:
    """Videos (or, with ``images``, photos) directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "not a folder")
    suffixes = IMAGE_SUFFIXES if images else VIDEO_SUFFIXES
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not found:
        kind = "image" if images else "video"
        raise InputFileError(folder, f"holds no {kind} files ({', '.join(suffixes)})")
    return found


def preprocess_many(inputs: list[Path], out: str | Path, category: str, parser=None,
                    smoothing: Smoothing | None = None, overwrite: bool = False,
                    measure_jitter: bool = False) -> dict[str, list]:
    """Preprocess several inputs with a progress bar; one failing input does not stop the others.

    Returns ``{"done": [...], "skipped": [...], "failed": [(path, message), ...]}``.
    """
    report: dict[str, list] = {"done": [], "skipped": [], "failed": []}
    for path in tqdm(inputs, desc="preprocess", unit="clip", disable=len(inputs) < 2):
        try:
            result = preprocess_clip(path, out, category, parser, smoothing, overwrite, measure_jitter)
        except VVTError as exc:
            log.error("%s", exc)
            report["failed"].append((str(path), str(exc)))
            continue
        report["skipped" if result is None else "done"].append(str(path))
    return report

