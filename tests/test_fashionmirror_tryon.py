"""FashionMirror inference API and ``vvt tryon --method fashionmirror`` (keypoints from JSON: no detector)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from test_fashionmirror_model import TINY, H, W
from vvt.cli import main
from vvt.fashionmirror.inference import try_on
from vvt.fashionmirror.model import FashionMirror
from vvt.fashionmirror.sfe import images_to_tensor, normalise_pose, pose_embedding
from vvt.io import read_video, write_image, write_video
from vvt.pose.openpose import BODY25, Keypoints, save_keypoints
from vvt.train.sample_video import to_uint8_frames


def _kp(n: int) -> Keypoints:
    kp = Keypoints.empty(n, W, H)
    for t in range(n):
        for name, (x, y) in {
            "Neck": (24, 18),
            "MidHip": (24, 38),
            "RShoulder": (17, 19),
            "RElbow": (14 + t, 29),
        }.items():
            kp.body[t, BODY25[name]] = (x, y, 1.0)
    return kp


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fm_tryon")
    torch.manual_seed(0)
    model = FashionMirror(**TINY).eval()
    model.save_pretrained(root / "weights")
    rng = np.random.default_rng(0)
    person = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    garment = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    pose = rng.integers(0, 256, (3, H, W, 3), dtype=np.uint8)
    write_image(root / "person.png", person)
    write_image(root / "garment.png", garment)
    write_video(root / "pose", pose)  # a folder of PNG frames: lossless
    save_keypoints(root / "person.json", _kp(1))
    save_keypoints(root / "pose.json", _kp(3))
    return root, model, person, garment, pose


def test_try_on_is_the_autoregressive_generation(inputs):
    root, model, person, garment, pose = inputs
    frames = try_on(model, person, garment, _kp(1), list(pose), _kp(3), progress=False)
    assert frames.shape == (3, H, W, 3) and frames.dtype == np.uint8
    t = lambda a: images_to_tensor(a)  # noqa: E731  (sizes already match: no resizing)
    driving = normalise_pose(_kp(3), _kp(1))
    skel = torch.cat([pose_embedding(_kp(1), H, W), pose_embedding(driving, H, W)]).unsqueeze(0)
    want = to_uint8_frames(model.generate(t(person[None]), t(garment[None]), skel)[0])
    np.testing.assert_array_equal(frames, want)
    # the pose video's pixels are not read (Eq. 7 reads the model's own frames)
    other = try_on(model, person, garment, _kp(1), list(255 - pose), _kp(3), progress=False)
    np.testing.assert_array_equal(other, frames)


def test_normalise_pose_moves_the_driving_body_onto_the_person():
    person = _kp(1)
    driving = _kp(2)
    body = driving.body
    found = body[..., 2] > 0
    # the driving figure: half the size, shifted, in a frame twice as large
    driving.width, driving.height = 2 * W, 2 * H
    body[..., :2] = np.where(found[..., None], body[..., :2] * 0.5 + np.array([30.0, 10.0]), 0)
    out = normalise_pose(driving, person)
    np.testing.assert_allclose(out.body[0][found[0]], person.body[0][found[0]], atol=1e-3)
    assert out.width == W and out.height == H
    assert np.all(out.body[..., :2][~found] == 0)


def test_cli_writes_the_video(inputs, capsys):
    root, *_ = inputs
    out = root / "out.mp4"
    args = [
        "tryon",
        "--method",
        "fashionmirror",
        "--weights",
        str(root / "weights"),
        "--person",
        str(root / "person.png"),
        "--garment",
        str(root / "garment.png"),
        "--pose-video",
        str(root / "pose"),
        "--pose-keypoints",
        str(root / "pose.json"),
        "--person-keypoints",
        str(root / "person.json"),
        "--max-frames",
        "2",
        "--fps",
        "10",
    ]
    assert main([*args, "--out", str(out)]) == 0
    video, fps = read_video(out)
    assert video.shape == (2, H, W, 3) and fps == pytest.approx(10)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--weights": "nowhere"}, "config.json"),
        ({"--pose-keypoints": "person.json"}, "1 frame(s) of keypoints for 3 frame(s)"),
        ({"--garment": "missing.png"}, "image file not found"),
        ({"--out": "out.txt"}, "unsupported output type"),
    ],
)
def test_cli_bad_inputs_fail_clearly(inputs, capsys, change, message):
    root, *_ = inputs
    opts = {
        "--weights": "weights",
        "--person": "person.png",
        "--garment": "garment.png",
        "--pose-video": "pose",
        "--pose-keypoints": "pose.json",
        "--person-keypoints": "person.json",
        "--out": "bad.mp4",
    }
    opts.update(change)
    argv = ["tryon", "--method", "fashionmirror"] + [x for k, v in opts.items() for x in (k, str(root / v))]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (root / "bad.mp4").exists()
