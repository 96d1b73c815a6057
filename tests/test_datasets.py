"""vvt.data.datasets: the tensor contract, clip selection, flips, images as 1-frame clips, mixing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vvt.data.datasets import (
    FrameSequenceDataset,
    MixedDataset,
    TryOnDataset,
    cover_size,
    fit_size,
    read_clip,
)
from vvt.data.layouts import read_layout
from vvt.errors import ConfigError, LayoutError
from vvt.io import write_image, write_video
from vvt.pose.densepose import decode_iuv, encode_iuv

T, H, W = 12, 24, 16  # frames and source size of the fixture videos
ALL = ("person", "agnostic", "agnostic_mask", "densepose", "skeleton", "worn_mask", "garment", "garment_mask")


def colour(k: int) -> tuple[int, int, int]:
    """The flat colour of frame k of the fixture person video."""
    return (20 * k, 250 - 20 * k, 7 * k + 3)


def person_frame(k: int) -> np.ndarray:
    """colour(k) everywhere but the three right-most columns (black, so a mirror image differs)."""
    f = np.full((H, W, 3), colour(k), np.uint8)
    f[:, -3:] = 0
    return f


def asymmetric(k: int, value: int = 200) -> np.ndarray:
    """A frame whose left third is bright: mirroring it is visible."""
    f = np.full((H, W, 3), 30 + k, np.uint8)
    f[:, : W // 3] = value
    return f


def densepose_frame() -> np.ndarray:
    part = np.zeros((H, W), np.int64)
    part[4:20, 2:7], part[4:20, 9:14] = 3, 15
    u = np.tile(np.linspace(0, 1, W), (H, 1))
    return encode_iuv(part, u, 1 - u)


def make_tree(root: Path, frames: int = T) -> Path:
    """A one-category ViViD tree with lossless frame-folder videos (exact pixel values) and vvt IUV."""
    for vid in ("v1", "v2"):
        write_video(root / "videos" / vid, np.stack([person_frame(k) for k in range(frames)]))
        write_video(root / "agnostic" / vid, np.stack([asymmetric(k) for k in range(frames)]))
        write_video(
            root / "agnostic_mask" / vid, np.stack([asymmetric(0, 255)[..., :1].repeat(3, -1)] * frames)
        )
        write_video(root / "densepose" / vid, np.stack([densepose_frame()] * frames))
        write_video(root / "skeleton" / vid, np.stack([asymmetric(k, 90) for k in range(frames)]))
        write_video(root / "worn_mask" / vid, np.stack([asymmetric(0, 255)] * frames))
        garment = np.full((20, 10, 3), 255, np.uint8)
        garment[5:15, :4] = (200, 10, 10)
        write_image(root / "cloth" / f"{vid}.jpg", garment)
        mask = np.zeros((20, 10), bool)
        mask[5:15, :4] = True
        write_image(root / "cloth_mask" / f"{vid}.png", mask)
    (root / "layout.json").write_text(json.dumps({"layout": "vivid", "densepose_format": "vvt_iuv"}))
    return root


@pytest.fixture
def samples(tmp_path):
    return read_layout(make_tree(tmp_path / "upper_body"))


def test_contract_shapes_and_value_ranges(samples):
    ds = TryOnDataset(samples, (H, W), clip_len=4, streams=ALL, seed=3)
    item = ds[0]
    assert item["name"] == "upper_body/v1" and item["category"] == "upper"
    for name in ("person", "agnostic", "densepose", "skeleton"):
        assert item[name].shape == (4, 3, H, W) and item[name].dtype == torch.float32
        assert item[name].min() >= -1 and item[name].max() <= 1
    for name in ("agnostic_mask", "worn_mask"):
        assert item[name].shape == (4, 1, H, W)
        assert set(item[name].unique().tolist()) == {0.0, 1.0}
    assert item["garment"].shape == (3, H, W) and item["garment_mask"].shape == (1, H, W)
    assert set(item["garment_mask"].unique().tolist()) == {0.0, 1.0}
    # exact values: frame k of the person clip has colour(k) (lossless PNG frames, no resize needed)
    for i, k in enumerate(item["frame_indices"].tolist()):
        expected = torch.tensor(colour(k), dtype=torch.float32) / 127.5 - 1
        assert torch.allclose(item["person"][i, :, 5, 5], expected, atol=1e-5)
    # DensePose decodes back to its part labels
    iuv = ((item["densepose"][0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    part, _, _ = decode_iuv(iuv)
    np.testing.assert_array_equal(part, decode_iuv(densepose_frame())[0])


def test_clip_start_and_stride_pick_the_expected_frames(samples):
    ds = TryOnDataset(samples, (H, W), clip_len=4, stride=3, streams=("person",))
    starts = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        item = ds[1]
        idx = item["frame_indices"].tolist()
        assert np.diff(idx).tolist() == [3, 3, 3] and 0 <= idx[0] <= T - 10
        starts.add(idx[0])
        got = ((item["person"][:, :, 0, 0] + 1) * 127.5).round()
        assert got.tolist() == [list(colour(k)) for k in idx]
    assert len(starts) > 1  # the start is random across epochs
    ranged = TryOnDataset(samples, (H, W), clip_len=3, stride=(1, 4), streams=("person",))
    strides = set()
    for epoch in range(12):
        ranged.set_epoch(epoch)
        d = np.diff(ranged[0]["frame_indices"].numpy())
        assert d[0] == d[1] and 1 <= d[0] <= 4
        strides.add(int(d[0]))
    assert len(strides) > 1
    fixed = TryOnDataset(samples, (H, W), clip_len=5, stride=2, random_start=False, streams=("person",))
    assert fixed[0]["frame_indices"].tolist() == [0, 2, 4, 6, 8]
    too_long = TryOnDataset(samples, (H, W), clip_len=5, stride=4, random_start=False, streams=("person",))
    assert too_long[0]["frame_indices"].tolist() == [0, 2, 4, 6, 8]  # largest stride that fits: 2
    short = TryOnDataset(samples, (H, W), clip_len=14, streams=("person",))
    assert short[0]["frame_indices"].tolist() == list(range(12)) + [11, 11]  # last frame repeated


def test_read_clip_from_a_video_file(tmp_path):
    frames = np.stack([np.full((16, 16, 3), (25 * k, 100, 200 - 25 * k), np.uint8) for k in range(8)])
    path = write_video(tmp_path / "a.mp4", frames, crf=0)
    got = read_clip(path, [5, 1, 3])
    assert got.shape == (3, 16, 16, 3)
    for row, k in zip(got, (5, 1, 3)):
        assert np.abs(row.astype(int) - frames[k]).max() <= 3
    with pytest.raises(Exception, match="fewer than 10 frames"):
        read_clip(path, [9])


def test_flip_mirrors_every_stream(samples):
    kwargs = dict(clip_len=3, streams=ALL, seed=11)
    plain = TryOnDataset(samples, (H, W), flip_prob=0.0, **kwargs)[0]
    flipped = TryOnDataset(samples, (H, W), flip_prob=1.0, **kwargs)[0]
    assert flipped["flipped"] and not plain["flipped"]
    assert flipped["frame_indices"].tolist() == plain["frame_indices"].tolist()
    for name in ALL:
        assert not torch.equal(flipped[name], plain[name]), name  # every stream is asymmetric
        assert torch.equal(flipped[name], plain[name].flip(-1)), name


def test_same_flip_decision_for_all_streams_when_random(samples):
    ds = TryOnDataset(samples, (H, W), clip_len=2, streams=("person", "agnostic", "garment"), flip_prob=0.5)
    plain = TryOnDataset(
        samples, (H, W), clip_len=2, streams=("person", "agnostic", "garment"), flip_prob=0.0
    )
    seen = set()
    for epoch in range(10):
        ds.set_epoch(epoch)
        plain.set_epoch(epoch)
        a, b = ds[0], plain[0]
        seen.add(a["flipped"])
        for name in ("agnostic", "garment"):
            assert torch.equal(a[name], b[name].flip(-1) if a["flipped"] else b[name])
    assert seen == {True, False}


def test_resize_crop_geometry():
    assert cover_size((832, 624), (512, 384)) == (512, 384)
    assert cover_size((100, 200), (50, 50)) == (50, 100)
    assert fit_size((1024, 768), (512, 512)) == (512, 384)
    assert fit_size((20, 10), (24, 16)) == (24, 12)


def test_resize_and_crop_values(samples):
    # source 24x16 -> target 12x12: cover resize to 18x12, centre crop rows 3..15
    ds = TryOnDataset(
        samples,
        (12, 12),
        clip_len=1,
        random_start=False,
        streams=("agnostic_mask", "densepose", "garment", "garment_mask"),
    )
    item = ds[0]
    mask = item["agnostic_mask"][0, 0]
    # the mask's white left third (cols 0..4 of 16) becomes cols 0..3 of 12 under nearest resizing
    assert mask[:, :3].eq(1).all() and mask[:, 4:].eq(0).all()
    part, _, _ = decode_iuv(
        ((item["densepose"][0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    )
    assert set(np.unique(part).tolist()) == {0, 3, 15}  # nearest keeps labels, no blends like 9
    # garment 20x10 fitted into 12x12 -> 12x6, padded with white (1.0) / 0 on both sides
    g, gm = item["garment"], item["garment_mask"][0]
    assert torch.all(g[:, :, :3] == 1.0) and torch.all(g[:, :, 9:] == 1.0)
    assert gm[:, :3].eq(0).all() and gm[:, 9:].eq(0).all() and gm[4:8, 3].eq(1).all()
    random_crop = TryOnDataset(samples, (12, 12), clip_len=1, crop="random", streams=("person",))
    assert random_crop[0]["person"].shape == (1, 3, 12, 12)


def test_reproducible_from_index_epoch_and_seed(samples):
    ds = TryOnDataset(
        samples, (H, W), clip_len=3, streams=("person", "agnostic"), flip_prob=0.5, crop="random", seed=5
    )
    a, b = ds[0], ds[0]
    assert (
        torch.equal(a["person"], b["person"]) and a["frame_indices"].tolist() == b["frame_indices"].tolist()
    )
    other_seed = TryOnDataset(samples, (H, W), clip_len=3, streams=("person",), seed=6)
    draws = {tuple(other_seed[0]["frame_indices"].tolist())}
    for epoch in range(1, 6):
        ds.set_epoch(epoch)
        draws.add(tuple(ds[0]["frame_indices"].tolist()))
    assert len(draws) > 1


def test_images_are_one_frame_clips(tmp_path):
    root = tmp_path / "vitonhd"
    for n in ("00006_00", "00008_00"):
        write_image(root / "test" / "image" / f"{n}.jpg", np.full((32, 24, 3), 90, np.uint8))
        write_image(root / "test" / "cloth" / f"{n}.jpg", np.full((32, 24, 3), 200, np.uint8))
        write_image(root / "test" / "agnostic-v3.2" / f"{n}.jpg", np.full((32, 24, 3), 128, np.uint8))
        write_image(root / "test" / "agnostic-mask" / f"{n}_mask.png", np.ones((32, 24), bool))
    (root / "test_pairs.txt").write_text("00006_00.jpg 00008_00.jpg\n00008_00.jpg 00006_00.jpg\n")
    images = TryOnDataset(
        read_layout(root), (16, 12), clip_len=8, streams=("person", "agnostic", "agnostic_mask", "garment")
    )
    item = images[0]
    assert item["person"].shape == (1, 3, 16, 12) and item["agnostic_mask"].shape == (1, 1, 16, 12)
    assert item["frame_indices"].tolist() == [0]
    assert torch.allclose(item["person"], torch.full_like(item["person"], 90 / 127.5 - 1), atol=2 / 127.5)
    assert item["agnostic_mask"].eq(1).all()


def test_missing_streams_fail_clearly_when_built(tmp_path, samples):
    root = tmp_path / "fashion"
    write_video(root / "test" / "91D23ZVV6NS.mp4", np.zeros((4, 16, 16, 3), np.uint8))
    fashion = read_layout(root)
    with pytest.raises(LayoutError) as err:
        TryOnDataset(fashion, (16, 16))
    text = str(err.value)
    for stream in ("agnostic", "agnostic_mask", "densepose", "garment"):
        assert f"stream '{stream}' is missing for 1 of 1 samples (91D23ZVV6NS)" in text
    assert TryOnDataset(fashion, (16, 16), clip_len=2, streams=("person",))[0]["person"].shape == (
        2,
        3,
        16,
        16,
    )
    with pytest.raises(ConfigError, match="unknown stream"):
        TryOnDataset(samples, (H, W), streams=("person", "pose"))
    for s in samples:
        s.densepose_format = "openpose_heatmaps"
    with pytest.raises(LayoutError, match="openpose_heatmaps cannot be converted"):
        TryOnDataset(samples, (H, W))


def test_frame_sequence_skips(samples):
    ds = FrameSequenceDataset(samples, (H, W), num_frames=4, max_skip=2)
    assert ds.streams == ("person", "skeleton")
    gaps = []
    for epoch in range(20):
        ds.set_epoch(epoch)
        idx = ds[epoch % 2]["frame_indices"].numpy()
        gaps += np.diff(idx).tolist()
        assert idx[0] >= 0 and idx[-1] < T
    assert set(gaps) == {1, 2, 3}  # skip 0, 1 or 2 frames between consecutive frames
    item = ds[0]
    got = ((item["person"][:, :, 0, 0] + 1) * 127.5).round()
    assert got.tolist() == [list(colour(k)) for k in item["frame_indices"].tolist()]


def test_mixed_dataset_weights_and_batches(tmp_path, samples):
    videos = TryOnDataset(samples, (H, W), clip_len=3, streams=("person",))
    root = tmp_path / "vitonhd"
    for n in ("a_00", "b_00", "c_00"):
        write_image(root / "test" / "image" / f"{n}.jpg", np.full((48, 32, 3), 60, np.uint8))
        write_image(root / "test" / "cloth" / f"{n}.jpg", np.full((48, 32, 3), 60, np.uint8))
    (root / "test_pairs.txt").write_text("a_00.jpg b_00.jpg\nb_00.jpg c_00.jpg\nc_00.jpg a_00.jpg\n")
    images = TryOnDataset(read_layout(root), (H, W), streams=("person",))
    mixed = MixedDataset([videos, images], weights=[1, 3], length=4000, batch_size=4, seed=1)
    picks = [mixed.locate(i)[0] for i in range(len(mixed))]
    assert abs(np.mean(picks) - 0.75) < 0.04  # empirical frequency of the image set ~ 3 / (1 + 3)
    for b in range(0, 4000, 4):
        assert len(set(picks[b : b + 4])) == 1  # one dataset per batch
    inner = {mixed.locate(i)[1] for i in range(200) if picks[i] == 1}
    assert inner == {0, 1, 2}
    batch = next(iter(DataLoader(mixed, batch_size=4, shuffle=False)))
    n = 1 if picks[0] == 1 else 3
    assert batch["person"].shape == (4, n, 3, H, W)
    mixed.set_epoch(2)
    assert videos.epoch == 2 and images.epoch == 2
    assert [mixed.locate(i)[0] for i in range(400)] != picks[:400]
    with pytest.raises(ConfigError, match="one weight per dataset"):
        MixedDataset([videos], [1, 2], length=10)


def test_real_vivid_samples_through_the_dataset(vivid_samples):
    samples = read_layout(vivid_samples, pairs="unpaired")
    ds = TryOnDataset(samples, (64, 48), clip_len=2, stride=4, random_start=False)
    item = ds[0]
    assert item["name"] == "upper_body/upper1__00057_00" and item["frame_indices"].tolist() == [0, 4]
    assert item["person"].shape == (2, 3, 64, 48) and item["densepose"].shape == (2, 3, 64, 48)
    assert -1 <= item["person"].min() < item["person"].max() <= 1
    covered = item["agnostic_mask"].mean().item()
    assert set(item["agnostic_mask"].unique().tolist()) == {0.0, 1.0} and 0.05 < covered < 0.7
    part, _, _ = decode_iuv(
        ((item["densepose"][0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    )
    assert part[0, 0] == 0 and len(np.unique(part)) > 3  # black background, several body parts
    assert item["garment"][:, 0, 0].min() > 0.9  # product photo on white, fitted and padded with white
    assert set(item["garment_mask"].unique().tolist()) == {0.0, 1.0}


def test_samples_lacking_a_stream_are_left_out_with_a_warning(tmp_path, caplog):
    root = make_tree(tmp_path / "upper_body")
    shutil.rmtree(root / "agnostic" / "v2")  # a partial download: no agnostic video (frame folder) for v2
    samples = read_layout(root)
    assert [s.agnostic is None for s in samples] == [False, True]
    ds = TryOnDataset(samples, (H, W), clip_len=2)
    assert [s.name for s in ds.samples] == ["upper_body/v1"] and len(ds) == 1
    assert "1 of 2 samples left out" in caplog.text and "stream 'agnostic' is missing for 1 of 2" in caplog.text
    assert len(TryOnDataset(samples, (H, W), clip_len=2, streams=("person", "garment"))) == 2
    with pytest.raises(LayoutError, match="stream 'agnostic' is missing for 1 of 2 samples"):
        TryOnDataset(samples, (H, W), clip_len=2, strict=True)
