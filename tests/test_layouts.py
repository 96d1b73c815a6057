"""vvt.data.layouts: every reader on a fixture tree in its dataset's real naming, and malformed trees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vvt.data.layouts import detect_layout, read_layout
from vvt.errors import LayoutError
from vvt.io import write_image, write_video

H, W = 16, 12


def clip(n: int = 3, h: int = H, w: int = W, base: int = 0) -> np.ndarray:
    return np.stack([np.full((h, w, 3), (base + 40 * k) % 256, np.uint8) for k in range(n)])


def image(h: int = H, w: int = W, value: int = 128) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def touch_image(path: Path, h: int = H, w: int = W) -> Path:
    write_image(path, image(h, w))
    return path


# vvt's own ViViD tree (vvt.data.synth.writer, which SynthVVT writes: a video and its garment share a stem) in
# the folders of ViViD's README (alibaba-yuanjing-aigclab/ViViD, README.md "Data": videos/, agnostic/,
# agnostic_mask/, densepose/, cloth/, cloth_mask/) with pair lists named as CatV2TON reads them
# (Zheng-Chong/CatV2TON, data/video_dataset.py: train_pairs.txt, test_pairs.txt "<vid>.mp4 <garment>.jpg").
def make_vivid(root: Path, categories=("upper_body",), pair_lists: bool = True) -> Path:
    """A ViViD tree (COMMON layout): videos v1, v2 per category; cloth v1 (worn in v1) and g9."""
    for cat in categories:
        d = root / cat
        for vid in ("v1", "v2"):
            for stream in ("videos", "agnostic", "agnostic_mask", "densepose"):
                write_video(d / stream / f"{vid}.mp4", clip())
        for garment in ("v1", "g9"):
            touch_image(d / "cloth" / f"{garment}.jpg")
            touch_image(d / "cloth_mask" / f"{garment}.jpg")
        write_video(d / "skeleton" / "v1.mp4", clip())
        write_video(d / "worn_mask" / "v1.mp4", clip())
        (d / "keypoints").mkdir()
        (d / "keypoints" / "v1.json").write_text(json.dumps({"format": "openpose-body25", "frames": []}))
        if pair_lists:
            (d / "train_pairs.txt").write_text("v2.mp4 v1.jpg\n")
            (d / "test_pairs.txt").write_text("v1.mp4 v1.jpg\n")
            (d / "test_pairs_unpaired.txt").write_text("v1.mp4 g9.jpg\nv2.mp4 g9.jpg\n")
        write_video(root / "ground_truth" / cat / "videos" / "v1__g9.mp4", clip())
        write_video(root / "ground_truth" / cat / "worn_mask" / "v1__g9.mp4", clip())
    (root / "layout.json").write_text(json.dumps({"layout": "vivid", "densepose_format": "vvt_iuv"}))
    return root


def test_vivid_reader_paired_and_unpaired(tmp_path):
    root = make_vivid(tmp_path / "vivid", categories=("upper_body", "dresses"))
    assert detect_layout(root) == "vivid"
    paired = read_layout(root)
    assert [s.name for s in paired] == ["upper_body/v1", "dresses/v1"]
    s = paired[0]
    up = root / "upper_body"
    assert (s.person, s.garment, s.garment_mask) == (
        up / "videos/v1.mp4",
        up / "cloth/v1.jpg",
        up / "cloth_mask/v1.jpg",
    )
    assert (s.agnostic, s.agnostic_mask, s.densepose) == (
        up / "agnostic/v1.mp4",
        up / "agnostic_mask/v1.mp4",
        up / "densepose/v1.mp4",
    )
    assert (s.keypoints, s.skeleton) == (up / "keypoints/v1.json", up / "skeleton/v1.mp4")
    assert s.extra == {"worn_mask": up / "worn_mask/v1.mp4"}
    assert (s.category, s.densepose_format, s.paired, s.split, s.is_video) == (
        "upper",
        "vvt_iuv",
        True,
        "test",
        True,
    )
    assert paired[1].category == "dresses"

    unpaired = read_layout(root, pairs="unpaired")
    assert [s.name for s in unpaired] == [
        "upper_body/v1__g9",
        "upper_body/v2__g9",
        "dresses/v1__g9",
        "dresses/v2__g9",
    ]
    s = unpaired[0]
    assert s.garment == up / "cloth/g9.jpg" and not s.paired
    gt = root / "ground_truth" / "upper_body"
    assert s.extra["gt_person"] == gt / "videos/v1__g9.mp4"
    assert s.extra["gt_worn_mask"] == gt / "worn_mask/v1__g9.mp4"
    assert "gt_person" not in unpaired[1].extra  # no ground truth written for v2

    train = read_layout(root, split="train")
    assert [(s.name, s.garment.name, s.split) for s in train] == [
        ("upper_body/v2", "v1.jpg", "train"),
        ("dresses/v2", "v1.jpg", "train"),
    ]


def test_vivid_without_pair_lists(tmp_path):
    root = make_vivid(tmp_path / "upper_body", pair_lists=False)
    single = root / "upper_body"  # a single category folder as root
    samples = read_layout(single)
    assert [(s.name, s.garment.name if s.garment else None) for s in samples] == [
        ("upper_body/v1", "v1.jpg"),
        ("upper_body/v2", None),
    ]
    assert samples[0].densepose_format == "detectron2_parts"  # no layout.json in the category folder
    unpaired = read_layout(single, pairs="unpaired")
    # one garment per test video: v1 (wears v1.jpg) gets the garment no video wears, v2 the garment of v1
    assert [s.name for s in unpaired] == ["upper_body/v1__g9", "upper_body/v2__v1"]
    assert {s.category for s in read_layout(single, category="lower")} == {"lower"}
    with pytest.raises(LayoutError, match="no .*train_pairs.txt"):
        read_layout(single, split="train")


def test_vivid_real_samples(vivid_samples):
    paired = read_layout(vivid_samples)  # category from the video name upper1 (ViViD's demo naming)
    assert len(paired) == 1
    s = paired[0]
    assert (s.name, s.garment, s.category, s.densepose_format) == (
        "upper_body/upper1",
        None,
        "upper",
        "detectron2_parts",
    )
    assert s.person == vivid_samples / "videos" / "upper1.mp4"
    unpaired = read_layout(vivid_samples, layout="vivid", pairs="unpaired")
    # the one test video with the first garment no video wears; the read-only folder is not written to
    assert [(s.name, s.garment.name, s.garment_mask.name) for s in unpaired] == [
        ("upper_body/upper1__00057_00", "00057_00.jpg", "00057_00.jpg"),
    ]
    assert unpaired[0].densepose == vivid_samples / "densepose" / "upper1.mp4"
    assert not (vivid_samples / "test_pairs_unpaired_vvt.txt").exists()


def test_pair_lines_naming_missing_files_are_skipped(tmp_path, caplog):
    root = make_vivid(tmp_path / "d")
    up = root / "upper_body"
    (up / "test_pairs.txt").write_text("v1.mp4 v1.jpg\nghost.mp4 v1.jpg\nv2.mp4 nothere.jpg\nv2.mp4\n")
    (up / "agnostic" / "v1.mp4").unlink()
    with pytest.raises(LayoutError) as err:
        read_layout(root, strict=True)
    problems = err.value.problems
    assert problems[0] == "3 of 4 test paired vivid samples cannot be read (strict)"
    assert any("line 2" in p and "'ghost.mp4' not found" in p for p in problems)
    assert any("line 3" in p and "'nothere.jpg' not found" in p for p in problems)
    assert any("line 4" in p and "expected 2 names" in p for p in problems)
    samples = read_layout(root)  # without strict: the bad lines are skipped, the missing stream is None
    assert [(s.name, s.agnostic) for s in samples] == [("upper_body/v1", None)]
    text = caplog.text
    assert "skipped 3 of 4 test paired vivid samples" in text and "ghost.mp4" in text
    assert "agnostic is None for 1 of 1 samples" in text


def test_stream_mismatch_skips_the_sample(tmp_path):
    root = make_vivid(tmp_path / "d")
    up = root / "upper_body"
    write_video(up / "agnostic" / "v1.mp4", clip(n=2))  # 2 frames instead of 3
    write_video(up / "densepose" / "v1.mp4", clip(w=W + 4))  # wider: not a rescaled copy
    with pytest.raises(LayoutError) as err:  # the only test sample is skipped, so nothing is left
        read_layout(root)
    text = str(err.value)
    assert "no test paired vivid samples found (1 skipped)" in text
    assert "different frame counts" in text and "person 3" in text and "agnostic 2" in text
    write_video(up / "agnostic" / "v1.mp4", clip())
    with pytest.raises(LayoutError, match=r"different frame sizes, HxW \(person 16x12, agnostic 16x12, "
                                          r"agnostic_mask 16x12, densepose 16x16"):
        read_layout(root)
    assert read_layout(root, check=False)[0].name == "upper_body/v1"  # check=False skips the stream check
    for f in (up / "agnostic_mask").iterdir():
        f.unlink()
    (up / "agnostic_mask").rmdir()
    assert read_layout(root, check=False)[0].agnostic_mask is None  # an absent stream folder: None for all


# VITON-HD as released (shadow2496/VITON-HD, README.md: zalando-hd-resized/{train,test}/image, cloth,
# cloth-mask, agnostic-v3.2, image-densepose, openpose_img/<stem>_rendered.png, openpose_json/
# <stem>_keypoints.json; train_pairs.txt, test_pairs.txt) with StableVITON's agnostic masks
# (rlawjdghek/StableVITON, dataset.py: agnostic-mask/<stem>_mask.png).
def make_vitonhd(root: Path) -> Path:
    for split, names in (("train", ("00000_00", "00001_00")), ("test", ("00006_00", "00008_00"))):
        d = root / split
        for n in names:
            touch_image(d / "image" / f"{n}.jpg")
            touch_image(d / "cloth" / f"{n}.jpg")
            touch_image(d / "cloth-mask" / f"{n}.jpg")
            touch_image(d / "agnostic-v3.2" / f"{n}.jpg")
            touch_image(d / "agnostic-mask" / f"{n}_mask.png")
            touch_image(d / "image-densepose" / f"{n}.jpg")
            touch_image(d / "openpose_img" / f"{n}_rendered.png")
            (d / "openpose_json").mkdir(exist_ok=True)
            (d / "openpose_json" / f"{n}_keypoints.json").write_text('{"people": []}')
    (root / "train_pairs.txt").write_text("00000_00.jpg 00000_00.jpg\n00001_00.jpg 00001_00.jpg\n")
    (root / "test_pairs.txt").write_text("00006_00.jpg 00008_00.jpg\n00008_00.jpg 00006_00.jpg\n")
    return root


def test_vitonhd_reader(tmp_path):
    root = make_vitonhd(tmp_path / "zalando-hd-resized")
    assert detect_layout(root) == "vitonhd"
    paired = read_layout(root)
    t = root / "test"
    s = paired[0]
    assert (s.name, s.person, s.garment, s.garment_mask) == (
        "00006_00",
        t / "image/00006_00.jpg",
        t / "cloth/00006_00.jpg",
        t / "cloth-mask/00006_00.jpg",
    )
    assert (s.agnostic, s.agnostic_mask, s.densepose) == (
        t / "agnostic-v3.2/00006_00.jpg",
        t / "agnostic-mask/00006_00_mask.png",
        t / "image-densepose/00006_00.jpg",
    )
    assert (s.keypoints, s.skeleton) == (
        t / "openpose_json/00006_00_keypoints.json",
        t / "openpose_img/00006_00_rendered.png",
    )
    assert (s.is_video, s.category, s.densepose_format, s.dataset) == (
        False,
        "upper",
        "detectron2_parts",
        "vitonhd",
    )
    unpaired = read_layout(root, pairs="unpaired")
    assert [(s.name, s.garment.name) for s in unpaired] == [
        ("00006_00__00008_00", "00008_00.jpg"),
        ("00008_00__00006_00", "00006_00.jpg"),
    ]
    assert len(read_layout(root, split="train")) == 2


def test_vitonhd_missing_files(tmp_path, caplog):
    root = make_vitonhd(tmp_path / "v")
    (root / "test" / "cloth" / "00008_00.jpg").unlink()
    (root / "test" / "agnostic-mask" / "00006_00_mask.png").unlink()
    with pytest.raises(LayoutError) as err:
        read_layout(root, pairs="unpaired", strict=True)
    assert "test_pairs.txt line 1: garment test/cloth/00008_00.jpg not found" in str(err.value)
    samples = read_layout(root, pairs="unpaired")
    assert [(s.name, s.agnostic_mask) for s in samples] == [("00008_00__00006_00", root / "test" / "agnostic-mask"
                                                             / "00008_00_mask.png")]
    assert "skipped 1 of 2 test unpaired vitonhd samples" in caplog.text
    paired = read_layout(root)  # the garment of 00008_00 is missing, the agnostic mask of 00006_00
    assert [(s.name, s.agnostic_mask) for s in paired] == [("00006_00", None)]
    assert "agnostic_mask is None for 1 of 1 samples (not in test/agnostic-mask/" in caplog.text


# Dress Code as released (aimagelab/dress-code, data/dataset.py: <category>/images/<id>_0.jpg person and
# <id>_1.jpg garment, keypoints/<id>_2.json, label_maps/<id>_4.png, skeletons/<id>_5.jpg, dense/<id>_5.png and
# <id>_5_uv.npz, train_pairs.txt, test_pairs_paired.txt, test_pairs_unpaired.txt) with LaDI-VTON's garment
# masks (miccunifi/ladi-vton, README.md: masks/<id>_1.png).
def make_dresscode(root: Path) -> Path:
    for cat in ("upper_body", "lower_body"):
        d = root / cat
        for pid in ("013563", "013564"):
            touch_image(d / "images" / f"{pid}_0.jpg")
            touch_image(d / "images" / f"{pid}_1.jpg")
            touch_image(d / "masks" / f"{pid}_1.png")
            touch_image(d / "label_maps" / f"{pid}_4.png")
            touch_image(d / "skeletons" / f"{pid}_5.jpg")
            touch_image(d / "dense" / f"{pid}_5.png")
            np.savez(d / "dense" / f"{pid}_5_uv.npz", uv=np.zeros((2, H, W), np.float32))
            (d / "keypoints").mkdir(exist_ok=True)
            (d / "keypoints" / f"{pid}_2.json").write_text('{"keypoints": []}')
        (d / "train_pairs.txt").write_text("013563_0.jpg 013563_1.jpg\n")
        (d / "test_pairs_paired.txt").write_text("013564_0.jpg 013564_1.jpg\n")
        (d / "test_pairs_unpaired.txt").write_text("013564_0.jpg 013563_1.jpg\n")
    return root


def test_dresscode_reader(tmp_path):
    root = make_dresscode(tmp_path / "DressCode")
    assert detect_layout(root) == "dresscode"
    paired = read_layout(root)
    assert [(s.name, s.category) for s in paired] == [
        ("upper_body/013564_0", "upper"),
        ("lower_body/013564_0", "lower"),
    ]
    d = root / "upper_body"
    s = paired[0]
    assert (s.person, s.garment, s.garment_mask) == (
        d / "images/013564_0.jpg",
        d / "images/013564_1.jpg",
        d / "masks/013564_1.png",
    )
    assert (s.densepose, s.skeleton, s.densepose_format) == (
        d / "dense/013564_5.png",
        d / "skeletons/013564_5.jpg",
        "dresscode_parts",
    )
    assert s.extra == {
        "dresscode_keypoints": d / "keypoints/013564_2.json",
        "label_map": d / "label_maps/013564_4.png",
        "densepose_uv": d / "dense/013564_5_uv.npz",
    }
    assert s.agnostic is None and not s.is_video
    unpaired = read_layout(root, pairs="unpaired")
    assert [(s.name, s.garment.name) for s in unpaired][0] == (
        "upper_body/013564_0__013563_1",
        "013563_1.jpg",
    )
    assert [s.person.name for s in read_layout(root, split="train")] == ["013563_0.jpg", "013563_0.jpg"]
    one = read_layout(root / "lower_body")  # a category folder as root
    assert [(s.name, s.category) for s in one] == [("lower_body/013564_0", "lower")]


def test_dresscode_missing_garment(tmp_path):
    root = make_dresscode(tmp_path / "DressCode")
    (root / "lower_body" / "test_pairs_paired.txt").write_text("013564_0.jpg 099999_1.jpg\n")
    with pytest.raises(
        LayoutError,
        match=r"lower_body/test_pairs_paired.txt line 1: garment "
        r"lower_body/images/099999_1.jpg not found",
    ):
        read_layout(root, strict=True)
    assert [s.name for s in read_layout(root)] == ["upper_body/013564_0"]


# FW-GAN's VVT as CatV2TON reads it (Zheng-Chong/CatV2TON, eval_video_try_on.py VVTTestDataset: test_frames/
# <vid>/, lip_clothes_person/<vid>/<VID>@<n>=cloth_front.jpg, test_agn_mask/<vid>/,
# test_person_clothes_pose_tuple.txt) with OpenPose per frame as ShineOn reads it (andrewjong/ShineOn-Virtual-
# Tryon, datasets/vvt_dataset.py get_person_cocopose_path: test_frames_keypoint/<vid>/<frame>_keypoints.json).
def make_vvt(root: Path) -> Path:
    for vid in ("4he21d00f-g11", "ve121e11m-q11"):
        for k in (0, 1, 2, 10):
            write_image(root / "test_frames" / vid / f"{vid}_{k}.png", image(value=10 * k))
            (root / "test_frames_keypoint" / vid).mkdir(parents=True, exist_ok=True)
            (root / "test_frames_keypoint" / vid / f"{vid}_{k}_keypoints.json").write_text('{"people": []}')
            write_image(root / "test_agn_mask" / vid / f"{vid}_{k}.png", image())
        upper = vid.upper()
        touch_image(root / "lip_clothes_person" / vid / f"{upper}@10=cloth_front.jpg")
        touch_image(root / "lip_clothes_person" / vid / f"{upper}@10=cloth_front_mask.jpg")
        write_image(root / "lip_clothes_person" / vid / f"{upper}@8=person_half_front.png", image())
    (root / "test_person_clothes_pose_tuple.txt").write_text(
        "4he21d00f-g11 ve121e11m-q11 ve121e11m-q11\nve121e11m-q11 4he21d00f-g11 4he21d00f-g11\n"
    )
    return root


def test_vvt_reader(tmp_path):
    root = make_vvt(tmp_path / "vvt")
    assert detect_layout(root) == "vvt"
    paired = read_layout(root)
    s = paired[0]
    vid = "4he21d00f-g11"
    assert (s.name, s.person, s.category) == (vid, root / "test_frames" / vid, "upper")
    assert s.garment == root / "lip_clothes_person" / vid / "4HE21D00F-G11@10=cloth_front.jpg"
    assert s.garment_mask == root / "lip_clothes_person" / vid / "4HE21D00F-G11@10=cloth_front_mask.jpg"
    assert (s.keypoints, s.agnostic_mask) == (
        root / "test_frames_keypoint" / vid,
        root / "test_agn_mask" / vid,
    )
    unpaired = read_layout(root, pairs="unpaired")
    assert [(s.name, s.garment.parent.name) for s in unpaired] == [
        ("4he21d00f-g11__ve121e11m-q11", "ve121e11m-q11"),
        ("ve121e11m-q11__4he21d00f-g11", "4he21d00f-g11"),
    ]


def test_vvt_errors(tmp_path):
    root = make_vvt(tmp_path / "vvt")
    (root / "test_person_clothes_pose_tuple.txt").write_text(
        "4he21d00f-g11 zz999-a11 zz999-a11\nnot-there x x\n"
    )
    with pytest.raises(LayoutError) as err:
        read_layout(root, pairs="unpaired")
    text = str(err.value)
    assert "line 1: no garment photo (*cloth_front.jpg) in lip_clothes_person/zz999-a11/" in text
    assert "line 2: video 'not-there' not found in test_frames/" in text


# UBC FashionVideo as its crawler writes it (the dataset page vision.cs.ubc.ca/datasets/fashion: fashion_train.txt
# and fashion_test.txt, one URL per line, and data_crowler.py, which saves each URL's basename under train/ or
# test/; URLs as in those lists, e.g. https://m.media-amazon.com/images/I/91D23ZVV6NS.mp4).
def make_fashionvideo(root: Path) -> Path:
    urls = [
        "https://m.media-amazon.com/images/I/91D23ZVV6NS.mp4",
        "https://m.media-amazon.com/images/I/A1P+0ZhMAiS.mp4",
    ]
    (root).mkdir(parents=True)
    (root / "fashion_test.txt").write_text("\n".join(urls) + "\n")
    (root / "fashion_train.txt").write_text(urls[0] + "\n")
    for split in ("train", "test"):
        write_video(root / split / "91D23ZVV6NS.mp4", clip())
    write_video(root / "test" / "A1P+0ZhMAiS.mp4", clip())
    return root


def test_fashionvideo_reader(tmp_path):
    root = make_fashionvideo(tmp_path / "fashion")
    assert detect_layout(root) == "fashionvideo"
    samples = read_layout(root)
    assert [(s.name, s.person, s.garment, s.category) for s in samples] == [
        ("91D23ZVV6NS", root / "test/91D23ZVV6NS.mp4", None, "dresses"),
        ("A1P+0ZhMAiS", root / "test/A1P+0ZhMAiS.mp4", None, "dresses"),
    ]
    assert len(read_layout(root, split="train")) == 1
    (root / "test" / "A1P+0ZhMAiS.mp4").unlink()
    with pytest.raises(LayoutError, match=r"fashion_test.txt line 2: test/A1P\+0ZhMAiS.mp4 not found"):
        read_layout(root, strict=True)
    assert [s.name for s in read_layout(root)] == ["91D23ZVV6NS"]


def test_unknown_tree_and_bad_arguments(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match="no known dataset layout"):
        read_layout(tmp_path / "empty")
    with pytest.raises(LayoutError, match="dataset folder not found"):
        read_layout(tmp_path / "missing")
    root = make_vivid(tmp_path / "v")
    with pytest.raises(LayoutError, match="unknown split"):
        read_layout(root, split="val")
    with pytest.raises(LayoutError, match="training samples are paired"):
        read_layout(root, split="train", pairs="unpaired")
    with pytest.raises(LayoutError, match="unknown layout"):
        read_layout(root, layout="viton")
    with pytest.raises(LayoutError, match="takes no option"):
        read_layout(make_vitonhd(tmp_path / "h"), category="upper")
