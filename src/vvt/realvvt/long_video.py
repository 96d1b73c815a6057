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
  trip of the replaced frames.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vvt.errors import ConfigError, ShapeMismatchError

logger = logging.getLogger(__name__)

ClipGenerator = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``generate_clip(agnostic, agnostic_mask, densepose, garment) -> frames``: any try-on clip generator.

``agnostic`` ``(n, H, W, 3)`` uint8, ``agnostic_mask`` ``(n, H, W)`` bool (True = inpaint), ``densepose``
``(n, H, W, 3)`` uint8, ``garment`` ``(H, W, 3)`` uint8 -> try-on frames ``(n, H, W, 3)`` uint8, with
``n <= clip_len``. Where the mask is False the generator is expected to keep the agnostic pixels.
"""


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


def select_keyframes(densepose: np.ndarray, d_pose: float, s_max: int) -> list[int]:
    """Keyframe indices of a DensePose video ``(F, H, W, 3)`` uint8 (Algorithm 1, Step 1).

    Reading of Algorithm 1 (whose printed condition keeps nearly every frame, against the text of
    Sec. 3.5): start with keyframe ``i = 0``; walk ``j = i + 1, i + 2, ...``; ``j`` becomes the next
    keyframe ``i`` as soon as ``pose_distance(p_i, p_j) >= d_pose`` or ``j - i >= s_max``. The last frame
    ``F - 1`` is always a keyframe. Hence every non-keyframe ``f`` with preceding keyframe ``k`` has
    ``pose_distance(p_k, p_f) < d_pose`` and ``f - k < s_max``: a static video gets a keyframe every
    ``s_max`` frames, a sudden pose change gets one exactly where it happens.

    Args:
        densepose: ``(F, H, W, 3)`` uint8 DensePose frames (black background).
        d_pose: pose distance threshold in [0, 1], see :func:`pose_distance`.
        s_max: maximum stride between keyframes, >= 1.

    Returns:
        Sorted keyframe indices, starting with 0 and ending with ``F - 1``.
    """
    _check_selection_parameters(d_pose, s_max)
    if densepose.ndim != 4 or len(densepose) == 0:
        raise ShapeMismatchError(
            f"densepose must be (F, H, W, 3) frames with F >= 1, got {_describe(densepose)}"
        )
    num_frames = len(densepose)
    keyframes = [0]
    i = 0
    for j in range(1, num_frames):
        if j - i >= s_max or pose_distance(densepose[i], densepose[j]) >= d_pose:
            keyframes.append(j)
            i = j
    if keyframes[-1] != num_frames - 1:
        keyframes.append(num_frames - 1)
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
    keyframe_clips = tuple(keys[s : s + clip_len] for s in window_starts(len(keys), clip_len, overlap))
    done = set(keys)
    segments = []
    for start in window_starts(num_frames, clip_len, overlap):
        segment = tuple(range(start, start + clip_len))
        if not done.issuperset(segment):
            segments.append(segment)
            done.update(segment)
    return LongVideoPlan(keys, keyframe_clips, tuple(segments))


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
) -> np.ndarray:
    """Try a garment on a video of any length with a clip generator of ``clip_len`` frames (Algorithm 1).

    Step 1 selects keyframes on ``densepose`` (:func:`select_keyframes`) and generates them; Step 2
    generates the video in overlapping segments in which the already generated frames replace the
    agnostic frames with their mask cleared (see the module docstring for the readings chosen).

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

    Returns:
        ``(F, H, W, 3)`` uint8 try-on video.

    Raises:
        ShapeMismatchError: the inputs do not agree in frame count or size, have the wrong dtype, or
            ``generate_clip`` returned frames of the wrong shape.
        ConfigError: ``clip_len``, ``overlap``, ``d_pose`` or ``s_max`` out of range.
    """
    num_frames = _check_inputs(agnostic, agnostic_mask, densepose, garment)
    _check_window_parameters(clip_len, overlap)
    _check_selection_parameters(d_pose, s_max)
    keyframes = select_keyframes(densepose, d_pose, s_max) if num_frames > clip_len else []
    plan = plan_long_video(num_frames, keyframes, clip_len, overlap)
    logger.info(
        "long video: %d frames, %d keyframes in %d clip(s), then %d segment(s) of <= %d frames",
        num_frames, len(plan.keyframes), len(plan.keyframe_clips), len(plan.segments), clip_len,
    )
    out = np.zeros_like(agnostic)
    done = np.zeros(num_frames, dtype=bool)
    for indices in tqdm(plan.calls, desc="long video try-on", unit="clip", disable=not progress):
        idx = np.asarray(indices)
        kept = done[idx]
        clip_agnostic = agnostic[idx]
        clip_agnostic[kept] = out[idx[kept]]
        clip_mask = agnostic_mask[idx]
        clip_mask[kept] = False
        frames = generate_clip(clip_agnostic, clip_mask, densepose[idx], garment)
        _check_generated(frames, clip_agnostic.shape)
        out[idx[~kept]] = frames[~kept]
        done[idx] = True
    return out


def clip_generator_from_pipeline(pipeline: Any, *, seed: int = 0, **call_kwargs: Any) -> ClipGenerator:
    """A :data:`ClipGenerator` running a :class:`~vvt.realvvt.pipeline.RealVVTPipeline` on each clip.

    Each call runs ``pipeline(agnostic, agnostic_mask, densepose, garment, generator=...,
    output_type="np", **call_kwargs)`` with a fresh CPU ``torch.Generator`` seeded with ``seed`` (every clip
    starts from the same seed, so a long video is reproducible from ``seed``), and returns the frames as
    uint8 (``round(255 * x)``). With the pipeline's default ``paste_back=True`` the frames whose mask
    :func:`generate_long_video` cleared come back exactly as given, as Algorithm 1 wants.

    Args:
        pipeline: a ``RealVVTPipeline`` (or anything with its ``__call__`` signature).
        seed: the seed of every call's initial noise and noise augmentation.
        call_kwargs: further pipeline arguments (``num_inference_steps``, ``min_guidance_scale``,
            ``max_guidance_scale``, ``height``, ``width``, ...). With ``height``/``width`` the clip runs at
            that working size and its frames are resized back to the input size (bilinear, antialiased).

    A clip whose mask is empty in every frame (all frames already generated, or no garment region) has
    nothing to inpaint: its agnostic frames are returned as they are, which is what the pipeline with
    paste-back would return, and the pipeline (which refuses an empty mask) is not called.
    """
    fixed = {"agnostic", "agnostic_mask", "densepose", "garment", "generator", "output_type", "return_dict"}
    clash = sorted(fixed & call_kwargs.keys())
    if clash:
        raise ConfigError(f"clip_generator_from_pipeline sets {', '.join(clash)} itself; do not pass them")

    def generate_clip(
        agnostic: np.ndarray, agnostic_mask: np.ndarray, densepose: np.ndarray, garment: np.ndarray
    ) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        if not agnostic_mask.any():
            return agnostic.copy()
        generator = torch.Generator("cpu").manual_seed(seed)
        output = pipeline(
            agnostic, agnostic_mask, densepose, garment, generator=generator, output_type="np", **call_kwargs
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
