"""``vvt bench quality --method fashionmirror``: FashionMirror scored with the papers' metrics (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from test_fashionmirror_model import TINY
from vvt.eval.api import evaluate
from vvt.eval.evaluator import EvalConfig
from vvt.eval.runner import QualityConfig, run_quality
from vvt.eval.vfid import VFIDProtocol
from vvt.fashionmirror.model import FashionMirror


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch):
    monkeypatch.delenv("VVT_WEIGHTS", raising=False)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    from vvt.data.synth import SynthConfig, generate

    config = SynthConfig(videos=2, frames=5, height=64, width=48, categories=("upper",), seed=0)
    return generate(tmp_path_factory.mktemp("synth") / "data", config)


def test_quality_table_scores_fashionmirror_and_names_the_missing_weights(synth, tmp_path):
    torch.manual_seed(0)
    model = tmp_path / "fm"
    FashionMirror(**TINY).save_pretrained(model)
    out = tmp_path / "bench"
    config = QualityConfig(
        data=synth,
        out=out,
        pairs="unpaired",
        model=model,
        method="fashionmirror",
        eval=EvalConfig(vfid=VFIDProtocol(clip_len=4, size=32)),
    )
    methods = run_quality(config)["methods"]
    assert list(methods) == ["copy_agnostic", "naive_paste", "fashionmirror"]
    assert "| fashionmirror |" in (out / "quality.md").read_text()
    fm = methods["fashionmirror"]["metrics"]
    # the same SSIM as evaluate() on the written predictions against SynthVVT's unpaired ground truth
    gt_dir = synth / "ground_truth" / "upper_body" / "videos"
    direct = evaluate(out / "predictions" / "fashionmirror" / "upper_body", gt_dir, ["ssim"], show_progress=False)
    assert fm["ssim"] == pytest.approx(direct["metrics"]["ssim"], rel=1e-12)
    # no metric network on this machine: absent with the file to add, never 0
    absent = methods["fashionmirror"]["absent"]
    for metric in ("lpips", "fid", "vfid_i3d"):
        assert fm[metric] is None and metric in absent
    saved = json.loads((out / "quality.json").read_text())["methods"]["fashionmirror"]["metrics"]
    assert saved == fm
    # every frame is generated (frame 0 by a step from the source pose to itself): none is the input frame
    from vvt.io import read_video

    pred, _ = read_video(next((out / "predictions" / "fashionmirror" / "upper_body").glob("*.mp4")))
    assert pred.shape[0] == 5 and not np.array_equal(pred[0], pred[1])
