"""Temporal stability: One-Euro filtering of keypoints, temporal smoothing of masks, jitter metrics.

RealVVT (Appendix D) reports that agnostic masks and DensePose made frame by frame with image tools
"introduce temporal inconsistencies and significant jitter across frames". vvt smooths the keypoints
that masks and part maps are built from, and the person mask itself.

One-Euro filter (Casiez, Roussel and Vogel, CHI 2012): an exponential smoother whose cut-off frequency
rises with speed, ``f_c = f_min + beta * |dx/dt|``, so still points are smoothed hard and fast motion
lags little. Offline, vvt runs it forwards and then backwards over the clip, which cancels the lag of
the one-sided filter. Coordinates are filtered in units of the frame's longest side, so ``beta`` does not
depend on the resolution.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter1d

from vvt.pose.openpose import GROUPS, Keypoints


def _alpha(cutoff: np.ndarray | float, fps: float) -> np.ndarray:
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau * fps)


def one_euro(x: np.ndarray, fps: float, min_cutoff: float = 1.0, beta: float = 0.0,
             d_cutoff: float = 1.0) -> np.ndarray:
    """One-sided One-Euro filter along axis 0.

    Args:
        x: ``(N, K, D)`` signal: ``N`` time steps of ``K`` points with ``D`` coordinates.
        fps: sampling rate (frames per second).
        min_cutoff: ``f_min`` in Hz, the cut-off of a still point.
        beta: speed coefficient (Hz per unit/s); the speed of a point is the norm of its ``D`` velocity.
        d_cutoff: cut-off in Hz of the low-pass filter on the velocity.

    Returns ``(N, K, D)`` float64: ``x_hat_t = a(f_c) x_t + (1 - a(f_c)) x_hat_{t-1}`` with
    ``a(f) = 1 / (1 + fps / (2 pi f))``.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    out[0] = x[0]
    dx_hat = np.zeros(x.shape[1:], dtype=np.float64)
    a_d = _alpha(d_cutoff, fps)
    for t in range(1, len(x)):
        dx = (x[t] - out[t - 1]) * fps
        dx_hat = a_d * dx + (1 - a_d) * dx_hat
        speed = np.linalg.norm(dx_hat, axis=-1, keepdims=True)
        a = _alpha(min_cutoff + beta * speed, fps)
        out[t] = a * x[t] + (1 - a) * out[t - 1]
    return out


def one_euro_zero_phase(x: np.ndarray, fps: float, **kwargs) -> np.ndarray:
    """:func:`one_euro` forwards, then backwards over the result (no lag). ``x``: ``(N, K, D)``."""
    forward = one_euro(x, fps, **kwargs)
    return one_euro(forward[::-1], fps, **kwargs)[::-1].copy()


def smooth_keypoints(kp: Keypoints, fps: float, min_cutoff: float = 1.0, beta: float = 1.0) -> Keypoints:
    """Keypoints of a clip smoothed with the zero-phase One-Euro filter, per group (body, hands, face).

    A group is filtered over each run of frames where it was detected (some point with confidence > 0);
    frames without it are left as they were. Confidences are not changed.
    """
    scale = float(max(kp.width, kp.height))
    out = kp.copy()
    for attr in GROUPS:
        arr = getattr(out, attr)
        present = arr[:, :, 2].max(axis=1) > 0
        for start, stop in _runs(present):
            if stop - start < 2:
                continue
            xy = arr[start:stop, :, :2] / scale
            arr[start:stop, :, :2] = one_euro_zero_phase(xy, fps, min_cutoff=min_cutoff, beta=beta) * scale
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``[start, stop)`` of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def smooth_masks(prob: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Temporal Gaussian smoothing of soft masks ``(N, H, W)``, then threshold at half range.

    ``prob``: integer dtype in 0..255 (threshold 127.5), or float / bool in [0, 1] (threshold 0.5); the
    range comes from the dtype, not the values, so a clip of faint probabilities is not read as [0, 1].
    ``sigma`` is in frames; ``0`` only thresholds. Returns ``(N, H, W)`` bool.
    """
    prob = np.asarray(prob)
    half = 127.5 if np.issubdtype(prob.dtype, np.integer) else 0.5
    prob = prob.astype(np.float32)
    if sigma > 0 and len(prob) > 1:
        prob = gaussian_filter1d(prob, sigma, axis=0, mode="nearest")
    return prob >= half


def keypoint_jitter(points: np.ndarray, reference: np.ndarray | None = None,
                    valid: np.ndarray | None = None) -> float:
    """Mean frame-to-frame keypoint displacement in pixels, beyond the true motion when it is known.

    Args:
        points: ``(N, K, 2)`` keypoints.
        reference: ``(N, K, 2)`` true keypoints; the jitter is then ``mean |dp_t - dg_t|``
            (``dp_t = p_{t+1} - p_t``), i.e. 0 for a perfect tracker whatever the motion.
        valid: ``(N, K)`` bool, points to count (a step counts when both of its frames are valid).

    A clip of fewer than 2 frames (or without a valid step) has no frame-to-frame motion: 0.
    """
    if len(points) < 2:
        return 0.0
    d = np.diff(np.asarray(points, dtype=np.float64), axis=0)
    if reference is not None:
        d = d - np.diff(np.asarray(reference, dtype=np.float64), axis=0)
    step = np.linalg.norm(d, axis=-1)
    if valid is not None:
        ok = valid[1:] & valid[:-1]
        return float(step[ok].mean()) if ok.any() else 0.0
    return float(step.mean())


def mask_iou_change(masks: np.ndarray) -> float:
    """Mean ``1 - IoU(m_t, m_{t+1})`` of a bool mask clip ``(N, H, W)`` (0 = perfectly stable, and for
    fewer than 2 frames)."""
    m = np.asarray(masks, dtype=bool)
    if len(m) < 2:
        return 0.0
    inter = (m[1:] & m[:-1]).reshape(len(m) - 1, -1).sum(1)
    union = (m[1:] | m[:-1]).reshape(len(m) - 1, -1).sum(1)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return float((1 - iou).mean())
