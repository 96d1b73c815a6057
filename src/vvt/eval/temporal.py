"""Temporal consistency, which the try-on papers only judge by eye: warping error and garment flicker.

Both follow the warping-error protocol of Lai et al. 2018 ("Learning Blind Video Temporal Consistency",
Sec. 5.1, Eq. 7, and their released ``compute_flow_occlusion.py`` / ``evaluate_WarpError.py``): motion comes
from optical flow on a *reference* video that moves the same way as the prediction (the ground truth, or for
an unpaired try-on the source person video), so a prediction is not rewarded for its own errors. For each
pair of consecutive frames (t, t+1):

* forward flow ``F_f`` from reference frame t to t+1 (``ref_t(p) ~ ref_{t+1}(p + F_f(p))``) and backward
  flow ``F_b`` from t+1 to t, by the named flow method (:data:`FLOW_METHODS`: OpenCV's DIS, medium preset,
  the default because it needs no weights; or Farneback) on the greyscale reference frames. Lai et al. use
  FlowNet2, so **warping errors compare only between runs with the same flow method**; every report says
  which one it used;
* Lai et al.'s direction: frame t+1 warped back onto frame t, ``W(O_{t+1})(p) = O_{t+1}(p + F_f(p))``
  (bilinear);
* Lai et al.'s occlusion rule on frame t's grid, a pixel is occluded when either test fires:
  forward-backward inconsistency (Sundaram et al. 2010), with ``F_b'(p) = F_b(p + F_f(p))``,
  ``|F_f + F_b'|^2 > 0.01 (|F_f|^2 + |F_b'|^2) + 0.5``; or a motion boundary (Ruder et al. 2016),
  ``|du/dx|^2 + |du/dy|^2 + |dv/dx|^2 + |dv/dy|^2 > 0.01 |F_f|^2 + 0.002`` with ``(u, v) = F_f`` and
  forward differences (zero on the last row and column, as their ``compute_flow_gradients``). vvt also drops
  pixels whose target ``p + F_f(p)`` falls outside the frame (their resampler clamps it to the border
  instead, which compares against a replicated edge pixel).

Metrics (frames in [0, 1]):

* ``warp_error``: Eq. 7's ``E_warp``: for each frame pair, the squared difference between ``O_t`` and
  ``W(O_{t+1})`` summed over the non-occluded pixels and the RGB channels, divided by their count; a pair
  without a non-occluded pixel counts 0, as in their code; then the mean over the ``T - 1`` pairs. A video
  none of whose pairs has a non-occluded pixel has no value (NaN; their code would give 0).
* ``flicker``: inside the try-on region (the agnostic mask of frame t, intersected with the non-occluded
  pixels), the absolute change of the region's mean colour from ``O_t`` to ``W(O_{t+1})``, averaged over RGB
  and the frame pairs that have region pixels. Texture that moves with the person cancels out; a garment that
  brightens, darkens or changes colour from one frame to the next (the flicker diffusion models show) does
  not. Our reading: the papers name flicker but define no number.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FLOW_METHODS = ("dis", "farneback")
OCCLUSION_ALPHA = 0.01
OCCLUSION_BETA = 0.5
BOUNDARY_ALPHA = 0.01
BOUNDARY_BETA = 0.002


def optical_flow(src: np.ndarray, dst: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow ``(H, W, 2)`` (x, y) with ``src(p) ~ dst(p + flow(p))``; frames ``(H, W, 3)`` uint8 RGB."""
    a = cv2.cvtColor(src, cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(dst, cv2.COLOR_RGB2GRAY)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(a, b, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    raise ValueError(f"unknown optical flow method {method!r} (choose from {', '.join(FLOW_METHODS)})")


def _sample(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Bilinear ``image(p + flow(p))`` with border replication; ``image (H, W[, C])`` float32."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def warp_frame(frame: np.ndarray, flow_fwd: np.ndarray) -> np.ndarray:
    """``frame(p + flow_fwd(p))``: frame t+1 ``(H, W, 3)`` carried back onto frame t's grid by the forward
    flow ``(H, W, 2)`` from t to t+1."""
    return _sample(np.ascontiguousarray(frame, dtype=np.float32), flow_fwd)


def motion_boundary(flow: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: Lai et al.'s motion boundaries of a flow ``(H, W, 2)`` (forward differences)."""
    grad = np.zeros(flow.shape[:2], dtype=np.float64)
    for c in range(2):
        f = flow[..., c].astype(np.float64)
        du = np.zeros_like(f)
        dv = np.zeros_like(f)
        du[:, :-1] = f[:, :-1] - f[:, 1:]
        dv[:-1, :] = f[:-1, :] - f[1:, :]
        grad += du**2 + dv**2
    return grad > BOUNDARY_ALPHA * (flow.astype(np.float64) ** 2).sum(axis=-1) + BOUNDARY_BETA


def non_occluded(flow_fwd: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: pixels of frame t that pass Lai et al.'s occlusion rule (forward-backward check and
    no motion boundary) and whose target ``p + F_f(p)`` lies inside frame t+1; flows ``(H, W, 2)``."""
    h, w = flow_fwd.shape[:2]
    back_at_target = _sample(np.ascontiguousarray(flow_back, dtype=np.float32), flow_fwd)
    round_trip = flow_fwd + back_at_target
    lhs = (round_trip**2).sum(axis=-1)
    rhs = OCCLUSION_ALPHA * ((flow_fwd**2).sum(axis=-1) + (back_at_target**2).sum(axis=-1)) + OCCLUSION_BETA
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    tx, ty = gx + flow_fwd[..., 0], gy + flow_fwd[..., 1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return (lhs <= rhs) & ~motion_boundary(flow_fwd) & inside


@dataclass
class Motion:
    """Reference motion from frame t to t+1: forward flow ``(H, W, 2)`` and validity ``(H, W)`` bool on
    frame t's grid."""

    flow_fwd: np.ndarray
    valid: np.ndarray


def reference_motion(reference: np.ndarray, method: str = "dis") -> list[Motion]:
    """Motion of every consecutive pair of a reference video ``(N, H, W, 3)`` uint8 -> N-1 :class:`Motion`."""
    motions = []
    for t in range(reference.shape[0] - 1):
        fwd = optical_flow(reference[t], reference[t + 1], method)
        back = optical_flow(reference[t + 1], reference[t], method)
        motions.append(Motion(fwd, non_occluded(fwd, back)))
    return motions


def warping_error(pred: np.ndarray, motions: list[Motion]) -> float:
    """Lai et al.'s ``E_warp`` (Eq. 7, averaged over the frame pairs) of a predicted video ``(N, H, W, 3)``
    in [0, 1] under the reference motion (N-1 :class:`Motion`); NaN when no pair has a non-occluded pixel."""
    errors = []
    for t, m in enumerate(motions):
        if not m.valid.any():
            errors.append(0.0)  # Lai et al.: the masked difference is all zero
            continue
        warped = warp_frame(pred[t + 1], m.flow_fwd)
        sq = ((pred[t].astype(np.float64) - warped) ** 2).mean(axis=-1)
        errors.append(float(sq[m.valid].mean()))
    if not any(m.valid.any() for m in motions):
        return float("nan")
    return float(np.mean(errors))


def flicker(pred: np.ndarray, motions: list[Motion], mask: np.ndarray) -> float:
    """Garment-region flicker of a video ``(N, H, W, 3)`` in [0, 1]; ``mask (N, H, W)`` bool, the region."""
    changes = []
    for t, m in enumerate(motions):
        region = mask[t] & m.valid
        if not region.any():
            continue
        warped = warp_frame(pred[t + 1], m.flow_fwd)
        delta = warped[region].astype(np.float64).mean(axis=0) - pred[t][region].astype(np.float64).mean(axis=0)
        changes.append(float(np.abs(delta).mean()))
    return float(np.mean(changes)) if changes else float("nan")
