"""Datasets from the command line (issue 24): ``--strict`` on every command that reads a dataset root and the
``data.strict`` training key, ``vvt eval --protocol catv2ton`` on CatV2TON's ViViD-S split, and the category
that ``vvt preprocess`` records in ``layout.json`` so its flat output reads without ``category=``."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from eval_support import smooth_frames, weights_dir
from vvt.cli import main
from vvt.data.layouts import read_layout, strict_layouts
from vvt.errors import LayoutError, VVTError
from vvt.eval import evaluate
from vvt.io import read_video, video_info, write_image, write_video
from vvt.preprocess.pipeline import write_layout_json
from vvt.train.config import DataConfig, DataSourceConfig
from vvt.train.data import build_sources

FRAMES, H, W = 10, 32, 24


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch):
    monkeypatch.delenv("VVT_WEIGHTS", raising=False)


# CatV2TON's ViViD-S test split (Zheng-Chong/CatV2TON, eval_video_try_on.py ViViDTestDataset: ROOT/
# test_data_180.jsonl, one JSON object per line with subdir, video, image and front_seqs; files in
# <subdir>/videos/, images/ and agnostic_mask_smoothed/), ViViD's product-id naming (1057795_detail.mp4,
# 1057795_in_xl.jpg).
def make_vivid_s(root: Path, rows=(("upper_body", "1057795"), ("lower_body", "2000001")), missing: int = 0,
                 front: tuple[int, int] = (0, FRAMES), unpaired: bool = False) -> Path:
    """A ViViD-S split of ``rows``, each listed with ``front_seqs`` ``front``; its list also names ``missing``
    videos that were not downloaded. ``unpaired``: test_data_180_unpaired.jsonl too, each video of a category
    with the garment of the next one of that category (as CatV2TON's list, never its own)."""
    lines = []
    mask = np.zeros((FRAMES, H, W, 3), np.uint8)
    mask[:, H // 4: 3 * H // 4, W // 4: 3 * W // 4] = 255
    for k, (subdir, pid) in enumerate(rows):
        write_video(root / subdir / "videos" / f"{pid}_detail.mp4", smooth_frames(FRAMES, H, W, seed=k))
        write_video(root / subdir / "agnostic_mask_smoothed" / f"{pid}_detail.mp4", mask)
        write_image(root / subdir / "images" / f"{pid}_in_xl.jpg", np.full((H, W, 3), 200, np.uint8))
        lines.append({"subdir": subdir, "video": f"{pid}_detail.mp4", "image": f"{pid}_in_xl.jpg",
                      "front_seqs": list(front)})
    for k in range(missing):
        lines.append({"subdir": "upper_body", "video": f"900000{k}_detail.mp4", "image": f"{rows[0][1]}_in_xl.jpg",
                      "front_seqs": list(front)})
    (root / "test_data_180.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    if unpaired:
        swapped = []
        for subdir in dict.fromkeys(d for d, _ in rows):
            ids = [pid for d, pid in rows if d == subdir]
            swapped += [{"subdir": subdir, "video": f"{pid}_detail.mp4", "front_seqs": list(front),
                         "image": f"{ids[(i + 1) % len(ids)]}_in_xl.jpg"} for i, pid in enumerate(ids) if len(ids) > 1]
        (root / "test_data_180_unpaired.jsonl").write_text("".join(json.dumps(r) + "\n" for r in swapped))
    return root


def copy_as_predictions(root: Path, pred: Path) -> Path:
    """Predictions named ``PRED/<sample name>.mp4`` (as ``vvt bench quality`` writes them): the person videos."""
    for video in root.glob("*/videos/*.mp4"):
        target = pred / video.parent.parent.name / video.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video, target)
    return pred


def test_vvt_eval_catv2ton_runs_on_the_vivid_s_split(tmp_path, capsys):
    root = make_vivid_s(tmp_path / "ViViD-S")
    pred = copy_as_predictions(root, tmp_path / "pred")
    out = tmp_path / "report.json"
    argv = ["eval", "--protocol", "catv2ton", "--pred", str(pred), "--gt", str(root), "--metrics", "ssim",
            "--weights-dir", str(tmp_path / "no-weights"), "--out", str(out)]  # VFID: tests/test_eval_protocols.py
    assert main(argv) == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["protocol"]["name"] == "catv2ton"
    assert sorted(report["items"]) == ["lower_body/2000001_detail", "upper_body/1057795_detail"]
    assert report["metrics"]["ssim"] == pytest.approx(1.0, abs=1e-6)  # the predictions are the ground truths
    (pred / "lower_body" / "2000001_detail.mp4").unlink()  # the split is exact: every test sample is scored
    assert main(argv[:-2] + ["--out", str(tmp_path / "r2.json")]) == 2
    assert "1 ground truth(s) without prediction: lower_body/2000001_detail" in capsys.readouterr().err


def test_quality_benchmark_then_eval_on_the_vivid_s_split(tmp_path, capsys):
    # ViViD-S has no agnostic video: the baselines get the person video with the smoothed mask filled grey
    # (and only the front_seqs frames, 2-7 of 10, are run and scored, as CatV2TON's eval_video_try_on.py)
    root = make_vivid_s(tmp_path / "ViViD-S", front=(2, 8))
    common = ["--protocol", "catv2ton", "--metrics", "ssim", "--weights-dir", str(tmp_path / "no-weights")]
    assert main(["bench", "quality", "--data", str(root), "--out", str(tmp_path / "q")] + common) == 0
    quality = json.loads((tmp_path / "q" / "quality.json").read_text())
    copied = quality["methods"]["copy_agnostic"]["metrics"]["ssim"]
    assert 0.3 < copied < 0.99  # a quarter of each frame is grey
    assert quality["methods"]["copy_agnostic"]["counts"]["frames"] == 2 * 6
    pred = tmp_path / "q" / "predictions" / "copy_agnostic"
    assert sorted(p.relative_to(pred).as_posix() for p in pred.rglob("*.mp4")) == [
        "lower_body/2000001_detail.mp4", "upper_body/1057795_detail.mp4"]
    assert video_info(pred / "upper_body" / "1057795_detail.mp4").num_frames == 6
    out = tmp_path / "report.json"
    assert main(["eval", "--pred", str(pred), "--gt", str(root), "--out", str(out)] + common) == 0
    assert json.loads(out.read_text())["metrics"]["ssim"] == pytest.approx(copied, rel=1e-9)


def test_vvt_eval_scores_only_the_front_seqs_and_reads_catv2tons_flat_names(tmp_path, capsys):
    # front_seqs [2, 8] of a 10-frame video, and [5, 99] clipped to the video as CatV2TON's read_video_frames does
    root = make_vivid_s(tmp_path / "ViViD-S", front=(2, 8))
    lines = [json.loads(line) for line in (root / "test_data_180.jsonl").read_text().splitlines()]
    lines[1]["front_seqs"] = [5, 99]
    (root / "test_data_180.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    pred = tmp_path / "pred"  # CatV2TON's output folder: flat, named after the video
    for row, (start, end) in zip(lines, ((2, 8), (5, FRAMES))):
        frames = read_video(root / row["subdir"] / "videos" / row["video"])[0]
        write_video(pred / Path(row["video"]).stem, frames[start:end])  # PNG frames: lossless
    out = tmp_path / "report.json"
    argv = ["eval", "--protocol", "catv2ton", "--pred", str(pred), "--gt", str(root), "--metrics", "ssim",
            "--weights-dir", str(tmp_path / "no-weights"), "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["metrics"]["ssim"] == pytest.approx(1.0, abs=1e-9)
    assert report["counts"]["frames"] == 6 + 5
    assert sorted(report["items"]) == ["lower_body/2000001_detail", "upper_body/1057795_detail"]
    whole = tmp_path / "whole"  # every frame of the video predicted: not the split's frames
    write_video(whole / "1057795_detail", read_video(root / "upper_body/videos/1057795_detail.mp4")[0])
    write_video(whole / "2000001_detail", read_video(root / "lower_body/videos/2000001_detail.mp4")[0][5:])
    capsys.readouterr()
    assert main(argv[:4] + [str(whole)] + argv[5:]) == 2
    err = capsys.readouterr().err
    assert "upper_body/1057795_detail: prediction has 10 frame(s), ground truth 6 (frames 2-8 of its 10)" in err
    assert "2000001" not in err


@pytest.mark.slow  # I3D at 224x224 (the catv2ton protocol's) on 10 videos: about a minute on 2 loaded cores
def test_vvt_eval_catv2ton_unpaired_scores_vfid_against_the_person_videos(tmp_path, capsys):
    # CatV2TON's unpaired tables (eval_video_metrics.py without --paired): VFID of the predictions against the
    # person videos (its gt folder), no SSIM / LPIPS: there is no ground truth of another garment on real data
    root = make_vivid_s(tmp_path / "ViViD-S", rows=(("upper_body", "1057795"), ("upper_body", "1222020"),
                                                   ("lower_body", "2000001")), unpaired=True)
    assert [s.name for s in read_layout(root, pairs="unpaired")] == [
        "upper_body/1057795_detail__1222020_in_xl", "upper_body/1222020_detail__1057795_in_xl"]
    persons = {p.stem: read_video(p)[0] for p in sorted(root.glob("upper_body/videos/*.mp4"))}
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    for stem, frames in persons.items():
        write_video(pred / stem, 255 - frames)  # CatV2TON's flat output names (vvt's: bench quality, below)
        write_video(gt / stem, frames)  # the person videos as a ground-truth folder, to compare with
    wd = weights_dir("i3d")
    out = tmp_path / "unpaired.json"
    argv = ["eval", "--protocol", "catv2ton", "--pairs", "unpaired", "--pred", str(pred), "--gt", str(root),
            "--weights-dir", str(wd), "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["counts"]["items"] == 2
    assert report["metrics"]["ssim"] is None and "no ground truth" in report["absent"]["ssim"]
    assert report["metrics"].get("lpips") is None  # absent: no ground truth (or, first, no weights here)
    folder = evaluate(pred, gt, ["vfid_i3d"], protocol="catv2ton", weights_dir=wd, show_progress=False)
    assert report["metrics"]["vfid_i3d"] == pytest.approx(folder["metrics"]["vfid_i3d"], rel=1e-6)
    assert report["metrics"]["vfid_i3d"] > 0
    capsys.readouterr()
    assert main(argv[:-2] + ["--metrics", "ssim", "--out", str(tmp_path / "r.json")]) == 2
    assert "ssim cannot be computed on these inputs: no ground truth" in capsys.readouterr().err
    with pytest.raises(VVTError, match="pairs='unpaired' needs a dataset root"):
        evaluate(pred, gt, ["vfid_i3d"], weights_dir=wd, pairs="unpaired", show_progress=False)
    # vvt bench quality on the same unpaired split, then vvt eval on one method's predictions: the same VFID
    bench = ["bench", "quality", "--data", str(root), "--pairs", "unpaired", "--protocol", "catv2ton",
             "--metrics", "vfid_i3d", "--weights-dir", str(wd), "--out", str(tmp_path / "q")]
    assert main(bench) == 0, capsys.readouterr().err
    quality = json.loads((tmp_path / "q" / "quality.json").read_text())
    assert quality["real_set"] == {"items": 2} and quality["samples"] == 2
    copied = tmp_path / "q" / "predictions" / "copy_agnostic"
    assert main(argv[:6] + [str(copied)] + argv[7:-2] + ["--metrics", "vfid_i3d", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"]["vfid_i3d"] == pytest.approx(
        quality["methods"]["copy_agnostic"]["metrics"]["vfid_i3d"], rel=1e-6)


def test_strict_on_every_command_that_reads_a_dataset(tmp_path, capsys, caplog):
    for command in (["eval"], ["bench", "quality"], ["bench", "table"], ["train", "report"], ["train", "ablation"]):
        with pytest.raises(SystemExit):
            main(command + ["--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--strict" in text and "with a warning giving their count and the first 10" in text, command
    root = make_vivid_s(tmp_path / "ViViD-S", missing=1)
    pred = copy_as_predictions(root, tmp_path / "pred")
    eval_argv = ["eval", "--pred", str(pred), "--gt", str(root), "--metrics", "ssim", "--out", str(tmp_path / "r.json")]
    assert main(eval_argv) == 0  # the sample not downloaded is skipped, with a warning
    assert "skipped 1 of 3 test paired vivid_s samples" in caplog.text
    assert "video upper_body/videos/9000000_detail.mp4 not found" in caplog.text
    capsys.readouterr()
    assert main(eval_argv + ["--strict"]) == 2
    err = capsys.readouterr().err
    assert "1 of 3 test paired vivid_s samples cannot be read (strict)" in err and "9000000_detail" in err
    quality = ["bench", "quality", "--data", str(root), "--out", str(tmp_path / "q"), "--strict"]
    assert main(quality) == 2 and "cannot be read (strict)" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()
    table = ["bench", "table", "--paper", "realvvt", "--table", "1", "--data", str(root), "--pred", str(pred),
             "--out", str(tmp_path / "t"), "--strict"]
    assert main(table) == 2 and "cannot be read (strict)" in capsys.readouterr().err


def test_strict_training_sources(tmp_path):
    root = make_vivid_s(tmp_path / "ViViD-S", missing=1)
    lines = [json.loads(line) for line in (root / "test_data_180.jsonl").read_text().splitlines()]
    (root / "upper_body" / "train_data.jsonl").write_text("".join(  # CatV2TON's training list, one bad line
        json.dumps({k: v for k, v in r.items() if k != "subdir"}) + "\n" for r in lines if r["subdir"] == "upper_body"))
    source = {"root": root, "layout": "vivid_s"}
    assert len(build_sources(DataConfig([DataSourceConfig(**source)]), ("person",), 0)) == 1
    with pytest.raises(LayoutError, match="1 of 2 train paired vivid_s samples cannot be read"):
        build_sources(DataConfig([DataSourceConfig(**source)], strict=True), ("person",), 0)
    with pytest.raises(LayoutError, match="cannot be read"):
        build_sources(DataConfig([DataSourceConfig(**source, strict=True)]), ("person",), 0)
    # a source may relax data.strict
    assert build_sources(DataConfig([DataSourceConfig(**source, strict=False)], strict=True), ("person",), 0)
    with strict_layouts():
        with pytest.raises(LayoutError):
            read_layout(root, split="train")
        assert read_layout(root, split="train", strict=False)  # an explicit argument wins over the block


def test_skipped_summary_lists_the_first_10(tmp_path, caplog):
    root = make_vivid_s(tmp_path / "ViViD-S", missing=12)
    assert len(read_layout(root)) == 2
    text = caplog.text
    assert "skipped 12 of 14 test paired vivid_s samples (--strict / strict=True raises instead); first 10:" in text
    assert all(f"900000{k}_detail.mp4 not found" in text for k in range(10))
    assert "90000010_detail" not in text and "90000011_detail" not in text and "... and 2 more" in text
    assert text.count("test_data_180.jsonl line ") == 10


# vvt preprocess's own output (vvt.preprocess.pipeline: one flat ViViD folder, videos/ agnostic/ agnostic_mask/
# densepose/ skeleton/ keypoints/ cloth/ cloth_mask/ and layout.json), written here without running mediapipe.
def preprocessed(root: Path, vid: str, category: str) -> None:
    """What preprocess_clip leaves for one video: layout.json first, videos/<vid>.mp4 last."""
    write_layout_json(root, {vid: category})
    for stream in ("agnostic", "agnostic_mask", "densepose", "videos"):
        write_video(root / stream / f"{vid}.mp4", smooth_frames(3, 16, 12))


def test_preprocess_output_records_its_categories(tmp_path, caplog):
    out = tmp_path / "mine"  # not a category folder's name: only layout.json can tell the category
    preprocessed(out, "kun", "lower")
    preprocessed(out, "anna", "lower")
    doc = json.loads((out / "layout.json").read_text())
    assert (doc["layout"], doc["densepose_format"], doc["category"]) == ("vivid", "vvt_iuv", "lower")
    assert "categories" not in doc
    assert [(s.name, s.category) for s in read_layout(out)] == [("lower_body/anna", "lower"),
                                                                ("lower_body/kun", "lower")]
    preprocessed(out, "zoe", "dresses")  # a video of another category: one category per video from now on
    doc = json.loads((out / "layout.json").read_text())
    assert "category" not in doc and doc["categories"] == {"anna": "lower", "kun": "lower", "zoe": "dresses"}
    assert [(s.person.stem, s.category) for s in read_layout(out)] == [
        ("anna", "lower"), ("kun", "lower"), ("zoe", "dresses")]
    preprocessed(out, "kun", "lower")  # a re-run changes nothing
    assert json.loads((out / "layout.json").read_text()) == doc
    # an output written before categories were recorded: its videos are named, never given a default
    old = tmp_path / "old"
    preprocessed(old, "kun", "upper")
    (old / "layout.json").write_text(json.dumps({"layout": "vivid", "densepose_format": "vvt_iuv"}))
    preprocessed(old, "anna", "lower")
    assert json.loads((old / "layout.json").read_text())["categories"] == {"anna": "lower"}
    with caplog.at_level(logging.WARNING):
        assert [s.person.stem for s in read_layout(old)] == ["anna"]
    assert "videos/kun.mp4: no category for this video" in caplog.text
