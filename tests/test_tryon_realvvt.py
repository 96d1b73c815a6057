"""``vvt tryon --method realvvt`` and :mod:`vvt.realvvt.tryon` with a tiny random RealVVT on CPU: the real
ViViD sample through its own streams, SynthVVT preprocessed on the fly, Algorithm 1 on a long clip, bad
inputs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from vvt.cli import main
from vvt.io import read_video, video_info, write_video
from vvt.realvvt.config import RealVVTConfig
from vvt.realvvt.long_video import plan_long_video, select_keyframes
from vvt.realvvt.model import RealVVT
from vvt.realvvt.pipeline import feathered_alpha
from vvt.realvvt.tryon import (
    Letterbox,
    VideoConditions,
    fit_garment,
    iter_try_on_video,
    load_pipeline,
    paste_back,
    pipeline_folder,
    training_defaults,
)

# diffusers' EulerDiscreteScheduler trips a numpy 2 deprecation inside its own code, mediapipe a protobuf one
pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning"),
]



@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A tiny RealVVT pipeline with random weights, saved as a `vvt train realvvt` run: RUN/final (the
    export) and RUN/config.yaml (training size 64x48, 4-frame clips)."""
    run = tmp_path_factory.mktemp("realvvt_run")
    RealVVT.from_config(RealVVTConfig(preset="tiny", seed=0)).save_pretrained(run / "final")
    (run / "config.yaml").write_text("data:\n  size: [64, 48]\n  frames: 4\n")
    return run


def _outside(mask: np.ndarray, margin: int) -> np.ndarray:
    """Pixels farther than ``margin`` from the mask ``(F, H, W)`` bool."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    return ~np.stack([cv2.dilate(m.astype(np.uint8), kernel) > 0 for m in mask])


def test_vivid_sample_end_to_end(weights, vivid_samples, tmp_path, capsys):
    out = tmp_path / "upper1_00057.mp4"
    argv = ["tryon", "--method", "realvvt", "--weights", str(weights / "final"), "--data", str(vivid_samples),
            "--sample", "upper1", "--garment", "00057_00", "--size", "64x48", "--steps", "2",
            "--max-frames", "6", "--out", str(out)]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    video, fps = read_video(out)
    source = video_info(vivid_samples / "videos" / "upper1.mp4")
    assert video.shape == (6, source.height, source.width, 3) and fps == pytest.approx(source.fps)
    person, _ = read_video(vivid_samples / "videos" / "upper1.mp4", max_frames=6)
    mask = read_video(vivid_samples / "agnostic_mask" / "upper1.mp4", max_frames=6)[0].mean(-1) >= 128
    diff = np.abs(video.astype(int) - person.astype(int)).max(-1)
    # paste-back: outside the agnostic mask the output is the person video, up to H.264 (crf 18, 4:2:0
    # chroma: 2 px margin at the mask border)
    outside = diff[_outside(mask, 2)]
    print(f"|out - person|: outside {outside.mean():.2f} (p99.9 {np.percentile(outside, 99.9)}), "
          f"inside {diff[mask].mean():.1f}")
    assert outside.mean() < 1.5 and np.percentile(outside, 99.9) <= 12
    # inside, random weights generate something else than the person's own shirt
    assert diff[mask].mean() > 20


def _moving_clip(frames: int, h: int, w: int, seed: int = 0):
    """A torso-shaped mask moving right (two poses: a sudden jump at frame ``frames // 2``), agnostic grey
    inside, a 2-part DensePose, a random textured person."""
    rng = np.random.default_rng(seed)
    person = rng.integers(0, 256, (frames, h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((frames, h, w), bool)
    densepose = np.zeros((frames, h, w, 3), np.uint8)
    for i in range(frames):
        cx = w // 3 + (w // 3 if i >= frames // 2 else 0) + i % 2
        body = (np.abs(xx - cx) < w // 6) & (yy > h // 5) & (yy < 4 * h // 5)
        mask[i] = body & (yy < h // 2)
        densepose[i][body] = (20, 128, 128)
        densepose[i][mask[i]] = (60, 200, 40)
    agnostic = person.copy()
    agnostic[mask] = 128
    return person, agnostic, mask, densepose


class CountingPipeline:
    """Records the frame count of every pipeline call and delegates to the tiny pipeline."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.calls: list[int] = []

    def __call__(self, agnostic, *args, **kwargs):
        self.calls.append(len(agnostic))
        return self.pipeline(agnostic, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.pipeline, name)


def test_long_video_runs_algorithm_1(weights):
    """11 frames of 50x30 with 4-frame clips: the calls are Algorithm 1's plan, every frame is generated
    inside the mask and is the input outside it (exactly: no codec here)."""
    person, agnostic, mask, densepose = _moving_clip(11, 50, 30)
    conditions = VideoConditions(agnostic, mask, densepose, fps=8.0, person=person, name="moving")
    pipe = CountingPipeline(load_pipeline(weights))
    garment = np.full((40, 30, 3), 255, np.uint8)
    garment[5:35, 5:25] = (200, 30, 30)
    size, clip_len = (64, 48), 4
    out = np.stack(list(iter_try_on_video(pipe, conditions, garment, size, clip_len, d_pose=0.15, s_max=3,
                                          overlap=1, num_inference_steps=2, seed=1, progress=False)))

    box = Letterbox.fit((50, 30), size)
    assert (box.scaled, box.top, box.left) == ((64, 38), 0, 5)
    keyframes = select_keyframes(box.labels_to_working(densepose), 0.15, 3)
    assert keyframes == [0, 3, 5, 8, 10]  # stride 3, the pose jump at frame 5 (2nd pose from frame 5 on)
    plan = plan_long_video(11, keyframes, clip_len, 1)
    assert pipe.calls == [len(c) for c in plan.calls] and max(pipe.calls) <= clip_len
    assert sum(pipe.calls) > 11  # keyframe clips, then segments
    assert out.shape == person.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], person[~mask])
    for i in range(11):  # every frame produced: not the grey agnostic fill inside the mask
        assert np.abs(out[i][mask[i]].astype(int) - 128).mean() > 5, i


def test_letterbox_and_paste_back_match_the_pipeline():
    box = Letterbox.fit((100, 100), (64, 48))
    assert (box.scaled, box.top, box.left) == ((48, 48), 8, 0)
    mask = np.zeros((1, 100, 100), bool)
    mask[0, 50, 50] = True  # one input pixel: the conservative resize keeps it
    working = box.mask_to_working(mask)
    assert working.sum() >= 1 and not working[0, :8].any() and not working[0, 56:].any()
    yy, xx = np.mgrid[0:100, 0:100]
    smooth = np.stack([(xx * 2.5), (yy * 2.5), (xx + yy) * 1.2], -1).astype(np.uint8)[None]
    back = box.to_input(box.images_to_working(smooth))
    assert np.abs(back.astype(int) - smooth.astype(int))[:, 3:-3, 3:-3].max() <= 4
    padded = box.labels_to_working(smooth)
    assert not padded[0, :8].any() and not padded[0, 56:].any()  # DensePose padded black
    # the garment photo: fitted the same way, padded white (20x30 -> 32x48 at rows 16..47 of 64x48)
    fitted = fit_garment(np.full((20, 30, 3), (200, 30, 30), np.uint8), (64, 48))
    assert fitted.shape == (64, 48, 3)
    assert (fitted[:16] == 255).all() and (fitted[48:] == 255).all()
    assert (fitted[16:48] == (200, 30, 30)).all()

    rng = np.random.default_rng(0)
    generated = rng.integers(0, 256, (2, 40, 32, 3), dtype=np.uint8)
    base = rng.integers(0, 256, (2, 40, 32, 3), dtype=np.uint8)
    m = np.zeros((2, 40, 32), bool)
    m[:, 8:30, 6:26] = True
    got = paste_back(generated, base, m, 5)
    alpha = feathered_alpha(torch.from_numpy(m).float()[:, None], 5)[:, 0, ..., None].numpy()
    want = np.round(alpha * generated + (1 - alpha) * base)
    assert np.abs(got - want).max() <= 1
    assert np.array_equal(got[~m], base[~m])


def test_preprocesses_a_synthvvt_video_on_the_fly(weights, tmp_path):
    from vvt.data.synth import SynthConfig, generate

    root = generate(tmp_path / "synth", SynthConfig(videos=1, frames=4, height=256, width=192,
                                                   categories=("upper",), seed=0))
    folder = root / "upper_body"
    video = next((folder / "videos").iterdir())
    garment = sorted((folder / "cloth").iterdir())[-1]
    out = tmp_path / "out.mp4"
    argv = ["tryon", "--method", "realvvt", "--weights", str(weights), "--video", str(video),
            "--garment", str(garment), "--category", "upper", "--steps", "2", "--out", str(out)]
    assert main(argv) == 0  # size 64x48 and 4-frame clips: the training run's config.yaml
    got, fps = read_video(out)
    person, person_fps = read_video(video)
    assert got.shape == person.shape == (4, 256, 192, 3) and fps == pytest.approx(person_fps)
    worn = read_video(folder / "worn_mask" / video.name)[0].mean(-1) >= 128
    changed = np.abs(got.astype(int) - person.astype(int)).max(-1) > 24
    # the preprocessing found the worn shirt: it is replaced; the frame's border (background) is kept
    print(f"worn replaced {changed[worn].mean():.3f}, border changed {changed[:, :16].mean():.4f}")
    assert changed[worn].mean() > 0.8
    border = np.ones(changed.shape, bool)
    border[:, 16:-16, 16:-16] = False
    assert changed[border].mean() < 0.01


def test_training_run_defaults(weights):
    pipe = load_pipeline(weights)
    assert pipeline_folder(weights) == weights / "final"
    assert training_defaults(weights, pipe) == ((64, 48), 4)
    assert training_defaults(weights / "final", pipe) == ((64, 48), 4)


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    """Prepared streams of 4 frames (the mask video: 3 frames), a garment and a non-video file."""
    root = tmp_path_factory.mktemp("streams")
    person, agnostic, mask, densepose = _moving_clip(4, 32, 24)
    write_video(root / "agnostic.mp4", agnostic, 8, lossless=True)
    white = mask[..., None].repeat(3, -1).astype(np.uint8) * 255
    write_video(root / "mask.mp4", white, 8, lossless=True)
    write_video(root / "mask3.mp4", white[:3], 8, lossless=True)
    write_video(root / "densepose.mp4", densepose, 8, lossless=True)
    garment = np.full((32, 24, 3), 255, np.uint8)
    garment[8:24, 4:20] = (40, 90, 200)  # a garment on white (a blank photo is refused)
    cv2.imwrite(str(root / "garment.png"), garment)
    (root / "broken.mp4").write_text("not a video")
    (root / "other").mkdir()
    (root / "other" / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    return root


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--weights": "nowhere"}, "weights not found"),
        ({"--weights": "other"}, "not a RealVVTPipeline"),
        ({"--video": "broken.mp4", "--agnostic": None, "--agnostic-mask": None, "--densepose": None},
         "not a readable video"),
        ({"--garment": "missing.png"}, "garment image not found"),
        ({"--agnostic-mask": "mask3.mp4"}, "differ in frame count or size"),
        ({"--densepose": None}, "prepared streams need all of"),
        ({"--size": "60x48"}, "multiples of 8"),
    ],
)
def test_bad_inputs_fail_clearly(weights, streams, tmp_path, capsys, change, message):
    opts = {"--weights": "RUN", "--agnostic": "agnostic.mp4", "--agnostic-mask": "mask.mp4",
            "--densepose": "densepose.mp4", "--garment": "garment.png", "--size": "32x24", "--steps": "1"}
    opts.update(change)
    out = tmp_path / "bad.mp4"
    argv = ["tryon", "--method", "realvvt", "--out", str(out)]
    for key, value in opts.items():
        if value is not None:
            literal = key in ("--size", "--steps")
            argv += [key, value if literal else str(weights if value == "RUN" else streams / value)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--garment": None}, "has no garment of its own"),
        ({"--sample": "upper9"}, "no video named 'upper9'"),
        ({"--garment": "00999_00"}, "garment image not found"),
        ({"--video": "videos/upper1.mp4"}, "either --data or --video"),
    ],
)
def test_bad_dataset_inputs_fail_clearly(weights, vivid_samples, tmp_path, capsys, change, message):
    opts = {"--weights": str(weights), "--data": str(vivid_samples), "--sample": "upper1",
            "--garment": "00057_00"}
    opts.update(change)
    out = tmp_path / "bad.mp4"
    argv = ["tryon", "--method", "realvvt", "--out", str(out)]
    for key, value in opts.items():
        if value is not None:
            argv += [key, str(vivid_samples / value) if key == "--video" else value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()
