"""VFID: the Fréchet distance between clip features of two video sets (Wang et al. 2018, vid2vid, Sec. 5).

The network side follows CatV2TON's released evaluation (``modules/fid_metrics/vfid.py`` and the fid-metrics
``VideoDataset`` it uses), on which ViViD-S results are compared:

* frames resized to 224x224 (bilinear, antialiased: torchvision's ``Resize`` on tensors), scaled to [-1, 1];
* channel order BGR: that loader reads frames with OpenCV and never converts them to RGB, so the published
  numbers were computed on BGR input; ``channel_order="rgb"`` feeds the networks the order they were trained
  on;
* I3D (:mod:`vvt.eval.i3d`, 400 Kinetics classes): the final feature map averaged over space and time
  (1024-d); ResNeXt (:mod:`vvt.eval.resnext3d`, ResNeXt-101, shortcut B, cardinality 32, sample size 224):
  the global average pool before the fc (2048-d);
* the Fréchet distance of :func:`vvt.eval.fid.fid_from_features` (scipy ``sqrtm``).

Which clips are scored is the ``sampling`` setting:

* ``"all"`` (vvt's default): every video is cut into ``floor(N / 10)`` non-overlapping clips of 10
  consecutive frames (a shorter tail is dropped; a video shorter than 10 frames gives no clip). This is what
  CatV2TON's ``VideoDataset`` is meant to do.
* ``"catv2ton"``: what that ``VideoDataset`` actually does (:func:`catv2ton_clip_counts`). It numbers the
  clips of a folder through the *cumulative* frame count, ``A_k = floor((N_0 + ... + N_k) / 10)``, has
  ``A_last`` clips in all, and maps clip ``i`` to video ``k = bisect_left(A, i)`` at frame
  ``(i - A_k) * 10``. Since ``bisect_left`` returns the first ``k`` with ``A_k >= i``, that frame index is
  never positive; OpenCV seeks a negative position to frame 0, so every clip read is frames 0-9 of its
  video. Video 0 is read ``A_0 + 1`` times, video ``k > 0`` ``A_k - A_{k-1}`` times, and the first video
  reaching ``A_last`` once less. Tables made with that script (CatV2TON, MagicTryOn, and later papers that
  reuse it) score only the first 10 frames of each video, weighted by its length; this mode reproduces
  them. The multiplicities depend on the order of the videos: the script takes them in ``glob`` order, the
  order the file system lists the folder in, and so does this mode (:func:`listing_order`). A video shorter
  than 10 frames that is read at all makes the script fail (``assert ret``); here it is an error naming
  the video.

Other papers (FashionMirror, RealVVT's sources) used other code; published VFIDs differ by an order of
magnitude between codebases, so every report states :meth:`VFIDProtocol.describe`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vvt.errors import VVTError

SAMPLINGS = ("all", "catv2ton")
CHANNEL_ORDERS = ("bgr", "rgb")


@dataclass(frozen=True)
class VFIDProtocol:
    """How clips are chosen, cut and preprocessed for VFID (defaults: vvt's protocol).

    Attributes:
        clip_len: frames per clip (10 in CatV2TON's ``DATA_CONFIG``).
        size: side of the square every frame is resized to (224).
        channel_order: ``"bgr"`` (CatV2TON's loader) or ``"rgb"``.
        sampling: ``"all"`` (every non-overlapping clip) or ``"catv2ton"`` (the released script's indexing).
    """

    clip_len: int = 10
    size: int = 224
    channel_order: str = "bgr"
    sampling: str = "all"

    def __post_init__(self):
        if self.channel_order not in CHANNEL_ORDERS:
            raise VVTError(f"VFID channel_order must be 'bgr' or 'rgb', got {self.channel_order!r}")
        if self.sampling not in SAMPLINGS:
            raise VVTError(f"VFID sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        if self.clip_len < 1 or self.size < 1:
            raise VVTError(f"VFID clip_len and size must be positive, got {self.clip_len} and {self.size}")

    def num_clips(self, num_frames: int) -> int:
        """Distinct clips cut from a video of ``num_frames`` frames (non-overlapping, the tail dropped)."""
        return num_frames // self.clip_len

    def clip_counts(self, lengths: list[int]) -> list[int]:
        """Clips scored for each video of a set (in the set's order): ``num_clips`` or the CatV2TON copies."""
        if self.sampling == "catv2ton":
            return catv2ton_clip_counts(lengths, self.clip_len)
        return [self.num_clips(n) for n in lengths]

    def describe(self) -> dict:
        clips = {
            "all": "every non-overlapping clip of consecutive frames, tail dropped",
            "catv2ton": "CatV2TON's released indexing: frames 0-(clip_len-1) of each video, repeated "
            "floor(cumulative frames / clip_len) steps times, videos in directory order",
        }[self.sampling]
        return {
            **asdict(self),
            "clips": clips,
            "resize": "bilinear antialiased",
            "range": "[-1, 1]",
            "reference": "CatV2TON vfid.py",
        }


def catv2ton_clip_counts(lengths: list[int], clip_len: int = 10) -> list[int]:
    """How often CatV2TON's ``VideoDataset`` reads each video (always its frames ``0 .. clip_len-1``).

    Args:
        lengths: frame counts of the videos, in the order the script lists them.
        clip_len: the script's ``sequence_length``.

    Returns:
        copies per video, summing to ``floor(sum(lengths) / clip_len)`` (the dataset's length): with
        ``A_k = floor((N_0 + ... + N_k) / clip_len)``, video 0 gets ``A_0 + 1``, video ``k`` gets
        ``A_k - A_{k-1}``, and the first video whose ``A_k`` reaches the total gets one less (clip index
        ``A_last`` is past the end).
    """
    accum = np.cumsum(np.asarray(lengths, dtype=np.int64)) // clip_len
    if accum.size == 0:
        return []
    total = int(accum[-1])
    # clips i in [0, total): video k takes every i with A_{k-1} < i <= A_k (i = 0 goes to the first video)
    upper = np.minimum(accum, total - 1)
    lower = np.concatenate([[-1], accum[:-1]])
    return [int(c) for c in np.maximum(upper - lower, 0)]


def listing_order(paths: list[Path]) -> list[int]:
    """Indices that put ``paths`` in the order ``glob`` lists them: folder by folder (sorted), and inside a
    folder in the order the file system returns its entries (``os.listdir``), as CatV2TON's script sees
    them."""
    listings: dict[Path, dict[str, int]] = {}

    def key(i: int) -> tuple[str, int]:
        path = Path(paths[i])
        if path.parent not in listings:
            listings[path.parent] = {name: j for j, name in enumerate(os.listdir(path.parent))}
        return str(path.parent), listings[path.parent].get(path.name, -1)

    return sorted(range(len(paths)), key=key)


def video_clips(frames: np.ndarray, protocol: VFIDProtocol, max_clips: int | None = None) -> torch.Tensor:
    """A video ``(N, H, W, 3)`` uint8 RGB -> network clips ``(K, 3, clip_len, size, size)`` in [-1, 1].

    ``K`` is ``protocol.num_clips(N)``, or at most ``max_clips`` (the CatV2TON sampling needs the first only).
    """
    k = protocol.num_clips(frames.shape[0])
    if max_clips is not None:
        k = min(k, max_clips)
    video = (
        torch.from_numpy(np.ascontiguousarray(frames[: k * protocol.clip_len])).permute(0, 3, 1, 2).float()
        / 255
    )
    if protocol.channel_order == "bgr":
        video = video.flip(1)
    video = F.interpolate(
        video, size=(protocol.size, protocol.size), mode="bilinear", align_corners=False, antialias=True
    )
    video = video * 2 - 1
    return video.reshape(k, protocol.clip_len, 3, protocol.size, protocol.size).permute(0, 2, 1, 3, 4)


@torch.no_grad()
def clip_features(
    net: torch.nn.Module,
    frames: np.ndarray,
    protocol: VFIDProtocol,
    device: torch.device,
    batch_size: int = 2,
) -> np.ndarray:
    """``net.extract_features`` of the clips a video ``(N, H, W, 3)`` uint8 contributes -> ``(K, D)`` float64.

    Under ``"catv2ton"`` sampling only the first clip is computed (``K <= 1``); :func:`sampled_features`
    repeats it as often as the script reads it.
    """
    clips = video_clips(frames, protocol, max_clips=1 if protocol.sampling == "catv2ton" else None)
    out = [
        net.extract_features(clips[i : i + batch_size].to(device)).double().cpu()
        for i in range(0, clips.shape[0], batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, 0))


@dataclass
class VideoClips:
    """What one video of a set contributes to VFID: its path, frame count and :func:`clip_features` rows
    per network (``{"vfid_i3d": (K, D), ...}``; empty when no network is loaded)."""

    path: Path
    num_frames: int
    features: dict[str, np.ndarray]


def scored_counts(videos: list[VideoClips], protocol: VFIDProtocol) -> list[int]:
    """Clips scored for each video of a set under the protocol's sampling (in the order of ``videos``)."""
    if protocol.sampling == "catv2ton":
        order = listing_order([v.path for v in videos])
        counts = catv2ton_clip_counts([videos[i].num_frames for i in order], protocol.clip_len)
        by_video = [0] * len(videos)
        for i, c in zip(order, counts):
            by_video[i] = c
        return by_video
    return [protocol.num_clips(v.num_frames) for v in videos]


def sampled_features(videos: list[VideoClips], key: str, protocol: VFIDProtocol) -> np.ndarray:
    """The clip features of a set, each clip as often as the protocol scores it -> ``(sum K, D)``.

    Raises:
        VVTError: under ``"catv2ton"`` sampling, a video shorter than a clip that the script would read.
    """
    parts = []
    for video, count in zip(videos, scored_counts(videos, protocol)):
        if count == 0:
            continue
        feats = video.features[key]
        if protocol.sampling == "catv2ton":
            if feats.shape[0] == 0:
                raise VVTError(
                    f"{video.path}: {video.num_frames} frame(s), but CatV2TON's VFID indexing reads "
                    f"{protocol.clip_len} frames of it {count} time(s) (its script fails here); drop the "
                    f"video or use --protocol vvt"
                )
            feats = np.repeat(feats[:1], count, axis=0)
        parts.append(feats)
    return np.concatenate(parts) if parts else np.zeros((0, 0))
