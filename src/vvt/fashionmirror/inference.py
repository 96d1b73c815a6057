"""FashionMirror inference: a person image, a garment image and a driving pose video -> try-on frames.

The Python API behind ``vvt tryon --method fashionmirror``::

    model = load_model("runs/fm/final")                 # a FashionMirror.save_pretrained folder
    person_kp = detect_keypoints([person], "person.jpg", static=True)
    pose_kp = detect_keypoints(list(pose_frames), "dance.mp4")
    frames = try_on(model, person, garment, person_kp, pose_frames, pose_kp)   # (N, H, W, 3) uint8

Images are ``(H, W, 3)`` uint8 RGB; everything is resized to the model's ``sample_size`` (the garment photo
too, without padding: train and test on garments framed the same way). Skeleton images (Eq. 3) are drawn
from the keypoints at that size. Only the pose video's *keypoints* drive the try-on: they are first moved onto
the person's body (:func:`~vvt.fashionmirror.sfe.normalise_pose`: scale and centre from the person's
keypoints) and drawn as skeletons for the SFE; the CMN reads the model's own previous frame (Eq. 7 with
``h^0 = h^s``, :meth:`FashionMirror.iter_generate`), never the pose video's pixels. Keypoints come from
:mod:`vvt.preprocess.keypoints` (mediapipe, offline) or from :mod:`vvt.pose.openpose` JSON files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors import SafetensorError
from tqdm.auto import tqdm

from vvt.errors import InputFileError, ShapeMismatchError, VVTError, WeightsNotFoundError
from vvt.fashionmirror.model import FashionMirror
from vvt.fashionmirror.sfe import images_to_tensor, normalise_pose, pose_embedding
from vvt.pose.openpose import Keypoints
from vvt.train.sample_video import to_uint8_frames

log = logging.getLogger(__name__)


def load_model(path: str | Path, device: str = "cpu") -> FashionMirror:
    """A trained :class:`FashionMirror` from a local ``save_pretrained`` folder, in eval mode."""
    path = Path(path)
    if not (path / FashionMirror.config_name).is_file():
        raise WeightsNotFoundError(
            "FashionMirror",
            path / FashionMirror.config_name,
            "a folder written by FashionMirror.save_pretrained (config.json + weights)",
        )
    try:
        model = FashionMirror.from_pretrained(path)
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as exc:
        files = sorted(path.glob("*.safetensors")) or [path]
        first = " ".join(str(exc).strip().splitlines()[:1])[:200]
        raise InputFileError(
            files[0], f"cannot load the FashionMirror weights (a truncated or corrupt file?): {first}"
        ) from None
    try:
        return model.to(device).eval()
    except (RuntimeError, AssertionError) as exc:  # torch: unknown device, CUDA unavailable, out of memory
        raise VVTError(f"FashionMirror {path}: cannot move the model onto device {device!r}: {exc}") from None


def detect_keypoints(frames: Sequence[np.ndarray], name: str, static: bool = False) -> Keypoints:
    """OpenPose-style keypoints of ``frames`` (``(H, W, 3)`` uint8) with vvt's offline mediapipe detector.

    ``static=True`` treats the frames as unrelated photos (a person image); otherwise the person is tracked.
    """
    from vvt.preprocess.keypoints import to_working, track_video

    h, w = frames[0].shape[:2]
    log.info("%s: detecting keypoints in %d frame(s)", name, len(frames))
    return track_video([to_working(f) for f in frames], w, h, name=name, static=static).keypoints


def _image_tensor(image: np.ndarray, size: tuple[int, int], device: str) -> torch.Tensor:
    h, w = size
    interp = cv2.INTER_AREA if image.shape[0] > h else cv2.INTER_LINEAR
    resized = cv2.resize(np.ascontiguousarray(image), (w, h), interpolation=interp)
    return images_to_tensor(resized[None]).to(device)


def try_on(
    model: FashionMirror,
    person: np.ndarray,
    garment: np.ndarray,
    person_kp: Keypoints,
    pose_frames: Sequence[np.ndarray],
    pose_kp: Keypoints,
    progress: bool = True,
) -> np.ndarray:
    """Generate the person wearing the garment in the poses of the pose video (Eq. 7), frame by frame.

    Args:
        model: a :class:`FashionMirror` (put in eval mode here).
        person: source human ``h^s`` ``(H, W, 3)`` uint8.
        garment: garment photo ``(H', W', 3)`` uint8.
        person_kp: keypoints of ``person`` (1 frame).
        pose_frames: the ``N`` frames ``(H'', W'', 3)`` uint8 of the pose video (their count is checked
            against ``pose_kp``; the pixels are not read).
        pose_kp: keypoints of ``pose_frames`` (``N`` frames), normalised to ``person_kp`` here.
        progress: show a progress bar.

    Returns:
        ``(N, h, w, 3)`` uint8 frames at the model's ``sample_size``.
    """
    if len(pose_kp) != len(pose_frames):
        raise ShapeMismatchError(
            f"the pose video has {len(pose_frames)} frame(s) but its keypoints "
            f"{len(pose_kp)}; they must describe the same frames"
        )
    if len(person_kp) != 1:
        raise ShapeMismatchError(f"person keypoints must hold 1 frame, got {len(person_kp)}")
    model.eval()
    device = next(model.parameters()).device
    h, w = tuple(model.config.sample_size)
    source = _image_tensor(person, (h, w), device)
    cloth = _image_tensor(garment, (h, w), device)
    source_pose = pose_embedding(person_kp, h, w).to(device)
    driving = normalise_pose(pose_kp, person_kp)
    poses = (pose_embedding(driving[t], h, w).to(device) for t in range(len(driving)))
    frames = model.iter_generate(source, source_pose, cloth, poses)
    out = []
    for frame in tqdm(
        frames, total=len(pose_frames), desc="FashionMirror try-on", unit="frame", disable=not progress
    ):
        out.append(to_uint8_frames(frame)[0])
    return np.stack(out)
