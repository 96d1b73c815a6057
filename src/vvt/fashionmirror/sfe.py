"""Pose embedding (FashionMirror Eq. 3) and skeleton flow extraction, SFE (Eq. 4).

**Pose embedding.** ``p^t = PE(h^t)``: each guiding frame becomes a 3-channel RGB OpenPose skeleton image
drawn from up to 137 keypoints (25 body, 2 x 21 hands, 70 face) by :func:`vvt.pose.openpose.render_skeleton`;
keypoints a detector did not find are simply not drawn.

**SFE.** ``F^t, m^t = SFE(p^t, p^{t+1})``: two encoders of 5 encoded layers each (a stride-1 stem and four
stride-2 layers, so the bottleneck is at stride 16) read ``p^t`` and ``p^{t+1}``; a decoder starts from
their concatenated bottlenecks and, at each coarser-to-finer level, concatenates the decoded features
with both encoders' features of that level (the "decodes and combines" of Sec. 3.2; the correlation of
the two poses is learned by these convolutions over the joint features, as in GFLA's flow estimator). At
each *attentive layer* (strides ``attn_strides``, default 8 and 4, matching VGG19 ``relu4_1``/``relu3_1``
of the sample correctness loss) two heads predict the feature-level flow ``F^t`` (``(B, 2, h, w)``, pixels
of that level, read-from offsets as in :mod:`vvt.fashionmirror.warp`; zero-initialised, so an untrained
SFE warps by the identity) and the selection mask ``m^t = sigmoid(.)`` (``(B, 1, h, w)``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vvt.fashionmirror.layers import ConvBlock, Encoder, channels_at, upsample_to
from vvt.pose.openpose import Keypoints, render_skeleton_video


def pose_embedding(kp: Keypoints, height: int, width: int) -> torch.Tensor:
    """Eq. 3: skeleton images ``(N, 3, height, width)`` in [-1, 1] of every frame of ``kp``."""
    images = render_skeleton_video(kp, height, width)
    return images_to_tensor(images)


def _body_frame(body: np.ndarray, threshold: float) -> tuple[np.ndarray, float] | None:
    """``(centre (2,), size)`` of one frame's BODY_25 points ``(25, 3)``: the centre of the confident points'
    bounding box and its height (the larger side when the box is wider than tall); None with < 2 points."""
    pts = body[body[:, 2] > threshold, :2]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(0), pts.max(0)
    return (lo + hi) / 2, float(max(hi - lo))


def normalise_pose(driving: Keypoints, person: Keypoints, threshold: float = 0.1) -> Keypoints:
    """The driving poses moved onto the person's body: scale and centre from the keypoints.

    One similarity for the whole clip, so the motion is kept: ``x' = (x - c_d) * s + c_p`` with ``c_p, size_p``
    the centre and size of the person photo's body keypoints (:func:`_body_frame`), ``c_d, size_d`` those of
    the driving clip's first frame with a body, and ``s = size_p / size_d``. Both are first brought to the
    person's frame size. Without a body in either, the driving poses are returned resized, unchanged
    otherwise. Points not detected (confidence 0) stay at 0.

    Args:
        driving: keypoints of the driving clip (``N`` frames).
        person: keypoints of the person photo (1 frame).
        threshold: confidence above which a body point counts.
    """
    out = driving.resized(person.width, person.height)
    ref_p = _body_frame(person.body[0], threshold)
    ref_d = next((r for r in (_body_frame(b, threshold) for b in out.body) if r is not None), None)
    if ref_p is None or ref_d is None or ref_d[1] <= 0:
        return out
    (c_p, size_p), (c_d, size_d) = ref_p, ref_d
    scale = size_p / size_d
    for group in ("body", "hand_left", "hand_right", "face"):
        arr = getattr(out, group)
        found = arr[..., 2] > 0
        arr[..., :2] = np.where(found[..., None], (arr[..., :2] - c_d) * scale + c_p, arr[..., :2])
    return out


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


class SkeletonFlowExtractor(nn.Module):
    """SFE, Eq. 4 (module docstring).

    Args:
        base_channels / max_channels: widths, ``channels_at(stride)``.
        attn_strides: strides of the attentive layers, coarse to fine (powers of two, at most 16).
    """

    NUM_LAYERS = 5

    def __init__(
        self, base_channels: int = 32, max_channels: int = 256, attn_strides: tuple[int, ...] = (8, 4)
    ):
        super().__init__()
        bottom = 2 ** (self.NUM_LAYERS - 1)
        if sorted(attn_strides, reverse=True) != list(attn_strides) or not set(attn_strides) <= {
            1,
            2,
            4,
            8,
            16,
        }:
            raise ValueError(f"attn_strides must be decreasing powers of two <= 16, got {attn_strides}")
        self.attn_strides = tuple(attn_strides)
        ch = lambda s: channels_at(s, base_channels, max_channels)  # noqa: E731
        self.encoder_t = Encoder(3, self.NUM_LAYERS, base_channels, max_channels)
        self.encoder_next = Encoder(3, self.NUM_LAYERS, base_channels, max_channels)
        self.decode_strides = [s for s in (16, 8, 4, 2, 1) if min(attn_strides) <= s <= bottom]
        self.fuse = nn.ModuleDict()
        prev = 0
        for s in self.decode_strides:
            self.fuse[str(s)] = ConvBlock(prev + 2 * ch(s), ch(s))
            prev = ch(s)
        self.flow_heads = nn.ModuleDict({str(s): nn.Conv2d(ch(s), 2, 3, padding=1) for s in attn_strides})
        self.mask_heads = nn.ModuleDict({str(s): nn.Conv2d(ch(s), 1, 3, padding=1) for s in attn_strides})
        for head in self.flow_heads.values():
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(
        self, p_t: torch.Tensor, p_next: torch.Tensor
    ) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
        """Eq. 4.

        Args:
            p_t: skeleton image of frame t ``(B, 3, H, W)`` in [-1, 1].
            p_next: skeleton image of frame t+1 ``(B, 3, H, W)``.

        Returns:
            ``(flows, masks)``: ``{stride: F^t (B, 2, ceil(H/s), ceil(W/s))}`` and
            ``{stride: m^t (B, 1, ceil(H/s), ceil(W/s))}`` for every attentive stride.
        """
        e_t, e_next = self.encoder_t(p_t), self.encoder_next(p_next)
        flows, masks = {}, {}
        x = None
        for s in self.decode_strides:
            parts = [e_t[s], e_next[s]] if x is None else [upsample_to(x, e_t[s]), e_t[s], e_next[s]]
            x = self.fuse[str(s)](torch.cat(parts, 1))
            if s in self.attn_strides:
                flows[s] = self.flow_heads[str(s)](x)
                masks[s] = torch.sigmoid(self.mask_heads[str(s)](x))
        return flows, masks
