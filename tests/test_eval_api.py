"""``vvt.eval.evaluate`` and ``vvt eval``: matching errors, known answers, absent weights, reproducibility."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from eval_support import saved_network, smooth_frames, weights_dir, write_lossless
from vvt.cli import main
from vvt.errors import ShapeMismatchError, VVTError, WeightsNotFoundError
from vvt.eval import VFIDProtocol, evaluate
from vvt.eval.fid import fid_from_features
from vvt.eval.vfid import video_clips
from vvt.io import write_video

TINY_VFID = VFIDProtocol(clip_len=4, size=32)


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch):
    monkeypatch.delenv("VVT_WEIGHTS", raising=False)


@pytest.fixture
def folders(tmp_path):
    """gt/ with two 8-frame 32x32 videos, pred/ = gt with noise, masks/ with a central square."""
    gt, pred, masks = tmp_path / "gt", tmp_path / "pred", tmp_path / "masks"
    rng = np.random.default_rng(0)
    for i, name in enumerate(("a", "b")):
        frames = (20 + smooth_frames(8, 32, 32, seed=i) * (215 / 255)).astype(np.uint8)  # in [20, 235]
        noisy = (frames + rng.choice([-16, 16], frames.shape)).astype(np.uint8)  # no clipping
        mask = np.zeros((8, 32, 32, 3), np.uint8)
        mask[:, 8:24, 8:24] = 255
        write_lossless(gt / name, frames)
        write_lossless(pred / name, noisy)
        write_lossless(masks / name, mask)
    return pred, gt, masks


def test_every_mismatch_is_listed_in_one_error(tmp_path):
    def video(path, n, h=32, w=32):
        write_video(path, smooth_frames(n, h, w))

    video(tmp_path / "gt" / "same.mp4", 4)
    video(tmp_path / "pred" / "same.mp4", 4)
    video(tmp_path / "gt" / "short.mp4", 4)
    video(tmp_path / "pred" / "short.mp4", 3)
    video(tmp_path / "gt" / "small.mp4", 4)
    video(tmp_path / "pred" / "small.mp4", 4, 16, 16)
    video(tmp_path / "pred" / "extra.mp4", 4)
    video(tmp_path / "gt" / "lonely.mp4", 4)
    with pytest.raises(ShapeMismatchError) as err:
        evaluate(tmp_path / "pred", tmp_path / "gt", ["ssim"], show_progress=False)
    msg = str(err.value)
    assert "4 problem(s)" in msg
    assert "without ground truth: extra" in msg and "without prediction: lonely" in msg
    assert "short: prediction has 3 frame(s), ground truth 4" in msg
    assert "small: prediction is 16x16 (HxW), ground truth 32x32" in msg


def test_identical_inputs_score_perfectly_and_absent_weights_are_reported(folders):
    _, gt, masks = folders
    report = evaluate(gt, gt, masks_dir=masks, show_progress=False)
    m = report["metrics"]
    assert m["ssim"] == pytest.approx(1.0, abs=1e-9) and m["masked_ssim"] == pytest.approx(1.0, abs=1e-9)
    assert m["psnr"] == pytest.approx(100.0)
    assert m["flicker"] < 0.01 and m["warp_error"] < 0.01
    for metric, file in (("lpips", "squeezenet1_1-b8a52dc0.pth"), ("fid", "pt_inception-2015-12-05"),
                         ("vfid_i3d", "i3d.pt"), ("vfid_resnext", "resnext-101.pth"), ("is", "inception_v3")):
        assert m[metric] is None and file in report["absent"][metric]
    assert report["counts"] == {"items": 2, "frames": 16, "clips": 0}


def test_noisy_prediction_matches_per_item_values(folders):
    pred, gt, masks = folders
    report = evaluate(pred, gt, ["ssim", "psnr", "masked_ssim"], masks, show_progress=False)
    items = report["items"]
    assert set(items) == {"a", "b"}
    # noise of +-16 grey levels on every value: PSNR = 20 log10(255 / 16) = 24.05 dB, per frame
    assert report["metrics"]["psnr"] == pytest.approx(20 * np.log10(255 / 16), rel=1e-7)
    assert report["metrics"]["ssim"] == pytest.approx(np.mean([items["a"]["ssim"], items["b"]["ssim"]]))
    assert set(report["metrics"]) == {"ssim", "psnr", "masked_ssim"}


def test_requested_metrics_that_cannot_run_are_errors(folders, tmp_path):
    pred, gt, _ = folders
    with pytest.raises(WeightsNotFoundError, match=r"i3d\.pt"):
        evaluate(pred, gt, ["vfid_i3d"], weights_dir=tmp_path, vfid=TINY_VFID, show_progress=False)
    with pytest.raises(VVTError, match="masked_ssim needs masks"):
        evaluate(pred, gt, ["masked_ssim"], show_progress=False)
    with pytest.raises(VVTError, match="at least 10 frames"):
        evaluate(pred, gt, ["vfid_i3d"], weights_dir=weights_dir("i3d"), show_progress=False)
    with pytest.raises(VVTError, match="unknown metric"):
        evaluate(pred, gt, ["sharpness"], show_progress=False)
    with pytest.raises(VVTError, match="unknown optical flow 'raft'.*max_frames must be at least 1, got 0"):
        evaluate(pred, gt, ["warp_error"], flow="raft", max_frames=0, show_progress=False)
    # one clip per side: no covariance to fit, an error naming the counts instead of a numpy trace
    single = tmp_path / "single"
    write_lossless(single / "gt" / "a", smooth_frames(4, 32, 32))
    write_lossless(single / "pred" / "a", smooth_frames(4, 32, 32, seed=1))
    with pytest.raises(VVTError, match="vfid_i3d .*at least 2 4-frame clips on each side, got 1 predicted, 1 real"):
        evaluate(single / "pred", single / "gt", ["vfid_i3d"], weights_dir=weights_dir("i3d"), vfid=TINY_VFID,
                 show_progress=False)


def test_deep_metrics_are_reproducible_and_computed_from_the_right_features(tmp_path):
    # one 2-frame video per side keeps the 299x299 Inception passes few (FID needs 2 samples per set)
    frames = smooth_frames(2, 32, 32)
    write_lossless(tmp_path / "gt" / "a", frames)
    write_lossless(tmp_path / "pred" / "a", 255 - frames)
    protocol = VFIDProtocol(clip_len=1, size=32)
    wd = weights_dir("squeeze", "fid_inception", "inception_v3", "i3d", "resnext101")
    kwargs = dict(weights_dir=wd, vfid=protocol, seed=3, show_progress=False)
    first = evaluate(tmp_path / "pred", tmp_path / "gt", **kwargs)
    assert first == evaluate(tmp_path / "pred", tmp_path / "gt", **kwargs)
    m = first["metrics"]
    assert [k for k in m if m[k] is None] == ["masked_ssim", "flicker"]  # no masks given
    assert first["counts"]["clips"] == 2 and m["lpips"] > 0 and m["is"] >= 1.0 and m["fid"] > 0
    # VFID from the features of the saved networks, computed here by hand
    from vvt.eval.inputs import read_frames

    def feats(net, folder):
        return net.extract_features(video_clips(read_frames(folder / "a"), protocol)).detach().double().numpy()

    for key, name in (("vfid_i3d", "i3d"), ("vfid_resnext", "resnext101")):
        net = saved_network(name)
        expected = fid_from_features(feats(net, tmp_path / "pred"), feats(net, tmp_path / "gt"))
        assert m[key] == pytest.approx(expected, rel=1e-6)


def test_cli_writes_the_report_and_reports_errors(folders, tmp_path, capsys):
    pred, gt, masks = folders
    out = tmp_path / "report.json"
    assert main(["-q", "eval", "--pred", str(pred), "--gt", str(gt), "--masks", str(masks),
                 "--metrics", "ssim,psnr,flicker", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["metrics"]) == {"ssim", "psnr", "flicker"} and report["masks_dir"] == str(masks)
    shutil.rmtree(pred / "b")
    assert main(["-q", "eval", "--pred", str(pred), "--gt", str(gt), "--out", str(out)]) == 2
    assert "ground truth(s) without prediction: b" in capsys.readouterr().err
