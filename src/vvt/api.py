"""The Python API of try-on, mirroring ``vvt tryon``: :func:`tryon` for one video, :func:`tryon_batch` for a
catalogue (:mod:`vvt.batch`).

``vvt.tryon(video, garment)`` runs RealVVT with the model shipped in the package (``tiny-synth``,
:mod:`vvt.models`) unless ``weights`` names a folder in ``RealVVTPipeline.save_pretrained`` layout (or a
``vvt train realvvt`` run). Every option is checked before the model loads; the pipeline of a
``(weights, device, dtype)`` is loaded once and kept for the next call (:func:`load_model`).

The stages (:data:`vvt.realvvt.tryon.STAGES`): *preprocess* (the person video to its agnostic video, mask and
DensePose with :mod:`vvt.preprocess`, or prepared streams; then the letterbox to the working size), *encode*,
*sample*, *decode* (:func:`vvt.realvvt.tryon.iter_try_on_video`), and *write* (:func:`write_result`, or as the
frames come with :func:`tryon_to_file`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vvt.errors import InputFileError, OptionError
from vvt.realvvt.long_video import DEFAULT_GUIDANCE, GUIDANCE_MODES

logger = logging.getLogger(__name__)

#: garment categories (the region of the person that is replaced)
CATEGORIES = ("upper", "lower", "dresses")
#: output suffixes of a try-on video
VIDEO_SUFFIXES = (".mp4", ".gif", ".mov", ".mkv")
#: a garment photo whose grey levels span less than this is refused as blank
BLANK_RANGE = 8

_PIPELINES: dict[tuple[str, str, str], Any] = {}


@dataclass
class TryOnResult:
    """What :func:`tryon` returns.

    Attributes:
        frames: ``(F, H0, W0, 3)`` uint8 try-on video at the input's size.
        fps: its frame rate.
        agnostic_mask: ``(F, H0, W0)`` bool, the region that was generated (outside it the frames are the
            input's pixels).
        agnostic, densepose: ``(F, H0, W0, 3)`` uint8, the other conditions used.
        garment: ``(h, w, 3)`` uint8, the garment photo as the model saw it (cut out and centred).
        timings: seconds per stage (:data:`vvt.realvvt.tryon.STAGES`; ``write`` once written).
        weights: the model folder used.
        settings: the sampling settings used (size, clip length, steps, guidance, seed, ...).
    """

    frames: np.ndarray
    fps: float
    agnostic_mask: np.ndarray
    agnostic: np.ndarray
    densepose: np.ndarray
    garment: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    weights: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def write(self, out: str | Path, fps: float | None = None) -> Path:
        """Write the video to ``out`` (.mp4, .gif, .mov, .mkv or a frame folder) atomically; adds the ``write``
        timing."""
        return write_result(self, out, fps)


def weights_folder(weights: str | Path | None) -> Path:
    """The model folder for ``weights``: the bundled model when None (saying so in one log line), else the
    RealVVT folder at ``weights`` (:func:`vvt.realvvt.tryon.pipeline_folder`)."""
    from vvt.models import BUNDLED_MODELS, DEFAULT_MODEL, bundled_model
    from vvt.realvvt.tryon import pipeline_folder

    if weights is None:
        folder = bundled_model(DEFAULT_MODEL)
        logger.info(
            "no --weights given: using the bundled model %s (%s; a demonstration, not for real people)",
            DEFAULT_MODEL,
            BUNDLED_MODELS[DEFAULT_MODEL],
        )
        return folder
    return pipeline_folder(weights)


def load_model(weights: str | Path | None = None, device: str = "auto", dtype: str = "auto") -> Any:
    """The :class:`~vvt.realvvt.pipeline.RealVVTPipeline` of ``weights`` (None: the bundled model) on
    ``device`` (``auto``: CUDA when available); loaded once per ``(folder, device, dtype)``."""
    from vvt.checks import resolve_device
    from vvt.realvvt.tryon import load_pipeline

    folder = weights_folder(weights)
    device = resolve_device(device)
    key = (str(folder.resolve()), device, dtype)
    if key not in _PIPELINES:
        _PIPELINES.clear()  # one model in memory at a time
        _PIPELINES[key] = load_pipeline(folder, device, dtype)
    return _PIPELINES[key]


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise OptionError(f"--category {category!r}: use one of {', '.join(CATEGORIES)}")
    return category


def check_sampling(**options: Any) -> None:
    """Numeric try-on options in range (None passes), as :func:`vvt.checks.check_numbers` with the CLI's
    names; ``overlap`` must also be below ``clip_len``; ``guidance_mode`` one of
    :data:`vvt.realvvt.long_video.GUIDANCE_MODES`."""
    from vvt.checks import Bound, check_numbers

    bounds = {
        "fps": Bound(gt=0, le=1000),
        "max_frames": Bound(ge=1),
        "steps": Bound(ge=1, le=1000),
        "clip_len": Bound(ge=1),
        "d_pose": Bound(ge=0, le=1),
        "s_max": Bound(ge=1),
        "overlap": Bound(ge=0),
        "guidance_min": Bound(ge=0),
        "guidance_max": Bound(ge=0),
        "seed": Bound(ge=0, lt=2**63),
    }
    options = dict(options)
    mode = options.pop("guidance_mode", None)
    if mode is not None and mode not in GUIDANCE_MODES:
        raise OptionError(f"--guidance-mode {mode!r}: use one of {', '.join(GUIDANCE_MODES)}")
    unknown = sorted(set(options) - set(bounds))
    if unknown:
        known = [*bounds, "guidance_mode"]
        raise OptionError(f"unknown try-on option(s): {', '.join(unknown)} (known: {', '.join(known)})")
    check_numbers({f"--{k.replace('_', '-')}": (v, bounds[k]) for k, v in options.items()})
    overlap, clip_len = options.get("overlap"), options.get("clip_len")
    if overlap is not None and clip_len is not None and overlap >= clip_len:
        raise OptionError(f"--overlap {overlap} must be smaller than --clip-len {clip_len}")


def read_garment(garment: str | Path | np.ndarray, name: str = "garment") -> np.ndarray:
    """A garment photo as ``(h, w, 3)`` uint8: read from a file (Pillow's decompression-bomb limit applies) or
    checked as an array; refused when blank (one flat colour: nothing to try on)."""
    from vvt.io import read_image

    if isinstance(garment, (str, Path)):
        name = str(garment)
        image = read_image(garment)
    else:
        image = np.asarray(garment)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise InputFileError(name, f"a garment image must be (h, w, 3) uint8, got {image.dtype} {image.shape}")
    if min(image.shape[:2]) < 8:
        raise InputFileError(name, f"garment photo of {image.shape[1]}x{image.shape[0]} pixels is too small")
    grey = image.astype(np.int16).mean(axis=-1)
    if grey.max() - grey.min() < BLANK_RANGE:
        raise InputFileError(name, "the garment photo is blank (one flat colour): nothing to try on")
    return image


def video_conditions(
    video: Any,
    category: str,
    fps: float | None = None,
    max_frames: int | None = None,
    cache: Any = None,
    scratch: str | Path | None = None,
) -> Any:
    """The conditions of ``video``: itself when it already is :class:`~vvt.realvvt.tryon.VideoConditions` or
    :class:`~vvt.realvvt.streaming.StreamConditions` (prepared streams); a person video file preprocessed into
    streams (:func:`vvt.realvvt.tryon.prepare_video`) in ``cache`` (:class:`vvt.batch.PreprocessCache`) when
    given, else in the folder ``scratch``; ``(F, H, W, 3)`` uint8 frames (then give ``fps``) preprocessed in
    memory."""
    from vvt.realvvt.streaming import StreamConditions
    from vvt.realvvt.tryon import VideoConditions, conditions_from_video, prepare_video

    if isinstance(video, (VideoConditions, StreamConditions)):
        return video
    if isinstance(video, (str, Path)):
        if cache is not None:
            return cache.conditions(Path(video), category, max_frames, fps)
        if scratch is None:
            raise OptionError("video_conditions: a person video file needs a scratch folder for its streams")
        return prepare_video(video, scratch, category, max_frames, fps)
    frames = np.asarray(video)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputFileError("video", f"frames must be (F, H, W, 3) uint8, got {frames.dtype} {frames.shape}")
    if fps is None:
        raise OptionError("fps: give the frame rate of a video passed as frames")
    return conditions_from_video(frames, fps, category, max_frames=max_frames)


@dataclass(frozen=True)
class TryOnOptions:
    """The options of one try-on after its inputs (see :func:`tryon` for each); what :func:`tryon` and
    :func:`tryon_to_file` hand to the run."""

    device: str = "auto"
    dtype: str = "auto"
    fps: float | None = None
    max_frames: int | None = None
    size: tuple[int, int] | None = None
    clip_len: int | None = None
    steps: int | None = None
    guidance_min: float | None = None
    guidance_max: float | None = None
    guidance_mode: str = DEFAULT_GUIDANCE
    seed: int = 0
    d_pose: float | None = None
    s_max: int | None = None
    overlap: int | None = None
    prepare_garment: bool = True
    progress: bool = True
    cache: Any = None

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> TryOnOptions:
        """From keyword options; an unknown name is an :class:`~vvt.errors.OptionError` naming the known ones."""
        known = cls.__dataclass_fields__
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise OptionError(f"unknown try-on option(s): {', '.join(unknown)} (known: {', '.join(known)})")
        return cls(**options)


def tryon(
    video: Any,
    garment: str | Path | np.ndarray,
    category: str = "upper",
    weights: str | Path | None = None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    fps: float | None = None,
    max_frames: int | None = None,
    size: tuple[int, int] | None = None,
    clip_len: int | None = None,
    steps: int | None = None,
    guidance_min: float | None = None,
    guidance_max: float | None = None,
    guidance_mode: str = DEFAULT_GUIDANCE,
    seed: int = 0,
    d_pose: float | None = None,
    s_max: int | None = None,
    overlap: int | None = None,
    prepare_garment: bool = True,
    progress: bool = True,
    cache: Any = None,
) -> TryOnResult:
    """Try ``garment`` on the person of ``video`` with RealVVT (``vvt tryon`` in Python), in memory.

    For a long video, :func:`tryon_to_file` (same arguments and an output path) writes the frames as they are
    generated instead, in bounded host memory.

    Args:
        video: a person video (file or frame folder), ``(F, H, W, 3)`` uint8 frames (then give ``fps``), or
            prepared conditions: :class:`~vvt.realvvt.tryon.VideoConditions` (e.g.
            ``vvt.examples.load_example()``) or streams opened with :func:`vvt.realvvt.tryon.read_conditions`.
        garment: a garment photo (file or ``(h, w, 3)`` uint8).
        category: ``upper``, ``lower`` or ``dresses``: the region replaced.
        weights: a RealVVT folder (``save_pretrained`` layout or a ``vvt train realvvt`` run); None: the
            bundled ``tiny-synth``.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; dtype: ``auto``
            (float16 on CUDA) or a torch dtype name.
        fps: frame rate of the output (None: the video's).
        max_frames: use only the first frames.
        size, clip_len: working size ``(H, W)`` and frames per model call (None: the model's saved settings).
        steps, guidance_min, guidance_max: Euler steps and the garment guidance of the first and last frame
            (None: the model's saved settings).
        guidance_mode: how each frame's guidance scale is set from ``guidance_min`` and ``guidance_max``:
            ``constant`` (their mean on every frame; the default, measured best by ``vvt bench longvideo``),
            ``video`` (a ramp over the whole video) or ``clip`` (SVD's ramp, restarted in every model call).
        seed: the seed of the sampling noise.
        d_pose, s_max, overlap: Algorithm 1 for videos longer than a clip (RealVVT Sec. 3.5).
        prepare_garment: cut the garment out of its background and centre it
            (:func:`vvt.preprocess.garment.prepare_garment`); False uses the photo as it is (fitted on white).
        progress: progress bars per stage.
        cache: a :class:`vvt.batch.PreprocessCache` for the preprocessed video (used by :func:`tryon_batch`).
    """
    options = TryOnOptions(
        device=device, dtype=dtype, fps=fps, max_frames=max_frames, size=size, clip_len=clip_len, steps=steps,
        guidance_min=guidance_min, guidance_max=guidance_max, guidance_mode=guidance_mode, seed=seed,
        d_pose=d_pose, s_max=s_max, overlap=overlap, prepare_garment=prepare_garment, progress=progress,
        cache=cache,
    )
    run = _start(video, garment, category, weights, options)
    try:
        frames = np.stack(list(run.frames))
        conditions = run.conditions
        agnostic, agnostic_mask, densepose = conditions.load(np.arange(conditions.num_frames))
    finally:
        run.close()
    return TryOnResult(
        frames=frames,
        fps=run.fps,
        agnostic_mask=agnostic_mask,
        agnostic=agnostic,
        densepose=densepose,
        garment=run.garment,
        timings=run.timer.seconds,
        weights=run.weights,
        settings=run.settings,
    )


def tryon_to_file(video: Any, garment: str | Path | np.ndarray, out: str | Path, category: str = "upper",
                  weights: str | Path | None = None, **options: Any) -> StreamedTryOn:
    """:func:`tryon` written to ``out`` (.mp4, .gif, .mov, .mkv or a frame folder) frame by frame as the frames
    are generated: host memory holds Algorithm 1's keyframes, one clip and one output frame, whatever the
    video's length. Prepared streams are decoded a window at a time; a person video file is first analysed at
    the working resolution (mediapipe's, at most 640 pixels a side: that per-frame state is what grows with the
    video) and its conditions are written to lossless streams in a scratch folder under the system's
    temporary folder (``TMPDIR``), removed at the end. Frames passed as an array are held whole. ``out`` is
    written through a temporary file renamed at the end, so an interrupted run leaves nothing there.
    ``options``: those of :func:`tryon`."""
    from vvt.io import write_video

    run = _start(video, garment, category, weights, TryOnOptions.of(options))
    try:
        write_video(out, run.frames, fps=run.fps)
    finally:
        run.close()
    run.timer.seconds.setdefault("write", 0.0)
    return StreamedTryOn(Path(out), run.conditions.num_frames, run.fps, run.timer.seconds, run.weights,
                         run.settings)


@dataclass
class StreamedTryOn:
    """What :func:`tryon_to_file` returns: the output path, its frame count and rate, the seconds per stage
    (:data:`vvt.realvvt.tryon.STAGES`), the model folder and the sampling settings used."""

    out: Path
    num_frames: int
    fps: float
    timings: dict[str, float]
    weights: Path
    settings: dict[str, Any]


@dataclass
class _Run:
    frames: Iterable[np.ndarray]
    conditions: Any
    garment: np.ndarray
    fps: float
    timer: Any
    weights: Path
    settings: dict[str, Any]
    close: Callable[[], None]


def _start(
    video: Any, garment: str | Path | np.ndarray, category: str, weights: str | Path | None, options: TryOnOptions
) -> _Run:
    """Check every option, preprocess, load the model and start the try-on: its frames as an iterator."""
    from vvt.realvvt.tryon import StageTimer, check_size

    o = options
    check_category(category)
    check_sampling(
        fps=o.fps, max_frames=o.max_frames, clip_len=o.clip_len, steps=o.steps, guidance_min=o.guidance_min,
        guidance_max=o.guidance_max, guidance_mode=o.guidance_mode, seed=o.seed, d_pose=o.d_pose, s_max=o.s_max,
        overlap=o.overlap,
    )
    if o.size is not None:
        check_size(tuple(o.size))
    garment_image = read_garment(garment)
    folder = weights_folder(weights)  # a missing or wrong folder fails before any preprocessing
    timer = StageTimer(o.progress)
    # a person video file is preprocessed into lossless streams here, removed when the run closes
    scratch = tempfile.TemporaryDirectory(prefix="vvt-tryon-")
    try:
        with timer.stage("preprocess", total=1, unit="video") as bar:
            conditions = video_conditions(video, category, o.fps, o.max_frames, o.cache, scratch.name)
            bar.update()
        return _begin(conditions, garment, garment_image, category, folder, o, timer, scratch.cleanup)
    except BaseException:
        scratch.cleanup()
        raise


def _begin(conditions: Any, garment: Any, garment_image: np.ndarray, category: str, folder: Path,
           o: TryOnOptions, timer: Any, close: Callable[[], None]) -> _Run:
    """Load the model and start the try-on of prepared ``conditions`` (the second half of :func:`_start`)."""
    from vvt.realvvt.tryon import DEFAULT_D_POSE, DEFAULT_S_MAX, iter_try_on_video, training_defaults

    pipeline = load_model(folder, o.device, o.dtype)
    saved = pipeline.config
    default_size, default_clip_len = training_defaults(folder, pipeline)  # the model's saved settings
    size = tuple(o.size) if o.size is not None else default_size
    clip_len = o.clip_len or default_clip_len
    if o.prepare_garment:
        from vvt.preprocess.garment import prepare_garment as cut_out

        name = str(garment) if isinstance(garment, (str, Path)) else "garment"
        garment_image = cut_out(garment_image, *size, name=name)[0]
    settings = {
        "size": list(size),
        "clip_len": clip_len,
        "steps": o.steps or saved.num_inference_steps,
        "guidance_min": saved.min_guidance_scale if o.guidance_min is None else o.guidance_min,
        "guidance_max": saved.max_guidance_scale if o.guidance_max is None else o.guidance_max,
        "guidance_mode": o.guidance_mode,
        "seed": o.seed,
        "d_pose": DEFAULT_D_POSE if o.d_pose is None else o.d_pose,
        "s_max": DEFAULT_S_MAX if o.s_max is None else o.s_max,
        "overlap": o.overlap,
        "category": category,
    }
    frames = iter_try_on_video(
        pipeline,
        conditions,
        garment_image,
        size,
        clip_len=clip_len,
        d_pose=settings["d_pose"],
        s_max=settings["s_max"],
        overlap=o.overlap,
        num_inference_steps=settings["steps"],
        min_guidance_scale=settings["guidance_min"],
        max_guidance_scale=settings["guidance_max"],
        guidance=o.guidance_mode,
        seed=o.seed,
        progress=o.progress,
        timer=timer,
    )
    return _Run(frames, conditions, garment_image, float(o.fps or conditions.fps), timer, folder, settings, close)


def write_result(result: TryOnResult, out: str | Path, fps: float | None = None) -> Path:
    """Write ``result.frames`` to ``out`` atomically (stage ``write``, with its bar and timing line)."""
    from vvt.io import write_video
    from vvt.realvvt.tryon import StageTimer

    timer = StageTimer()
    with timer.stage("write", total=len(result.frames)) as bar:
        write_video(out, result.frames, fps=fps or result.fps)
        bar.update(len(result.frames))
    result.timings["write"] = timer.seconds["write"]
    return Path(out)


def comparison_sheet(
    person: np.ndarray,
    garment: np.ndarray,
    result: np.ndarray,
    truth: np.ndarray | None = None,
    rows: int = 4,
) -> np.ndarray:
    """A side-by-side image, one row per frame (``rows`` frames evenly spread): input | garment | result
    [| ground truth], each at the video's size (the garment fitted on white); ``(rows * H, k * W, 3)`` uint8."""
    from vvt.realvvt.tryon import fit_garment

    size = person.shape[1:3]
    garment_tile = fit_garment(garment, size)
    picks = np.unique(np.linspace(0, len(result) - 1, min(rows, len(result))).round().astype(int))
    lines = []
    for i in picks:
        tiles = [person[i], garment_tile, result[i]] + ([truth[i]] if truth is not None else [])
        lines.append(np.concatenate(tiles, axis=1))
    return np.concatenate(lines, axis=0)


def ssim_in_mask(result: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Mean over frames of :func:`vvt.eval.image.masked_ssim` (uint8 frames scaled to [0, 1]) inside ``mask``
    (frames with an empty mask left out), as the bundled model's report computes it."""
    from vvt.eval.image import masked_ssim

    values = masked_ssim(result.astype(np.float64) / 255, truth.astype(np.float64) / 255, mask)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def run_example(
    out: str | Path,
    weights: str | Path | None = None,
    device: str = "auto",
    seed: int = 0,
    steps: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Try the bundled garment on the bundled clip (:mod:`vvt.examples`): write the video to ``out`` and the
    side-by-side image (input | garment | result | ground truth) beside it as ``.png``; returns the paths, the
    SSIM inside the agnostic mask against the ground truth and the timings."""
    from vvt.examples import load_example
    from vvt.io import write_image

    example = load_example()
    tick = time.perf_counter()
    result = tryon(
        example.conditions, example.garment, example.category, weights,
        device=device, seed=seed, steps=steps, progress=progress, prepare_garment=False,
    )
    video = result.write(out)
    sheet = Path(out).with_suffix(".png") if Path(out).suffix else Path(f"{out}.png")
    write_image(sheet, comparison_sheet(example.conditions.person, example.garment, result.frames,
                                        example.ground_truth))
    return {
        "video": video,
        "sheet": sheet,
        "ssim_in_mask": ssim_in_mask(result.frames, example.ground_truth, result.agnostic_mask),
        "timings": result.timings,
        "seconds": time.perf_counter() - tick,
        "weights": result.weights,
    }


def tryon_batch(
    pairs: str | Path | Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    weights: str | Path | None = None,
    **options: Any,
) -> Any:
    """Try every ``(video, garment, category[, out])`` pair on, writing ``out_dir/<out>``; see
    :func:`vvt.batch.run_batch` (``pairs``: a CSV file or rows as mappings). Returns the
    :class:`vvt.batch.BatchSummary`."""
    from vvt.batch import read_pairs, run_batch

    return run_batch(read_pairs(pairs, out_dir), out_dir, weights=weights, **options)
