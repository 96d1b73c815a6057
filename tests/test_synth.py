"""SynthVVT (issue 3): the written dataset, its exact invariants, and the geometry behind them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from vvt.data.sample import CATEGORY_DIRS
from vvt.data.synth import SynthConfig, generate
from vvt.data.synth.garments import GARMENT_KINDS, envelope_pieces, make_garment, product_image
from vvt.data.synth.raster import rasterize
from vvt.data.synth.render import DENSEPOSE_PARTS, LABELS, mannequin
from vvt.data.synth.writer import make_scene, outfit, plan, render_clip
from vvt.errors import ConfigError, VVTError
from vvt.io import read_image, read_mask, read_video, write_video
from vvt.pose.densepose import decode_iuv, encode_iuv
from vvt.pose.openpose import BODY25, load_keypoints, render_skeleton_video

TINY = SynthConfig(videos=2, frames=6, height=64, width=48, seed=3)
STREAMS = ("videos", "agnostic", "agnostic_mask", "densepose", "skeleton", "worn_mask")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "ds", TINY)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _mask(video: np.ndarray) -> np.ndarray:
    return video[..., 0] >= 128


# -- layout ----------------------------------------------------------------------------------------------


def test_layout_files_pairs_and_reader(tiny):
    meta = json.loads((tiny / "layout.json").read_text())
    assert (meta["layout"], meta["densepose_format"], meta["generator"]) == ("vivid", "vvt_iuv", "synthvvt")
    assert meta["size"] == [64, 48] and meta["seed"] == 3
    people = plan(TINY)
    assert len(people) == 6 and [p.vid for p in people] == [f"s{i:05d}" for i in range(6)]
    for p in people:
        folder = tiny / CATEGORY_DIRS[p.category]
        for stream in STREAMS:
            assert (folder / stream / f"{p.vid}.mp4").is_file()
        assert (folder / "keypoints" / f"{p.vid}.json").is_file()
        assert (folder / "cloth" / f"{p.garment.name}.jpg").is_file()
        for g in p.unpaired:
            for sub in ("videos", "worn_mask"):
                assert (
                    tiny / "ground_truth" / CATEGORY_DIRS[p.category] / sub / f"{p.vid}__{g.name}.mp4"
                ).is_file()
    upper = tiny / "upper_body"
    # 2 videos per category, one test person -> its unpaired garment is an extra, unworn garment
    assert (upper / "train_pairs.txt").read_text() == "s00000.mp4 g00000.jpg\n"
    assert (upper / "test_pairs.txt").read_text() == "s00001.mp4 g00001.jpg\n"
    assert (upper / "test_pairs_unpaired.txt").read_text() == "s00001.mp4 g00002.jpg\n"
    assert meta["garments"]["g00002"]["worn_by"] is None
    from vvt.data.layouts import read_vivid

    samples = read_vivid(tiny, split="test", pairs="unpaired")
    assert sorted(s.name for s in samples) == [
        "dresses/s00005__g00008",
        "lower_body/s00003__g00005",
        "upper_body/s00001__g00002",
    ]
    s = next(s for s in samples if s.category == "upper")
    assert s.extra["gt_person"] == tiny / "ground_truth/upper_body/videos/s00001__g00002.mp4"


def test_splits_and_held_out_families():
    cfg = SynthConfig(videos=6, frames=1, height=64, width=48, held_out_families=("dots", "logo"))
    people = plan(cfg)
    train = [p for p in people if p.split == "train"]
    test = [p for p in people if p.split == "test"]
    assert len(train) == len(test) == 9
    assert all(p.garment.family not in ("dots", "logo") for p in train)
    test_families = [p.garment.family for p in test]
    assert sum(f in ("dots", "logo") for f in test_families) >= 3  # every other test garment is held out
    for p in test:  # 3 test people per category: unpaired garment = the next test person's
        group = [q for q in test if q.category == p.category]
        assert p.unpaired == [group[(group.index(p) + 1) % 3].garment]
        assert p.unpaired[0].category == p.category


def test_same_seed_byte_identical_other_seed_differs(tiny, tmp_path):
    again = _files(generate(tmp_path / "again", TINY))
    assert again == _files(tiny)
    other = _files(generate(tmp_path / "other", dataclasses.replace(TINY, seed=4)))
    assert other.keys() == again.keys()
    assert other["upper_body/videos/s00000.mp4"] != again["upper_body/videos/s00000.mp4"]


# -- exact invariants, in memory and as written --------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mp4", "png"])
def test_written_streams_are_exact_and_gt_equals_source_outside_mask(tiny, tmp_path, fmt):
    root = tiny if fmt == "mp4" else generate(tmp_path / "png", dataclasses.replace(TINY, video_format="png"))
    ext = ".mp4" if fmt == "mp4" else ""
    for p in (p for p in plan(TINY) if p.split == "test"):
        clip = render_clip(TINY, p)
        folder = root / CATEGORY_DIRS[p.category]
        person = read_video(folder / "videos" / f"{p.vid}{ext}")[0]
        assert np.array_equal(person, clip.person)
        assert np.array_equal(read_video(folder / "densepose" / f"{p.vid}{ext}")[0], clip.densepose)
        assert np.array_equal(read_video(folder / "agnostic" / f"{p.vid}{ext}")[0], clip.agnostic)
        mask = _mask(read_video(folder / "agnostic_mask" / f"{p.vid}{ext}")[0])
        worn = _mask(read_video(folder / "worn_mask" / f"{p.vid}{ext}")[0])
        assert np.array_equal(mask, clip.agnostic_mask) and np.array_equal(worn, clip.worn_mask)
        for g in p.unpaired:
            gt_dir = root / "ground_truth" / CATEGORY_DIRS[p.category]
            gt = read_video(gt_dir / "videos" / f"{p.vid}__{g.name}{ext}")[0]
            gt_worn = _mask(read_video(gt_dir / "worn_mask" / f"{p.vid}__{g.name}{ext}")[0])
            assert np.array_equal(gt, clip.ground_truth[g.name][0])
            outside = ~mask
            assert np.array_equal(gt[outside], person[outside])  # exactly, every frame
            assert (gt[mask] != person[mask]).any()  # and the garment did change
            # the agnostic mask covers the worn and the target garment in every frame
            assert not (worn & ~mask).any() and not (gt_worn & ~mask).any()
            assert worn.any(axis=(1, 2)).all() and gt_worn.any(axis=(1, 2)).all()
        assert np.all(clip.agnostic[mask] == 128) and np.array_equal(clip.agnostic[~mask], person[~mask])


def test_envelope_covers_every_garment_shape():
    """Any garment of a category, on any body and pose, lies inside that category's envelope pieces."""
    cfg = SynthConfig(videos=1, frames=1, height=128, width=96)
    person = plan(cfg)[0]
    man = mannequin()
    rng = np.random.default_rng(0)
    for k in range(4):
        scene = make_scene(dataclasses.replace(cfg, seed=k), person)
        for t in (0, 17, 41):
            geom = scene.geometry(t)
            for category, kinds in GARMENT_KINDS.items():
                env = np.zeros((128, 96), bool)
                for piece in envelope_pieces(category):
                    patch = rasterize(piece.on(geom.bands), 128, 96)
                    if patch is not None:
                        env[patch.slices] |= patch.mask
                for kind in kinds:
                    g = make_garment("g", category, kind, "solid", rng, man, 16, 12)
                    for piece in g.pieces:
                        patch = rasterize(piece.on(geom.bands), 128, 96)
                        if patch is not None:
                            assert not (patch.mask & ~env[patch.slices]).any(), (category, kind, piece)
                mask = scene.agnostic_mask(geom, category)
                assert not (env & ~mask).any()  # the (polygon-filled, dilated) mask holds the exact envelope


# -- geometry: the print follows the body, IUV follows the skeleton -----------------------------------


def _dot_garment(garment, u=0.5, v=0.45):
    """``garment`` with a grey texture and one red dot at piece 0's chart point (u, v)."""
    tex = np.full_like(garment.texture, 120)
    cx, cy = garment.canonical[0].point(u, v)
    yy, xx = np.mgrid[: tex.shape[0], : tex.shape[1]]
    tex[(xx - cx) ** 2 + (yy - cy) ** 2 <= 36] = (255, 0, 0)
    return dataclasses.replace(garment, texture=tex)


def test_texture_point_lands_where_the_skeleton_transform_says():
    cfg = SynthConfig(videos=3, frames=1, height=192, width=144, seed=5, categories=("upper", "dresses"))
    moved = []
    for person in plan(cfg)[::3]:
        scene = make_scene(cfg, person)
        garment = _dot_garment(person.garment)
        positions = []
        for t in range(0, 48, 6):
            geom = scene.geometry(t)
            r = scene.render(geom, outfit(person, garment))
            predicted = garment.pieces[0].on(geom.bands).point(0.5, 0.45)
            red = (r.rgb[..., 0] > 150) & (r.rgb[..., 1] < 60) & (r.label == LABELS["target_garment"])
            ys, xs = np.nonzero(red)
            near = (xs - predicted[0]) ** 2 + (ys - predicted[1]) ** 2 < 100
            if near.sum() >= 6:  # visible (an arm may pass in front of it)
                assert abs(xs[near].mean() - predicted[0]) < 1.0 and abs(ys[near].mean() - predicted[1]) < 1.0
                assert near.sum() == red.sum()  # no red anywhere else: the print did not slide or smear
                positions.append(predicted)
        assert len(positions) >= 5
        moved.append(np.ptp(np.array(positions), axis=0).max())
    assert max(moved) > 3  # the point really moved with the body


LIMBS = {
    "upper_arm": ("Shoulder", "Elbow"),
    "forearm": ("Elbow", "Wrist"),
    "thigh": ("Hip", "Knee"),
    "shin": ("Knee", "Ankle"),
}


def _inside(band, x, y) -> bool:
    """Point-in-band computed directly from the band's end points and widths (caps included)."""
    a, b = np.asarray(band.a, float), np.asarray(band.b, float)
    d = b - a
    raw = float(np.dot([x, y] - a, d) / max(np.dot(d, d), 1e-9))
    if (raw < 0 and not band.cap_a) or (raw > 1 and not band.cap_b):
        return False
    s = min(max(raw, 0.0), 1.0)
    return bool(np.hypot(*([x, y] - (a + s * d))) <= band.width_at(s) / 2 + 1e-3)


def test_iuv_parts_and_charts_agree_with_the_skeleton():
    cfg = SynthConfig(videos=2, frames=1, height=192, width=144, seed=7)
    checked = visible = 0
    for person in plan(cfg):
        scene = make_scene(cfg, person)
        for t in (0, 9, 23):
            geom = scene.geometry(t)
            r = scene.render(geom, outfit(person, person.garment))
            part, u, v = decode_iuv(encode_iuv(r.part, r.u, r.v))  # through the stored 8-bit encoding
            for limb, (j0, j1) in LIMBS.items():
                for s in ("R", "L"):
                    name = f"{limb}_{s}"
                    band = geom.bands[name]
                    # the band runs from one BODY_25 keypoint to the next
                    assert np.allclose(band.a, geom.keypoints[BODY25[s + j0], :2], atol=1e-3)
                    assert np.allclose(band.b, geom.keypoints[BODY25[s + j1], :2], atol=1e-3)
                    mid = band.point(0.5, 0.5)
                    x, y = int(round(mid[0])), int(round(mid[1]))
                    if not (0 <= x < 144 and 0 <= y < 192):
                        continue
                    checked += 1
                    later = geom.order[geom.order.index(("body", name)) + 1 :]
                    covered = {
                        n
                        for kind, *rest in later
                        if kind == "body"
                        for n in rest
                        if _inside(geom.bands[n], x, y)
                    }
                    if part[y, x] == DENSEPOSE_PARTS[name]:
                        visible += 1
                        assert not covered
                        # chart coordinates of that exact pixel, from the two joints
                        a, b = np.asarray(band.a), np.asarray(band.b)
                        d = b - a
                        ev = np.dot([x, y] - a, d) / np.dot(d, d)
                        normal = np.array([d[1], -d[0]]) / np.hypot(*d)
                        eu = np.dot([x, y] - a, normal) / band.width_at(ev) + 0.5
                        assert abs(v[y, x] - ev) < 0.01 and abs(u[y, x] - eu) < 0.01
                    else:  # something drawn later covers it: its part is there
                        assert part[y, x] in {DENSEPOSE_PARTS.get(n, 0) for n in covered} | {23, 24}
    assert checked > 40 and visible / checked > 0.7


def test_motion_is_smooth_and_varied():
    cfg = SynthConfig(videos=4, frames=24, height=256, width=192, seed=1)
    spans = []
    for person in plan(cfg):
        scene = make_scene(cfg, person)
        kp = np.stack([scene.geometry(t).keypoints[:, :2] for t in range(cfg.frames)])
        step = np.linalg.norm(np.diff(kp, axis=0), axis=-1)
        assert step.max() < 0.035 * 256  # no jumps between frames at 24 fps
        acc = np.linalg.norm(np.diff(kp, 2, axis=0), axis=-1)
        assert acc.max() < 0.01 * 256
        spans.append(np.ptp(kp, axis=0).max())
    assert min(spans) > 2 and np.ptp(spans) > 2  # every clip moves, by different amounts


# -- streams and garments ------------------------------------------------------------------------------


def test_keypoints_and_skeleton_files(tiny):
    p = plan(TINY)[0]
    folder = tiny / "upper_body"
    kp = load_keypoints(folder / "keypoints" / f"{p.vid}.json")
    scene = make_scene(TINY, p)
    expected = np.stack([scene.geometry(t).keypoints for t in range(TINY.frames)])
    assert np.abs(kp.body - expected).max() < 1e-3 and (kp.width, kp.height) == (48, 64)
    assert np.array_equal(read_video(folder / "skeleton" / f"{p.vid}.mp4")[0], render_skeleton_video(kp))


def test_product_images_and_garment_shapes(tiny):
    man = mannequin()
    rng = np.random.default_rng(1)
    for _ in range(5):
        for category, kinds in GARMENT_KINDS.items():
            for kind in kinds:
                g = make_garment("g", category, kind, "stripes", rng, man, 128, 96)
                img, mask = product_image(g)
                assert np.all(img[~mask] == 255) and 0.15 < mask.mean() < 0.7
                anchors = {p.anchor: p for p in g.pieces}
                if kind == "tshirt" or kind == "short_sleeve":
                    assert (
                        anchors["upper_arm_R"].v1 < 0.6 and "forearm_R" not in anchors
                    )  # ends above the elbow
                if kind == "longsleeve":
                    assert anchors["forearm_L"].v1 > 0.75
                if kind in ("tank", "strap", "sleeveless"):
                    assert not any(a.startswith(("upper_arm", "forearm")) for a in anchors)
                if kind == "shorts":
                    assert anchors["thigh_R"].v1 < 0.8 and "shin_R" not in anchors  # above the knee
                if kind == "trousers":
                    assert anchors["shin_L"].v1 >= 0.9
                if category in ("dresses",) or kind == "skirt":
                    assert "skirt" in anchors
    meta = json.loads((tiny / "layout.json").read_text())
    for name, info in meta["garments"].items():
        folder = tiny / CATEGORY_DIRS[info["category"]]
        photo, mask = (
            read_image(folder / "cloth" / f"{name}.jpg"),
            read_mask(folder / "cloth_mask" / f"{name}.jpg"),
        )
        assert photo.shape == (64, 48, 3) and mask.shape == (64, 48) and mask.any()
        assert photo[~mask].mean() > 240  # white around the garment


def test_lossless_write_video_round_trip_any_size(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (3, 33, 47, 3), dtype=np.uint8)
    write_video(tmp_path / "x.mp4", frames, lossless=True)
    assert np.array_equal(read_video(tmp_path / "x.mp4")[0], frames)


# -- command line and errors ---------------------------------------------------------------------------


def test_cli_writes_png_dataset_with_preview(tmp_path, capsys):
    from vvt.cli import main

    out = tmp_path / "cli"
    code = main(
        [
            "synth",
            "--out",
            str(out),
            "--videos",
            "1",
            "--frames",
            "3",
            "--size",
            "64x48",
            "--categories",
            "lower",
            "--format",
            "png",
            "--preview",
            "--held-out",
            "",
        ]
    )
    assert code == 0
    frames = sorted((out / "lower_body" / "videos" / "s00000").glob("*.png"))
    assert [f.name for f in frames] == ["00000.png", "00001.png", "00002.png"]
    assert (out / "lower_body" / "test_pairs_unpaired.txt").read_text() == "s00000 g00001.jpg\n"
    sheet = read_image(out / "preview.png")
    assert sheet.shape[0] > 3 * 128 and sheet.std() > 20
    assert json.loads((out / "layout.json").read_text())["texture_families"]["held_out"] == []


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    from vvt.cli import main

    assert main(["synth", "--out", str(tmp_path / "a"), "--videos", "0"]) == 2
    assert "videos must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path / "a"), "--size", "64by48"])
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path / "a"), "--categories", "shoes"])
    with pytest.raises(ConfigError, match="every texture family is held out"):
        SynthConfig(texture_families=("dots",), held_out_families=("dots",)).validate()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(VVTError, match="not a SynthVVT dataset"):
        generate(busy, TINY)
    assert (busy / "notes.txt").read_text() == "mine"
