"""vvt.pose.openpose.load_keypoints on OpenPose's own JSON, as the datasets ship it (issue 24, item 5).

OpenPose's ``--write_json`` format (CMU-Perceptual-Computing-Lab/openpose, doc/02_output.md "JSON Output
Format"): one file per image, ``{"version": ..., "people": [{"person_id": [-1], "pose_keypoints_2d": [x, y, c,
...], "face_keypoints_2d": ..., "hand_left_keypoints_2d": ..., "hand_right_keypoints_2d": ..., "*_3d": []}]}``;
OpenPose 1.0 wrote the keys without ``_2d``. The body order is BODY_25 or COCO-18 (same document, "Pose Output
Format").
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from vvt.data.layouts import read_layout
from vvt.errors import InputFileError
from vvt.io import write_image
from vvt.pose.openpose import BODY25, COCO18_NAMES, Keypoints, load_keypoints, save_keypoints

RNG = np.random.default_rng(24)


def body(n: int) -> np.ndarray:
    """``(n, 3)`` points with distinct coordinates and confidences in (0, 1]."""
    return np.column_stack([RNG.uniform(0, 700, n), RNG.uniform(0, 1000, n), RNG.uniform(0.1, 1.0, n)]).round(3)


def person_v13(pose: np.ndarray, face: np.ndarray | None = None) -> dict:
    """A person entry as OpenPose 1.3+ writes it (VITON-HD's openpose_json)."""
    return {"person_id": [-1], "pose_keypoints_2d": pose.ravel().tolist(),
            "face_keypoints_2d": [] if face is None else face.ravel().tolist(),
            "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [], "pose_keypoints_3d": [],
            "face_keypoints_3d": [], "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": []}


def test_vitonhd_openpose_json_body25(tmp_path):
    # VITON-HD's naming (shadow2496/VITON-HD, zalando-hd-resized: test/openpose_json/<stem>_keypoints.json)
    root = tmp_path / "zalando-hd-resized"
    for sub in ("image", "cloth"):
        write_image(root / "test" / sub / "00006_00.jpg", np.full((16, 12, 3), 90, np.uint8))
    pose, face = body(25), body(70)
    other = body(25)
    other[:, 2] = 0.05  # a faint second person in the background
    doc = {"version": 1.3, "people": [person_v13(other), person_v13(pose, face)]}
    (root / "test" / "openpose_json").mkdir(parents=True)
    (root / "test" / "openpose_json" / "00006_00_keypoints.json").write_text(json.dumps(doc))
    (root / "test_pairs.txt").write_text("00006_00.jpg 00006_00.jpg\n")
    sample = read_layout(root)[0]
    kp = load_keypoints(sample.keypoints, width=768, height=1024)
    assert (len(kp), kp.width, kp.height) == (1, 768, 1024)
    np.testing.assert_allclose(kp.body[0], pose, atol=1e-4)  # the more confident person
    np.testing.assert_allclose(kp.face[0], face, atol=1e-4)
    assert not kp.hand_left.any() and not kp.hand_right.any()
    with pytest.raises(InputFileError, match="do not record the image size: pass width= and height="):
        load_keypoints(sample.keypoints)


def test_vvt_per_frame_folder_coco18(tmp_path):
    # VVT's naming (FW-GAN's release as ShineOn reads it, andrewjong/ShineOn-Virtual-Tryon datasets/vvt_dataset.py
    # get_person_cocopose_path: test_frames_keypoint/<vid>/<frame stem>_keypoints.json), written by OpenPose 1.0
    # with the COCO model
    folder = tmp_path / "test_frames_keypoint" / "4he21d00f-g11"
    folder.mkdir(parents=True)
    frames = {}
    for k in (0, 1, 2, 10):  # natural order: frame 10 after frame 2
        coco = body(18)
        frames[k] = coco
        person = {"pose_keypoints": coco.ravel().tolist(), "face_keypoints": [], "hand_left_keypoints": [],
                  "hand_right_keypoints": []}
        (folder / f"4he21d00f-g11_{k}_keypoints.json").write_text(json.dumps({"version": 1.0, "people": [person]}))
    (folder / "4he21d00f-g11_2_keypoints.json").write_text(json.dumps({"version": 1.0, "people": []}))
    kp = load_keypoints(folder, width=192, height=256)
    assert len(kp) == 4
    for t, k in enumerate((0, 1, 2, 10)):
        if k == 2:
            assert not kp.body[t].any()  # nobody detected in that frame
            continue
        coco = frames[k]
        for i, name in enumerate(COCO18_NAMES):
            np.testing.assert_allclose(kp.body[t, BODY25[name]], coco[i], atol=1e-4)
        rhip, lhip = coco[COCO18_NAMES.index("RHip")], coco[COCO18_NAMES.index("LHip")]
        np.testing.assert_allclose(kp.body[t, BODY25["MidHip"]], [(rhip[0] + lhip[0]) / 2, (rhip[1] + lhip[1]) / 2,
                                                                   min(rhip[2], lhip[2])], atol=1e-3)
        assert not kp.body[t, [BODY25[n] for n in ("LBigToe", "RHeel")]].any()  # COCO has no feet


def test_openpose_files_that_are_not_keypoints(tmp_path):
    bad = tmp_path / "x_keypoints.json"
    bad.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": [1.0] * 30}]}))
    with pytest.raises(InputFileError, match="neither BODY_25 \\(75\\) nor COCO-18 \\(54\\)"):
        load_keypoints(bad, width=10, height=10)
    bad.write_text("{not json")
    with pytest.raises(InputFileError, match="not a JSON keypoints file"):
        load_keypoints(bad, width=10, height=10)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no OpenPose"):
        load_keypoints(tmp_path / "empty", width=10, height=10)


def test_vvt_keypoints_files_still_read(tmp_path):
    kp = Keypoints.empty(2, 48, 64)
    kp.body[1] = body(25)
    path = save_keypoints(tmp_path / "v.json", kp)
    back = load_keypoints(path)
    np.testing.assert_allclose(back.body, kp.body, atol=1e-3)
    assert (back.width, back.height) == (48, 64)
    with pytest.raises(InputFileError, match="keypoints of a 48x64 frame, 96x128 was given"):
        load_keypoints(path, width=96, height=128)
    assert load_keypoints(path, width=48, height=64).width == 48
