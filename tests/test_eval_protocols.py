"""Evaluation protocols: CatV2TON's released VFID indexing reproduced, the presets' fixed settings and their
reports, the SSIM border rules and KID's scale."""

from __future__ import annotations

import bisect
import os

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from eval_support import saved_network, smooth_frames, weights_dir, write_lossless
from vvt.errors import VVTError
from vvt.eval import VFIDProtocol, evaluate
from vvt.eval.fid import fid_from_features
from vvt.eval.image import frame_means, ssim, ssim_map
from vvt.eval.inputs import read_frames
from vvt.eval.protocols import PROTOCOLS, SETTINGS
from vvt.eval.vfid import VideoClips, catv2ton_clip_counts, listing_order, sampled_features, video_clips


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch):
    monkeypatch.delenv("VVT_WEIGHTS", raising=False)


def released_videodataset_reads(lengths: list[int], sequence_length: int = 10) -> list[tuple[int, int]]:
    """(video, first frame) of every clip CatV2TON's ``VideoDataset`` reads, simulated line by line from its
    ``__init__`` / ``__len__`` / ``__getitem__`` (no_overlap=True): cumulative clip counts, ``bisect_left``,
    ``frame_idx = (idx - accum[video]) * sequence_length``, and OpenCV's seek, which takes a negative frame
    position to frame 0."""
    total_frames, accum = 0, []
    for n in lengths:
        total_frames += n
        accum.append(total_frames // sequence_length)
    reads = []
    for idx in range(accum[-1]):
        video = bisect.bisect_left(accum, idx)
        frame_idx = (idx - accum[video]) * sequence_length
        reads.append((video, max(frame_idx, 0)))
    return reads


def test_catv2ton_sampling_reads_frames_0_to_9_of_each_video_as_the_released_script():
    lengths = [30, 25, 42, 17]
    reads = released_videodataset_reads(lengths)
    assert {start for _, start in reads} == {0}  # never a later clip
    counts = catv2ton_clip_counts(lengths, 10)
    assert counts == [4, 2, 4, 1]  # the simulation; 11 = floor(114 / 10) clips in all
    assert [v for v, _ in reads] == [v for v, c in enumerate(counts) for _ in range(c)]
    assert VFIDProtocol(sampling="all").clip_counts(lengths) == [3, 2, 4, 1]  # what the script means to read
    rng = np.random.default_rng(0)
    for _ in range(200):  # ragged sets, short videos and ties between cumulative counts included
        lengths = [int(n) for n in rng.integers(1, 60, size=rng.integers(1, 8))]
        if sum(lengths) < 10:
            continue
        reads = released_videodataset_reads(lengths)
        expected = [sum(1 for v, _ in reads if v == k) for k in range(len(lengths))]
        assert catv2ton_clip_counts(lengths, 10) == expected, lengths


def test_listing_order_is_the_file_systems_order_folder_by_folder(tmp_path):
    for folder in ("b", "a"):
        (tmp_path / folder).mkdir()
        for name in ("z.mp4", "m.mp4", "c.mp4"):
            (tmp_path / folder / name).touch()
    paths = [tmp_path / f / n for f in ("b", "a") for n in ("c.mp4", "m.mp4", "z.mp4")]
    ordered = [paths[i] for i in listing_order(paths)]
    expected = [tmp_path / f / n for f in ("a", "b") for n in os.listdir(tmp_path / f)]
    assert ordered == expected


def test_catv2ton_sampling_repeats_each_videos_first_clip_and_rejects_a_short_video_it_would_read(tmp_path):
    protocol = VFIDProtocol(clip_len=4, size=32, sampling="catv2ton")
    rng = np.random.default_rng(1)
    videos = []
    for folder, n in (("a", 9), ("b", 3), ("c", 6)):  # folders fix the order: a, b, c
        path = tmp_path / folder / "v.mp4"
        path.parent.mkdir()
        path.touch()
        first = rng.standard_normal((1 if n >= 4 else 0, 5))
        videos.append(VideoClips(path, n, {"vfid_i3d": first if n >= 4 else np.zeros((0, 0))}))
    # cumulative clips 2, 3, 4 -> 3, 1, 0 copies: the 3-frame video is read once, which the script cannot do
    with pytest.raises(VVTError, match=r"b/v\.mp4: 3 frame\(s\), but CatV2TON's VFID indexing reads 4 frames"):
        sampled_features(videos, "vfid_i3d", protocol)
    videos[1] = VideoClips(videos[1].path, 5, {"vfid_i3d": rng.standard_normal((1, 5))})  # 2, 3, 5 -> 3, 1, 1
    got = sampled_features(videos, "vfid_i3d", protocol)
    expected = np.concatenate([np.repeat(v.features["vfid_i3d"], c, axis=0) for v, c in zip(videos, (3, 1, 1))])
    np.testing.assert_array_equal(got, expected)


def test_catv2ton_vfid_through_evaluate_scores_the_repeated_first_clips(tmp_path):
    protocol = VFIDProtocol(clip_len=4, size=32, sampling="catv2ton")
    for i, n in enumerate((9, 6, 4)):
        frames = smooth_frames(n, 32, 32, seed=i)
        write_lossless(tmp_path / "gt" / f"v{i}", frames)
        write_lossless(tmp_path / "pred" / f"v{i}", 255 - frames)
    wd = weights_dir("i3d")
    report = evaluate(tmp_path / "pred", tmp_path / "gt", ["vfid_i3d"], weights_dir=wd, vfid=protocol,
                      show_progress=False)
    assert report["protocol"]["settings"]["vfid_sampling"] == "catv2ton"
    net = saved_network("i3d")

    def feats(side: str) -> np.ndarray:
        paths = sorted((tmp_path / side).iterdir())
        order = listing_order(paths)
        counts = catv2ton_clip_counts([read_frames(paths[i]).shape[0] for i in order], 4)  # 19 frames: 4 clips
        clips = [video_clips(read_frames(paths[i]), protocol, max_clips=1) for i in order]
        first = [net.extract_features(c).detach().double().numpy() for c in clips]
        return np.concatenate([np.repeat(f, c, axis=0) for f, c in zip(first, counts)])

    assert report["counts"]["clips"] == 4 and len(feats("pred")) == 4
    assert report["metrics"]["vfid_i3d"] == pytest.approx(fid_from_features(feats("pred"), feats("gt")), rel=1e-6)
    every_clip = evaluate(tmp_path / "pred", tmp_path / "gt", ["vfid_i3d"], weights_dir=wd,
                          vfid=VFIDProtocol(clip_len=4, size=32), show_progress=False)
    assert every_clip["counts"]["clips"] == 2 + 1 + 1 and every_clip["metrics"]["vfid_i3d"] != pytest.approx(
        report["metrics"]["vfid_i3d"], rel=1e-3)


def test_every_preset_fixes_every_setting_and_only_vvt_may_change():
    for preset in PROTOCOLS.values():
        assert set(preset.settings) == set(SETTINGS), preset.name
    assert PROTOCOLS["realvvt-vvt"].settings["size"] == (512, 384)
    assert PROTOCOLS["realvvt-image"].settings["size"] == (1024, 768)
    assert PROTOCOLS["catv2ton"].settings["vfid"].sampling == "catv2ton"
    with pytest.raises(VVTError, match="protocol realvvt-image fixes its settings: lpips_net is alex"):
        PROTOCOLS["realvvt-image"].resolve({"lpips_net": "squeeze"})
    settings, changed = PROTOCOLS["realvvt-image"].resolve({"lpips_net": "alex", "flow": None})
    assert changed == {} and settings["lpips_net"] == "alex"
    settings, changed = PROTOCOLS["vvt"].resolve({"kid_scale": 1, "ssim_border": None})
    assert changed == {"kid_scale": 1} and settings["ssim_border"] == "full"


@pytest.fixture
def vvt_sized(tmp_path):
    """VVT-like ground truth at 64x48 (VVT frames are 256x192) and predictions at 128x96, 3 frames each."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    rng = np.random.default_rng(0)
    for i in range(2):
        frames = smooth_frames(3, 64, 48, seed=i)
        write_lossless(gt / f"v{i}", frames)
        big = np.stack([np.asarray(Image.fromarray(f).resize((96, 128), Image.BICUBIC)) for f in frames])
        write_lossless(pred / f"v{i}", np.clip(big + rng.integers(-8, 9, big.shape), 0, 255).astype(np.uint8))
    return pred, gt


def test_realvvt_vvt_resizes_both_sides_to_512x384_and_reports_its_settings(vvt_sized):
    pred, gt = vvt_sized
    report = evaluate(pred, gt, protocol="realvvt-vvt", show_progress=False)
    assert list(report["metrics"]) == ["ssim", "lpips", "vfid_i3d", "vfid_resnext"]  # Table 1's metrics
    for metric, file in (("lpips", "alexnet-owt-7be5be79.pth"), ("vfid_i3d", "i3d.pt")):
        assert report["metrics"][metric] is None and file in report["absent"][metric]  # absent, never zero
    settings = report["protocol"]["settings"]
    assert report["protocol"]["name"] == "realvvt-vvt"
    assert settings == {"size": "512x384", "resize": "bicubic", "vfid_clip_len": 10, "vfid_size": 224,
                        "vfid_channel_order": "rgb", "vfid_sampling": "all", "lpips_net": "alex",
                        "fid_backend": "clean-fid", "kid_scale": 1000, "ssim_border": "full", "flow": "dis"}

    def at_512(folder):
        return [np.stack([np.asarray(Image.fromarray(f).resize((384, 512), Image.BICUBIC)) for f in
                          read_frames(folder / f"v{i}")]).astype(np.float64) / 255 for i in range(2)]

    expected = np.mean([ssim(p, g).mean() for p, g in zip(at_512(pred), at_512(gt))])
    assert report["metrics"]["ssim"] == pytest.approx(expected, rel=1e-9)
    with pytest.raises(VVTError, match="fixes its settings: ssim_border is full"):
        evaluate(pred, gt, protocol="realvvt-vvt", ssim_border="crop5", show_progress=False)


def test_realvvt_image_scores_tables_2_to_5_metrics_with_clean_fid_and_kid_x1000(tmp_path):
    rng = np.random.default_rng(2)
    for i in range(2):
        image = rng.integers(0, 256, (32, 24, 3), dtype=np.uint8)
        (tmp_path / "gt").mkdir(exist_ok=True)
        (tmp_path / "pred").mkdir(exist_ok=True)
        Image.fromarray(image).save(tmp_path / "gt" / f"{i:05d}_00.png")
        Image.fromarray(255 - image).save(tmp_path / "pred" / f"{i:05d}_00.png")
    report = evaluate(tmp_path / "pred", tmp_path / "gt", protocol="realvvt-image", show_progress=False)
    assert list(report["metrics"]) == ["ssim", "lpips", "fid", "kid"]
    assert "inception-2015-12-05.pt" in report["absent"]["fid"]  # clean-fid's network, named
    assert report["protocol"]["kid_scale"] == 1000 and "reported x1000" in report["protocol"]["kid"]
    assert report["protocol"]["fid"].startswith("backend clean-fid")


def test_kid_is_printed_with_its_scale_and_scaled_by_it(tmp_path):
    frames = smooth_frames(4, 24, 24)
    write_lossless(tmp_path / "gt" / "a", frames)
    write_lossless(tmp_path / "pred" / "a", 255 - frames)
    wd = weights_dir("clean_fid_inception")
    kwargs = dict(weights_dir=wd, fid_backend="clean-fid", show_progress=False)
    x1 = evaluate(tmp_path / "pred", tmp_path / "gt", ["kid"], kid_scale=1, **kwargs)
    x1000 = evaluate(tmp_path / "pred", tmp_path / "gt", ["kid"], **kwargs)
    assert x1000["metrics"]["kid"] == pytest.approx(1000 * x1["metrics"]["kid"], rel=1e-12)
    assert x1["protocol"]["kid_scale"] == 1 and "reported x1" in x1["protocol"]["kid"]
    assert x1["protocol"]["changed_from_protocol"] == ["fid_backend", "kid_scale"]
    with pytest.raises(VVTError, match="unknown KID scale 100"):
        evaluate(tmp_path / "pred", tmp_path / "gt", ["kid"], kid_scale=100, **kwargs)


def test_ssim_border_rules_full_and_crop5(tmp_path):
    rng = np.random.default_rng(3)
    gt = rng.random((2, 40, 48, 3))
    pred = np.clip(gt + 0.1 * rng.standard_normal(gt.shape), 0, 1)
    maps = ssim_map(pred, gt)
    for i in range(2):  # crop5 is scikit-image's (and torchmetrics' before its PR #2721) average
        sk = structural_similarity(gt[i], pred[i], data_range=1.0, channel_axis=2, gaussian_weights=True,
                                   sigma=1.5, use_sample_covariance=False)
        assert frame_means(maps, "crop5")[i] == pytest.approx(sk, rel=1e-9)
    np.testing.assert_allclose(frame_means(maps, "full"), maps.mean(axis=(1, 2)), rtol=1e-12)
    assert not np.allclose(frame_means(maps, "full"), frame_means(maps, "crop5"))
    frames = (gt * 255).astype(np.uint8)
    write_lossless(tmp_path / "gt" / "a", frames)
    write_lossless(tmp_path / "pred" / "a", (pred * 255).astype(np.uint8))
    reports = {rule: evaluate(tmp_path / "pred", tmp_path / "gt", ["ssim"], ssim_border=rule, show_progress=False)
               for rule in ("full", "crop5")}
    p8, g8 = (read_frames(tmp_path / s / "a").astype(np.float64) / 255 for s in ("pred", "gt"))
    for rule, report in reports.items():
        assert report["metrics"]["ssim"] == pytest.approx(frame_means(ssim_map(p8, g8), rule).mean(), rel=1e-7)
        assert f"border rule {rule}" in report["protocol"]["ssim"]
        assert report["protocol"]["settings"]["ssim_border"] == rule
