"""Temporal consistency, which the try-on papers only judge by eye: warping error and garment flicker.

Both follow the warping-error protocol of Lai et al. 2018 ("Learning Blind Video Temporal Consistency",
Sec. 5.1, Eq. 7): motion comes from optical flow on a *reference* video that moves the same way as the
prediction (the ground truth, or for an unpaired try-on the source person video), so a prediction is not
rewarded for its own errors. For each pair of consecutive frames (t, t+1):

* backward flow ``F_b`` from reference frame t+1 to t and forward flow ``F_f`` from t to t+1, by OpenCV's DIS
  (medium preset; Farneback as an option) on the greyscale reference frames;
* the predicted frame t warped into frame t+1: ``W(pred_t)(p) = pred_t(p + F_b(p))`` (bilinear);
* non-occluded pixels by forward-backward consistency (Sundaram et al. 2010, as Lai et al. use it):
  ``|F_b(p) + F_f(p + F_b(p))|^2 <= 0.01 (|F_b(p)|^2 + |F_f(p + F_b(p))|^2) + 0.5`` and ``p + F_b(p)`` inside
  the frame.

Metrics (frames in [0, 1]):

* ``warp_error``: Eq. 7's ``E_warp`` on [0, 1] images: for each frame pair, the mean over its non-occluded
  pixels of the squared difference between ``pred_{t+1}`` and ``W(pred_t)`` (averaged over the RGB channels,
  as Lai et al.'s code does by counting the 3-channel mask); then the mean over the frame pairs (their
  ``E_warp(V) = 1/(T-1) sum_t E_warp(V_t, V_{t+1})``). A pair with no non-occluded pixel is left out.
  Our reading: Lai et al. warp frame t+1 back onto frame t and also drop motion boundaries (Ruder et al.
  2016); we warp frame t forward onto t+1, which mirrors it, and keep only the forward-backward check.
* ``flicker``: inside the try-on region (the agnostic mask of frame t+1, intersected with the non-occluded
  pixels), the absolute change of the region's mean colour from ``W(pred_t)`` to ``pred_{t+1}``, averaged
  over RGB and frame pairs. Texture that moves with the person cancels out; a garment that brightens, darkens
  or changes colour from one frame to the next (the flicker diffusion models show) does not. Our reading:
  the papers name flicker but define no number.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FLOW_METHODS = ("dis", "farneback")
OCCLUSION_ALPHA = 0.01
OCCLUSION_BETA = 0.5


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


def warp_frame(frame: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """``frame(p + flow_back(p))``: frame t ``(H, W, 3)`` float32 carried into frame t+1 (backward flow)."""
    return _sample(np.ascontiguousarray(frame, dtype=np.float32), flow_back)


def non_occluded(flow_back: np.ndarray, flow_fwd: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: pixels of frame t+1 whose backward flow passes the forward-backward check."""
    h, w = flow_back.shape[:2]
    fwd_at_target = _sample(flow_fwd, flow_back)
    round_trip = flow_back + fwd_at_target
    lhs = (round_trip**2).sum(axis=-1)
    rhs = OCCLUSION_ALPHA * ((flow_back**2).sum(axis=-1) + (fwd_at_target**2).sum(axis=-1)) + OCCLUSION_BETA
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    tx, ty = gx + flow_back[..., 0], gy + flow_back[..., 1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return (lhs <= rhs) & inside


@dataclass
class Motion:
    """Reference motion from frame t to t+1: backward flow ``(H, W, 2)`` and validity ``(H, W)`` bool."""

    flow_back: np.ndarray
    valid: np.ndarray


def reference_motion(reference: np.ndarray, method: str = "dis") -> list[Motion]:
    """Motion of every consecutive pair of a reference video ``(N, H, W, 3)`` uint8 -> N-1 :class:`Motion`."""
    motions = []
    for t in range(reference.shape[0] - 1):
        back = optical_flow(reference[t + 1], reference[t], method)
        fwd = optical_flow(reference[t], reference[t + 1], method)
        motions.append(Motion(back, non_occluded(back, fwd)))
    return motions


def warping_error(pred: np.ndarray, motions: list[Motion]) -> float:
    """Lai et al.'s ``E_warp`` (Eq. 7, averaged over frame pairs) of a predicted video ``(N, H, W, 3)`` in
    [0, 1] under the reference motion (N-1 :class:`Motion`); NaN when no pair has a non-occluded pixel."""
    errors = []
    for t, m in enumerate(motions):
        if not m.valid.any():
            continue
        warped = warp_frame(pred[t], m.flow_back)
        sq = ((pred[t + 1].astype(np.float64) - warped) ** 2).mean(axis=-1)
        errors.append(float(sq[m.valid].mean()))
    return float(np.mean(errors)) if errors else float("nan")


def flicker(pred: np.ndarray, motions: list[Motion], mask: np.ndarray) -> float:
    """Garment-region flicker of a video ``(N, H, W, 3)`` in [0, 1]; ``mask (N, H, W)`` bool, the region."""
    changes = []
    for t, m in enumerate(motions):
        region = mask[t + 1] & m.valid
        if not region.any():
            continue
        warped = warp_frame(pred[t], m.flow_back)
        delta = pred[t + 1][region].astype(np.float64).mean(axis=0) - warped[region].astype(np.float64).mean(
            axis=0
        )
        changes.append(float(np.abs(delta).mean()))
    return float(np.mean(changes)) if changes else float("nan")
