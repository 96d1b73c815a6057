"""Warping error and flicker on videos with a known motion: a texture shifted by k pixels per frame."""

from __future__ import annotations

import numpy as np
import pytest

from vvt.eval.temporal import flicker, non_occluded, reference_motion, warp_frame, warping_error

K = 2  # pixels of motion per frame
H, W, N = 64, 80, 4


@pytest.fixture(scope="module")
def shifted():
    """Frame t is the window of a wide texture starting at column K*t: content moves K px left per frame."""
    import cv2

    rng = np.random.default_rng(0)
    wide = cv2.resize(rng.integers(0, 256, (H // 4, (W + K * N) // 4, 3), dtype=np.uint8),
                      (W + K * N, H), interpolation=cv2.INTER_CUBIC)
    wide = cv2.GaussianBlur(wide, (3, 3), 0.8)
    return np.stack([wide[:, K * t: K * t + W] for t in range(N)])


def test_warp_with_the_true_flow_reproduces_the_next_frame(shifted):
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = K  # frame t+1 at p is frame t at p + (K, 0)
    warped = warp_frame(shifted[0].astype(np.float32), flow)
    np.testing.assert_array_equal(warped[:, : W - K], shifted[1][:, : W - K].astype(np.float32))
    valid = non_occluded(flow, -flow)
    assert not valid[:, W - K:].any() and valid[:, : W - K].all()  # the strip entering the view is occluded


def test_dis_flow_recovers_the_shift_and_gives_zero_warping_error(shifted):
    motions = reference_motion(shifted)
    assert len(motions) == N - 1
    for m in motions:
        inner = m.flow_back[8:-8, 8:-8 - K]
        assert np.median(inner[..., 0]) == pytest.approx(K, abs=0.1)
        assert np.median(np.abs(inner[..., 1])) < 0.1
        assert m.valid[:, : W - K - 4].mean() > 0.95 and not m.valid[:, W - 1].any()
    video = shifted.astype(np.float32) / 255
    assert warping_error(video, motions) < 2e-4  # interpolation error only (a 1-grey-level RMS is 1.5e-5)


def test_a_brightness_flicker_is_measured_exactly(shifted):
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = K
    from vvt.eval.temporal import Motion

    motions = [Motion(flow, non_occluded(flow, -flow)) for _ in range(N - 1)]
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
    from vvt.eval.temporal import Motion

    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = K
    wide = non_occluded(flow, -flow)
    small = np.zeros_like(wide)
    small[10:20, 10:20] = True  # 100 pixels against ~5000: pooling all pixels would weigh this pair 50x less
    video = shifted.astype(np.float32) / 255 * 0.8
    video[2] += 0.1  # pair 0 is exact (error 0); pairs 1 and 2 change by +-0.1 (squared error 0.01)
    motions = [Motion(flow, wide), Motion(flow, small), Motion(flow, wide)]
    assert warping_error(video, motions) == pytest.approx((0 + 0.01 + 0.01) / 3, rel=1e-4)
    # a pair without a non-occluded pixel is left out; none at all gives no value
    empty = np.zeros_like(wide)
    assert warping_error(video, [Motion(flow, wide), Motion(flow, empty), Motion(flow, wide)]) == pytest.approx(
        0.01 / 2, rel=1e-4)
    assert np.isnan(warping_error(video, [Motion(flow, empty)] * 3))
