"""Preprocessing on real pixels with mediapipe: ViViD's upper1.mp4, the astronaut photo, a SynthVVT clip,
robustness cases, the ViViD-layout writer and the command line. Heavy runs are session fixtures."""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest
from skimage import data

from vvt.cli import main
from vvt.errors import VideoError
from vvt.io import read_video, write_video
from vvt.pose.openpose import BODY25, load_keypoints
from vvt.preprocess.keypoints import NoPersonError, working_size
from vvt.preprocess.pipeline import analyse_clip, is_finished, outputs_for, preprocess_clip
from vvt.preprocess.smoothing import keypoint_jitter

FPS = 24.0
#: the least IoU with ViViD's mask of upper1's first 4 frames when only they are asked for (measured 0.70-0.76;
#: analysed alone, before issue 20 item 6, they gave 0.0 in every frame: a wrong pose elsewhere in the frame)
IOU_FIRST_FOUR = 0.65


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


@pytest.fixture(scope="session")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_result(astronaut):
    return analyse_clip(astronaut[None], 1.0, "upper", name="astronaut", static=True)


@pytest.fixture(scope="session")
def upper1(vivid_samples):
    """ViViD's upper1.mp4 with its agnostic mask, at 480x640: the working resolution (:func:`working_size`)
    that mediapipe, masks and part maps use for the 624x832 original anyway.

    Every second frame (24 of 48, at 12 fps), which halves the cost (mediapipe's is per frame) and keeps the
    check representative: measured, these 24 frames give a mean IoU of 0.816 (min 0.713), all 48 frames
    0.809 (min 0.702, ``benchmarks/preprocess-upper1-compare.json``)."""
    frames, fps = read_video(vivid_samples / "videos" / "upper1.mp4")
    truth, _ = read_video(vivid_samples / "agnostic_mask" / "upper1.mp4")
    frames, truth, fps = frames[::2], truth[::2], fps / 2
    h, w = working_size(*frames.shape[1:3])
    small = lambda a: cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
    frames = np.stack([small(f) for f in frames])
    truth = np.stack([small(m) for m in truth])[..., 0] >= 128
    result = analyse_clip(frames, fps, "upper", name="upper1", measure_jitter=True)
    return frames, truth, result


def test_upper1_agnostic_mask_matches_vivid(upper1):
    _, truth, result = upper1
    per_frame = [iou(m, t) for m, t in zip(result.agnostic_mask, truth)]
    print("upper1 IoU per frame:", np.round(per_frame, 3).tolist(), "mean", np.mean(per_frame))
    assert np.mean(per_frame) >= 0.8
    assert min(per_frame) >= 0.65


def test_upper1_smoothing_reduces_jitter_in_one_run(upper1):
    jitter = upper1[2].jitter
    print("upper1 jitter:", json.dumps(jitter))
    assert jitter["keypoint_px_smoothed"] < 0.7 * jitter["keypoint_px_raw"]
    assert jitter["agnostic_mask_iou_change_smoothed"] < jitter["agnostic_mask_iou_change_raw"]
    assert jitter["person_mask_iou_change_smoothed"] < jitter["person_mask_iou_change_raw"]


def test_upper1_agnostic_video_is_grey_exactly_inside_the_mask(upper1):
    frames, _, result = upper1
    m = result.agnostic_mask
    assert (result.agnostic[m] == 128).all()
    np.testing.assert_array_equal(result.agnostic[~m], frames[~m])


def test_upper1_walk_in_is_found_from_every_second_frame(upper1):
    """Issue 20 item 6: the person walks in with the head above the frame. Forward tracking locks onto the
    skirt as a torso (neck half-way down); the backward pass from the first well-found frame
    (:data:`vvt.preprocess.keypoints.STRONG_AGREEMENT`) finds them in every second frame as in all 48."""
    frames, _, result = upper1
    neck = result.keypoints.body[:, BODY25["Neck"], :2]
    assert result.found.all()
    assert (neck[:, 1] < 0.15 * frames.shape[1]).all()  # the neck at the top edge in every frame


def test_upper1_first_four_frames_are_found_by_tracking_back_from_later_ones(vivid_samples):
    """Issue 20 item 6: ``--max-frames 4`` on upper1 (head above the frame in frames 0-3) analyses those frames
    with the ones after them (:func:`vvt.preprocess.pipeline.analysed_frames`), so the person is tracked back
    into them as in the whole video; the 4 frames alone gave only wrong poses (neck half-way down, agreement
    0.15-0.26) and masks far from ViViD's."""
    from vvt.realvvt.tryon import conditions_from_video

    frames, fps = read_video(vivid_samples / "videos" / "upper1.mp4")
    truth = read_video(vivid_samples / "agnostic_mask" / "upper1.mp4", max_frames=4)[0][..., 0] >= 128
    four = conditions_from_video(frames, fps, "upper", "upper1", max_frames=4)
    assert four.agnostic.shape[0] == four.agnostic_mask.shape[0] == four.person.shape[0] == 4
    per_frame = [iou(m, t) for m, t in zip(four.agnostic_mask, truth)]
    print("upper1[:4] IoU per frame:", np.round(per_frame, 3).tolist())
    assert min(per_frame) >= IOU_FIRST_FOUR


def _png_and_h264(vivid_samples, tmp_path, t: int):
    from vvt.io import read_image, write_image

    frame = read_video(vivid_samples / "videos" / "upper1.mp4", max_frames=t + 1)[0][t]
    write_image(tmp_path / "f.png", frame)
    write_video(tmp_path / "f.mp4", frame[None], FPS)
    png = analyse_clip(read_image(tmp_path / "f.png")[None], 1.0, "upper", name="png", static=True)
    video = analyse_clip(read_video(tmp_path / "f.mp4")[0], FPS, "upper", name="h264")
    return frame, png, video


def test_a_frame_is_found_alike_as_png_and_as_h264(vivid_samples, tmp_path):
    """Issue 20 item 6: photos and one-frame videos go through the same cascade and gate; a frame showing
    the person whole gives the same pose from a PNG and from its H.264 re-encoding."""
    frame, png, video = _png_and_h264(vivid_samples, tmp_path, 30)
    assert png.found.all() and video.found.all()
    np.testing.assert_allclose(png.keypoints.body[0, BODY25["Neck"], :2],
                               video.keypoints.body[0, BODY25["Neck"], :2], atol=0.03 * frame.shape[0])


@pytest.mark.xfail(strict=True, raises=NoPersonError, reason="known limit (issue 20 item 6): frame 4 of upper1 "
                   "*alone* (head above the frame, no later frame to track back from) is at the face-based "
                   "detector's threshold: from the PNG it finds a wrong pose (agreement 0.15), from the H.264 "
                   "re-encoding (other pixels) nothing; in a video it is found by tracking back")
def test_a_walk_in_frame_is_found_alike_as_png_and_as_h264(vivid_samples, tmp_path):
    frame, png, video = _png_and_h264(vivid_samples, tmp_path, 4)
    np.testing.assert_allclose(png.keypoints.body[0, BODY25["Neck"], :2],
                               video.keypoints.body[0, BODY25["Neck"], :2], atol=0.03 * frame.shape[0])


def test_astronaut_upper_mask_covers_torso_not_face(astronaut_result):
    body = astronaut_result.keypoints.body[0]
    face = astronaut_result.keypoints.face[0]
    m = astronaut_result.agnostic_mask[0]
    assert astronaut_result.found.all() and face[:, 2].min() > 0
    rs, ls = body[BODY25["RShoulder"], :2], body[BODY25["LShoulder"], :2]
    s = abs(ls[0] - rs[0])
    top = int(max(rs[1], ls[1]) + 0.15 * s)
    torso = m[top:, int(min(rs[0], ls[0]) + 0.1 * s):int(max(rs[0], ls[0]) - 0.1 * s)]
    assert torso.mean() > 0.9
    hull = np.zeros_like(m, dtype=np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(face[:68, :2].round().astype(np.int32)), 1)
    assert m[hull > 0].mean() < 0.02
    # the face keypoints are where the face is: eyes above the nose tip above the chin
    assert face[36, 1] < face[30, 1] < face[8, 1] and face[36, 0] < face[45, 0]


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory):
    """A SynthVVT person video (12 frames, 256x192) and its exact keypoints."""
    from vvt.data.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("synth")
    generate(root, SynthConfig(videos=1, frames=12, height=256, width=192, categories=("upper",), seed=0))
    video = sorted((root / "upper_body" / "videos").iterdir())[0]
    frames, fps = read_video(video)
    truth = load_keypoints(root / "upper_body" / "keypoints" / f"{video.stem}.json")
    return frames, fps, truth


def test_synthvvt_keypoint_error_and_jitter(synth_clip):
    frames, fps, truth = synth_clip
    joints = [BODY25[k] for k in ("RShoulder", "LShoulder", "RElbow", "LElbow", "RWrist", "LWrist",
                                  "RHip", "LHip", "RKnee", "LKnee", "RAnkle", "LAnkle")]
    gt = truth.body[:, joints, :2]
    valid = truth.body[:, joints, 2] > 0
    result = analyse_clip(frames, fps, "upper", name="synth", measure_jitter=True)
    smooth = result.keypoints.body[:, joints, :2]
    raw = result.raw_keypoints.body[:, joints, :2]
    err = np.linalg.norm(smooth - gt, axis=-1)[valid]
    j_raw = keypoint_jitter(raw, gt, valid)
    j_smooth = keypoint_jitter(smooth, gt, valid)
    print(f"synth keypoint error px: mean {err.mean():.2f} median {np.median(err):.2f}; "
          f"jitter beyond true motion px: raw {j_raw:.2f} smoothed {j_smooth:.2f}")
    assert np.median(err) < 6.0  # at 256x192; OpenPose and SynthVVT place joints slightly differently
    assert j_smooth < j_raw


def test_static_clip_jitter_falls_with_smoothing(astronaut):
    rng = np.random.default_rng(0)
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    clip = np.stack([np.clip(small + rng.normal(0, 6, small.shape), 0, 255).astype(np.uint8)
                     for _ in range(8)])
    result = analyse_clip(clip, FPS, "upper", name="static", measure_jitter=True)
    print("static clip jitter:", json.dumps(result.jitter))
    assert result.jitter["keypoint_px_smoothed"] < result.jitter["keypoint_px_raw"]
    assert result.jitter["keypoint_px_smoothed"] < 1.0


def test_frames_without_person_are_filled_from_neighbours(astronaut, caplog):
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    clip = np.stack([np.roll(small, 4 * t, axis=1) for t in range(6)])
    clip[3] = 200  # an empty grey frame
    with caplog.at_level(logging.WARNING):
        result = analyse_clip(clip, FPS, "upper", name="gap", smoothing=None)
    assert result.found.tolist() == [True, True, True, False, True, True]
    assert "frame(s) 3 of 6" in caplog.text and "filled" in caplog.text
    nose = result.keypoints.body[:, BODY25["Nose"], :2]
    np.testing.assert_allclose(nose[3], (nose[2] + nose[4]) / 2, atol=1.5)


def test_several_people_keep_the_largest(astronaut):
    big = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    small = cv2.resize(astronaut, (150, 150), interpolation=cv2.INTER_AREA)
    canvas = np.full((256, 448, 3), 235, np.uint8)
    canvas[106:, :150] = small
    canvas[:, 192:] = big
    result = analyse_clip(np.stack([canvas, canvas]), FPS, "upper", name="two people")
    nose_x = result.keypoints.body[:, BODY25["Nose"], 0]
    assert (nose_x > 192).all()


@pytest.mark.parametrize("size", [(96, 72), (1500, 1100), (256, 512)])
def test_tiny_huge_portrait_and_landscape_frames(astronaut, astronaut_result, size):
    h, w = size
    side = min(h, w)
    interp = cv2.INTER_AREA if side < 512 else cv2.INTER_LINEAR
    person = cv2.resize(astronaut, (side, side), interpolation=interp)
    frame = np.full((h, w, 3), 235, np.uint8)
    x0 = (w - side) // 2
    frame[h - side:, x0:x0 + side] = person
    result = analyse_clip(frame[None], 1.0, "upper", name=f"{h}x{w}", static=True)
    assert result.agnostic_mask.shape == (1, h, w) and max(working_size(h, w)) <= 640
    expected = astronaut_result.keypoints.body[0, BODY25["Nose"], :2] * side / 512 + [x0, h - side]
    got = result.keypoints.body[0, BODY25["Nose"], :2]
    assert np.linalg.norm(got - expected) < 0.05 * side


def test_no_person_anywhere_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.mp4"
    write_video(path, np.full((4, 64, 64, 3), 180, np.uint8), FPS)
    with pytest.raises(NoPersonError, match=r"empty\.mp4: no person found in any of its 4 frame"):
        preprocess_clip(path, tmp_path / "out", "upper")
    assert not (tmp_path / "out" / "videos").exists()


def test_unreadable_video_is_a_clear_cli_error(tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    assert main(["preprocess", "--video", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "not a readable video" in err
    assert main(["preprocess", "--out", str(tmp_path / "out")]) == 2
    assert "nothing to do" in capsys.readouterr().err
    garment = ["preprocess", "--garment", str(bad), "--out", str(tmp_path / "out")]
    assert main(garment + ["--garment-size", "0x192"]) == 2
    assert "--garment-size '0x192'" in capsys.readouterr().err
    assert main(garment + ["--min-cutoff", "0"]) == 2
    assert "min_cutoff > 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(VideoError):
        preprocess_clip(tmp_path / "missing.mp4", tmp_path / "out", "upper")


def test_cli_writes_the_vivid_layout_and_resumes(astronaut, vivid_samples, tmp_path, capsys):
    small = cv2.resize(astronaut, (192, 192), interpolation=cv2.INTER_AREA)
    clips = tmp_path / "clips"
    write_video(clips / "astro.mp4", np.stack([np.roll(small, 2 * t, axis=1) for t in range(4)]), FPS)
    out = tmp_path / "out"
    argv = ["preprocess", "--video", str(clips), "--category", "upper", "--out", str(out),
            "--garment", str(vivid_samples / "cloth" / "00057_00.jpg"), "--garment-size", "256x192"]
    assert main(argv) == 0
    assert is_finished(out, "astro")
    assert json.loads((out / "layout.json").read_text())["densepose_format"] == "vvt_iuv"
    mask, _ = read_video(out / "agnostic_mask" / "astro.mp4")
    agnostic, _ = read_video(out / "agnostic" / "astro.mp4")
    kp = load_keypoints(out / "keypoints" / "astro.json")
    assert mask.shape == (4, 192, 192, 3) and len(kp) == 4 and kp.body[:, BODY25["Neck"], 2].min() > 0.5
    inside = mask[..., 0] >= 128
    assert 0.05 < inside.mean() < 0.6 and np.abs(agnostic[inside].astype(int) - 128).mean() < 6
    cloth = cv2.imread(str(out / "cloth" / "00057_00.jpg"))
    assert cloth.shape == (256, 192, 3) and (out / "cloth_mask" / "00057_00.jpg").is_file()
    mtimes = {k: p.stat().st_mtime_ns for k, p in outputs_for(out, "astro").items()}
    capsys.readouterr()
    assert main(argv) == 0
    assert "skipped 1" in capsys.readouterr().out
    assert mtimes == {k: p.stat().st_mtime_ns for k, p in outputs_for(out, "astro").items()}
    assert not list(out.rglob("*.tmp*"))


def test_cli_images_mode_writes_one_frame_clips(astronaut, tmp_path):
    from vvt.io import write_image

    photo = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    write_image(tmp_path / "photos" / "astro.jpg", photo)
    out = tmp_path / "out"
    argv = ["preprocess", "--images", str(tmp_path / "photos"), "--category", "dresses", "--out", str(out),
            "--jitter-report"]
    assert main(argv) == 0
    assert set(json.loads((out / "jitter" / "astro.json").read_text()).values()) == {0.0}  # one frame: no motion
    kp = load_keypoints(out / "keypoints" / "astro.json")
    person, _ = read_video(out / "videos" / "astro.mp4")
    densepose, _ = read_video(out / "densepose" / "astro.mp4")
    assert len(kp) == 1 and person.shape == (1, 256, 256, 3) and kp.face[0, :, 2].min() == 1.0
    neck = kp.body[0, BODY25["Neck"], :2].round().astype(int)
    assert densepose[0, neck[1] + 20, neck[0], 0] in range(15, 26)  # torso front: R = 2 * 10 (+ codec)


def test_streamed_preprocessing_equals_the_in_memory_one(tmp_path):
    """A person video file is preprocessed in bounded memory (:func:`vvt.realvvt.tryon.prepare_video`: the
    analysis at the working resolution in windows, each frame rendered and written losslessly as its window is
    done); a clip shorter than one window (the example's 8 frames) gives exactly the conditions of the in-memory
    path (:func:`vvt.realvvt.tryon.conditions_from_video`), and the person video itself as the paste-back
    stream."""
    from vvt.examples import example_dir
    from vvt.realvvt.tryon import conditions_from_video, prepare_video

    video = example_dir() / "person.mp4"
    frames, fps = read_video(video)
    in_memory = conditions_from_video(frames, fps, "upper", str(video))
    streamed = prepare_video(video, tmp_path, "upper")
    every = np.arange(len(frames))
    assert streamed.num_frames == len(frames) and streamed.fps == pytest.approx(fps)
    for mine, theirs in zip(streamed.load(every), (in_memory.agnostic, in_memory.agnostic_mask,
                                                    in_memory.densepose)):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(streamed.person[every], frames)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agnostic.mkv", "agnostic_mask.mkv", "densepose.mkv"]
    # the first 3 frames are analysed with the rest of the window (issue 20 item 6), so they come out exactly
    # as in the whole clip's analysis, in memory and streamed
    first = np.arange(3)
    streamed_3 = prepare_video(video, tmp_path / "3", "upper", max_frames=3)
    in_memory_3 = conditions_from_video(frames, fps, "upper", str(video), max_frames=3)
    assert streamed_3.num_frames == 3 and in_memory_3.agnostic.shape[0] == 3
    from_memory = (in_memory_3.agnostic, in_memory_3.agnostic_mask, in_memory_3.densepose)
    for mine, theirs, whole in zip(streamed_3.load(first), from_memory, streamed.load(first)):
        np.testing.assert_array_equal(mine, whole)
        np.testing.assert_array_equal(theirs, whole)
