"""Pose-guided long video try-on (RealVVT Sec. 3.5, Algorithm 1) with a fake clip generator."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vvt.errors import ConfigError, ShapeMismatchError
from vvt.realvvt.long_video import (
    clip_generator_from_pipeline,
    generate_long_video,
    plan_long_video,
    pose_distance,
    select_keyframes,
    window_starts,
)

H, W = 4, 6
GREY = 128


def ramp_poses(num_frames: int, width: int = 100) -> np.ndarray:
    """``(F, 1, width, 3)``: frame ``t`` has its first ``t`` pixels white, the rest black.

    ``pose_distance`` of frames ``a`` and ``b`` is ``sqrt(|a - b| / width)``.
    """
    poses = np.zeros((num_frames, 1, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        poses[t, 0, :t] = 255
    return poses


# ---------------------------------------------------------------------------------------- Step 1


def test_pose_distance_is_rms_over_pixels_in_unit_range():
    p = np.zeros((10, 10, 3), dtype=np.uint8)
    q = p.copy()
    q[:5, :4] = 51  # 20 of 100 pixels change by 0.2 in every channel -> 0.2 * sqrt(0.2)
    assert pose_distance(p, q) == pytest.approx(0.2 * np.sqrt(0.2), rel=1e-6)
    assert pose_distance(q, p) == pose_distance(p, q)
    white = np.full_like(p, 255)
    assert pose_distance(p, white) == pytest.approx(1.0)
    # resolution independent: the same frames at 3x the size
    big = lambda x: x.repeat(3, axis=0).repeat(3, axis=1)  # noqa: E731
    assert pose_distance(big(p), big(q)) == pytest.approx(pose_distance(p, q), rel=1e-6)


def test_ramp_pose_distance_matches_closed_form():
    poses = ramp_poses(30)
    for a, b in [(0, 1), (3, 13), (29, 5)]:
        assert pose_distance(poses[a], poses[b]) == pytest.approx(np.sqrt(abs(a - b) / 100), rel=1e-6)


def test_static_video_gets_a_keyframe_every_s_max_frames():
    static = np.repeat(ramp_poses(8)[5:6], 10, axis=0)
    assert select_keyframes(static, d_pose=0.05, s_max=3) == [0, 3, 6, 9]
    static11 = np.repeat(static[:1], 11, axis=0)
    assert select_keyframes(static11, d_pose=0.05, s_max=3) == [0, 3, 6, 9, 10]
    assert select_keyframes(static11, d_pose=0.05, s_max=1) == list(range(11))
    assert select_keyframes(static11[:1], d_pose=0.05, s_max=3) == [0]
    with pytest.raises(ShapeMismatchError, match="F >= 1"):
        select_keyframes(static11[:0], d_pose=0.05, s_max=3)


def test_sudden_pose_change_is_a_keyframe_right_there():
    poses = np.zeros((20, H, W, 3), dtype=np.uint8)
    poses[7:] = 200  # a jump at frame 7, static otherwise
    assert select_keyframes(poses, d_pose=0.3, s_max=100) == [0, 7, 19]
    poses[13:] = 0  # and back at frame 13
    assert select_keyframes(poses, d_pose=0.3, s_max=100) == [0, 7, 13, 19]
    assert select_keyframes(poses, d_pose=0.3, s_max=5) == [0, 5, 7, 12, 13, 18, 19]


def test_gradual_motion_keyframes_every_threshold_crossing():
    poses = ramp_poses(40)
    # distance sqrt(k / 100) >= sqrt(0.095) first at a stride of k = 10
    assert select_keyframes(poses, d_pose=np.sqrt(0.095), s_max=100) == [0, 10, 20, 30, 39]
    # the stride bound wins when it is tighter
    assert select_keyframes(poses, d_pose=np.sqrt(0.095), s_max=4) == list(range(0, 40, 4)) + [39]
    # the same video at 4x the resolution gives the same keyframes
    big = poses.repeat(4, axis=1).repeat(4, axis=2)
    assert select_keyframes(big, d_pose=np.sqrt(0.095), s_max=100) == [0, 10, 20, 30, 39]


def test_keyframes_satisfy_algorithm_1_invariants_on_random_motion():
    rng = np.random.default_rng(0)
    steps = rng.integers(-40, 41, size=(60, H, W, 3))
    poses = np.clip(np.cumsum(steps, axis=0) + 128, 0, 255).astype(np.uint8)
    d_pose, s_max = 0.15, 6
    keys = select_keyframes(poses, d_pose, s_max)
    assert keys[0] == 0 and keys[-1] == len(poses) - 1 and keys == sorted(set(keys))
    for k, nxt in zip(keys[:-1], keys[1:]):
        between = range(k + 1, nxt)
        # every frame between two keyframes is close to, and less than s_max after, the first one
        assert all(pose_distance(poses[k], poses[f]) < d_pose and f - k < s_max for f in between)
        # and each keyframe (but the forced last one) is where one of the two bounds is reached
        if nxt != len(poses) - 1:
            assert pose_distance(poses[k], poses[nxt]) >= d_pose or nxt - k == s_max
    assert 2 < len(keys) < len(poses)  # the test exercises both cases


# ----------------------------------------------------------------------------------------- plans


def test_window_starts_cover_with_overlap_and_last_window_aligned():
    assert window_starts(10, 4, 1) == [0, 3, 6]
    assert window_starts(11, 4, 1) == [0, 3, 6, 7]
    assert window_starts(12, 4, 0) == [0, 4, 8]
    assert window_starts(3, 4, 1) == [0]
    for length, clip_len, overlap in [(17, 5, 2), (100, 16, 4), (9, 8, 7), (23, 3, 0)]:
        starts = window_starts(length, clip_len, overlap)
        covered = set().union(*(range(s, s + clip_len) for s in starts))
        assert covered == set(range(length))
        assert starts[-1] + clip_len == length
        assert all(b - a == clip_len - overlap for a, b in zip(starts[:-2], starts[1:-1]))


def test_plan_skips_segments_made_only_of_known_frames():
    # every frame a keyframe: Step 2 has nothing left to generate
    plan = plan_long_video(9, list(range(9)), clip_len=4, overlap=1)
    assert plan.segments == ()
    assert plan.keyframe_clips == ((0, 1, 2, 3), (3, 4, 5, 6), (5, 6, 7, 8))
    short = plan_long_video(4, [0, 3], clip_len=4, overlap=1)
    assert short.calls == ((0, 1, 2, 3),) and short.keyframes == ()


# ------------------------------------------------------------------------------ generation (fake)


class FakeClipGenerator:
    """Records every call; keeps unmasked pixels, fills the masked ones with ``100 + call number``.

    Like a real model (VAE round trip), it does not return even the kept frames exactly: it stamps the call
    number into pixel ``(0, -1)`` channel 2 of every frame. Frame identity travels in the DensePose frames:
    pixel ``(0, 0)`` channel 2 holds the frame index.
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, np.ndarray]] = []

    def __call__(self, agnostic, mask, densepose, garment, call_info):
        call = len(self.calls)
        assert call_info.index == call and (call_info.frames == densepose[:, 0, 0, 2]).all()
        self.calls.append(
            {"agnostic": agnostic.copy(), "mask": mask.copy(), "frames": densepose[:, 0, 0, 2].astype(int)}
        )
        out = agnostic.copy()
        out[mask] = 100 + call
        out[:, 0, -1, 2] = call
        return out


def make_inputs(num_frames: int, jumps: tuple[int, ...] = ()):
    agnostic = np.zeros((num_frames, H, W, 3), dtype=np.uint8)
    agnostic[:, :, :, 0] = np.arange(num_frames, dtype=np.uint8)[:, None, None]  # unmasked content
    mask = np.zeros((num_frames, H, W), dtype=bool)
    mask[:, 1:3, 1:5] = True
    agnostic[mask] = GREY
    densepose = np.zeros((num_frames, H, W, 3), dtype=np.uint8)
    for t in jumps:
        densepose[t:, 1:, :, 1] = 255 - densepose[t:, 1:, :, 1]  # a sudden pose change at each jump
    densepose[:, 0, 0, 2] = np.arange(num_frames)
    garment = np.full((5, 3, 3), 77, dtype=np.uint8)
    return agnostic, mask, densepose, garment


def run(num_frames, clip_len, d_pose, s_max, overlap, jumps=()):
    agnostic, mask, densepose, garment = make_inputs(num_frames, jumps)
    fake = FakeClipGenerator()
    out = generate_long_video(
        fake, agnostic, mask, densepose, garment, clip_len, d_pose, s_max, overlap, progress=False
    )
    return out, fake, (agnostic, mask, densepose)


@pytest.mark.parametrize(
    "num_frames, clip_len, s_max, overlap, jumps",
    [(37, 8, 5, 2, (11,)), (29, 5, 3, 0, ()), (50, 7, 4, 3, (9, 20, 21)), (23, 16, 6, 4, ())],
)
def test_long_video_follows_algorithm_1(num_frames, clip_len, s_max, overlap, jumps):
    out, fake, (agnostic, mask, densepose) = run(num_frames, clip_len, 0.4, s_max, overlap, jumps)
    keys = select_keyframes(densepose, 0.4, s_max)
    assert set(jumps) <= set(keys)
    frames_of = [c["frames"] for c in fake.calls]
    n_key_calls = next(i for i, f in enumerate(frames_of) if not set(f) <= set(keys))
    # Step 1 generates exactly the keyframes, in overlapping clips of <= clip_len keyframes
    assert sorted(set().union(*map(set, frames_of[:n_key_calls]))) == keys
    assert all(len(f) <= clip_len for f in frames_of)
    # Step 2 segments are consecutive frames and together cover the video
    for f in frames_of[n_key_calls:]:
        assert list(f) == list(range(f[0], f[0] + len(f)))
    assert set().union(*map(set, frames_of)) == set(range(num_frames))

    # every output frame was produced by a call (masked region filled) and keeps its unmasked content
    assert (out[mask] >= 100).all()
    producer = out[:, 0, -1, 2].astype(int)
    np.testing.assert_array_equal(out[:, 1, 1, 0], 100 + producer)
    unstamped = ~mask
    unstamped[:, 0, -1] = False
    np.testing.assert_array_equal(out[unstamped], agnostic[unstamped])
    # keyframes come from Step 1, every other frame from the first Step 2 segment holding it
    for t in range(num_frames):
        first = next(i for i, f in enumerate(frames_of) if t in f)
        assert producer[t] == first
        assert (producer[t] < n_key_calls) == (t in keys)

    # a frame generated before a call enters it unchanged with its mask cleared; a new one as given
    for i, call in enumerate(fake.calls):
        for pos, t in enumerate(call["frames"]):
            if producer[t] < i:
                np.testing.assert_array_equal(call["agnostic"][pos], out[t])
                assert not call["mask"][pos].any()
            else:
                np.testing.assert_array_equal(call["agnostic"][pos], agnostic[t])
                np.testing.assert_array_equal(call["mask"][pos], mask[t])
    # consecutive Step 2 segments share at least `overlap` frames (the last one may share more)
    seg = frames_of[n_key_calls:]
    for a, b in zip(seg[:-1], seg[1:]):
        assert len(set(a) & set(b)) >= overlap


def test_short_video_is_a_single_call():
    out, fake, (agnostic, mask, _) = run(6, clip_len=6, d_pose=0.1, s_max=2, overlap=2)
    assert len(fake.calls) == 1
    assert list(fake.calls[0]["frames"]) == list(range(6))
    np.testing.assert_array_equal(fake.calls[0]["mask"], mask)
    assert (out[mask] == 100).all()


def test_clip_len_one_generates_frame_by_frame():
    out, fake, (_, mask, _) = run(5, clip_len=1, d_pose=0.4, s_max=2, overlap=0)
    assert [list(c["frames"]) for c in fake.calls] == [[0], [2], [4], [1], [3]]
    np.testing.assert_array_equal(out[:, 1, 1, 0], [100, 103, 101, 104, 102])


def test_mismatched_inputs_raise_shape_mismatch():
    agnostic, mask, densepose, garment = make_inputs(10)
    fake = FakeClipGenerator()

    def call(**changes):
        args = {"agnostic": agnostic, "agnostic_mask": mask, "densepose": densepose, "garment": garment}
        args.update(changes)
        generate_long_video(fake, **args, clip_len=4, d_pose=0.1, s_max=3, overlap=1, progress=False)

    with pytest.raises(ShapeMismatchError, match=r"same frame count"):
        call(densepose=densepose[:9])
    with pytest.raises(ShapeMismatchError, match=r"same frame count"):
        call(agnostic_mask=mask[:, :3])
    with pytest.raises(ShapeMismatchError, match=r"agnostic_mask must be a bool"):
        call(agnostic_mask=mask.astype(np.uint8))
    with pytest.raises(ShapeMismatchError, match=r"agnostic must be a uint8"):
        call(agnostic=agnostic.astype(np.float32))
    with pytest.raises(ShapeMismatchError, match=r"garment must be a uint8"):
        call(garment=garment[..., 0])
    with pytest.raises(ShapeMismatchError, match=r"no frames"):
        call(agnostic=agnostic[:0], agnostic_mask=mask[:0], densepose=densepose[:0])
    assert fake.calls == []


def test_bad_parameters_and_bad_generator_output():
    agnostic, mask, densepose, garment = make_inputs(10)
    args = (agnostic, mask, densepose, garment)
    with pytest.raises(ConfigError, match="overlap"):
        generate_long_video(FakeClipGenerator(), *args, 4, 0.1, 3, 4, progress=False)
    with pytest.raises(ConfigError, match="s_max"):
        generate_long_video(FakeClipGenerator(), *args, 4, 0.1, 0, 1, progress=False)
    with pytest.raises(ConfigError, match="d_pose"):
        generate_long_video(FakeClipGenerator(), *args, 4, 0.0, 3, 1, progress=False)

    def half_size(agn, m, dp, g):
        return agn[:, ::2]

    with pytest.raises(ShapeMismatchError, match="generate_clip must return"):
        generate_long_video(half_size, *args, 4, 0.1, 3, 1, progress=False)


# ------------------------------------------------------------------------------ pipeline adapter


class FakePipeline:
    """Mimics ``RealVVTPipeline.__call__``: frames of value ``level`` at the working size, recorded calls."""

    def __init__(self, level: float) -> None:
        self.level = level
        self.calls: list[dict] = []

    def __call__(self, agnostic, agnostic_mask, densepose, garment, *, generator, output_type, **kwargs):
        self.calls.append({"seed": generator.initial_seed(), "output_type": output_type, **kwargs})
        h, w = kwargs.get("height", agnostic.shape[1]), kwargs.get("width", agnostic.shape[2])
        frames = np.full((len(agnostic), h, w, 3), self.level, dtype=np.float32)
        return SimpleNamespace(frames=frames)


def test_adapter_converts_seeds_and_resizes_back():
    agnostic, mask, densepose, garment = make_inputs(3)
    fake = FakePipeline(0.2)
    generate = clip_generator_from_pipeline(fake, seed=7, num_inference_steps=3, height=16, width=8)
    out = generate(agnostic, mask, densepose, garment)
    assert out.dtype == np.uint8 and out.shape == agnostic.shape
    assert (out == 51).all()  # 0.2 * 255, a constant survives the resize back to (H, W)
    generate(agnostic, mask, densepose, garment)
    expected = {"seed": 7, "output_type": "np", "num_inference_steps": 3, "height": 16, "width": 8}
    assert fake.calls == [expected, expected]


def test_adapter_skips_clips_with_nothing_to_inpaint():
    agnostic, mask, densepose, garment = make_inputs(3)
    fake = FakePipeline(0.2)
    out = clip_generator_from_pipeline(fake)(agnostic, np.zeros_like(mask), densepose, garment)
    np.testing.assert_array_equal(out, agnostic)
    assert fake.calls == []
    with pytest.raises(ConfigError, match="generator, output_type"):
        clip_generator_from_pipeline(fake, output_type="pil", generator=None)


def test_long_video_with_tiny_realvvt_pipeline():
    """End to end with the real (tiny, random) RealVVTPipeline: 2 calls of 2 frames, 1 Euler step."""
    from vvt.realvvt.config import RealVVTConfig
    from vvt.realvvt.pipeline import RealVVTPipeline
    from vvt.realvvt.presets import build_components

    pipe = RealVVTPipeline(**build_components(RealVVTConfig(preset="tiny", seed=0)))
    pipe.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(0)
    num_frames, h, w = 3, 32, 24
    agnostic = rng.integers(0, 256, (num_frames, h, w, 3), dtype=np.uint8)
    mask = np.zeros((num_frames, h, w), dtype=bool)
    mask[:, 8:24, 6:18] = True
    agnostic[mask] = GREY
    densepose = np.zeros_like(agnostic)
    densepose[:, 8:24, 6:18, 0] = np.arange(num_frames, dtype=np.uint8)[:, None, None] * 30
    garment = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)

    generate = clip_generator_from_pipeline(pipe, seed=3, num_inference_steps=1, max_guidance_scale=1.0)
    returned = []

    def recording(*args):
        returned.append(generate(*args))
        return returned[-1]

    out = generate_long_video(recording, agnostic, mask, densepose, garment, 2, 0.2, 2, 0, progress=False)
    # keyframes 0 and 2 in one call, then the segment [0, 1] with frame 0 kept (segment [1, 2] is all done)
    assert len(returned) == 2
    np.testing.assert_array_equal(out[[0, 2]], returned[0])
    np.testing.assert_array_equal(out[1], returned[1][1])
    # paste-back: the kept keyframe comes back from the pipeline exactly, and no pixel outside the mask moved
    np.testing.assert_array_equal(returned[1][0], out[0])
    np.testing.assert_array_equal(out[~mask], agnostic[~mask])
    assert (out[mask] != GREY).mean() > 0.5  # the masked region was generated
    # the keyframe call is the pipeline run directly on frames 0 and 2 with the same seed
    direct = pipe(agnostic[[0, 2]], mask[[0, 2]], densepose[[0, 2]], garment, num_inference_steps=1,
                  max_guidance_scale=1.0, generator=torch.Generator().manual_seed(3), output_type="np").frames
    np.testing.assert_array_equal(out[[0, 2]], np.round(direct * 255).astype(np.uint8))
