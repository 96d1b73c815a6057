"""A person video (or photo, or a folder of them) and a garment photo -> the ViViD layout (issue 9, item 1).

For a video ``<vid>`` of category ``C`` the output folder (one category folder, COMMON.md) receives::

    videos/<vid>.mp4  agnostic/<vid>.mp4  agnostic_mask/<vid>.mp4  densepose/<vid>.mp4 (vvt IUV)
    skeleton/<vid>.mp4  keypoints/<vid>.json
    layout.json {"layout": "vivid", "densepose_format": "vvt_iuv", "category": C}  (see write_layout_json)
    cloth/<garment>.jpg  cloth_mask/<garment>.jpg          (with a garment photo)

A photo is written as a 1-frame clip in the same folders (the tensor contract reads images as 1-frame
clips). Every file is written atomically; a video whose outputs all exist is skipped (resumable), and
``videos/<vid>.mp4`` is written last, so its presence marks a finished video.

Stages (:func:`analyse_working`, then :func:`analyse_clip` for a clip in memory; for a video file,
:func:`analyse_video` in overlapping windows of :func:`analyse_working` and :func:`write_condition_streams`
a frame at a time, in memory bounded by a window): mediapipe runs at the working resolution
(:func:`vvt.preprocess.keypoints.working_size`); keypoints are smoothed with the zero-phase One-Euro
filter and person masks over time (:mod:`vvt.preprocess.smoothing`); parsing, agnostic masks and
part maps are made at the working resolution and resized to the frame size (masks bilinearly then
thresholded, part maps nearest).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import logging
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from vvt.errors import ConfigError, InputFileError, VVTError
from vvt.io import (
    VideoWriter,
    atomic_path,
    atomic_write_text,
    iter_frames,
    read_image,
    read_video,
    write_image,
    write_video,
)
from vvt.io.image import IMAGE_SUFFIXES
from vvt.io.video import VIDEO_SUFFIXES
from vvt.pose.openpose import Keypoints, render_skeleton_video, save_keypoints
from vvt.preprocess.densepose import render_part_map
from vvt.preprocess.garment import prepare_garment
from vvt.preprocess.keypoints import NoPersonError, PoseTrack, to_working, track_video
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
    its size ``(H, W)`` one at a time (:func:`render_condition_frame`), so a long video needs its full-size
    frames only while they are written.

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
    rendered = [render_condition_frame(f, m, p) for f, m, p in zip(frames, work.masks_w, work.parts_w)]
    agnostic, masks, densepose = (np.stack(stream) for stream in zip(*rendered))
    skeleton = render_skeleton_video(kp)
    seconds = {**work.seconds, "render": time.perf_counter() - tick}
    return ClipResult(kp, person, masks, agnostic, densepose, skeleton, work.found, seconds, work.jitter,
                      work.raw_keypoints)


#: the conditions :func:`write_condition_streams` writes, each as ``<name>.mkv`` (:func:`condition_stream_paths`)
CONDITION_STREAMS = ("agnostic", "agnostic_mask", "densepose")


def condition_stream_paths(folder: str | Path) -> dict[str, Path]:
    """Where :func:`write_condition_streams` puts each of :data:`CONDITION_STREAMS` in ``folder``."""
    return {name: Path(folder) / f"{name}.mkv" for name in CONDITION_STREAMS}


#: frames per analysis window of :func:`analyse_video`, and the frames of context on each side of the frames
#: a window keeps (see :func:`analysis_windows`)
ANALYSIS_WINDOW, ANALYSIS_OVERLAP = 64, 16


def analysis_windows(num_frames: int, window: int = ANALYSIS_WINDOW,
                     overlap: int = ANALYSIS_OVERLAP) -> list[tuple[int, int, int, int]]:
    """The windows :func:`analyse_video` analyses a clip of ``num_frames`` frames in, as ``(start, stop,
    keep_start, keep_stop)``: the frames ``[start, stop)`` are analysed together and ``[keep_start, keep_stop)``
    are kept. Windows of ``window`` frames start every ``window - 2 * overlap`` frames; each keeps its frames
    but the ``overlap`` at either end, except at the clip's ends (the first window keeps from frame 0, the last
    to the end), so the kept ranges tile the clip, each frame once, in order. The last window is whatever is
    left (more than ``2 * overlap`` frames); a clip of at most ``window`` frames is one window."""
    if not (window >= 1 and 0 <= overlap and 2 * overlap < window):
        raise ConfigError(f"analysis windows: need window >= 1 and 0 <= 2 * overlap < window, got {window}, "
                          f"{overlap}")
    out, start, keep = [], 0, 0
    while start + window < num_frames:
        out.append((start, start + window, keep, start + window - overlap))
        keep = start + window - overlap
        start += window - 2 * overlap
    out.append((start, num_frames, keep, num_frames))
    return out


def release_freed_memory() -> None:
    """Hand the memory freed so far back to the system (glibc's ``malloc_trim``; nothing elsewhere).

    Mediapipe's graphs run on their own threads, whose allocations glibc serves from per-thread arenas; what
    they free stays in those arenas, fragmented, and the process's RSS grew with every analysis window
    without it (a 256-frame SynthVVT clip, 7 windows: 441 MiB after the first, 868 after the last; with a
    trim after each window, 231 and 284, peak 559)."""
    global _LIBC
    if not sys.platform.startswith("linux"):
        return
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):  # not glibc
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC = None


def analysed_frames(max_frames: int | None, window: int = ANALYSIS_WINDOW, overlap: int = ANALYSIS_OVERLAP
                    ) -> int | None:
    """How many frames are analysed for a request of the first ``max_frames`` (None: all of them): at least one
    whole window, and ``overlap`` frames of context after the last frame kept.

    Detection must not depend on how many frames are asked for (issue 20 item 6). Mediapipe's pose detector
    finds a person by the face; in the first frames of ViViD's ``upper1`` the head is above the frame, and the
    person is found only by tracking back from a later frame (:func:`vvt.preprocess.keypoints.track_video`).
    Analysing just the 4 frames asked for found wrong poses there; analysing the first window and cutting
    gives a request of at most ``window - overlap`` frames exactly the whole video's analysis of them (the
    windows of :func:`analysis_windows` start at frame 0 either way), for at most one window's work."""
    if max_frames is None:
        return None
    return max(max_frames + overlap, window)


def _frame_name(name: str, start: int, stop: int, whole: bool) -> str:
    return name if whole else f"{name} [frames {start}-{stop - 1}]"


def analyse_video(video: str | Path, fps: float, category: str, max_frames: int | None = None, parser=None,
                  smoothing: Smoothing | None = None, name: str | None = None, window: int = ANALYSIS_WINDOW,
                  overlap: int = ANALYSIS_OVERLAP, stats: dict | None = None
                  ) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
    """Analyse the first ``max_frames`` frames of a video file (all without it) at the working resolution in
    overlapping windows, and yield, frame by frame in order, ``(agnostic mask, part map, found)``: the
    ``(h, w)`` bool agnostic mask and the ``(h, w, 3)`` uint8 vvt IUV part map at the working resolution
    (:func:`render_condition_frame` makes the frame-size conditions from them) and whether mediapipe found
    the person in that frame. Memory is bounded by the window, not by the video.

    The video is decoded once, each frame shrunk to the working resolution as it comes
    (:func:`vvt.preprocess.keypoints.to_working`); only the frames of the current window (and the next
    window's overlap) are held, and after each window the memory its analysis freed is handed back to the
    system (:func:`release_freed_memory`). Each window of :func:`analysis_windows` (``window`` frames, ``overlap``
    frames of context on each side of the frames it keeps) is analysed by :func:`analyse_working` on its
    own: its own forward and backward tracking, its own temporal smoothing. The context makes a window's
    kept frames see the motion around them, so smoothing and tracking are not cut at a kept frame; a clip
    of at most ``window`` frames is one window and gives exactly the whole-clip analysis. Seam effects
    (whole-video against windowed analysis on ViViD's upper1) are measured in
    ``benchmarks/preprocess-windows-upper1.json``.

    A window where nobody is found (:class:`vvt.preprocess.keypoints.NoPersonError`) does not end the video:
    its kept frames are filled, as frames without a person inside a window are, from the nearest frames
    analysed with a person: each from the nearer of the last frame before it and the first frame after it
    (frames of the next window's leading context that fall among them get that window's own analysis), and
    are logged and yielded with ``found`` False. Filling needs no memory (a filled frame's conditions are
    decided when the next window with a person is analysed; nothing of it is held meanwhile), and nothing is
    yielded before a window finds the person. Only when no window finds anybody is
    :class:`~vvt.preprocess.keypoints.NoPersonError` raised, before any frame is yielded.

    Args:
        video: a video file or frame folder.
        fps, category, parser, smoothing: as in :func:`analyse_clip`; a 1-frame clip is analysed as a photo.
        max_frames: yield the first frames only; :func:`analysed_frames` of them are analysed (at least the
            first window), so that they come out as in the whole video's analysis.
        name: the input's name for messages (default: the path); a window's messages name its frames.
        window, overlap: as in :func:`analysis_windows`.
        stats: a dict that receives, as the frames are yielded, ``frames`` (analysed), ``found`` (frames with
            the person found), ``windows``, ``windows_without_person``, ``size`` (the frames' ``(H, W)``) and
            ``seconds`` (per stage, summed over windows).
    """
    analysis_windows(0, window, overlap)  # checks window and overlap
    name = str(video) if name is None else name
    stats = {} if stats is None else stats
    stats.update(frames=0, found=0, windows=0, windows_without_person=0, size=None, seconds={})
    frames = itertools.islice(iter_frames(video), analysed_frames(max_frames, window, overlap))
    yield from itertools.islice(_analyse_windows(frames, fps, category, parser, smoothing, name, window, overlap,
                                                 stats), max_frames)


def _analyse_windows(frames: Iterator[np.ndarray], fps: float, category: str, parser, smoothing: Smoothing | None,
                     name: str, window: int, overlap: int, stats: dict
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
    """The windowed analysis of :func:`analyse_video` over ``frames`` as they are decoded."""
    buf: list[np.ndarray] = []  # working frames from buf_start on
    buf_start = 0
    exhausted = False
    start = keep = 0  # the current window's first frame, and its first kept frame
    emitted = 0  # frames yielded; [emitted, keep) wait to be filled (a window without anybody)
    last: tuple[np.ndarray, np.ndarray] | None = None  # the last yielded frame's conditions
    step = window - 2 * overlap

    def emit(mask_w: np.ndarray, parts_w: np.ndarray, found: bool) -> tuple[np.ndarray, np.ndarray, bool]:
        stats["frames"] += 1
        stats["found"] += int(found)
        return mask_w, parts_w, found

    while True:
        while not exhausted and buf_start + len(buf) <= start + window:  # one frame beyond: is this the last?
            try:
                frame = next(frames)
            except StopIteration:
                exhausted = True
                break
            if stats["size"] is None:
                stats["size"] = frame.shape[:2]
            buf.append(to_working(frame))
        end = buf_start + len(buf)
        final = end <= start + window
        stop = end if final else start + window
        keep_stop = end if final else stop - overlap
        whole = final and start == 0
        chunk = buf[start - buf_start : stop - buf_start]
        window_name = _frame_name(name, start, stop, whole)
        stats["windows"] += 1
        try:
            work = analyse_working(chunk, stats["size"], fps, category, parser=parser, smoothing=smoothing,
                                   name=window_name, static=whole and len(chunk) == 1)
        except NoPersonError:
            if not whole:
                log.warning("%s: no person found; its frames %d-%d are filled from the nearest frames with a "
                            "person", window_name, keep, keep_stop - 1)
            stats["windows_without_person"] += 1
            work = None
        if work is not None:
            for key, value in work.seconds.items():
                stats["seconds"][key] = stats["seconds"].get(key, 0.0) + value
            for t in range(emitted, keep):  # frames of windows without a person, waiting for this one
                if t >= start:
                    yield emit(work.masks_w[t - start], work.parts_w[t - start], bool(work.found[t - start]))
                elif last is not None and t - (emitted - 1) <= start - t:
                    yield emit(*last, False)
                else:
                    yield emit(work.masks_w[0], work.parts_w[0], False)
            for t in range(keep, keep_stop):
                i = t - start
                yield emit(work.masks_w[i], work.parts_w[i], bool(work.found[i]))
            emitted = keep_stop
            last = (work.masks_w[keep_stop - 1 - start], work.parts_w[keep_stop - 1 - start])
        del work, chunk
        release_freed_memory()
        if final:
            break
        keep = keep_stop
        start += step
        del buf[: start - buf_start]
        buf_start = start
    if emitted < end:
        if last is None:
            raise NoPersonError(name, f"no person found in any of its {end} frame(s) (mediapipe Holistic)")
        for _ in range(emitted, end):
            yield emit(*last, False)


def render_condition_frame(frame: np.ndarray, mask_w: np.ndarray, parts_w: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(agnostic, agnostic mask, DensePose)`` of a frame ``(H, W, 3)`` at its size from the working-resolution
    agnostic mask and part map (as :func:`analyse_clip` renders them): the mask resized bilinearly and
    thresholded, the part map nearest."""
    height, width = frame.shape[:2]
    mask = _upsize_masks(mask_w[None], height, width)[0]
    densepose = cv2.resize(parts_w, (width, height), interpolation=cv2.INTER_NEAREST)
    return agnostic_frame(frame, mask), mask, densepose


def write_condition_streams(video: str | Path, folder: str | Path,
                            analysis: WorkingAnalysis | Iterable[tuple[np.ndarray, np.ndarray, bool]],
                            fps: float) -> tuple[dict[str, Path], int]:
    """Write the agnostic video, its mask and DensePose of the first frames of ``video`` that ``analysis``
    covers (a :class:`WorkingAnalysis`, or the frames of :func:`analyse_video` as they come) to
    ``folder/<name>.mkv`` (:data:`CONDITION_STREAMS`), rendering (:func:`render_condition_frame`) and encoding
    one frame at a time as the analysis yields it (the video is decoded once more, alongside), losslessly so
    that they read back exactly as :func:`analyse_clip` makes them. Each file is written atomically
    (:class:`vvt.io.VideoWriter`); an error during the pass (e.g. :class:`~vvt.preprocess.keypoints.NoPersonError`)
    leaves none of them. Returns their paths and the number of frames."""
    paths = condition_stream_paths(folder)
    if isinstance(analysis, WorkingAnalysis):
        analysis = zip(analysis.masks_w, analysis.parts_w, analysis.found)
    count = 0
    with contextlib.ExitStack() as stack:
        writers = {name: stack.enter_context(VideoWriter(path, fps, lossless=True)) for name, path in paths.items()}
        for (mask_w, parts_w, _), frame in zip(analysis, iter_frames(video)):  # the analysis first: it may end
            agnostic, mask, densepose = render_condition_frame(frame, mask_w, parts_w)
            writers["agnostic"].write(agnostic)
            writers["agnostic_mask"].write(mask.astype(np.uint8) * 255)
            writers["densepose"].write(densepose)
            count += 1
    return paths, count


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

