"""vvt.data.layouts on trees in each dataset's released naming, one test per quirk (issue 24).

Every fixture says, in a comment, the repository and file its naming was taken from.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from vvt.data.datasets import TryOnDataset
from vvt.data.layouts import DERIVED_UNPAIRED, detect_layout, read_layout
from vvt.errors import LayoutError
from vvt.io import write_image, write_video

H, W = 16, 12
_TEMPLATES: dict[tuple, Path] = {}


@pytest.fixture(autouse=True, scope="module")
def _templates(tmp_path_factory):
    """Each distinct file is written once; the trees hard-link it (write a linked file only after unlinking it)."""
    _TEMPLATES.clear()
    _TEMPLATES["dir"] = tmp_path_factory.mktemp("templates")
    yield
    _TEMPLATES.clear()


def _link(path: Path, key: tuple, write) -> Path:
    if key not in _TEMPLATES:
        _TEMPLATES[key] = _TEMPLATES["dir"] / f"{len(_TEMPLATES)}{key[0]}"
        write(_TEMPLATES[key])
    path.parent.mkdir(parents=True, exist_ok=True)
    os.link(_TEMPLATES[key], path)
    return path


def video(path: Path, n: int = 3, h: int = H, w: int = W) -> Path:
    frames = np.stack([np.full((h, w, 3), 40 * k, np.uint8) for k in range(n)])
    return _link(path, (path.suffix, n, h, w), lambda p: write_video(p, frames))


def image(path: Path, h: int = H, w: int = W, value: int = 128) -> Path:
    return _link(path, (path.suffix, h, w, value), lambda p: write_image(p, np.full((h, w, 3), value, np.uint8)))


# --------------------------------------------------------------------------------------------- ViViD as released

# Naming of the released ViViD dataset as CatV2TON's loaders read it (Zheng-Chong/CatV2TON,
# data/video_dataset.py: <category>/train_pairs.txt and test_pairs.txt with lines
# "1057795_detail.mp4 1057795_in_xl.jpg", videos in videos/, garments in images/), with the streams of
# ViViD's README (alibaba-yuanjing-aigclab/ViViD, README.md "Data": agnostic/, agnostic_mask/, densepose/,
# cloth/, cloth_mask/).
UPPER_TRAIN = ("1100001", "1100002")
UPPER_TEST = ("1057795", "1222020", "1300001", "1300002")
LOWER_TEST = ("2000001", "2000002", "2000003")


def make_vivid_release(root: Path, garments: str = "images", masks: str = "cloth_mask", lists: bool = True,
                       unpaired_list: bool = False) -> Path:
    """Category folders with <id>_detail.mp4 videos and <id>_in_xl.jpg garments."""
    for cat, ids in (("upper_body", UPPER_TRAIN + UPPER_TEST), ("lower_body", LOWER_TEST)):
        d = root / cat
        for pid in ids:
            for stream in ("videos", "agnostic", "agnostic_mask", "densepose"):
                video(d / stream / f"{pid}_detail.mp4")
            image(d / garments / f"{pid}_in_xl.jpg")
            if masks == "beside":
                image(d / garments / f"{pid}_in_xl_mask.jpg", value=255)
            else:
                image(d / "cloth_mask" / f"{pid}_in_xl.jpg", value=255)
        if lists:
            train = [pid for pid in ids if pid in UPPER_TRAIN]
            test = [pid for pid in ids if pid not in UPPER_TRAIN]
            (d / "train_pairs.txt").write_text("".join(f"{p}_detail.mp4 {p}_in_xl.jpg\n" for p in train))
            (d / "test_pairs.txt").write_text("".join(f"{p}_detail.mp4 {p}_in_xl.jpg\n" for p in test))
        if unpaired_list:
            (d / "test_pairs_unpaired.txt").write_text(f"{ids[-1]}_detail.mp4 {ids[-2]}_in_xl.jpg\n")
    (root / "lower_body" / "train_pairs.txt").unlink(missing_ok=True)  # no lower-body train videos
    return root


@pytest.mark.parametrize("garments, masks", [("images", "cloth_mask"), ("images", "beside"), ("cloth", "cloth_mask")])
def test_vivid_release_pairs_videos_with_garments_of_another_stem(tmp_path, garments, masks):
    root = make_vivid_release(tmp_path / "ViViD", garments, masks)
    assert detect_layout(root) == "vivid"
    test = read_layout(root, check=False)
    up = root / "upper_body"
    assert [s.name for s in test] == [f"upper_body/{p}_detail" for p in UPPER_TEST] + [
        f"lower_body/{p}_detail" for p in LOWER_TEST]
    s = test[0]
    mask_path = up / garments / "1057795_in_xl_mask.jpg" if masks == "beside" else up / "cloth_mask/1057795_in_xl.jpg"
    assert (s.person, s.garment, s.garment_mask) == (up / "videos/1057795_detail.mp4",
                                                      up / garments / "1057795_in_xl.jpg", mask_path)
    assert s.category == "upper" and test[-1].category == "lower"
    train = read_layout(root, split="train", check=False)
    assert [(s.name, s.garment.name) for s in train] == [(f"upper_body/{p}_detail", f"{p}_in_xl.jpg")
                                                         for p in UPPER_TRAIN]


def test_vivid_release_without_lists_pairs_by_product_id(tmp_path):
    root = make_vivid_release(tmp_path / "ViViD", lists=False)
    samples = read_layout(root, check=False)
    assert len(samples) == len(UPPER_TRAIN + UPPER_TEST + LOWER_TEST)  # no list: every video is a test video
    assert all(s.garment.name == f"{s.person.stem.split('_')[0]}_in_xl.jpg" for s in samples)


def test_vivid_unpaired_list_is_derived_without_wrong_pairs(tmp_path, caplog):
    root = make_vivid_release(tmp_path / "ViViD")
    caplog.set_level(logging.WARNING)
    unpaired = read_layout(root, pairs="unpaired", check=False)
    # one sample per test video (not videos x garments), never its own garment, never a train video's one,
    # always a garment of its own category
    assert [s.person.stem for s in unpaired] == [f"{p}_detail" for p in UPPER_TEST + LOWER_TEST]
    for s in unpaired:
        pid, garment_id = s.person.stem.split("_")[0], s.garment.stem.split("_")[0]
        assert garment_id != pid and garment_id not in UPPER_TRAIN
        assert garment_id in (UPPER_TEST if s.category == "upper" else LOWER_TEST)
        assert s.name == f"{'upper_body' if s.category == 'upper' else 'lower_body'}/{pid}_detail__{garment_id}_in_xl"
        assert not s.paired
    # the rule of the docstring: sorted test videos, video k takes the garment of video k + n // 2
    assert [s.garment.stem.split("_")[0] for s in unpaired[:4]] == ["1300001", "1300002", "1057795", "1222020"]
    assert [s.garment.stem.split("_")[0] for s in unpaired[4:]] == ["2000002", "2000003", "2000001"]
    written = (root / "upper_body" / DERIVED_UNPAIRED).read_text().splitlines()
    assert written[0].startswith("# vvt: derived unpaired test list") and written[1].startswith("# rule:")
    assert written[-4:] == ["1057795_detail.mp4 1300001_in_xl.jpg", "1222020_detail.mp4 1300002_in_xl.jpg",
                            "1300001_detail.mp4 1057795_in_xl.jpg", "1300002_detail.mp4 1222020_in_xl.jpg"]
    assert "wrote vvt's derived list upper_body/test_pairs_unpaired_vvt.txt (4 pairs)" in caplog.text
    again = read_layout(root, pairs="unpaired", check=False)  # deterministic, and the file is left alone
    assert [(s.name, s.garment) for s in again] == [(s.name, s.garment) for s in unpaired]
    assert "using vvt's derived list" in caplog.text


def test_vivid_unpaired_list_of_the_release_wins_and_read_only_folders_are_not_written(tmp_path, caplog):
    root = make_vivid_release(tmp_path / "ViViD", unpaired_list=True)
    assert [s.name for s in read_layout(root, pairs="unpaired", check=False)] == [
        "upper_body/1300002_detail__1300001_in_xl", "lower_body/2000003_detail__2000002_in_xl"]
    assert not (root / "upper_body" / DERIVED_UNPAIRED).exists()
    other = make_vivid_release(tmp_path / "ro")
    folders = [other / "upper_body", other / "lower_body"]
    for f in folders:
        f.chmod(0o555)
    try:
        samples = read_layout(other, pairs="unpaired", check=False)
    finally:
        for f in folders:
            f.chmod(0o755)
    assert len(samples) == 7 and not (other / "upper_body" / DERIVED_UNPAIRED).exists()
    assert "folder is read-only; the derived list (4 pairs" in caplog.text


# ViViD's own demo folder (alibaba-yuanjing-aigclab/ViViD, data/: videos/upper1.mp4, lower1.mp4, kun.mp4;
# cloth/00057_00.jpg, 00126_00.jpg (VITON-HD garments), 051985_1.jpg, 051990_1.jpg (Dress Code lower-body
# garments), cloth_mask/ of the same names; configs/prompts/lower1.yaml pairs lower1 with 051985_1 and 051990_1).
def make_vivid_demo(root: Path, videos=("upper1", "lower1", "kun")) -> Path:
    for vid in videos:
        for stream in ("videos", "agnostic", "agnostic_mask", "densepose"):
            video(root / stream / f"{vid}.mp4")
    for garment in ("00057_00", "00126_00", "051985_1", "051990_1"):
        image(root / "cloth" / f"{garment}.jpg")
        image(root / "cloth_mask" / f"{garment}.jpg", value=255)
    return root


def test_flat_vivid_folder_needs_a_category(tmp_path, caplog):
    root = make_vivid_demo(tmp_path / "data")
    with pytest.raises(LayoutError, match=r"flat ViViD folder .* of unknown category \(kun, lower1, upper1\): "
                                          r"pass category="):
        read_layout(root, check=False)
    categories = {"upper1": "upper", "lower1": "lower", "kun": "upper_body", "00057_00": "upper",
                  "00126_00": "upper", "051985_1": "lower", "051990_1": "lower"}
    samples = read_layout(root, check=False, category=categories)
    assert [(s.name, s.category) for s in samples] == [("upper_body/kun", "upper"), ("lower_body/lower1", "lower"),
                                                       ("upper_body/upper1", "upper")]
    unpaired = {s.person.stem: s.garment.stem for s in read_layout(root, pairs="unpaired", check=False,
                                                                    category=categories)}
    assert unpaired["lower1"] in ("051985_1", "051990_1")  # never an upper-body garment on lower1
    assert {unpaired["upper1"], unpaired["kun"]} <= {"00057_00", "00126_00"}
    (root / "layout.json").write_text(json.dumps({"layout": "vivid", "categories": categories}))
    assert [s.category for s in read_layout(root, check=False)] == ["upper", "lower", "upper"]
    with pytest.raises(LayoutError, match="unknown category 'shoes'"):
        read_layout(root, check=False, category="shoes")
    named = make_vivid_demo(tmp_path / "upper-only", videos=("upper1", "upper2"))
    assert {s.category for s in read_layout(named, check=False)} == {"upper"}
    assert "'upper' is taken from the video names (upper1, upper2" in caplog.text


# --------------------------------------------------------------------------------------------- ViViD-S

# CatV2TON's ViViD-S test split (Zheng-Chong/CatV2TON, eval_video_try_on.py ViViDTestDataset: ROOT/
# test_data_180.jsonl and test_data_180_unpaired.jsonl, one JSON object per line with subdir, video, image
# and front_seqs [start, end]; files in <subdir>/videos/, images/, agnostic_mask_smoothed/, densepose/;
# training lists <subdir>/train_data.jsonl with front_seqs [[start, end], ...] as data/video_dataset.py reads).
def make_vivid_s(root: Path) -> Path:
    rows = [("upper_body", "1057795"), ("upper_body", "1222020"), ("lower_body", "2000001"), ("dresses", "3000001")]
    paired, unpaired = [], []
    for subdir, pid in rows:
        d = root / subdir
        for stream in ("videos", "agnostic_mask_smoothed", "densepose"):
            video(d / stream / f"{pid}_detail.mp4", n=5)
        image(d / "images" / f"{pid}_in_xl.jpg")
        paired.append({"subdir": subdir, "video": f"{pid}_detail.mp4", "image": f"{pid}_in_xl.jpg",
                       "front_seqs": [1, 4]})
    for subdir, a, b in (("upper_body", "1057795", "1222020"), ("upper_body", "1222020", "1057795")):
        unpaired.append({"subdir": subdir, "video": f"{a}_detail.mp4", "image": f"{b}_in_xl.jpg",
                         "front_seqs": [0, 5]})
    (root / "test_data_180.jsonl").write_text("".join(json.dumps(r) + "\n" for r in paired))
    (root / "test_data_180_unpaired.jsonl").write_text("".join(json.dumps(r) + "\n" for r in unpaired))
    (root / "upper_body" / "train_data.jsonl").write_text(json.dumps(
        {"video": "1057795_detail.mp4", "image": "1057795_in_xl.jpg", "type": "video", "front_seqs": [[0, 2], [3, 5]]}
    ) + "\n")
    return root


def test_vivid_s_as_catv2ton_ships_it(tmp_path):
    root = make_vivid_s(tmp_path / "ViViD-S")
    assert detect_layout(root) == "vivid_s"
    paired = read_layout(root)
    assert [(s.name, s.category) for s in paired] == [
        ("upper_body/1057795_detail", "upper"), ("upper_body/1222020_detail", "upper"),
        ("lower_body/2000001_detail", "lower"), ("dresses/3000001_detail", "dresses")]
    s = paired[0]
    up = root / "upper_body"
    assert (s.person, s.garment, s.agnostic_mask, s.densepose, s.agnostic) == (
        up / "videos/1057795_detail.mp4", up / "images/1057795_in_xl.jpg",
        up / "agnostic_mask_smoothed/1057795_detail.mp4", up / "densepose/1057795_detail.mp4", None)
    assert (s.dataset, s.frame_ranges, s.densepose_format, s.paired) == ("vivid_s", ((1, 4),), "detectron2_parts", True)
    unpaired = read_layout(root, pairs="unpaired")
    assert [(s.name, s.garment.name, s.frame_ranges) for s in unpaired] == [
        ("upper_body/1057795_detail__1222020_in_xl", "1222020_in_xl.jpg", ((0, 5),)),
        ("upper_body/1222020_detail__1057795_in_xl", "1057795_in_xl.jpg", ((0, 5),))]
    train = read_layout(root, split="train")
    assert [(s.name, s.frame_ranges) for s in train] == [("upper_body/1057795_detail", ((0, 2), (3, 5)))]


def test_vivid_s_front_seqs_bound_the_training_clips_and_a_range_off_the_video_skips_the_sample(tmp_path, caplog):
    root = make_vivid_s(tmp_path / "ViViD-S")
    train = read_layout(root, split="train")  # 5-frame video, front_seqs [[0, 2], [3, 5]]
    data = TryOnDataset(train, (H, W), clip_len=2, streams=("person",))
    starts = set()
    for epoch in range(40):
        data.set_epoch(epoch)
        indices = data[0]["frame_indices"].tolist()
        assert indices in ([0, 1], [3, 4]), indices  # never across the gap (frame 2), never frames 1-2 or 2-3
        starts.add(indices[0])
    assert starts == {0, 3}  # both ranges are drawn
    still = TryOnDataset(train, (H, W), clip_len=3, streams=("person",), random_start=False)
    assert still[0]["frame_indices"].tolist() == [0, 1, 1]  # the first range; a longer clip repeats its end
    lines = (root / "test_data_180.jsonl").read_text().splitlines()
    off = json.loads(lines[3])
    off["front_seqs"] = [7, 9]  # past the 5 frames of its video
    (root / "test_data_180.jsonl").write_text("\n".join(lines[:3] + [json.dumps(off)]) + "\n")
    assert [s.name for s in read_layout(root)] == [
        "upper_body/1057795_detail", "upper_body/1222020_detail", "lower_body/2000001_detail"]
    assert "dresses/3000001_detail: its frames (7-9) lie outside its 5 frame(s)" in caplog.text
    assert len(read_layout(root, check=False)) == 4  # names only: the frame count is not read


def test_vivid_s_without_a_smoothed_mask_reads_with_none(tmp_path, caplog):
    root = make_vivid_s(tmp_path / "ViViD-S")
    (root / "lower_body" / "agnostic_mask_smoothed" / "2000001_detail.mp4").unlink()  # CatV2TON makes it itself
    samples = read_layout(root)
    assert [s.agnostic_mask is None for s in samples] == [False, False, True, False]
    assert "agnostic_mask is None for 1 of 4 samples (not in lower_body/agnostic_mask_smoothed/" in caplog.text


# --------------------------------------------------------------------------------------------- Dress Code

# Dress Code as released (aimagelab/dress-code, data/dataset.py: images/<id>_0.jpg person, images/<id>_1.jpg
# garment, skeletons/<id>_5.jpg, test_pairs_paired.txt) with CatVTON's agnostic masks, written for the persons
# of test_pairs_paired.txt only (Zheng-Chong/CatVTON, preprocess_agnostic_mask.py: agnostic_masks/<id>_0.png).
def make_dresscode(root: Path, skeleton_size: tuple[int, int] = (H // 2, W // 2)) -> Path:
    d = root / "upper_body"
    train, test = ("013563", "013565"), ("013564",)
    for pid in train + test:
        image(d / "images" / f"{pid}_0.jpg")
        image(d / "images" / f"{pid}_1.jpg")
        image(d / "skeletons" / f"{pid}_5.jpg", *skeleton_size)
    for pid in test:
        image(d / "agnostic_masks" / f"{pid}_0.png", value=255)
    (d / "train_pairs.txt").write_text("".join(f"{p}_0.jpg {p}_1.jpg\n" for p in train))
    (d / "test_pairs_paired.txt").write_text("".join(f"{p}_0.jpg {p}_1.jpg\n" for p in test))
    return root


def test_dresscode_train_reads_although_agnostic_masks_cover_the_test_persons_only(tmp_path, caplog):
    root = make_dresscode(tmp_path / "DressCode")
    train = read_layout(root, split="train")
    assert [(s.name, s.agnostic_mask) for s in train] == [("upper_body/013563_0", None), ("upper_body/013565_0", None)]
    assert "agnostic_mask is None for 2 of 2 samples (not in upper_body/agnostic_masks/" in caplog.text
    test = read_layout(root)
    assert test[0].agnostic_mask == root / "upper_body" / "agnostic_masks" / "013564_0.png"


def test_streams_at_a_proportional_resolution_are_kept(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vvt.data.layouts")
    root = make_dresscode(tmp_path / "half")  # skeletons at half the photo's size, as Dress Code ships them
    assert len(read_layout(root, split="train")) == 2
    assert "2 samples hold streams at a proportional resolution" in caplog.text
    assert "skeleton 8x6 beside 16x12" in caplog.text
    odd = make_dresscode(tmp_path / "odd", skeleton_size=(H, H))  # square: not a rescaled copy
    with pytest.raises(LayoutError, match=r"different frame sizes, HxW \(person 16x12, skeleton 16x16\)"):
        read_layout(odd, split="train")


def test_a_stream_at_a_proportional_resolution_trains_covering_the_same_pixels(tmp_path):
    # Dress Code's skeletons at half the photo's size: the dataset resizes them onto the photo's geometry
    root = make_dresscode(tmp_path / "half")
    pattern = np.zeros((64, 48, 3), np.uint8)
    pattern[16:48, 8:24] = 255  # a white block off-centre, so a misplaced or mirrored stream shows
    images = root / "upper_body"
    for pid in ("013563", "013565"):
        for path, frame in ((images / "images" / f"{pid}_0.jpg", pattern),
                            (images / "skeletons" / f"{pid}_5.jpg", pattern[::2, ::2])):
            path.unlink()  # a hard link to a template: replace it, do not write through it
            write_image(path, frame)
    train = read_layout(root, split="train")
    for size, crop in (((H, W), "center"), ((32, 32), "center"), ((48, 36), "random")):
        item = TryOnDataset(train, size, streams=("person", "skeleton"), crop=crop)[0]
        person, skeleton = item["person"], item["skeleton"]
        assert person.shape == skeleton.shape == (1, 3, *size)
        same, mirrored = (float((person - other).abs().mean()) for other in (skeleton, skeleton.flip(-1)))
        assert same < 0.1 < 0.5 < mirrored, (size, same, mirrored)  # the same pixels (a misplaced one would show)


# --------------------------------------------------------------------------------------------- FashionVideo

# UBC FashionVideo as its crawler writes it (dataset page of DwNet, fashion_test.txt with one URL per line and
# data_crowler.py saving each URL's basename under test/; URLs of the page, e.g. .../I/91D23ZVV6NS.mp4).
def test_fashionvideo_partial_download_still_reads(tmp_path, caplog):
    root = tmp_path / "fashion"
    names = ("91D23ZVV6NS", "A1P+0ZhMAiS", "91hECpvrRSS")
    (root / "test").mkdir(parents=True)
    (root / "fashion_test.txt").write_text("".join(f"https://m.media-amazon.com/images/I/{n}.mp4\n" for n in names))
    video(root / "test" / f"{names[0]}.mp4")
    (root / "test" / f"{names[2]}.mp4").write_bytes(b"<html>403 Forbidden</html>")  # junk from the crawler
    samples = read_layout(root)
    assert [s.name for s in samples] == ["91D23ZVV6NS"]
    assert "skipped 2 of 3 test paired fashionvideo samples" in caplog.text
    assert "fashion_test.txt line 2: test/A1P+0ZhMAiS.mp4 not found" in caplog.text
    assert "91hECpvrRSS: person:" in caplog.text and "not a readable video" in caplog.text
    with pytest.raises(LayoutError) as err:
        read_layout(root, strict=True)
    assert err.value.problems[0] == "2 of 3 test paired fashionvideo samples cannot be read (strict)"


# --------------------------------------------------------------------------------------------- VVT

# FW-GAN's VVT as CatV2TON reads it (Zheng-Chong/CatV2TON, eval_video_try_on.py VVTTestDataset: test_frames/<vid>/,
# lip_clothes_person/<vid>/, test_agn_mask_new/<vid>/, test_densepose-magcianimate/<vid>/,
# test_person_clothes_pose_tuple.txt) with OpenPose per frame as ShineOn reads it (andrewjong/ShineOn-Virtual-
# Tryon, datasets/vvt_dataset.py get_person_cocopose_path: test_frames_keypoint/<vid>/<frame>_keypoints.json).
def test_vvt_video_without_keypoints_reads_with_none(tmp_path, caplog):
    root = tmp_path / "vvt"
    vids = ("4he21d00f-g11", "ve121e11m-q11")
    for vid in vids:
        for k in (0, 1, 2):
            image(root / "test_frames" / vid / f"{vid}_{k}.png")
            image(root / "test_agn_mask_new" / vid / f"{vid}_{k}.png", value=255)
        image(root / "lip_clothes_person" / vid / f"{vid.upper()}@10=cloth_front.jpg")
    (root / "test_frames_keypoint" / vids[0]).mkdir(parents=True)
    (root / "test_frames_keypoint" / vids[0] / f"{vids[0]}_0_keypoints.json").write_text('{"people": []}')
    samples = read_layout(root)
    assert [(s.keypoints, s.agnostic_mask) for s in samples] == [
        (root / "test_frames_keypoint" / vids[0], root / "test_agn_mask_new" / vids[0]),
        (None, root / "test_agn_mask_new" / vids[1])]
    assert "keypoints is None for 1 of 2 samples (no folder ve121e11m-q11 in test_frames_keypoint/" in caplog.text


def test_unreadable_optional_stream_becomes_none(tmp_path, caplog):
    root = make_vivid_release(tmp_path / "ViViD")
    junk = root / "upper_body" / "densepose" / "1057795_detail.mp4"
    junk.unlink()  # a hard link to the template: replace it, do not write through it
    junk.write_bytes(os.urandom(64))
    samples = read_layout(root)
    assert samples[0].name == "upper_body/1057795_detail" and samples[0].densepose is None
    assert all(s.densepose is not None for s in samples[1:])
    assert "densepose is None for 1 of 7 samples (unreadable" in caplog.text
