"""VFID: the Fréchet distance between clip features of two video sets (Wang et al. 2018, vid2vid, Sec. 5).

We follow CatV2TON's released evaluation (``modules/fid_metrics/vfid.py`` and the fid-metrics ``VideoDataset``
it uses), on which ViViD-S results are compared:

* clips: every video is cut into ``floor(N / 10)`` non-overlapping clips of 10 consecutive frames (a shorter
  tail is dropped; a video shorter than 10 frames gives no clip);
* frames resized to 224x224 (bilinear, antialiased: torchvision's ``Resize`` on tensors), scaled to [-1, 1];
* channel order BGR: that loader reads frames with OpenCV and never converts them to RGB, so the published
  numbers were computed on BGR input; ``channel_order="rgb"`` is available for a corrected variant;
* I3D (:mod:`vvt.eval.i3d`, 400 Kinetics classes): the final feature map averaged over space and time
  (1024-d); ResNeXt (:mod:`vvt.eval.resnext3d`, ResNeXt-101, shortcut B, cardinality 32, sample size 224):
  the global average pool before the fc (2048-d);
* the Fréchet distance of :func:`vvt.eval.fid.fid_from_features` (scipy ``sqrtm``).

Other papers (FashionMirror, RealVVT's sources) used other code; published VFIDs differ by an order of
magnitude between codebases, so every report states :meth:`VFIDProtocol.describe`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vvt.errors import VVTError


@dataclass(frozen=True)
class VFIDProtocol:
    """How clips are cut and preprocessed for VFID (defaults: CatV2TON's protocol)."""

    clip_len: int = 10
    size: int = 224
    channel_order: str = "bgr"

    def __post_init__(self):
        if self.channel_order not in ("bgr", "rgb"):
            raise VVTError(f"VFID channel_order must be 'bgr' or 'rgb', got {self.channel_order!r}")
        if self.clip_len < 1 or self.size < 1:
            raise VVTError(f"VFID clip_len and size must be positive, got {self.clip_len} and {self.size}")

    def num_clips(self, num_frames: int) -> int:
        """Clips cut from a video of ``num_frames`` frames (non-overlapping, the shorter tail dropped)."""
        return num_frames // self.clip_len

    def describe(self) -> dict:
        return {
            **asdict(self),
            "clips": "non-overlapping consecutive frames, tail dropped",
            "resize": "bilinear antialiased",
            "range": "[-1, 1]",
            "reference": "CatV2TON vfid.py",
        }


def video_clips(frames: np.ndarray, protocol: VFIDProtocol) -> torch.Tensor:
    """A video ``(N, H, W, 3)`` uint8 RGB -> network clips ``(K, 3, clip_len, size, size)`` in [-1, 1]."""
    k = protocol.num_clips(frames.shape[0])
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
    """``net.extract_features`` of every clip of a video ``(N, H, W, 3)`` uint8 -> ``(K, D)`` float64."""
    clips = video_clips(frames, protocol)
    out = [
        net.extract_features(clips[i : i + batch_size].to(device)).double().cpu()
        for i in range(0, clips.shape[0], batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, 0))
