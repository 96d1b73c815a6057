"""``vvt bench layouts``: how fast :func:`vvt.data.layouts.read_layout` indexes a large tree (issue 24, item 3).

Builds a fake VITON-HD train split of ``--pairs`` pairs (11,647 is the size of the real one) in the real
naming: ``image/``, ``cloth/``, ``cloth-mask/``, ``agnostic-v3.2/``, ``agnostic-mask/``,
``image-densepose/``, ``openpose_img/``, ``openpose_json/`` and ``image-parse-v3/``, nine files per pair,
each a hard link to one template of the real size (1024x768), so the tree costs inodes, not disk. It then
times ``read_layout(root, "vitonhd", split="train")`` without the stream check (``index``: listings and
lookups only) and with it (``checked``: every image header read too), and counts the directory listings
(``os.scandir`` / ``os.listdir`` calls) each read made. The baseline, measured in the same run, is the same
reads on a tree a tenth the size: a linear reader takes ten times as long on the full tree (``cpu_ratio``),
one that re-lists a folder per sample a hundred times, and makes as many listings on both trees.

Times are CPU seconds of the reading process (``time.process_time``; the read is single-threaded) with the
wall clock beside them: on a machine shared with a training run the wall clock measures the other jobs.
``meets_target`` compares the checked read of the full tree with :data:`TARGET_S`. The template files are
hard links, so after the first read every header comes from the page cache: the figures are those of a warm
cache (a cold disk adds its seek time per file).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

#: VITON-HD's train split (shadow2496/VITON-HD, ``train_pairs.txt``)
VITONHD_TRAIN_PAIRS = 11647
#: the issue's target for indexing the full train split on 2 cores, with the stream check
TARGET_S = 15.0
#: folder, file name pattern and template of each stream of a VITON-HD pair (StableVITON's naming)
_STREAMS = (("image", "{}.jpg", "jpg"), ("cloth", "{}.jpg", "jpg"), ("cloth-mask", "{}.jpg", "jpg"),
            ("agnostic-v3.2", "{}.jpg", "jpg"), ("agnostic-mask", "{}_mask.png", "png"),
            ("image-densepose", "{}.jpg", "jpg"), ("openpose_img", "{}_rendered.png", "png"),
            ("openpose_json", "{}_keypoints.json", "json"), ("image-parse-v3", "{}.png", "png"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=int, default=VITONHD_TRAIN_PAIRS,
                        help="pairs of the fake VITON-HD train split (the real one has 11,647)")
    parser.add_argument("--repeats", type=int, default=2, help="timed reads of each kind; the fastest is kept")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the fake trees (default: a temporary folder, removed afterwards)")


@contextlib.contextmanager
def count_listings() -> Iterator[list[int]]:
    """Count the directory listings (``os.scandir`` and ``os.listdir`` calls) made inside the block; the count
    is ``box[0]`` of the yielded list."""
    box = [0]
    scandir, listdir = os.scandir, os.listdir

    def counted_scandir(*args, **kwargs):
        box[0] += 1
        return scandir(*args, **kwargs)

    def counted_listdir(*args, **kwargs):
        box[0] += 1
        return listdir(*args, **kwargs)

    os.scandir, os.listdir = counted_scandir, counted_listdir
    try:
        yield box
    finally:
        os.scandir, os.listdir = scandir, listdir


def make_vitonhd_train(root: Path, pairs: int, size: tuple[int, int] = (1024, 768)) -> Path:
    """A VITON-HD tree of ``pairs`` train pairs ``<n>_00``, every file a hard link to a template of ``size``."""
    import numpy as np

    from vvt.io import write_image

    h, w = size
    templates = root / ".templates"
    templates.mkdir(parents=True, exist_ok=True)
    write_image(templates / "t.jpg", np.full((h, w, 3), 200, np.uint8))
    write_image(templates / "t.png", np.full((h, w, 3), 255, np.uint8))
    (templates / "t.json").write_text('{"version": 1.3, "people": []}')
    base = root / "train"
    for folder, _, _ in _STREAMS:
        (base / folder).mkdir(parents=True, exist_ok=True)
    names = [f"{i:05d}_00" for i in range(pairs)]
    for folder, pattern, kind in _STREAMS:
        source = templates / f"t.{kind}"
        for n in names:
            os.link(source, base / folder / pattern.format(n))
    (root / "train_pairs.txt").write_text("".join(f"{n}.jpg {n}.jpg\n" for n in names))
    return root


def _time_read(root: Path, check: bool, repeats: int) -> dict:
    """The fastest of ``repeats`` reads: CPU seconds of this process (``time.process_time``), wall seconds, the
    number of samples and of directory listings."""
    from vvt.data.layouts import read_layout

    best: dict = {}
    for _ in range(max(1, repeats)):
        with count_listings() as box:
            cpu, wall = time.process_time(), time.perf_counter()
            samples = read_layout(root, "vitonhd", split="train", check=check)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if not best or cpu < best["cpu_s"]:
            best = {"cpu_s": round(cpu, 4), "wall_s": round(wall, 4), "samples": len(samples), "listings": box[0]}
    return best


def run(args: argparse.Namespace) -> dict:
    import shutil
    import tempfile

    from vvt.errors import ConfigError

    if args.pairs < 10 or args.repeats < 1:
        raise ConfigError(f"need --pairs >= 10 and --repeats >= 1, got {args.pairs}, {args.repeats}")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vvt-bench-layouts-", dir=args.workdir))
    try:
        result: dict = {"target_s": TARGET_S, "files_per_pair": len(_STREAMS), "trees": {}}
        for label, pairs in (("baseline", max(1, args.pairs // 10)), ("full", args.pairs)):
            start = time.perf_counter()
            root = make_vitonhd_train(work / label, pairs)
            built = time.perf_counter() - start
            index, checked = _time_read(root, False, args.repeats), _time_read(root, True, args.repeats)
            result["trees"][label] = {"pairs": pairs, "build_wall_s": round(built, 2), "index": index,
                                      "checked": checked,
                                      "checked_cpu_us_per_pair": round(1e6 * checked["cpu_s"] / pairs, 1)}
        base, full = result["trees"]["baseline"], result["trees"]["full"]
        result["pair_ratio"] = round(full["pairs"] / base["pairs"], 3)
        result["cpu_ratio"] = {k: round(full[k]["cpu_s"] / max(base[k]["cpu_s"], 1e-9), 2)
                               for k in ("index", "checked")}
        result["same_listings"] = full["checked"]["listings"] == base["checked"]["listings"]
        result["meets_target"] = full["checked"]["cpu_s"] <= TARGET_S
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
