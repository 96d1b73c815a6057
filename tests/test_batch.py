"""Catalogue batches (``vvt tryon --pairs``): checks of the pairs file, the preprocessing cache, skipping
finished outputs, failures listed at the end, and the split over 2 processes under ``accelerate launch``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fault_support import example_analysis
from vvt.batch import Pair, PreprocessCache, assign, read_pairs
from vvt.cli import main
from vvt.errors import InputFileError
from vvt.examples import example_dir, load_example

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning"),
]


@pytest.fixture
def catalogue(tmp_path):
    """Two person videos (the example's, under two names), two garments and a file that is not a video."""
    folder = tmp_path / "catalogue"
    folder.mkdir()
    shutil.copy(example_dir() / "person.mp4", folder / "anna.mp4")
    shutil.copy(example_dir() / "person.mp4", folder / "ben.mp4")
    shutil.copy(example_dir() / "garment.jpg", folder / "shirt.jpg")
    shutil.copy(example_dir() / "garment.jpg", folder / "top.jpg")
    (folder / "broken.mp4").write_bytes(b"this is not a video")
    return folder


def test_pairs_file_problems_are_listed_together(catalogue, tmp_path):
    csv = catalogue / "pairs.csv"
    csv.write_text("video,garment,category,out\n"
                   "anna.mp4,shirt.jpg,upper,a.mp4\n"
                   "nobody.mp4,shirt.jpg,upper,\n"
                   "anna.mp4,nothing.jpg,hats,\n"
                   "ben.mp4,top.jpg,upper,a.mp4\n"
                   "ben.mp4,top.jpg,upper,../escape.mp4\n")
    with pytest.raises(InputFileError) as err:
        read_pairs(csv, tmp_path / "out")
    text = str(err.value)
    for expected in ("row 3: video 'nobody.mp4' not found", "row 4: garment 'nothing.jpg' not found",
                     "row 4: category 'hats'", "row 5: out 'a.mp4' is also written by row 2",
                     "row 6: out '../escape.mp4' must be a file name"):
        assert expected in text
    (catalogue / "bad.csv").write_text("person,garment\nanna.mp4,shirt.jpg\n")
    with pytest.raises(InputFileError, match="missing column"):
        read_pairs(catalogue / "bad.csv", tmp_path / "out")


def test_pairs_default_names_and_split():
    pairs = [Pair(Path(v), Path(g), "upper", Path(f"{v}{g}.mp4"), i)
             for i, (v, g) in enumerate([("a", "1"), ("b", "1"), ("a", "2"), ("c", "1"), ("b", "2")])]
    first, second = assign(pairs, 2, 0), assign(pairs, 2, 1)
    assert sorted(first + second, key=lambda p: p.row) == pairs
    assert {p.video.name for p in first} == {"a", "c"} and {p.video.name for p in second} == {"b"}
    assert assign(pairs, 1, 0) == pairs


def test_cache_key_follows_content_and_settings(catalogue):
    cache = PreprocessCache(catalogue / "cache")
    anna, ben = catalogue / "anna.mp4", catalogue / "ben.mp4"
    assert cache.key(anna, "upper", None) == cache.key(ben, "upper", None)  # same bytes
    assert cache.key(anna, "upper", None) != cache.key(anna, "lower", None)
    assert cache.key(anna, "upper", None) != cache.key(anna, "upper", 4)
    assert cache.key(anna, "upper", None) != cache.key(catalogue / "broken.mp4", "upper", None)


def test_batch_caches_skips_and_lists_failures(catalogue, tmp_path, capsys, monkeypatch):
    """Real preprocessing is replaced by the example's prepared streams (counted), so the test measures the
    batch logic, not mediapipe."""
    calls = []
    monkeypatch.setattr("vvt.preprocess.pipeline.analyse_working", example_analysis(calls))
    csv = catalogue / "pairs.csv"
    csv.write_text("video,garment,category\n"
                   "anna.mp4,shirt.jpg,upper\n"
                   "anna.mp4,top.jpg,upper\n"
                   "broken.mp4,shirt.jpg,upper\n")
    out = tmp_path / "results"
    argv = ["tryon", "--pairs", str(csv), "--out", str(out), "--steps", "1", "--no-garment-prep"]
    assert main(argv) == 1
    printed = capsys.readouterr().out
    assert "3 pair(s): 2 written, 0 skipped (already written), 1 failed" in printed
    assert "failed: row 4:" in printed and "broken.mp4" in printed
    assert (out / "anna__shirt.mp4").is_file() and (out / "anna__top.mp4").is_file()
    assert [name for name, _ in calls] == [str(catalogue / "anna.mp4")]  # preprocessed once for both garments
    entries = list((out / ".vvt-cache").iterdir())
    assert len(entries) == 1 and entries[0].is_dir()  # one folder of streams for both garments

    # a re-run skips what is written, reads the cache, and tries the failure again
    before = (out / "anna__shirt.mp4").stat().st_mtime_ns
    assert main(argv) == 1
    assert "3 pair(s): 0 written, 2 skipped (already written), 1 failed" in capsys.readouterr().out
    assert (out / "anna__shirt.mp4").stat().st_mtime_ns == before
    (out / "anna__top.mp4").unlink()
    csv.write_text("video,garment,category\nanna.mp4,top.jpg,upper\n")
    assert main(argv) == 0
    assert [name for name, _ in calls] == [str(catalogue / "anna.mp4")]  # from the cache
    assert "1 pair(s): 1 written" in capsys.readouterr().out


def _prefill(cache_dir: Path, videos: list[Path]) -> None:
    """Put the example's prepared streams in the cache under ``videos``' keys (no mediapipe in the test)."""
    from vvt.io import write_video

    cond = load_example().conditions
    cache = PreprocessCache(cache_dir)
    for video in videos:
        entry = cache_dir / cache.key(video, "upper", None)
        entry.mkdir(parents=True)
        for name, frames in (("agnostic", cond.agnostic), ("agnostic_mask", cond.agnostic_mask * np.uint8(255)),
                             ("densepose", cond.densepose)):
            write_video(entry / f"{name}.mkv", frames, cond.fps, lossless=True)


@pytest.mark.slow
def test_accelerate_splits_pairs_over_two_processes(catalogue, tmp_path):
    """``accelerate launch --multi_gpu --num_processes 2`` without a GPU: two CPU processes (gloo), one video
    each, one combined summary."""
    csv = catalogue / "pairs.csv"
    csv.write_text("video,garment,category\nanna.mp4,shirt.jpg,upper\nben.mp4,top.jpg,upper\n")
    out, cache = tmp_path / "results", tmp_path / "cache"
    _prefill(cache, [catalogue / "anna.mp4"])  # ben.mp4 has the same bytes, so the same key
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                          os.environ.get("PYTHONPATH", "")])}
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "vvt.cli"]
    proc = subprocess.run([*launcher, "tryon", "--pairs", str(csv), "--out", str(out), "--cache", str(cache),
                           "--steps", "1", "--no-garment-prep"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-20000:]
    assert proc.stdout.count("2 pair(s): 2 written, 0 skipped") == 1, proc.stdout  # one combined summary
    assert proc.stderr.count("preprocessing from the cache") == 2, proc.stderr
    from vvt.io import read_video

    person = load_example().conditions.person
    for name in ("anna__shirt.mp4", "ben__top.mp4"):
        frames, _ = read_video(out / name)
        assert frames.shape == person.shape


def test_an_unreadable_cache_entry_is_made_again_but_a_folder_vvt_did_not_write_is_kept(catalogue, tmp_path,
                                                                                       monkeypatch):
    from vvt.errors import OutputPathError
    from vvt.io.atomic import mark_output

    calls = []
    monkeypatch.setattr("vvt.preprocess.pipeline.analyse_working", example_analysis(calls))
    cache = PreprocessCache(tmp_path / "cache")
    video = catalogue / "anna.mp4"
    entry = tmp_path / "cache" / cache.key(video, "upper", None)
    entry.mkdir(parents=True)
    mark_output(entry)
    (entry / "agnostic.mkv").write_bytes(b"not a video")  # vvt's own entry, damaged
    assert cache.conditions(video, "upper").num_frames == 8 and cache.misses == 1 and len(calls) == 1
    assert cache.conditions(video, "upper").num_frames == 8 and cache.hits == 1  # the new entry reads
    other = tmp_path / "cache" / cache.key(video, "lower", None)
    other.mkdir()
    (other / "notes.txt").write_text("a user's file")
    with pytest.raises(OutputPathError, match="vvt did not write"):
        cache.conditions(video, "lower")
    assert (other / "notes.txt").read_text() == "a user's file"
