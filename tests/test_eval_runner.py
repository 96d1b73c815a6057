"""The quality benchmark: baselines, the model, SynthVVT ground truth and the real ViViD samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vvt.eval import EvalConfig, VFIDProtocol, evaluate
from vvt.eval.baselines import box_affine, naive_paste
from vvt.eval.runner import QualityConfig, run_quality


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch):
    monkeypatch.delenv("VVT_WEIGHTS", raising=False)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    from vvt.data.synth import SynthConfig, generate

    return generate(tmp_path_factory.mktemp("synth") / "data",
                    SynthConfig(videos=2, frames=5, height=64, width=48, categories=("upper",), seed=0))


def test_box_affine_maps_box_corners_and_paste_keeps_quadrants():
    m = box_affine((0, 0, 4, 4), (10, 20, 18, 28))  # 4x4 garment onto an 8x8 box at (10, 20)
    assert m @ np.array([-0.5, -0.5, 1]) == pytest.approx([19.5, 9.5])  # pixel-edge corners map exactly
    assert m @ np.array([3.5, 3.5, 1]) == pytest.approx([27.5, 17.5])
    garment = np.zeros((20, 20, 3), np.uint8)
    garment[:10, :10], garment[:10, 10:], garment[10:, :10], garment[10:, 10:] = 50, 100, 150, 200
    agnostic = np.full((2, 40, 40, 3), 128, np.uint8)
    mask = np.zeros((2, 40, 40), bool)
    mask[0, 4:20, 10:30] = True
    mask[1, 20:36, 4:24] = True
    out = naive_paste(agnostic, mask, garment, np.ones((20, 20), bool))
    assert (out[~mask] == 128).all()  # outside the agnostic mask nothing changes
    assert (out[0, 5, 11] == 50).all() and (out[0, 5, 28] == 100).all() and (out[0, 18, 11] == 150).all()
    assert (out[1, 34, 22] == 200).all() and (out[1, 21, 5] == 50).all()


def test_synthvvt_unpaired_table_with_baselines_and_model(synth, tmp_path):
    from vvt.realvvt.config import RealVVTConfig
    from vvt.realvvt.model import RealVVT

    model = tmp_path / "model"
    RealVVT.from_config(RealVVTConfig(preset="tiny", seed=0)).save_pretrained(model)
    out = tmp_path / "bench"
    config = QualityConfig(data=synth, out=out, pairs="unpaired", model=model, steps=1,
                           eval=EvalConfig(vfid=VFIDProtocol(clip_len=4, size=32)))
    result = run_quality(config)
    methods = result["methods"]
    assert list(methods) == ["copy_agnostic", "naive_paste", "realvvt"]
    table = (out / "quality.md").read_text()
    for row in ("| copy_agnostic |", "| naive_paste |", "| realvvt |", "VFID_I3D ↓", "KID×1000 ↓"):
        assert row in table
    assert json.loads((out / "quality.json").read_text())["methods"]["naive_paste"]["metrics"] == \
        methods["naive_paste"]["metrics"]
    # scored against SynthVVT's unpaired ground truth: the same number evaluate() gives on the written files
    gt_dir = synth / "ground_truth" / "upper_body" / "videos"
    direct = evaluate(out / "predictions" / "copy_agnostic" / "upper_body", gt_dir, ["ssim", "psnr"],
                      show_progress=False)["metrics"]
    assert methods["copy_agnostic"]["metrics"]["ssim"] == pytest.approx(direct["ssim"], rel=1e-12)
    assert methods["naive_paste"]["metrics"]["ssim"] != methods["copy_agnostic"]["metrics"]["ssim"]
    assert methods["realvvt"]["metrics"]["warp_error"] > 0
    assert methods["realvvt"]["metrics"]["lpips"] is None
    assert "squeezenet1_1-b8a52dc0.pth" in methods["realvvt"]["absent"]["lpips"]


def test_real_vivid_samples_report_what_they_can(vivid_samples, tmp_path):
    small = EvalConfig(size=(104, 78), max_frames=3)
    unpaired = run_quality(QualityConfig(data=vivid_samples, out=tmp_path / "u", pairs="unpaired", eval=small))
    paste = unpaired["methods"]["naive_paste"]
    assert paste["counts"]["items"] == 1  # upper1 with a garment it does not wear (never a self-pair)
    assert paste["metrics"]["ssim"] is None and "no ground truth" in paste["absent"]["ssim"]
    assert paste["metrics"]["warp_error"] > 0 and paste["metrics"]["flicker"] >= 0
    paired = run_quality(QualityConfig(data=vivid_samples, out=tmp_path / "p", pairs="paired", eval=small))
    copy = paired["methods"]["copy_agnostic"]["metrics"]
    assert 0.5 < copy["ssim"] < 1.0 and copy["masked_ssim"] < copy["ssim"]  # the grey region is the error
    assert paired["skipped"]["naive_paste"] == ["upper_body/upper1: no garment for this sample (the layout "
                                                "pairs none with this video)"]
    assert "naive_paste: 1" in (tmp_path / "p" / "quality.md").read_text()
