"""``vvt bench table``: the stored published rows against the paper's text, and the table written for a tiny
fixture with random metric networks saved in the real weight layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from eval_support import smooth_frames, weights_dir, write_lossless
from vvt.cli import main
from vvt.errors import ShapeMismatchError, VVTError
from vvt.eval import evaluate
from vvt.eval.table import load_table, run_table

PAPER_TEXT = REPO.parent / "shared" / "papers" / "realvvt.txt"


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch):
    monkeypatch.delenv("VVT_WEIGHTS", raising=False)


def test_stored_rows_are_the_papers_rows():
    if not PAPER_TEXT.is_file():
        pytest.skip(f"the RealVVT paper text is not at {PAPER_TEXT}")
    lines = [ln.replace("<u>", "").replace("</u>", "").replace("**", "").split("\t")
             for ln in PAPER_TEXT.read_text().splitlines()]
    for number in range(1, 7):
        table = load_table("realvvt", number)
        assert table.protocol == ("realvvt-vvt" if number in (1, 6) else "realvvt-image")
        for method, cells in table.rows:
            printed = ["-" if c is None else c for c in cells]
            hits = [ln for ln in lines if ln[-len(printed):] == printed]
            assert hits, (number, method)
            if number != 6:  # Table 6 labels its rows by the C&T and lambda_agn columns
                assert any(ln[0] == method for ln in hits), (number, method)
    assert load_table("realvvt", 1).columns == ("ssim", "lpips", "vfid_i3d", "vfid_resnext")
    assert load_table("realvvt", 4).category == "lower"
    with pytest.raises(VVTError, match="realvvt has no stored table 9; available: 1, 2, 3, 4, 5, 6"):
        load_table("realvvt", 9)


@pytest.fixture
def vvt_like(tmp_path):
    """Two 10-frame ground-truth videos at 64x48 (VVT is 256x192) and predictions at 128x96."""
    import cv2

    rng = np.random.default_rng(0)
    for i in range(2):
        frames = smooth_frames(10, 64, 48, seed=i)
        write_lossless(tmp_path / "gt" / f"vid{i}", frames)
        big = np.stack([cv2.resize(f, (96, 128), interpolation=cv2.INTER_LINEAR) for f in frames])
        write_lossless(tmp_path / "pred" / f"vid{i}", np.clip(big + rng.integers(-6, 7, big.shape), 0, 255)
                       .astype(np.uint8))
    return tmp_path


def test_table_1_is_written_in_the_papers_columns_beside_its_rows(vvt_like, capsys):
    out = vvt_like / "table1"
    wd = vvt_like / "weights"  # the random AlexNet and I3D only: ResNeXt's column must say which file to add
    wd.mkdir()
    for name in ("alexnet-owt-7be5be79.pth", "i3d.pt"):
        (wd / name).symlink_to(weights_dir("alex", "i3d") / name)
    assert main(["-q", "bench", "table", "--paper", "realvvt", "--table", "1", "--data", str(vvt_like / "gt"),
                 "--pred", str(vvt_like / "pred"), "--weights-dir", str(wd), "--name", "tiny", "--out",
                 str(out)]) == 0
    result = json.loads((out / "table.json").read_text())
    assert result["benchmark"] == "table" and "environment" in result
    assert result["columns"] == ["ssim", "lpips", "vfid_i3d", "vfid_resnext"]
    assert result["protocol"]["name"] == "realvvt-vvt" and result["protocol"]["settings"]["size"] == "512x384"
    assert result["published"][0] == {"method": "ClothFormer [15]",
                                      "values": {"ssim": 0.921, "lpips": 0.081, "vfid_i3d": 3.97, "vfid_resnext": 5.05}}
    assert result["published"][5]["values"]["ssim"] is None  # WildVidFit prints "-"
    ours = result["result"]
    assert ours["name"] == "tiny" and ours["counts"] == {"items": 2, "frames": 20, "clips": 2}
    assert ours["metrics"]["lpips"] > 0 and ours["metrics"]["vfid_i3d"] > 0
    assert ours["metrics"]["vfid_resnext"] is None and "resnext-101.pth" in ours["absent"]["vfid_resnext"]
    direct = evaluate(vvt_like / "pred", vvt_like / "gt", ["ssim"], protocol="realvvt-vvt", show_progress=False)
    assert ours["metrics"]["ssim"] == pytest.approx(direct["metrics"]["ssim"], rel=1e-12)
    table = (out / "table.md").read_text()
    assert capsys.readouterr().out.startswith(table)  # printed as well
    lines = table.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("| Method |"))
    assert lines[head] == "| Method | SSIM ↑ | LPIPS ↓ | VFID_I3D ↓ | VFID_ResNeXt ↓ |"
    assert lines[head + 2] == "| ClothFormer [15] | 0.921 | 0.081 | 3.97 | 5.05 |"
    assert lines[head + 7] == "| WildVidFit [37] | - | - | 4.202 | - |"
    assert lines[head + 8] == "| Ours | 0.976 | 0.037 | 2.689 | 0.0913 |"
    assert lines[head + 9].startswith(f"| **tiny** | {ours['metrics']['ssim']:.4f} | ") and lines[head + 9].endswith(
        " | n/a |")
    assert "RealVVT, Table 1, p. 7" in table and "- protocol: realvvt-vvt" in table and "kid_scale" in table


def test_table_2_on_images_states_kid_scale_and_table_from_a_dataset_root(tmp_path):
    from PIL import Image

    from vvt.data.synth import SynthConfig, generate

    rng = np.random.default_rng(1)
    for i in range(2):
        image = rng.integers(0, 256, (32, 24, 3), dtype=np.uint8)
        for side, img in (("gt", image), ("pred", 255 - image)):
            (tmp_path / side).mkdir(exist_ok=True)
            Image.fromarray(img).save(tmp_path / side / f"{i:05d}_00.jpg")
    result = run_table("realvvt", 2, tmp_path / "gt", tmp_path / "pred", tmp_path / "t2", show_progress=False)
    assert list(result["result"]["metrics"]) == ["ssim", "lpips", "fid", "kid"]
    assert "inception-2015-12-05.pt" in result["result"]["absent"]["kid"]
    md = (tmp_path / "t2" / "table.md").read_text()
    assert "| Method | SSIM ↑ | LPIPS ↓ | FID ↓ | KID ↓ (this run ×1000) |" in md
    assert "| CP-VTON [31] | 0.785 | 0.2871 | 48.86 | 4.42 |" in md and "KID with no scale" in md
    # a dataset root: its paired test split is the ground truth, predictions named after the samples
    data = generate(tmp_path / "synth", SynthConfig(videos=2, frames=3, height=64, width=48,
                                                    categories=("upper",), test_fraction=1.0, seed=0))
    from vvt.data.layouts import read_layout

    samples = read_layout(data, split="test", pairs="paired")
    pred = tmp_path / "synth-pred"
    for s in samples[1:]:
        target = pred / f"{s.name}{s.person.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if s.person.is_dir() else shutil.copy)(s.person, target)
    with pytest.raises(ShapeMismatchError, match=f"ground truth\\(s\\) without prediction: {samples[0].name}"):
        run_table("realvvt", 1, data, pred, tmp_path / "t1", show_progress=False)
    s = samples[0]
    (shutil.copytree if s.person.is_dir() else shutil.copy)(s.person, pred / f"{s.name}{s.person.suffix}")
    result = run_table("realvvt", 1, data, pred, tmp_path / "t1", show_progress=False)
    assert result["result"]["counts"]["items"] == len(samples)
    assert result["result"]["metrics"]["ssim"] == pytest.approx(1.0, abs=1e-9)  # the videos themselves
    assert Path(result["data"]) == data
