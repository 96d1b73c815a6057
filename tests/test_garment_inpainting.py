"""Garment self-inpainting samples (vvt.train.garment_inpainting): the auxiliary source of the tiny presets."""

from __future__ import annotations

import pytest
import torch

from vvt.errors import ConfigError
from vvt.train.config import DataConfig, DataSourceConfig
from vvt.train.data import build_sources
from vvt.train.garment_inpainting import GarmentInpaintingDataset, garment_silhouette


def _garment() -> torch.Tensor:
    """A 3x12x10 photo in [-1, 1]: white, with a red 4x3 block at rows 4-7, columns 3-5."""
    g = torch.ones(3, 12, 10)
    g[:, 4:8, 3:6] = torch.tensor([0.8, -0.6, -0.6])[:, None, None]
    return g


class _Base(torch.utils.data.Dataset):
    def __init__(self):
        self.epoch = None

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return {"name": "s0", "person": torch.rand(5, 3, 12, 10), "agnostic": torch.rand(5, 3, 12, 10),
                "agnostic_mask": torch.zeros(5, 1, 12, 10), "densepose": torch.rand(5, 3, 12, 10),
                "garment": _garment()}


def test_silhouette_is_the_non_white_pixels_dilated_by_one():
    mask = garment_silhouette(_garment())
    expected = torch.zeros(1, 12, 10)
    expected[:, 3:9, 2:7] = 1  # the 4x3 block grown by one pixel on every side
    assert torch.equal(mask, expected)
    assert torch.equal(garment_silhouette(_garment(), dilate=0)[:, 4:8, 3:6], torch.ones(1, 4, 3))


def test_item_is_the_garment_as_a_still_video_with_its_silhouette_greyed():
    base = _Base()
    data = GarmentInpaintingDataset(base, clip_len=5)
    data.set_epoch(3)
    assert base.epoch == 3 and len(data) == 1
    item = data[0]
    garment, mask = _garment(), garment_silhouette(_garment())
    assert item["person"].shape == (5, 3, 12, 10)
    assert all(torch.equal(frame, garment) for frame in item["person"])
    assert all(torch.equal(m, mask) for m in item["agnostic_mask"])
    inside = mask.bool().expand(3, -1, -1)
    for frame in item["agnostic"]:
        assert torch.all(frame[inside] == 0)  # the agnostic grey
        assert torch.equal(frame[~inside], garment[~inside])  # white around it, as in the photo
    assert torch.all(item["densepose"] == -1)  # no body: DensePose's background
    assert item["name"] == "s0" and torch.equal(item["garment"], garment)


def test_source_task_wraps_the_dataset_and_needs_the_garment(tmp_path):
    from vvt.data.synth import SynthConfig, generate

    root = tmp_path / "data"
    generate(root, SynthConfig(videos=2, frames=4, height=64, width=48, categories=("upper",), seed=0))
    data = DataConfig([DataSourceConfig(root, split="train", task="garment_inpainting")], size=(64, 48), frames=3)
    streams = ("person", "agnostic", "agnostic_mask", "densepose", "garment")
    ((dataset, weight),) = build_sources(data, streams, 0)
    assert isinstance(dataset, GarmentInpaintingDataset) and weight == 1.0
    item = dataset[0]
    assert item["person"].shape == (3, 3, 64, 48)
    assert torch.equal(item["person"][0], item["garment"])
    with pytest.raises(ConfigError, match="garment"):
        build_sources(data, streams[:-1], 0)


def test_limit_keeps_a_fixed_subset_in_order():
    from vvt.train.data import limited

    samples = [f"s{i:03d}" for i in range(50)]
    kept = limited(samples, 6)
    assert len(kept) == 6 and len(set(kept)) == 6
    assert kept == sorted(kept) and set(kept) <= set(samples)  # a subset, in the source's order
    assert limited(samples, 6) == kept  # the same draw for every stage and process
    assert kept != samples[:6]  # drawn, not the first ones
    assert limited(samples, 50) == samples and limited(samples, 80) == samples


def test_source_limit_reaches_the_dataset(tmp_path):
    from vvt.data.synth import SynthConfig, generate

    root = tmp_path / "data"
    generate(root, SynthConfig(videos=5, frames=2, height=64, width=48, categories=("upper",), seed=0))
    streams = ("person", "agnostic", "agnostic_mask", "densepose", "garment")
    full = DataConfig([DataSourceConfig(root, split="train")], size=(64, 48), frames=2)
    part = DataConfig([DataSourceConfig(root, split="train", limit=2)], size=(64, 48), frames=2)
    ((all_samples, _),) = build_sources(full, streams, 0)
    ((some, _),) = build_sources(part, streams, 0)
    assert len(some) == 2 < len(all_samples)
