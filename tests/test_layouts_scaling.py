"""vvt.data.layouts reads in linear time: each folder is listed once, whatever the number of samples (issue 24).

The guard counts directory listings instead of timing: a reader that lists a folder per sample makes ten
times more listings on a tree ten times larger (the O(n^2) VITON-HD reader listed ``cloth-mask/`` for every
pair); a linear reader makes the same number on both. ``vvt bench layouts`` measures the seconds.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from vvt.data.bench import make_vitonhd_train
from vvt.data.layouts import read_layout


@pytest.fixture
def listings(monkeypatch):
    """Every folder listed through os.scandir / os.listdir while the test runs, with its count."""
    seen: Counter = Counter()
    scandir, listdir = os.scandir, os.listdir

    def counted(real):
        def wrapper(path=".", *args, **kwargs):
            seen[os.fspath(path)] += 1
            return real(path, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(os, "scandir", counted(scandir))
    monkeypatch.setattr(os, "listdir", counted(listdir))
    return seen


def _listed(listings: Counter, read) -> Counter:
    listings.clear()
    samples = read()
    assert samples
    return Counter(listings)


def test_vitonhd_reader_lists_each_folder_once(tmp_path, listings):
    # VITON-HD's naming (shadow2496/VITON-HD release; StableVITON's dataset.py), built by vvt.data.bench
    small, large = make_vitonhd_train(tmp_path / "s", 200, (16, 12)), make_vitonhd_train(tmp_path / "l", 2000, (16, 12))
    counts = {n: _listed(listings, lambda r=root: read_layout(r, split="train")) for n, root in
              ((200, small), (2000, large))}
    assert sum(counts[2000].values()) == sum(counts[200].values()) <= 14  # 9 stream folders, split, root, probes
    assert max(counts[2000].values()) == 1


def _vivid_tree(root: Path, n: int) -> Path:
    """A ViViD category folder of ``n`` test videos (release naming, see test_layouts_released.py), every file
    a hard link to one empty file: with check=False the reader looks at names only."""
    empty = root.parent / f".empty-{root.name}"
    empty.write_bytes(b"")
    d = root / "upper_body"
    for sub in ("videos", "agnostic", "agnostic_mask", "densepose", "images", "cloth_mask"):
        (d / sub).mkdir(parents=True)
    for k in range(n):
        pid = f"{1000000 + k}"
        for sub in ("videos", "agnostic", "agnostic_mask", "densepose"):
            os.link(empty, d / sub / f"{pid}_detail.mp4")
        os.link(empty, d / "images" / f"{pid}_in_xl.jpg")
        os.link(empty, d / "cloth_mask" / f"{pid}_in_xl.jpg")
    (d / "test_pairs.txt").write_text("".join(f"{1000000 + k}_detail.mp4 {1000000 + k}_in_xl.jpg\n"
                                              for k in range(n)))
    return root


@pytest.mark.parametrize("pairs", ["paired", "unpaired"])
def test_vivid_reader_lists_each_folder_once(tmp_path, listings, pairs):
    small, large = _vivid_tree(tmp_path / "s", 200), _vivid_tree(tmp_path / "l", 2000)
    counts = {n: _listed(listings, lambda r=root: read_layout(r, pairs=pairs, check=False)) for n, root in
              ((200, small), (2000, large))}
    assert sum(counts[2000].values()) == sum(counts[200].values())
    assert max(counts[2000].values()) == 1
    if pairs == "unpaired":  # the derived list pairs each of the 2,000 videos once
        assert len(read_layout(large, pairs="unpaired", check=False)) == 2000
