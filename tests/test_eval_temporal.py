"""Warping error and flicker on videos with a known motion: a texture shifted by k pixels per frame; Lai et al.'s
warp direction and occlusion rule (forward-backward check, motion boundary) on hand-made flows."""

from __future__ import annotations

import numpy as np
import pytest

from vvt.eval.temporal import (
    Motion,
    flicker,
    motion_boundary,
    non_occluded,
    reference_motion,
    warp_frame,
    warping_error,
)

K = 2  # pixels of motion per frame
H, W, N = 64, 80, 4


@pytest.fixture(scope="module")
def shifted():
    """Frame t is the window of a wide texture starting at column K*t: content moves K px left per frame, so
    frame t at p is frame t+1 at p + (-K, 0): the forward flow is (-K, 0)."""
    import cv2

    rng = np.random.default_rng(0)
    wide = cv2.resize(rng.integers(0, 256, (H // 4, (W + K * N) // 4, 3), dtype=np.uint8),
                      (W + K * N, H), interpolation=cv2.INTER_CUBIC)
    wide = cv2.GaussianBlur(wide, (3, 3), 0.8)
    return np.stack([wide[:, K * t: K * t + W] for t in range(N)])


def _uniform(dx: float) -> np.ndarray:
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = dx
    return flow


def test_frame_t_plus_1_warped_back_by_the_true_forward_flow_is_frame_t(shifted):
    fwd = _uniform(-K)
    warped = warp_frame(shifted[1].astype(np.float32), fwd)  # Lai et al.: O_{t+1}(p + F_f(p)) on frame t's grid
    np.testing.assert_array_equal(warped[:, K:], shifted[0][:, K:].astype(np.float32))
    valid = non_occluded(fwd, -fwd)
    assert not valid[:, :K].any() and valid[:, K:].all()  # the strip leaving the view has no target


def test_forward_backward_check_is_sundaram_et_al_with_lai_et_al_constants():
    fwd = _uniform(-3.0)
    back = _uniform(3.0)
    back[:, 40:] = 0.0  # inconsistent where the backward flow at p + F_f(p) is read from columns >= 40
    valid = non_occluded(fwd, back)
    # |F_f + F_b'|^2 = 9 > 0.01 (9 + 0) + 0.5 where F_b' = 0: pixels whose target x - 3 >= 40
    assert not valid[:, 43:].any() and valid[:, 3:43].all()
    # a mismatch below the tolerance passes: |0.5|^2 = 0.25 <= 0.01 (9 + 6.25) + 0.5
    assert non_occluded(fwd, _uniform(2.5))[:, 3:].all()


def test_motion_boundaries_are_where_the_flow_changes_faster_than_the_threshold():
    flow = _uniform(-1.0)
    assert not motion_boundary(flow).any()  # uniform motion: no boundary
    flow[:, 30:, 0] = 1.0  # two regions moving apart
    boundary = motion_boundary(flow)
    # forward difference u(x) - u(x+1) = -2 at x = 29 only: 4 > 0.01 * 1 + 0.002
    assert boundary[:, 29].all() and boundary.sum() == H
    gentle = _uniform(-1.0)
    gentle[..., 0] += np.arange(W, dtype=np.float32) * 0.01  # du/dx = 0.01: 1e-4 < 0.01 |F|^2 + 0.002
    assert not motion_boundary(gentle).any()
    assert not non_occluded(flow, -flow)[:, 29].any()  # boundaries are occluded in the warping error


def test_dis_flow_recovers_the_shift_and_gives_zero_warping_error(shifted):
    motions = reference_motion(shifted)
    assert len(motions) == N - 1
    for m in motions:
        inner = m.flow_fwd[8:-8, 8 + K:-8]
        assert np.median(inner[..., 0]) == pytest.approx(-K, abs=0.1)
        assert np.median(np.abs(inner[..., 1])) < 0.1
        assert m.valid[:, K + 4:].mean() > 0.9 and not m.valid[:, 0].any()
    video = shifted.astype(np.float32) / 255
    assert warping_error(video, motions) < 2e-4  # interpolation error only (a 1-grey-level RMS is 1.5e-5)


def test_a_brightness_flicker_is_measured_exactly(shifted):
    fwd = _uniform(-K)
    motions = [Motion(fwd, non_occluded(fwd, -fwd)) for _ in range(N - 1)]
    delta = 0.1
    video = shifted.astype(np.float64) / 255 * 0.8
    video[1::2] += delta  # odd frames brighter: every transition changes by delta
    mask = np.zeros((N, H, W), dtype=bool)
    mask[:, 16:48, 20:60] = True
    assert flicker(video.astype(np.float32), motions, mask) == pytest.approx(delta, abs=1e-5)
    assert warping_error(video.astype(np.float32), motions) == pytest.approx(delta**2, rel=1e-4)
    steady = (shifted.astype(np.float32) / 255) * 0.8
    assert flicker(steady, motions, mask) == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(flicker(steady, motions, np.zeros_like(mask)))  # no region: no value


def test_warping_error_is_eq7_per_frame_pair_then_averaged_over_pairs(shifted):
    fwd = _uniform(-K)
    wide = non_occluded(fwd, -fwd)
    small = np.zeros_like(wide)
    small[10:20, 10:20] = True  # 100 pixels against ~5000: pooling all pixels would weigh this pair 50x less
    video = shifted.astype(np.float32) / 255 * 0.8
    video[2] += 0.1  # pair 0 is exact (error 0); pairs 1 and 2 change by +-0.1 (squared error 0.01)
    motions = [Motion(fwd, wide), Motion(fwd, small), Motion(fwd, wide)]
    assert warping_error(video, motions) == pytest.approx((0 + 0.01 + 0.01) / 3, rel=1e-4)
    # Lai et al.: a pair without a non-occluded pixel counts 0 and stays in the average over T - 1 pairs
    empty = np.zeros_like(wide)
    assert warping_error(video, [Motion(fwd, wide), Motion(fwd, empty), Motion(fwd, wide)]) == pytest.approx(
        0.01 / 3, rel=1e-4)
    assert np.isnan(warping_error(video, [Motion(fwd, empty)] * 3))  # nothing measured at all: no value
