"""Pose-guided long video try-on: RealVVT Sec. 3.5, Algorithm 1.

A RealVVT model generates clips of ``N`` frames (``clip_len``). A video of ``F > N`` frames is made in
two steps:

1. **Keyframe selection and generation** (Algorithm 1, Step 1). Keyframes are picked on the DensePose
   video by :func:`select_keyframes` (pose distance :func:`pose_distance`, threshold ``d_pose``, maximum
   stride ``s_max``) and generated first, as clips of at most ``N`` keyframes.
2. **Keyframe agnostic replacement** (Algorithm 1, Step 2). The whole video is split into overlapping
   segments of at most ``N`` frames. In each segment, every frame that is already generated (a keyframe,
   or a frame shared with the previous segment) replaces the agnostic frame, and its agnostic mask is
   cleared, so the model is told to keep that frame as it is and only fills in the rest. Segments are
   generated left to right and their new frames concatenated into the ``F`` output frames.

The generated keyframes anchor the garment's appearance across the whole video, and the overlaps carry
the motion from one segment into the next.

Readings chosen where the paper is ambiguous (each is also stated where it is implemented):

- Algorithm 1's printed test ("insert ``i`` if ``||p_i - p_j|| < d_pose`` or ``|i - j| < s_max``") would
  keep nearly every frame and contradicts the text ("frames with distances below a threshold and strides
  under a maximum ``s_max``"). Here ``j`` walks forward from the last keyframe ``i`` and becomes a keyframe
  as soon as its pose distance from ``p_i`` reaches ``d_pose`` or its stride ``j - i`` reaches ``s_max``;
  so every other frame lies within ``d_pose`` of, and fewer than ``s_max`` frames after, its keyframe.
  Frame 0 and the last frame are always keyframes.
- The paper stores the *latents* of the generated keyframes and puts them into the latent agnostic video.
  Here the replacement happens in pixel space, before the clip generator's own VAE encoding, so any clip
  generator fits (:data:`ClipGenerator`). This equals the paper's version up to a VAE decode/encode round
  trip of the replaced frames. Strategy ``"algorithm1-latent"`` (:data:`STRATEGIES`) also replaces the
  *sampled* latents of those frames at every denoising step (``RealVVTPipeline(fixed_latents=...)``), the
  other reading of "replace agnostic latents with keyframe latents".
- Noise and guidance (not in the paper, whose clips are short): every call gets its own seed derived from
  the run's (:func:`call_seed`), and the per-frame guidance ramp can follow the frame's position in the
  clip (SVD's, restarted in every segment), in the whole video, or be constant (:func:`guidance_scales`).
- Bounded memory: :func:`iter_long_video` yields each frame as soon as no later call can change it and
  keeps only the generated keyframes and the current segment (see :mod:`vvt.realvvt.streaming`).
- "For sequences with keyframes exceeding N, the video is segmented into overlapping segments": the
  same overlapping windows (``overlap`` shared items) are used for the keyframe clips of Step 1 and the
  frame segments of Step 2. The last window is shifted back to end at the last item, so every call but
  a short keyframe clip has exactly ``N`` frames (the length the model was trained on); it may therefore
  share more than ``overlap`` items with the window before it.
- A frame is generated once: the model's output at already-generated positions is discarded, so the
  keyframes and overlap frames pass unchanged (bit-exact) into the final video.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vvt.errors import ConfigError, ShapeMismatchError

logger = logging.getLogger(__name__)

ClipGenerator = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, "ClipCall"], np.ndarray]
"""``generate_clip(agnostic, agnostic_mask, densepose, garment, call) -> frames``: any try-on clip generator.

``agnostic`` ``(n, H, W, 3)`` uint8, ``agnostic_mask`` ``(n, H, W)`` bool (True = inpaint), ``densepose``
``(n, H, W, 3)`` uint8, ``garment`` ``(H, W, 3)`` uint8, ``call`` the :class:`ClipCall` (which call, which
video frames, which of them are already generated) -> try-on frames ``(n, H, W, 3)`` uint8, with
``n <= clip_len``. Where the mask is False the generator is expected to keep the agnostic pixels.
"""

ClipSource = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""``load(indices) -> (agnostic, agnostic_mask, densepose)`` of the video frames ``indices`` (sorted, int): how
:func:`iter_long_video` reads its conditions, a window at a time (:func:`array_source` for arrays in memory,
:class:`vvt.realvvt.streaming.StreamSource` for video files decoded on demand)."""

#: the comparison of ``vvt bench longvideo`` (issue 22): how a video longer than a clip is cut into calls
STRATEGIES = ("independent", "overlap", "algorithm1", "algorithm1-latent")
#: how the classifier-free guidance scale of a frame is chosen (:func:`guidance_scales`)
GUIDANCE_MODES = ("clip", "video", "constant")
#: the default of ``vvt tryon`` / ``vvt.tryon``: what measured best in ``vvt bench longvideo``
#: (benchmarks/longvideo-tiny-synth.md, Algorithm 1 on a 128-frame SynthVVT clip: seam jump 1.87 constant and
#: video-wide against 1.95 for SVD's per-clip ramp, SSIM in mask 0.530 / 0.530 / 0.529, warping error 0.00070 /
#: 0.00070 / 0.00075). Within one clip it is the ramp's mean; a ramp that restarts in every segment makes the
#: guidance strength cycle every ``N - overlap`` frames.
DEFAULT_GUIDANCE = "constant"


@dataclass(frozen=True)
class ClipCall:
    """One clip generator call of a long video.

    Attributes:
        index: the call's position in the run (0, 1, ...), the key of its seed (:func:`call_seed`).
        frames: ``(n,)`` int indices of the clip's frames in the video.
        num_frames: ``F``, the video's length.
        fixed: ``(n,)`` bool, frames already generated (keyframes, overlaps): kept, not generated again.
        fixed_latents: also keep the fixed frames in the sampled latents at every denoising step (strategy
            ``algorithm1-latent``), not only in the conditions.
    """

    index: int
    frames: np.ndarray
    num_frames: int
    fixed: np.ndarray
    fixed_latents: bool = False


def call_seed(seed: int, index: int) -> int:
    """The seed of call ``index`` of a run seeded with ``seed``: ``SeedSequence([seed, index])``'s first 32-bit
    word, so every segment starts from its own noise (one seed for all would give every segment the same
    noise pattern) and the run is still reproducible from ``seed`` alone."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def guidance_scales(
    mode: str, frames: np.ndarray, num_frames: int, min_scale: float, max_scale: float
) -> np.ndarray:
    """Per-frame classifier-free guidance scales ``(n,)`` of a clip holding the video frames ``frames``.

    - ``"clip"``: SVD's ramp ``linspace(min, max, n)`` restarted in every clip (what a clip model does alone;
      in a long video the strength cycles every ``N - overlap`` frames);
    - ``"video"``: the same ramp over the whole *video*, ``min + (max - min) f / (F - 1)`` for frame ``f``;
    - ``"constant"``: ``(min + max) / 2`` everywhere, the ramp's mean.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if mode == "clip":
        return np.linspace(min_scale, max_scale, len(frames))
    if mode == "video":
        return min_scale + (max_scale - min_scale) * frames / max(num_frames - 1, 1)
    if mode == "constant":
        return np.full(len(frames), (min_scale + max_scale) / 2)
    raise ConfigError(f"unknown guidance mode {mode!r} (choose from {', '.join(GUIDANCE_MODES)})")


def pose_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Pose distance of two DensePose frames ``(H, W, 3)`` uint8 (RealVVT Sec. 3.5, Algorithm 1).

    The paper's L2 distance ``||p_i - p_j||_2``, normalised to the RMS difference over all pixels and
    channels of the frames scaled to [0, 1]: ``sqrt(mean(((p - q) / 255) ** 2))``, in [0, 1]. So
    ``d_pose`` does not depend on the resolution: a region covering a fraction ``a`` of the frame that
    changes by ``delta`` (in [0, 1]) in every channel gives ``delta * sqrt(a)``. DensePose frames have
    a black background, so background and face texture do not count (Sec. 3.5).
    """
    d = (p.astype(np.float32) - q.astype(np.float32)) / 255.0
    return float(np.sqrt(np.mean(d * d)))


def select_keyframes(densepose: Iterable[np.ndarray], d_pose: float, s_max: int) -> list[int]:
    """Keyframe indices of a DensePose video, ``(F, H, W, 3)`` uint8 or frames one at a time (Algorithm 1,
    Step 1).

    Reading of Algorithm 1 (whose printed condition keeps nearly every frame, against the text of
    Sec. 3.5): start with keyframe ``i = 0``; walk ``j = i + 1, i + 2, ...``; ``j`` becomes the next
    keyframe ``i`` as soon as ``pose_distance(p_i, p_j) >= d_pose`` or ``j - i >= s_max``. The last frame
    ``F - 1`` is always a keyframe. Hence every non-keyframe ``f`` with preceding keyframe ``k`` has
    ``pose_distance(p_k, p_f) < d_pose`` and ``f - k < s_max``: a static video gets a keyframe every
    ``s_max`` frames, a sudden pose change gets one exactly where it happens.

    One pass that holds two frames (``p_i`` and ``p_j``), so a long video's DensePose stream can be read
    frame by frame (:func:`vvt.io.iter_frames`).

    Args:
        densepose: ``(F, H, W, 3)`` uint8 DensePose frames (black background), or an iterable of
            ``(H, W, 3)`` frames.
        d_pose: pose distance threshold in [0, 1], see :func:`pose_distance`.
        s_max: maximum stride between keyframes, >= 1.

    Returns:
        Sorted keyframe indices, starting with 0 and ending with ``F - 1``.
    """
    _check_selection_parameters(d_pose, s_max)
    if isinstance(densepose, np.ndarray) and (densepose.ndim != 4 or len(densepose) == 0):
        raise ShapeMismatchError(
            f"densepose must be (F, H, W, 3) frames with F >= 1, got {_describe(densepose)}"
        )
    keyframes: list[int] = []
    key = None
    j = -1
    for j, frame in enumerate(densepose):
        if key is None or j - keyframes[-1] >= s_max or pose_distance(key, frame) >= d_pose:
            keyframes.append(j)
            key = frame
    if j < 0:
        raise ShapeMismatchError("densepose has no frames")
    if keyframes[-1] != j:
        keyframes.append(j)
    return keyframes


def window_starts(length: int, clip_len: int, overlap: int) -> list[int]:
    """Start offsets of windows of ``clip_len`` items covering ``length`` items.

    Consecutive windows share ``overlap`` items (stride ``clip_len - overlap``); the last window is
    shifted back to end at item ``length - 1``, so it may share more. One window ``[0]`` when
    ``length <= clip_len``.
    """
    if length <= clip_len:
        return [0]
    stride = clip_len - overlap
    return [*range(0, length - clip_len, stride), length - clip_len]


@dataclass(frozen=True)
class LongVideoPlan:
    """The clip generator calls of Algorithm 1, in order, as lists of frame indices.

    Attributes:
        keyframes: keyframe indices (Step 1); empty when the video fits in one clip.
        keyframe_clips: Step 1 calls, each at most ``clip_len`` keyframes.
        segments: Step 2 calls, each at most ``clip_len`` consecutive frames. A segment whose frames are
            all generated already (all keyframes or shared with earlier segments) is left out.
    """

    keyframes: tuple[int, ...]
    keyframe_clips: tuple[tuple[int, ...], ...]
    segments: tuple[tuple[int, ...], ...]

    @property
    def calls(self) -> tuple[tuple[int, ...], ...]:
        """Every call in the order it runs: keyframe clips, then segments."""
        return self.keyframe_clips + self.segments


def plan_long_video(
    num_frames: int, keyframes: Sequence[int], clip_len: int, overlap: int
) -> LongVideoPlan:
    """Split Algorithm 1 into clip generator calls of at most ``clip_len`` frames.

    A video of ``num_frames <= clip_len`` is one call and needs no keyframes. Otherwise the keyframes
    are generated in overlapping windows over the keyframe list (Step 1), then the video in overlapping
    windows of consecutive frames (Step 2), see :func:`window_starts`.
    """
    _check_window_parameters(clip_len, overlap)
    if num_frames <= clip_len:
        return LongVideoPlan((), (), (tuple(range(num_frames)),))
    keys = tuple(keyframes)
    starts = window_starts(len(keys), clip_len, overlap) if keys else []
    keyframe_clips = tuple(keys[s : s + clip_len] for s in starts)
    done = set(keys)
    segments = []
    for start in window_starts(num_frames, clip_len, overlap):
        segment = tuple(range(start, start + clip_len))
        if not done.issuperset(segment):
            segments.append(segment)
            done.update(segment)
    return LongVideoPlan(keys, keyframe_clips, tuple(segments))


def array_source(agnostic: np.ndarray, agnostic_mask: np.ndarray, densepose: np.ndarray) -> ClipSource:
    """A :data:`ClipSource` over conditions held in memory."""

    def load(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return agnostic[indices], agnostic_mask[indices], densepose[indices]

    return load


def strategy_plan(
    strategy: str, num_frames: int, keyframes: Sequence[int], clip_len: int, overlap: int
) -> LongVideoPlan:
    """The calls of one of :data:`STRATEGIES` (issue 22's comparison), all with clips of ``clip_len`` frames:

    - ``"independent"``: consecutive chunks, nothing shared (``overlap`` ignored; a ragged last chunk is
      shifted back to end at the last frame, as every window here, and keeps the frames it shares);
    - ``"overlap"``: overlapping chunks, the shared frames kept, no keyframes;
    - ``"algorithm1"``, ``"algorithm1-latent"``: Algorithm 1 with ``keyframes`` (the latter also replaces the
      fixed frames' latents at every denoising step, :attr:`ClipCall.fixed_latents`).
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown long-video strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    if strategy == "independent":
        return plan_long_video(num_frames, (), clip_len, 0)
    if strategy == "overlap":
        return plan_long_video(num_frames, (), clip_len, overlap)
    return plan_long_video(num_frames, keyframes, clip_len, overlap)


def iter_long_video(
    generate_clip: ClipGenerator,
    load: ClipSource,
    garment: np.ndarray,
    plan: LongVideoPlan,
    num_frames: int,
    fixed_latents: bool = False,
    progress: bool = True,
) -> Iterator[np.ndarray]:
    """Run the calls of ``plan`` and yield the ``F`` try-on frames ``(H, W, 3)`` uint8 in order, each once, as
    soon as no later call can change it (Algorithm 1 in bounded memory).

    The keyframes' conditions are read once (one :data:`ClipSource` call) and the generated keyframes are
    kept until they are yielded; the segments are read a window at a time. At any moment this holds the
    keyframes, one segment's conditions and the frames it shares with the next segment: memory does not
    grow with ``F`` beyond the keyframes.

    Args:
        generate_clip: the clip generator (:data:`ClipGenerator`).
        load: the conditions of any frames (:data:`ClipSource`).
        garment: ``(H, W, 3)`` uint8 garment image, passed to every call.
        plan: the calls (:func:`plan_long_video`, :func:`strategy_plan`); ``plan.segments`` must cover every
            frame, in increasing order.
        num_frames: ``F``.
        fixed_latents: see :attr:`ClipCall.fixed_latents`.
        progress: a tqdm bar over the calls.
    """
    done: dict[int, np.ndarray] = {}
    keys = np.asarray(plan.keyframes, dtype=int)
    key_inputs = load(keys) if len(keys) else None
    position = {int(k): i for i, k in enumerate(keys)}
    bar = tqdm(total=len(plan.calls), desc="long video try-on", unit="clip", disable=not progress)
    call_index = 0

    def run(indices: tuple[int, ...], inputs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        nonlocal call_index
        idx = np.asarray(indices, dtype=int)
        kept = np.array([int(i) in done for i in idx], dtype=bool)
        clip_agnostic, clip_mask, clip_densepose = (np.array(x) for x in inputs)
        for n in np.flatnonzero(kept):
            clip_agnostic[n] = done[int(idx[n])]
        clip_mask[kept] = False
        call = ClipCall(call_index, idx, num_frames, kept, fixed_latents)
        frames = generate_clip(clip_agnostic, clip_mask, clip_densepose, garment, call)
        _check_generated(frames, clip_agnostic.shape)
        for n in np.flatnonzero(~kept):
            done[int(idx[n])] = frames[n]
        call_index += 1
        bar.update()

    with bar:
        for clip in plan.keyframe_clips:
            rows = [position[i] for i in clip]
            run(clip, tuple(x[rows] for x in key_inputs))
        emitted = 0
        for s, segment in enumerate(plan.segments):
            run(segment, load(np.asarray(segment, dtype=int)))
            final = plan.segments[s + 1][0] if s + 1 < len(plan.segments) else num_frames
            while emitted < final:
                yield done.pop(emitted)
                emitted += 1
    if emitted != num_frames:
        raise ShapeMismatchError(f"the plan produced {emitted} of {num_frames} frames")


def generate_long_video(
    generate_clip: ClipGenerator,
    agnostic: np.ndarray,
    agnostic_mask: np.ndarray,
    densepose: np.ndarray,
    garment: np.ndarray,
    clip_len: int,
    d_pose: float,
    s_max: int,
    overlap: int,
    progress: bool = True,
    strategy: str = "algorithm1",
) -> np.ndarray:
    """Try a garment on a video of any length with a clip generator of ``clip_len`` frames (Algorithm 1).

    Step 1 selects keyframes on ``densepose`` (:func:`select_keyframes`) and generates them; Step 2
    generates the video in overlapping segments in which the already generated frames replace the
    agnostic frames with their mask cleared (see the module docstring for the readings chosen). The
    conditions in memory, the whole output returned: :func:`iter_long_video` is the streaming form.

    Args:
        generate_clip: the clip generator (:data:`ClipGenerator`), e.g.
            :func:`clip_generator_from_pipeline`.
        agnostic: ``(F, H, W, 3)`` uint8 clothing-agnostic video.
        agnostic_mask: ``(F, H, W)`` bool agnostic mask (True = region to inpaint).
        densepose: ``(F, H, W, 3)`` uint8 DensePose video (black background).
        garment: ``(h, w, 3)`` uint8 garment image, passed unchanged to every call.
        clip_len: ``N``, the most frames one ``generate_clip`` call may take.
        d_pose: keyframe pose distance threshold in [0, 1] (:func:`pose_distance`).
        s_max: maximum stride between keyframes.
        overlap: frames shared by consecutive segments (and keyframes by consecutive keyframe clips),
            ``0 <= overlap < clip_len``.
        progress: show a tqdm bar over the calls.
        strategy: one of :data:`STRATEGIES` (:func:`strategy_plan`); Algorithm 1 by default.

    Returns:
        ``(F, H, W, 3)`` uint8 try-on video.

    Raises:
        ShapeMismatchError: the inputs do not agree in frame count or size, have the wrong dtype, or
            ``generate_clip`` returned frames of the wrong shape.
        ConfigError: ``clip_len``, ``overlap``, ``d_pose``, ``s_max`` or ``strategy`` out of range.
    """
    num_frames = _check_inputs(agnostic, agnostic_mask, densepose, garment)
    plan = long_video_plan(densepose, num_frames, clip_len, d_pose, s_max, overlap, strategy)
    frames = iter_long_video(
        generate_clip, array_source(agnostic, agnostic_mask, densepose), garment, plan, num_frames,
        fixed_latents=strategy == "algorithm1-latent", progress=progress,
    )
    return np.stack(list(frames))


def long_video_plan(
    densepose: Iterable[np.ndarray],
    num_frames: int,
    clip_len: int,
    d_pose: float,
    s_max: int,
    overlap: int,
    strategy: str = "algorithm1",
) -> LongVideoPlan:
    """The plan of ``strategy`` for a video of ``num_frames``: keyframes selected on ``densepose`` (frames
    or an iterable, read in one pass and only when a strategy with keyframes needs them)."""
    _check_window_parameters(clip_len, overlap)
    _check_selection_parameters(d_pose, s_max)
    needs_keys = num_frames > clip_len and strategy.startswith("algorithm1")
    keyframes = select_keyframes(densepose, d_pose, s_max) if needs_keys else []
    plan = strategy_plan(strategy, num_frames, keyframes, clip_len, overlap)
    logger.info(
        "long video (%s): %d frames, %d keyframes in %d clip(s), then %d segment(s) of <= %d frames",
        strategy, num_frames, len(plan.keyframes), len(plan.keyframe_clips), len(plan.segments), clip_len,
    )
    return plan


def clip_generator_from_pipeline(
    pipeline: Any,
    *,
    seed: int = 0,
    guidance: str = DEFAULT_GUIDANCE,
    min_guidance_scale: float | None = None,
    max_guidance_scale: float | None = None,
    **call_kwargs: Any,
) -> ClipGenerator:
    """A :data:`ClipGenerator` running a :class:`~vvt.realvvt.pipeline.RealVVTPipeline` on each clip.

    Each call runs ``pipeline(agnostic, agnostic_mask, densepose, garment, generator=...,
    guidance_scales=..., output_type="np", **call_kwargs)`` and returns the frames as uint8
    (``round(255 * x)``). With the pipeline's default ``paste_back=True`` the frames whose mask
    :func:`iter_long_video` cleared come back exactly as given, as Algorithm 1 wants.

    Args:
        pipeline: a ``RealVVTPipeline`` (or anything with its ``__call__`` signature).
        seed: the run's seed; call ``k`` gets its own CPU ``torch.Generator`` seeded with
            :func:`call_seed` ``(seed, k)`` (initial noise and noise augmentation).
        guidance: how each frame's guidance scale is chosen, one of :data:`GUIDANCE_MODES`
            (:func:`guidance_scales`): ramped over the clip as SVD does, over the whole video, or constant
            (the default, :data:`DEFAULT_GUIDANCE`).
        min_guidance_scale, max_guidance_scale: the ramp's ends (None: the pipeline's saved defaults).
        call_kwargs: further pipeline arguments (``num_inference_steps``, ``height``, ``width``, ...). With
            ``height``/``width`` the clip runs at that working size and its frames are resized back to the
            input size (bilinear, antialiased).

    A call with :attr:`ClipCall.fixed_latents` passes its fixed frames as the pipeline's ``fixed_latents``.
    A clip whose mask is empty in every frame (all frames already generated, or no garment region) has
    nothing to inpaint: its agnostic frames are returned as they are, which is what the pipeline with
    paste-back would return, and the pipeline (which refuses an empty mask) is not called.
    """
    fixed = {
        "agnostic", "agnostic_mask", "densepose", "garment", "generator", "output_type", "return_dict",
        "guidance_scales", "fixed_latents",
    }
    clash = sorted(fixed & call_kwargs.keys())
    if clash:
        raise ConfigError(f"clip_generator_from_pipeline sets {', '.join(clash)} itself; do not pass them")
    if guidance not in GUIDANCE_MODES:
        raise ConfigError(f"unknown guidance mode {guidance!r} (choose from {', '.join(GUIDANCE_MODES)})")
    saved = getattr(pipeline, "config", None)
    low = min_guidance_scale if min_guidance_scale is not None else getattr(saved, "min_guidance_scale", 1.0)
    high = max_guidance_scale if max_guidance_scale is not None else getattr(saved, "max_guidance_scale", 3.0)

    def generate_clip(
        agnostic: np.ndarray, agnostic_mask: np.ndarray, densepose: np.ndarray, garment: np.ndarray,
        call: ClipCall,
    ) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        if not agnostic_mask.any():
            return agnostic.copy()
        generator = torch.Generator("cpu").manual_seed(call_seed(seed, call.index))
        extra = dict(call_kwargs)
        if call.fixed_latents and call.fixed.any():
            extra["fixed_latents"] = call.fixed
        scales = guidance_scales(guidance, call.frames, call.num_frames, low, high)
        output = pipeline(
            agnostic, agnostic_mask, densepose, garment, generator=generator, output_type="np",
            guidance_scales=scales, **extra,
        )
        frames = np.asarray(output.frames, dtype=np.float32)
        if frames.shape[1:3] != agnostic.shape[1:3]:
            resized = F.interpolate(
                torch.from_numpy(frames).permute(0, 3, 1, 2), size=agnostic.shape[1:3], mode="bilinear",
                align_corners=False, antialias=True,
            )
            frames = resized.permute(0, 2, 3, 1).numpy()
        return np.round(np.clip(frames, 0, 1) * 255).astype(np.uint8)

    return generate_clip


def _check_inputs(
    agnostic: np.ndarray, agnostic_mask: np.ndarray, densepose: np.ndarray, garment: np.ndarray
) -> int:
    for name, array, ndim in (
        ("agnostic", agnostic, 4), ("densepose", densepose, 4), ("garment", garment, 3)
    ):
        if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != ndim or (
            array.shape[-1] != 3
        ):
            raise ShapeMismatchError(
                f"{name} must be a uint8 array of shape {'(F, H, W, 3)' if ndim == 4 else '(H, W, 3)'}, "
                f"got {_describe(array)}"
            )
    if not isinstance(agnostic_mask, np.ndarray) or agnostic_mask.dtype != np.bool_ or (
        agnostic_mask.ndim != 3
    ):
        raise ShapeMismatchError(
            f"agnostic_mask must be a bool array of shape (F, H, W), got {_describe(agnostic_mask)}"
        )
    num_frames = len(agnostic)
    if num_frames == 0:
        raise ShapeMismatchError("agnostic has no frames")
    if agnostic_mask.shape != agnostic.shape[:3] or densepose.shape != agnostic.shape:
        raise ShapeMismatchError(
            f"agnostic {agnostic.shape}, agnostic_mask {agnostic_mask.shape} and densepose "
            f"{densepose.shape} must have the same frame count and size (F, H, W)"
        )
    return num_frames


def _check_window_parameters(clip_len: int, overlap: int) -> None:
    if clip_len < 1:
        raise ConfigError(f"clip_len must be >= 1, got {clip_len}")
    if not 0 <= overlap < clip_len:
        raise ConfigError(f"overlap must be in [0, clip_len) = [0, {clip_len}), got {overlap}")


def _check_selection_parameters(d_pose: float, s_max: int) -> None:
    if not d_pose > 0:
        raise ConfigError(f"d_pose must be > 0 (an RMS pose distance in [0, 1]), got {d_pose}")
    if s_max < 1:
        raise ConfigError(f"s_max must be >= 1, got {s_max}")


def _check_generated(frames: Any, expected: tuple[int, ...]) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.shape != expected:
        raise ShapeMismatchError(
            f"generate_clip must return uint8 frames of shape {expected}, got {_describe(frames)}"
        )


def _describe(array: Any) -> str:
    if isinstance(array, np.ndarray):
        return f"{array.dtype} {array.shape}"
    return type(array).__name__
