"""Pose-guided long video try-on (RealVVT Sec. 3.5, Algorithm 1) with a fake clip generator."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vvt.errors import ConfigError, ShapeMismatchError
from vvt.realvvt.long_video import (
    STRATEGIES,
    ClipCall,
    array_source,
    call_seed,
    clip_generator_from_pipeline,
    generate_long_video,
    guidance_scales,
    iter_long_video,
    long_video_plan,
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

    def half_size(agn, m, dp, g, call):
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


def clip_call(index: int, num_frames: int) -> ClipCall:
    return ClipCall(index, np.arange(num_frames), num_frames, np.zeros(num_frames, dtype=bool))


def test_adapter_gives_each_call_its_own_seed_and_resizes_back():
    agnostic, mask, densepose, garment = make_inputs(3)
    fake = FakePipeline(0.2)
    generate = clip_generator_from_pipeline(fake, seed=7, num_inference_steps=3, height=16, width=8)
    out = generate(agnostic, mask, densepose, garment, clip_call(0, 3))
    assert out.dtype == np.uint8 and out.shape == agnostic.shape
    assert (out == 51).all()  # 0.2 * 255, a constant survives the resize back to (H, W)
    generate(agnostic, mask, densepose, garment, clip_call(1, 3))
    seeds = [c.pop("seed") for c in fake.calls]
    assert seeds == [call_seed(7, 0), call_seed(7, 1)] and seeds[0] != seeds[1]
    for c in fake.calls:  # no saved defaults on the fake (1 -> 3); the default mode is constant: their mean
        np.testing.assert_allclose(c.pop("guidance_scales"), [2.0, 2.0, 2.0])
    expected = {"output_type": "np", "num_inference_steps": 3, "height": 16, "width": 8}
    assert fake.calls == [expected, expected]


def test_guidance_ramp_follows_the_video_or_the_clip_or_is_constant():
    frames = np.array([6, 7, 8])
    np.testing.assert_allclose(guidance_scales("clip", frames, 11, 1.0, 3.0), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(guidance_scales("video", frames, 11, 1.0, 3.0), [2.2, 2.4, 2.6])
    np.testing.assert_allclose(guidance_scales("constant", frames, 11, 1.0, 3.0), [2.0, 2.0, 2.0])
    # a whole video cut into overlapping clips gets one continuous ramp: frame f always gets the same scale
    whole = guidance_scales("video", np.arange(11), 11, 1.0, 3.0)
    np.testing.assert_allclose(whole, np.linspace(1.0, 3.0, 11))
    with pytest.raises(ConfigError, match="guidance mode"):
        guidance_scales("segment", frames, 11, 1.0, 3.0)


def test_adapter_skips_clips_with_nothing_to_inpaint():
    agnostic, mask, densepose, garment = make_inputs(3)
    fake = FakePipeline(0.2)
    out = clip_generator_from_pipeline(fake)(agnostic, np.zeros_like(mask), densepose, garment, clip_call(0, 3))
    np.testing.assert_array_equal(out, agnostic)
    assert fake.calls == []
    with pytest.raises(ConfigError, match="generator, output_type"):
        clip_generator_from_pipeline(fake, output_type="pil", generator=None)


def tiny_pipeline_and_inputs():
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

    return pipe, (agnostic, mask, densepose, garment)


def test_long_video_with_tiny_realvvt_pipeline():
    """End to end with the real (tiny, random) RealVVTPipeline: 2 calls of 2 frames, 1 Euler step."""
    pipe, (agnostic, mask, densepose, garment) = tiny_pipeline_and_inputs()
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
                  max_guidance_scale=1.0, generator=torch.Generator().manual_seed(call_seed(3, 0)),
                  output_type="np").frames
    np.testing.assert_array_equal(out[[0, 2]], np.round(direct * 255).astype(np.uint8))


def test_latent_replacement_keeps_fixed_frames_in_latent_space():
    """``fixed_latents``: the fixed frame's final latent is the clean latent of its frame (the VAE posterior's
    mode), whatever the noise; the other frames are sampled. Checked on the latents handed to the decoder:
    SVD's temporal VAE decoder mixes neighbouring frames, so a fixed frame's pixels depend on its clip (the
    pipeline's paste-back restores them where the agnostic mask is empty)."""
    pipe, (agnostic, mask, densepose, garment) = tiny_pipeline_and_inputs()
    mask[0] = False  # frame 0 is "already generated"
    fixed = np.array([True, False, False])
    decoded = []
    decode = pipe.decode_latents
    pipe.decode_latents = lambda latents, *args: decoded.append(latents.clone()) or decode(latents, *args)
    for seed in (0, 1):
        pipe(agnostic, mask, densepose, garment, num_inference_steps=2, max_guidance_scale=1.0, paste_back=False,
             generator=torch.Generator().manual_seed(seed), output_type="pt", fixed_latents=fixed)
    pixels = torch.from_numpy(agnostic[:1]).permute(0, 3, 1, 2)[None].float() / 127.5 - 1
    clean = pipe.model.encode_frames(pixels, scale=True)[0]
    for latents in decoded:
        torch.testing.assert_close(latents[:1], clean, atol=1e-5, rtol=0)
    assert (decoded[0][1:] - decoded[1][1:]).abs().max() > 1e-3  # the free frames follow their noise


# ------------------------------------------------------------------------------------ streaming


class IndexStamp:
    """A clip generator writing each frame's video index (and its call) into its pixels."""

    def __init__(self) -> None:
        self.calls: list[ClipCall] = []
        self.outputs: list[np.ndarray] = []

    def __call__(self, agnostic, mask, densepose, garment, call):
        self.calls.append(call)
        out = agnostic.copy()
        out[..., 0] = np.where(mask, call.frames[:, None, None] % 256, out[..., 0])
        out[..., 1] = np.where(mask, call.index, out[..., 1])
        self.outputs.append(out)
        return out


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("num_frames", [5, 8, 27])  # F < N, F = N, ragged F (27 = 3 * 8 + 3)
def test_streaming_yields_every_frame_once_in_order(strategy, num_frames):
    clip_len, overlap = 8, 2
    agnostic, mask, densepose, garment = make_inputs(num_frames, jumps=(4, 13))
    mask[:] = True
    plan = long_video_plan(densepose, num_frames, clip_len, 0.4, 5, overlap, strategy)
    stamp = IndexStamp()
    frames = iter_long_video(stamp, array_source(agnostic, mask, densepose), garment, plan, num_frames,
                             progress=False)
    out, calls_when_yielded = [], []
    for frame in frames:
        out.append(frame)
        calls_when_yielded.append(len(stamp.calls))
    assert len(out) == num_frames
    np.testing.assert_array_equal([f[0, 0, 0] for f in out], np.arange(num_frames))  # each once, in order
    assert len(stamp.calls) == len(plan.calls)
    if len(plan.segments) > 1:  # streamed: the first frame comes out before the last call runs
        assert calls_when_yielded[0] < len(plan.calls)
    # the frame each call left is the one yielded: nothing generated twice
    makers = [f[0, 0, 1] for f in out]
    for t, maker in enumerate(makers):
        assert t in stamp.calls[maker].frames and not stamp.calls[maker].fixed[list(stamp.calls[maker].frames).index(t)]
    if strategy == "independent" and num_frames % clip_len == 0:
        assert all(not c.fixed.any() for c in stamp.calls)
    if strategy.startswith("algorithm1") and num_frames > clip_len:
        assert {4, 13} <= set(plan.keyframes)
    else:
        assert not plan.keyframes


def test_keyframes_in_the_written_video_equal_the_generated_ones(tmp_path):
    """Algorithm 1 streamed through write_video (H.264): the decoded keyframes match Step 1's output."""
    from vvt.io import read_video, write_video

    num_frames, clip_len = 30, 8
    rng = np.random.default_rng(1)
    agnostic = np.repeat(rng.integers(60, 200, (num_frames, 1, 1, 3), dtype=np.uint8), 16, axis=1)
    agnostic = np.repeat(agnostic, 16, axis=2)
    mask = np.ones((num_frames, 16, 16), dtype=bool)
    densepose = np.zeros_like(agnostic)
    densepose[10:, :8] = 200  # a pose change at frame 10
    plan = long_video_plan(densepose, num_frames, clip_len, 0.2, 6, 2)

    def smooth(agnostic, mask, densepose, garment, call):  # flat frames, each call its own grey level
        out = agnostic.copy()
        out[mask] = 40 + 5 * call.index
        return out

    recorded = []

    def recording(*args):
        recorded.append(smooth(*args))
        return recorded[-1]

    frames = iter_long_video(recording, array_source(agnostic, mask, densepose), agnostic[0], plan, num_frames,
                             progress=False)
    path = write_video(tmp_path / "out.mp4", frames, fps=8)
    decoded = read_video(path)[0]
    assert len(decoded) == num_frames and 10 in plan.keyframes
    generated = {}
    for clip, out in zip(plan.keyframe_clips, recorded):
        generated.update({k: out[i] for i, k in enumerate(clip) if k not in generated})
    for k, frame in generated.items():
        assert np.abs(decoded[k].astype(int) - frame.astype(int)).mean() < 2.0, k


RSS_CHILD = """
import resource, sys
import numpy as np
from vvt.realvvt.long_video import array_source, iter_long_video, long_video_plan
from vvt.realvvt.streaming import StreamConditions
from pathlib import Path
root = Path(sys.argv[1])
n = int(sys.argv[2])
paths = {k: root / k for k in ("agnostic", "agnostic_mask", "densepose")}
cond = StreamConditions(paths, "vvt_iuv", n, (192, 256), 8.0)
plan = long_video_plan(cond.iter_densepose(), n, 8, 0.3, 50, 2)
def gen(a, m, d, g, call):
    return a.copy()
total = 0
for frame, (base, mask) in zip(iter_long_video(gen, cond.load, np.zeros((8, 8, 3), np.uint8), plan, n,
                                               progress=False), cond.iter_paste()):
    total += int(frame[0, 0, 0]) + int(mask[0, 0])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_streaming_host_memory_does_not_grow_with_the_video(tmp_path):
    """A small item 1 of issue 22: the peak RSS of a streamed long video (frame folders of 192x256, 20 vs 200
    frames, the whole of the longer being ~88 MB of conditions) stays within 1.3x of the short one's."""
    import subprocess
    import sys

    from vvt.io import write_image

    frame = np.full((192, 256, 3), 90, dtype=np.uint8)
    for name in ("agnostic", "agnostic_mask", "densepose"):
        (tmp_path / name).mkdir()
    for t in range(200):
        for name in ("agnostic", "agnostic_mask", "densepose"):
            write_image(tmp_path / name / f"{t:05d}.png", frame if name != "agnostic_mask" else frame * 2)
    peaks = [
        int(subprocess.run([sys.executable, "-c", RSS_CHILD, str(tmp_path), str(n)], check=True,
                           capture_output=True, text=True).stdout.split()[-1])
        for n in (20, 200)
    ]
    assert peaks[1] < 1.3 * peaks[0], peaks
