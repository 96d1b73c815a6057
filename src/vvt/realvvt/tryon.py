"""Try a garment on a whole person video with RealVVT: the recipe behind ``vvt tryon --method realvvt``.

:class:`~vvt.realvvt.pipeline.RealVVTPipeline` takes one clip of conditions at its working size. This module
takes a real video of any size and length:

1. **Conditions at the input size** ``(H0, W0)``: made on the fly from the person video
   (:mod:`vvt.preprocess` - mediapipe pose, parsing, agnostic mask and video, DensePose-style part map in
   vvt IUV): from a file by :func:`prepare_video`, which analyses it in overlapping windows at the working
   resolution, keeping one window in memory, and writes the conditions to lossless streams read back a
   window at a time, or from frames in memory by
   :func:`conditions_from_video` (:class:`VideoConditions`); or read from prepared streams
   (:func:`read_conditions`: ViViD's own or ``vvt preprocess``'s; DensePose converted to vvt IUV with
   :func:`vvt.pose.densepose.to_vvt_iuv`).
2. **Working size** ``(H, W)`` (:class:`Letterbox`, multiples of 8; default the training size, RealVVT Sec. 4
   trains at 512x384): an aspect-preserving resize that *fits* the frame inside ``H x W``, centred, then
   padding to ``H x W`` - the agnostic video with its edge pixels (replicated), the mask with 0 (nothing
   to inpaint there), the DensePose with black (its background). Nothing of the frame is cropped away. The
   mask is resized conservatively (a working pixel is masked when any input pixel under it is), so the
   working mask covers the whole input mask. The garment photo is fitted and padded with white, as in
   training (:mod:`vvt.data.datasets`); a user's catalogue photo is first masked and centred
   (:func:`vvt.preprocess.garment.prepare_garment`).
3. **Algorithm 1** (RealVVT Sec. 3.5, :func:`vvt.realvvt.long_video.generate_long_video`): a video longer than
   the clip length ``N`` is generated as keyframes, then overlapping segments; a shorter one is one clip.
4. **Back to the input size**: the padding is cut off, the frames are resized to ``(H0, W0)`` and pasted back
   over the person video (the agnostic video when no person video is given) with the feathered agnostic mask
   at full resolution (:func:`~vvt.realvvt.pipeline.feathered_alpha`): outside the input mask the output *is*
   the input, bit for bit.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vvt.errors import ConfigError, InputFileError, ShapeMismatchError, VVTError, WeightsNotFoundError
from vvt.realvvt.long_video import DEFAULT_GUIDANCE
from vvt.realvvt.streaming import StreamConditions

logger = logging.getLogger(__name__)

#: RealVVT Sec. 4: "we used a model trained at a resolution of 512x384"
PAPER_SIZE = (512, 384)
#: Algorithm 1 defaults: on ViViD's upper1 (48 frames) d_pose = 0.15 with s_max = 16 gives 7 keyframes
DEFAULT_D_POSE = 0.15
DEFAULT_S_MAX = 16
WEIGHTS_HINT = "a folder written by RealVVTPipeline.save_pretrained, or a `vvt train realvvt` run (RUN/final)"
#: the stages of a try-on, in order; each has a progress bar and a timing line (:class:`StageTimer`)
STAGES = ("preprocess", "encode", "sample", "decode", "write")


class StageTimer:
    """Wall-clock seconds spent in each stage of :data:`STAGES` (summed over clips), one progress bar per stage
    while it runs and one log line per stage when it ends.

    ``preprocess`` (conditions, letterbox) and ``write`` are timed around their code with :meth:`stage`;
    ``encode`` (garment and agnostic video through the VAE and CLIP), ``sample`` (the Euler steps) and
    ``decode`` (the VAE decoder) happen inside each pipeline call, so :meth:`watch` times the pipeline's
    encode and decode methods and ``sample`` is the rest of the generation time.
    """

    def __init__(self, progress: bool = True):
        self.seconds: dict[str, float] = {}
        self.progress = progress

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def log(self, name: str) -> None:
        logger.info("stage %-10s %7.2fs", name, self.seconds.get(name, 0.0))

    @contextlib.contextmanager
    def stage(self, name: str, total: int | None = None, unit: str = "frame") -> Iterator[Any]:
        """Time the block as stage ``name``; yields its tqdm bar (``total`` units)."""
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=name, unit=unit, disable=not self.progress, leave=False)
        tick = time.perf_counter()
        try:
            yield bar
        finally:
            bar.close()
            self.add(name, time.perf_counter() - tick)
            self.log(name)

    @contextlib.contextmanager
    def watch(self, pipeline: Any, clips: int) -> Iterator[None]:
        """Time ``encode``/``sample``/``decode`` of the pipeline calls made in the block (``clips`` of them)."""
        from tqdm.auto import tqdm

        model = pipeline.model
        originals = {
            "encode_garment": model.encode_garment,
            "encode_agnostic": model.encode_agnostic,
            "decode_latents": pipeline.decode_latents,
        }
        bars = {
            name: tqdm(total=clips, desc=name, unit="clip", disable=not self.progress, leave=False)
            for name in ("encode", "decode")
        }

        def timed(fn: Any, name: str, tick_bar: bool) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                tick = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.add(name, time.perf_counter() - tick)
                    if tick_bar:
                        bars[name].update()

            return call

        model.encode_garment = timed(originals["encode_garment"], "encode", False)
        model.encode_agnostic = timed(originals["encode_agnostic"], "encode", True)
        pipeline.decode_latents = timed(originals["decode_latents"], "decode", True)
        before = dict(self.seconds)
        tick = time.perf_counter()
        try:
            yield
        finally:
            for name in ("encode_garment", "encode_agnostic"):
                del model.__dict__[name]
            del pipeline.__dict__["decode_latents"]
            for bar in bars.values():
                bar.close()
            # every other stage timed inside the block (encode, decode, the windows' preprocessing, the
            # consumer's writing between frames) is not sampling
            spent = sum(v - before.get(k, 0.0) for k, v in self.seconds.items() if k != "sample")
            self.add("sample", max(0.0, time.perf_counter() - tick - spent))
            for name in ("encode", "sample", "decode"):
                self.log(name)


@dataclass
class VideoConditions:
    """What RealVVT needs of one person video, at the video's own size ``(H0, W0)``.

    Attributes:
        agnostic: ``(F, H0, W0, 3)`` uint8 clothing-agnostic video.
        agnostic_mask: ``(F, H0, W0)`` bool, True = region to inpaint.
        densepose: ``(F, H0, W0, 3)`` uint8 vvt IUV DensePose (black background).
        fps: frames per second of the video.
        person: ``(F, H0, W0, 3)`` uint8 person video whose pixels are kept outside the mask, or None (the
            agnostic video's are kept).
        name: the video's name, for messages.
    """

    agnostic: np.ndarray
    agnostic_mask: np.ndarray
    densepose: np.ndarray
    fps: float
    person: np.ndarray | None = None
    name: str = "video"

    def __post_init__(self) -> None:
        shapes = {"agnostic": self.agnostic.shape, "densepose": self.densepose.shape}
        if self.person is not None:
            shapes["person"] = self.person.shape
        for key, shape in shapes.items():
            if len(shape) != 4 or shape[-1] != 3:
                raise ShapeMismatchError(f"{self.name}: {key} must be (F, H, W, 3) frames, got {shape}")
        shapes["agnostic_mask"] = (*self.agnostic_mask.shape, 3)
        if len(set(shapes.values())) != 1:
            listed = ", ".join(f"{k} {s[0]} frames of {s[1]}x{s[2]}" for k, s in shapes.items())
            raise ShapeMismatchError(f"{self.name}: the streams differ in frame count or size ({listed})")
        if not self.agnostic_mask.any():
            raise InputFileError(self.name, "the agnostic mask is empty in every frame: nothing to try on")

    @property
    def size(self) -> tuple[int, int]:
        """``(H0, W0)``."""
        return self.agnostic.shape[1], self.agnostic.shape[2]

    @property
    def num_frames(self) -> int:
        return len(self.agnostic)

    # the interface of vvt.realvvt.streaming.StreamConditions, which decodes the same from files on demand
    def load(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(agnostic, agnostic_mask, densepose)`` of the frames ``indices``."""
        return self.agnostic[indices], self.agnostic_mask[indices], self.densepose[indices]

    def iter_densepose(self) -> Any:
        """The DensePose frames in order."""
        return iter(self.densepose)

    def iter_paste(self) -> Any:
        """``(base, mask)`` of each frame in order: the person frame (else the agnostic frame), the mask."""
        return zip(self.person if self.person is not None else self.agnostic, self.agnostic_mask)


def conditions_from_video(
    frames: np.ndarray,
    fps: float,
    category: str,
    name: str = "video",
    parser: Any = None,
    max_frames: int | None = None,
) -> VideoConditions:
    """Preprocess a person video ``(F, H, W, 3)`` uint8 on the fly for garment ``category`` (``upper``,
    ``lower`` or ``dresses``): :func:`vvt.preprocess.pipeline.analyse_clip` (keypoints, temporally smoothed
    masks, agnostic video, vvt IUV part map). With ``max_frames``, the conditions of the first ``max_frames``
    frames, from the analysis of :func:`~vvt.preprocess.pipeline.analysed_frames` of them (a person found
    only in later frames is tracked back into them)."""
    import time

    from vvt.preprocess.pipeline import analyse_clip, analysed_frames

    frames = frames[: analysed_frames(max_frames)]
    logger.info("preprocessing %s: %d frame(s) (pose, parsing, agnostic mask, DensePose)", name, len(frames))
    tick = time.perf_counter()
    result = analyse_clip(frames, fps, category, parser=parser, name=name, static=len(frames) == 1)
    logger.info(
        "preprocessed %s in %.1fs; person found in %d/%d frame(s)",
        name,
        time.perf_counter() - tick,
        int(result.found.sum()),
        len(frames),
    )
    keep = slice(max_frames)
    return VideoConditions(result.agnostic[keep], result.agnostic_mask[keep], result.densepose[keep], fps,
                           frames[keep], name)


def prepare_video(
    video: str | Path,
    folder: str | Path,
    category: str,
    max_frames: int | None = None,
    fps: float | None = None,
    window: int | None = None,
    overlap: int | None = None,
) -> StreamConditions:
    """Preprocess the first ``max_frames`` frames of a person video file (all without it) into ``folder`` and
    open the result as streams, in memory bounded by a window, not by the video: the video is decoded at the
    working resolution and analysed in overlapping windows (:func:`vvt.preprocess.pipeline.analyse_video`:
    ``window`` frames, default :data:`~vvt.preprocess.pipeline.ANALYSIS_WINDOW`, with ``overlap`` frames of
    context on each side, default :data:`~vvt.preprocess.pipeline.ANALYSIS_OVERLAP`; a clip of at most
    ``window`` frames is analysed whole), and as each window's frames are ready the video is decoded again
    alongside, each frame's agnostic video, mask and DensePose rendered at the input size and written
    losslessly (:func:`vvt.preprocess.pipeline.write_condition_streams`). The person video itself is the
    paste-back stream. ``fps`` overrides the file's frame rate.

    A window where nobody is found has its frames filled from the nearest frames with a person (see
    :func:`~vvt.preprocess.pipeline.analyse_video`); only a video where no window finds anybody is a
    :class:`~vvt.preprocess.keypoints.NoPersonError`. Mediapipe may miss a person in the first frames of a
    clip and find them only by tracking from later ones (the real ViViD clip: none of its first 8 frames
    alone), so the first ``max_frames`` frames are analysed with frames after them
    (:func:`~vvt.preprocess.pipeline.analysed_frames`: at least the first window); where nobody is found in
    those, twice as many, four times, ... (up to the whole video) are analysed and cut back.
    """
    import itertools
    import time

    from vvt.io import video_info
    from vvt.preprocess.keypoints import NoPersonError
    from vvt.preprocess.pipeline import (
        ANALYSIS_OVERLAP,
        ANALYSIS_WINDOW,
        analyse_video,
        analysed_frames,
        write_condition_streams,
    )

    info = video_info(video)
    fps = fps or info.fps
    window = ANALYSIS_WINDOW if window is None else window
    overlap = ANALYSIS_OVERLAP if overlap is None else overlap
    n = max_frames
    while True:
        logger.info("preprocessing %s: %d frame(s) in windows of %d (pose, parsing, agnostic mask, DensePose)",
                    video, info.num_frames if n is None else min(n, info.num_frames), window)
        tick = time.perf_counter()
        stats: dict = {}
        frames = analyse_video(video, fps, category, n, name=str(video), window=window, overlap=overlap,
                               stats=stats)
        try:
            paths, count = write_condition_streams(video, folder, itertools.islice(frames, max_frames), fps)
        except NoPersonError:
            seen = analysed_frames(n, window, overlap)  # None: the whole video
            if seen is None or seen >= info.num_frames:  # the whole video was seen
                raise
            logger.warning(
                "%s: no person found in the first %d frame(s); tracking through the first %d", video, seen, 2 * seen
            )
            n = 2 * seen
            continue
        finally:
            frames.close()
        break
    logger.info("preprocessed %s in %.1fs (%d window(s)); person found in %d/%d frame(s)", video,
                time.perf_counter() - tick, stats["windows"], stats["found"], count)
    return read_conditions(paths["agnostic"], paths["agnostic_mask"], paths["densepose"], "vvt_iuv",
                           person=video, max_frames=count)


def read_conditions(
    agnostic: str | Path,
    agnostic_mask: str | Path,
    densepose: str | Path,
    densepose_format: str,
    person: str | Path | None = None,
    max_frames: int | None = None,
) -> StreamConditions:
    """Open prepared streams (videos or frame folders, e.g. ViViD's ``agnostic/ agnostic_mask/ densepose/``).

    Nothing but the mask (one pass, to refuse an empty one) is decoded here: the
    :class:`~vvt.realvvt.streaming.StreamConditions` returned decodes the frames a window at a time while
    :func:`iter_try_on_video` runs, so a long video never sits in memory. ``densepose_format`` is
    ``"vvt_iuv"`` or ``"detectron2_parts"`` (:mod:`vvt.pose.densepose`); the mask is True where its grey level
    is >= 128. Frame counts and sizes are compared before any frame is decoded.
    ``max_frames`` keeps the first frames only (the streams must agree in those; e.g. the whole person video
    beside streams made from its first frames).
    """
    from vvt.io import video_info
    from vvt.pose.densepose import DENSEPOSE_FORMATS

    if densepose_format not in DENSEPOSE_FORMATS:
        raise ConfigError(
            f"unknown DensePose format {densepose_format!r} (known: {', '.join(DENSEPOSE_FORMATS)})"
        )
    paths = {"agnostic": agnostic, "agnostic_mask": agnostic_mask, "densepose": densepose}
    if person is not None:
        paths["person"] = person
    paths = {k: Path(v) for k, v in paths.items()}
    infos = {k: video_info(p) for k, p in paths.items()}
    used = {k: i.num_frames if max_frames is None else min(max_frames, i.num_frames) for k, i in infos.items()}
    if len({(used[k], i.height, i.width) for k, i in infos.items()}) != 1:
        listed = ", ".join(f"{i.path} {i.num_frames} frames of {i.height}x{i.width}" for i in infos.values())
        raise ShapeMismatchError(f"the input streams differ in frame count or size: {listed}")
    info = infos["agnostic"]
    num_frames = used["agnostic"]
    return StreamConditions(paths, densepose_format, num_frames, (info.height, info.width), info.fps)


def find_sample(root: str | Path, name: str | None) -> Any:
    """The video :class:`~vvt.data.sample.Sample` of the dataset folder ``root`` (any layout
    :func:`vvt.data.layouts.read_layout` reads, e.g. ViViD or ``vvt preprocess`` output; test split, paired)
    called ``name``: its full name (``upper_body/upper1``), its last part or its video's stem. ``name`` may be
    None when the folder holds one video."""
    from vvt.data.layouts import read_layout

    root = Path(root)
    samples = [s for s in read_layout(root, check=False) if s.is_video]
    if name is not None:
        samples = [s for s in samples if name in (s.name, s.name.rsplit("/", 1)[-1], s.person.stem)]
    if not samples:
        raise InputFileError(root, f"no video named {name!r} (see videos/)")
    if len(samples) > 1:
        listed = ", ".join(s.name for s in samples[:10]) + (", ..." if len(samples) > 10 else "")
        raise InputFileError(root, f"{len(samples)} videos match; pick one with --sample ({listed})")
    sample = samples[0]
    lacking = [k for k in ("agnostic", "agnostic_mask", "densepose") if getattr(sample, k) is None]
    if lacking:
        raise InputFileError(root, f"{sample.name} has no {', '.join(lacking)} stream (run vvt preprocess)")
    return sample


def conditions_from_sample(
    sample: Any, densepose_format: str | None = None, max_frames: int | None = None
) -> StreamConditions:
    """:func:`read_conditions` of a dataset :class:`~vvt.data.sample.Sample` (DensePose format: the
    sample's, from its ``layout.json``, unless ``densepose_format`` is given)."""
    return read_conditions(
        sample.agnostic,
        sample.agnostic_mask,
        sample.densepose,
        densepose_format or sample.densepose_format,
        sample.person,
        max_frames,
    )


def densepose_format_of(densepose: str | Path) -> str:
    """The DensePose format of a stream ``ROOT/densepose/<vid>.mp4`` (or ``ROOT/<category>/densepose/...``):
    ``densepose_format`` of ``ROOT/layout.json``, else ViViD's ``"detectron2_parts"`` (the data contract)."""
    import json

    densepose = Path(densepose).resolve()
    for root in densepose.parents[1:3]:
        meta = root / "layout.json"
        if meta.is_file():
            try:
                return str(json.loads(meta.read_text()).get("densepose_format", "detectron2_parts"))
            except (ValueError, AttributeError):
                raise InputFileError(meta, "not a JSON object") from None
    return "detectron2_parts"


def fit_garment(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit a garment photo ``(h, w, 3)`` uint8 inside ``size = (H, W)`` (aspect kept, centred) on white, as
    the training data does (:mod:`vvt.data.datasets`); ``(H, W, 3)`` uint8."""
    box = Letterbox.fit(image.shape[:2], size)
    shrink = box.scaled[0] < image.shape[0] or box.scaled[1] < image.shape[1]
    resized = box._resize(image, box.scaled, cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return box._pad(resized, cv2.BORDER_CONSTANT, fill=(255, 255, 255))


@dataclass(frozen=True)
class Letterbox:
    """The input size ``src = (H0, W0)`` fitted, aspect kept, into the working size ``dst = (H, W)``: scaled
    to ``scaled = (h, w)`` and placed at ``(top, left)``, the rest padded (see the module docstring)."""

    src: tuple[int, int]
    dst: tuple[int, int]
    scaled: tuple[int, int]
    top: int
    left: int

    @classmethod
    def fit(cls, src: tuple[int, int], dst: tuple[int, int]) -> Letterbox:
        scale = min(dst[0] / src[0], dst[1] / src[1])
        scaled = (min(dst[0], max(1, round(src[0] * scale))), min(dst[1], max(1, round(src[1] * scale))))
        return cls(tuple(src), tuple(dst), scaled, (dst[0] - scaled[0]) // 2, (dst[1] - scaled[1]) // 2)

    def _pad(self, frame: np.ndarray, mode: int, fill: tuple[int, ...] = (0, 0, 0)) -> np.ndarray:
        bottom = self.dst[0] - self.scaled[0] - self.top
        right = self.dst[1] - self.scaled[1] - self.left
        return cv2.copyMakeBorder(frame, self.top, bottom, self.left, right, mode, value=fill)

    def _resize(
        self, frame: np.ndarray, size: tuple[int, int], interpolation: int | None = None
    ) -> np.ndarray:
        if frame.shape[:2] == size:
            return frame
        if interpolation is None:
            shrink = size[0] < frame.shape[0]
            interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        return cv2.resize(frame, (size[1], size[0]), interpolation=interpolation)

    def images_to_working(self, frames: np.ndarray) -> np.ndarray:
        """``(F, H0, W0, 3)`` uint8 -> ``(F, H, W, 3)``: resized (area / bilinear), edge pixels replicated."""
        return np.stack([self._pad(self._resize(f, self.scaled), cv2.BORDER_REPLICATE) for f in frames])

    def labels_to_working(self, frames: np.ndarray) -> np.ndarray:
        """DensePose ``(F, H0, W0, 3)`` uint8 -> ``(F, H, W, 3)``: nearest neighbour, padded black."""
        return np.stack(
            [self._pad(self._resize(f, self.scaled, cv2.INTER_NEAREST), cv2.BORDER_CONSTANT) for f in frames]
        )

    def mask_to_working(self, masks: np.ndarray) -> np.ndarray:
        """``(F, H0, W0)`` bool -> ``(F, H, W)`` bool: a working pixel is True when any input pixel it covers
        is (area resize, threshold > 0), so the working mask covers the input mask; padded False."""
        out = []
        for m in masks:
            area = self._resize(m.astype(np.uint8) * 255, self.scaled, cv2.INTER_AREA)
            out.append(self._pad(area, cv2.BORDER_CONSTANT) > 0)
        return np.stack(out)

    def to_input(self, frames: np.ndarray) -> np.ndarray:
        """``(F, H, W, 3)`` uint8 working frames -> ``(F, H0, W0, 3)`` uint8: padding cut off, resized
        back."""
        y, x = self.top, self.left
        return np.stack(
            [self._resize(f[y : y + self.scaled[0], x : x + self.scaled[1]], self.src) for f in frames]
        )


def paste_back(generated: np.ndarray, base: np.ndarray, mask: np.ndarray, feather_radius: int) -> np.ndarray:
    """Blend the generated frames into ``base`` inside ``mask`` (all at the input size):
    ``alpha * generated + (1 - alpha) * base`` with the pipeline's feathered mask
    ``alpha = mask * blur(mask)`` (:func:`~vvt.realvvt.pipeline.feathered_alpha`: Gaussian of ``2 r + 1``
    taps, sigma ``r / 2``, computed here with OpenCV, which is fast for the large radii of full-resolution
    frames). ``alpha`` is 0 exactly
    outside the mask, so the output equals ``base`` there.

    Args:
        generated, base: ``(F, H, W, 3)`` uint8.
        mask: ``(F, H, W)`` bool, True = generated.
        feather_radius: ``r`` in pixels (0: a hard mask).

    Returns:
        ``(F, H, W, 3)`` uint8.
    """
    out = np.empty_like(base)
    for i, m in enumerate(mask):
        alpha = m.astype(np.float32)
        if feather_radius > 0:
            size = 2 * feather_radius + 1
            alpha = alpha * cv2.GaussianBlur(
                alpha, (size, size), feather_radius / 2, borderType=cv2.BORDER_REFLECT_101
            )
        alpha = alpha[..., None]
        blend = alpha * generated[i].astype(np.float32) + (1 - alpha) * base[i].astype(np.float32)
        out[i] = np.clip(np.round(blend), 0, 255).astype(np.uint8)
    return out


def iter_try_on_video(
    pipeline: Any,
    conditions: VideoConditions | StreamConditions,
    garment: np.ndarray,
    size: tuple[int, int],
    clip_len: int,
    d_pose: float = DEFAULT_D_POSE,
    s_max: int = DEFAULT_S_MAX,
    overlap: int | None = None,
    num_inference_steps: int = 25,
    min_guidance_scale: float = 1.0,
    max_guidance_scale: float = 3.0,
    seed: int = 0,
    feather_radius: int = 4,
    progress: bool = True,
    guidance: str = DEFAULT_GUIDANCE,
    strategy: str = "algorithm1",
    timer: StageTimer | None = None,
) -> Iterator[np.ndarray]:
    """Try ``garment`` on the person of ``conditions``, yielding the ``(H0, W0, 3)`` uint8 frames at the input
    size in order, each as soon as it is final (bounded memory, :func:`vvt.realvvt.long_video.iter_long_video`).

    Argument errors are raised at the call, before the first frame is asked for.

    Args:
        pipeline: a :class:`~vvt.realvvt.pipeline.RealVVTPipeline` (:func:`load_pipeline`).
        conditions: the video's conditions at its size (:func:`conditions_from_video`, in memory;
            :func:`read_conditions`, decoded from files a window at a time).
        garment: ``(h, w, 3)`` uint8 garment photo, fitted on white into the working size
            (:func:`fit_garment`; pass a user's catalogue photo through
            :func:`vvt.preprocess.garment.prepare_garment` first, to cut it out and centre it).
        size: working size ``(H, W)``, multiples of 8 (see :class:`Letterbox`).
        clip_len: ``N``, frames per pipeline call; longer videos run Algorithm 1.
        d_pose, s_max: keyframe selection of Algorithm 1 (RMS DensePose distance threshold in [0, 1] and the
            largest keyframe stride; :func:`vvt.realvvt.long_video.select_keyframes`).
        overlap: frames shared by consecutive segments, ``0 <= overlap < clip_len`` (default
            ``clip_len // 4``).
        num_inference_steps, min_guidance_scale, max_guidance_scale: the pipeline's sampling settings.
        seed: the run's seed; each clip gets its own (:func:`vvt.realvvt.long_video.call_seed`).
        feather_radius: paste-back feather in *working* pixels; scaled to the input size for the final blend.
        progress: tqdm bars over the clips.
        guidance: the per-frame guidance ramp over the clip, over the whole video, or constant
            (:data:`vvt.realvvt.long_video.GUIDANCE_MODES`; default
            :data:`~vvt.realvvt.long_video.DEFAULT_GUIDANCE`, what measured best).
        strategy: how a long video is cut into clips (:data:`vvt.realvvt.long_video.STRATEGIES`): Algorithm 1
            by default; the others are the baselines of ``vvt bench longvideo``.
        timer: collects the time of each stage (:class:`StageTimer`; a new one when None): ``preprocess``
            (the keyframe pass over DensePose, then each window's decoding and letterbox to the working size),
            ``encode``, ``sample``, ``decode`` (with the paste-back at the input size), and ``write``: the time
            the consumer of the frames spends between two of them (encoding the output as it comes).
    """
    from vvt.realvvt.long_video import clip_generator_from_pipeline, long_video_plan

    check_size(size)
    if garment.ndim != 3 or garment.shape[-1] != 3 or garment.dtype != np.uint8:
        raise ShapeMismatchError(
            f"garment must be an (h, w, 3) uint8 image, got {garment.dtype} {garment.shape}"
        )
    if overlap is None:
        overlap = clip_len // 4
    generate_clip = clip_generator_from_pipeline(
        pipeline,
        seed=seed,
        guidance=guidance,
        min_guidance_scale=min_guidance_scale,
        max_guidance_scale=max_guidance_scale,
        num_inference_steps=num_inference_steps,
        feather_radius=feather_radius,
    )
    box = Letterbox.fit(conditions.size, size)
    timer = timer if timer is not None else StageTimer(progress)
    # the one cheap pass: DensePose at the working size, frame by frame (only for Algorithm 1's keyframes)
    with timer.stage("preprocess", total=conditions.num_frames, unit="frame") as bar:

        def working_pose() -> Iterator[np.ndarray]:
            for frame in conditions.iter_densepose():
                bar.update()
                yield box.labels_to_working(frame[None])[0]

        plan = long_video_plan(working_pose(), conditions.num_frames, clip_len, d_pose, s_max, overlap, strategy)
    return _try_on_frames(pipeline, conditions, garment, size, box, plan, generate_clip, feather_radius,
                          progress, strategy, timer)


def _try_on_frames(
    pipeline: Any, conditions: Any, garment: np.ndarray, size: tuple[int, int], box: Letterbox, plan: Any,
    generate_clip: Any, feather_radius: int, progress: bool, strategy: str, timer: StageTimer,
) -> Iterator[np.ndarray]:
    from vvt.realvvt.long_video import iter_long_video

    logger.info(
        "%s: %d frame(s) of %dx%d at working size %dx%d (scaled to %dx%d, padded); %d clip(s) of <= %d frames",
        conditions.name, conditions.num_frames, *conditions.size, *size, *box.scaled, len(plan.calls),
        max(len(c) for c in plan.calls),
    )
    pipeline.set_progress_bar_config(disable=not progress, leave=False, desc="sample")

    def load(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tick = time.perf_counter()
        agnostic, mask, densepose = conditions.load(indices)
        out = box.images_to_working(agnostic), box.mask_to_working(mask), box.labels_to_working(densepose)
        timer.add("preprocess", time.perf_counter() - tick)
        return out

    radius = round(feather_radius * conditions.size[0] / box.scaled[0])
    with timer.watch(pipeline, len(plan.calls)):
        frames = iter_long_video(
            generate_clip, load, fit_garment(garment, size), plan, conditions.num_frames,
            fixed_latents=strategy == "algorithm1-latent", progress=progress,
        )
        for frame, (base, mask) in zip(frames, conditions.iter_paste(), strict=True):
            tick = time.perf_counter()
            out = paste_back(box.to_input(frame[None]), base[None], mask[None], radius)[0]
            timer.add("decode", time.perf_counter() - tick)
            tick = time.perf_counter()
            yield out
            timer.add("write", time.perf_counter() - tick)  # the consumer's time, not the model's
    timer.log("write")


def check_size(size: tuple[int, int]) -> None:
    """Raise :class:`~vvt.errors.ConfigError` unless ``size = (H, W)`` are positive multiples of 8."""
    if len(size) != 2 or min(size) < 8 or size[0] % 8 or size[1] % 8:
        raise ConfigError(
            f"working size {'x'.join(map(str, size))}: height and width must be positive multiples of 8 "
            "(the VAE downsamples by 8), e.g. 512x384"
        )


def parse_size(text: str) -> tuple[int, int]:
    """``"HxW"`` (e.g. ``"512x384"``) -> ``(H, W)``, checked by :func:`check_size`."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text!r}: expected HEIGHTxWIDTH, e.g. 512x384") from None
    check_size((h, w))
    return h, w


def pipeline_folder(path: str | Path) -> Path:
    """The RealVVT pipeline folder at ``path``: the folder itself (``model_index.json`` naming
    ``RealVVTPipeline``) or, for a ``vvt train realvvt`` run, its ``final/`` export (the EMA weights)."""
    import json

    path = Path(path)
    if not path.is_dir():
        raise WeightsNotFoundError("--weights", path, WEIGHTS_HINT)
    for folder in (path, path / "final"):
        index = folder / "model_index.json"
        if index.is_file():
            try:
                name = json.loads(index.read_text()).get("_class_name")
            except (ValueError, AttributeError):
                name = None
            if name != "RealVVTPipeline":
                raise WeightsNotFoundError(
                    "--weights", path, f"{index} describes {name!r}, not a RealVVTPipeline; {WEIGHTS_HINT}"
                )
            return folder
    raise WeightsNotFoundError("--weights", path, f"no model_index.json there: {WEIGHTS_HINT}")


def load_pipeline(path: str | Path, device: str = "cpu", dtype: str = "auto") -> Any:
    """Load a :class:`~vvt.realvvt.pipeline.RealVVTPipeline` from :func:`pipeline_folder` onto ``device``.

    ``dtype``: ``"auto"`` (float16 on CUDA, else float32), ``"float32"``, ``"float16"`` or ``"bfloat16"``.
    """
    import torch

    from vvt.realvvt.pipeline import RealVVTPipeline

    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype == "auto":
        dtype = "float16" if str(device).startswith("cuda") else "float32"
    if dtype not in dtypes:
        raise ConfigError(f"unknown dtype {dtype!r} (use auto, {', '.join(dtypes)})")
    folder = pipeline_folder(path)
    logger.info("loading RealVVT weights from %s (%s on %s)", folder, dtype, device)
    try:
        pipeline = RealVVTPipeline.from_pretrained(folder, dtype=dtypes[dtype])
        return pipeline.to(device)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WeightsNotFoundError("--weights", folder, f"loading failed: {_one_line(exc)}") from None
    except RuntimeError as exc:  # torch: unknown device, CUDA unavailable, out of memory
        raise VVTError(f"--weights {folder}: cannot load the pipeline onto {device!r}: {_one_line(exc)}") from None


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def training_defaults(path: str | Path, pipeline: Any) -> tuple[tuple[int, int], int]:
    """Default working size ``(H, W)`` and clip length of a model: the settings saved with the pipeline
    (``pipeline.trained_size``, ``pipeline.config.num_frames``); for a folder that does not hold them, the
    training run's ``data.size`` and ``data.frames`` when ``path`` is a ``vvt train realvvt`` run or its
    ``final/`` (``config.yaml`` beside it); else RealVVT's 512x384 (Sec. 4) and the U-Net's configured
    ``num_frames`` (25 for SVD-XT)."""
    from vvt.config import read_yaml

    size, frames = pipeline.trained_size, pipeline.config.get("num_frames")
    if size is not None and frames:
        return size, int(frames)
    size, frames = size or PAPER_SIZE, int(frames or pipeline.unet.config.num_frames)
    path = Path(path)
    for run in (path, path.parent):
        config = run / "config.yaml"
        if config.is_file() and (run / "final" / "model_index.json").is_file():
            data = read_yaml(config).get("data") or {}
            if data.get("size"):
                size = (int(data["size"][0]), int(data["size"][1]))
            if data.get("frames"):
                frames = int(data["frames"])
            logger.info("training run %s: size %dx%d, %d-frame clips", run, *size, frames)
            break
    return size, frames
