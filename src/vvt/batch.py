"""Catalogue batches: ``vvt tryon --pairs pairs.csv --out DIR`` and :func:`vvt.tryon_batch`.

``pairs.csv`` has the columns ``video``, ``garment``, ``category`` and optionally ``out`` (relative paths are
relative to the CSV's folder; ``out`` relative to ``DIR``, default ``<video stem>__<garment stem>.mp4``).

* Every row is checked before the model loads (files exist, category known, output suffix, no two rows
  writing the same output); all problems are listed at once.
* Each video is preprocessed once and cached (:class:`PreprocessCache`, ``DIR/.vvt-cache/`` by default) under
  the SHA-256 of its bytes and the settings that change the result (category, frame limit, vvt's version),
  so every garment tried on it - in this run or a later one - reuses it.
* An output that exists is finished (outputs are written atomically) and is skipped on a re-run.
* A pair that fails is logged and the batch goes on; the summary lists the failures (the CLI exits 1).
* Under ``accelerate launch`` the pairs are split across the processes (each video's pairs on one process, so
  it is preprocessed once), each process on its own device; one combined progress bar runs on the main
  process, updated after every round of pairs (:func:`run_batch`).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vvt.errors import InputFileError, VVTError

logger = logging.getLogger(__name__)

COLUMNS = ("video", "garment", "category")
CACHE_DIR = ".vvt-cache"


@dataclass(frozen=True)
class Pair:
    """One try-on of a batch: ``video`` + ``garment`` (``category``) -> ``out``; ``row``: its CSV line."""

    video: Path
    garment: Path
    category: str
    out: Path
    row: int


@dataclass
class BatchSummary:
    """What a batch did: ``done`` (written now), ``skipped`` (finished before) and ``failed`` (pair, one-line
    reason) over all processes."""

    done: list[Pair] = field(default_factory=list)
    skipped: list[Pair] = field(default_factory=list)
    failed: list[tuple[Pair, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        total = len(self.done) + len(self.skipped) + len(self.failed)
        lines = [f"{total} pair(s): {len(self.done)} written, {len(self.skipped)} skipped (already written), "
                 f"{len(self.failed)} failed"]
        lines += [f"  failed: row {p.row}: {p.video} + {p.garment} -> {p.out}: {why}" for p, why in self.failed]
        return lines


def read_pairs(pairs: str | Path | Iterable[Mapping[str, Any]], out_dir: str | Path) -> list[Pair]:
    """The pairs of a CSV file (or of rows given as mappings), checked; raises one
    :class:`~vvt.errors.InputFileError` listing every bad row."""
    from vvt.api import CATEGORIES, VIDEO_SUFFIXES

    out_dir = Path(out_dir)
    if isinstance(pairs, (str, Path)):
        source, base = Path(pairs), Path(pairs).parent
        if not source.is_file():
            raise InputFileError(source, "pairs file not found (a CSV with columns video, garment, category)")
        with open(source, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputFileError(source, f"missing column(s) {', '.join(missing)}; the header must name "
                                             f"{', '.join(COLUMNS)} (and optionally out)")
            rows = [(i + 2, dict(r)) for i, r in enumerate(reader)]
    else:
        source, base = Path("pairs"), Path(".")
        rows = [(i + 1, dict(r)) for i, r in enumerate(pairs)]
    problems, result, outs = [], [], {}
    for row, r in rows:
        video = _path(base, r.get("video"))
        garment = _path(base, r.get("garment"))
        category = str(r.get("category") or "").strip()
        if video is None or not video.exists():
            problems.append(f"row {row}: video {r.get('video')!r} not found")
        if garment is None or not garment.is_file():
            problems.append(f"row {row}: garment {r.get('garment')!r} not found")
        if category not in CATEGORIES:
            problems.append(f"row {row}: category {category!r} is not one of {', '.join(CATEGORIES)}")
        name = str(r.get("out") or "").strip()
        if not name and video is not None and garment is not None:
            name = f"{video.stem}__{garment.stem}.mp4"
        out = out_dir / name
        if name and (Path(name).is_absolute() or ".." in Path(name).parts):
            problems.append(f"row {row}: out {name!r} must be a file name inside the output folder")
        elif name and out.suffix.lower() not in VIDEO_SUFFIXES:
            problems.append(f"row {row}: out {name!r} must end in {', '.join(VIDEO_SUFFIXES)}")
        elif name in outs:
            problems.append(f"row {row}: out {name!r} is also written by row {outs[name]}")
        outs.setdefault(name, row)
        if video is not None and garment is not None:
            result.append(Pair(video, garment, category, out, row))
    if not rows:
        problems.append("no pairs")
    if problems:
        raise InputFileError(source, f"{len(problems)} problem(s): " + "; ".join(problems))
    return result


def _path(base: Path, value: Any) -> Path | None:
    if value is None or not str(value).strip():
        return None
    path = Path(str(value).strip()).expanduser()
    return path if path.is_absolute() else base / path


def content_hash(path: Path) -> str:
    """SHA-256 of a video file, or of a frame folder's files (names and bytes, in name order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class PreprocessCache:
    """Preprocessed person videos as folders of lossless streams (agnostic video, mask, DensePose:
    :func:`vvt.realvvt.tryon.prepare_video`) in ``folder``, keyed by the video's :func:`content_hash` and the
    settings that change them (category, frame limit, frame rate, vvt's version). Each entry is written into a
    temporary folder renamed when complete, so processes sharing the cache never read half an entry."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0

    def key(self, video: Path, category: str, max_frames: int | None, fps: float | None = None) -> str:
        from vvt import __version__

        settings = f"{category}|{max_frames}|{fps}|{__version__}"
        return hashlib.sha256(f"{content_hash(video)}|{settings}".encode()).hexdigest()[:32]

    def conditions(self, video: Path, category: str, max_frames: int | None = None,
                   fps: float | None = None) -> Any:
        """The :class:`~vvt.realvvt.streaming.StreamConditions` of ``video``, from the cache or preprocessed
        now; the person video itself is their paste-back stream. An unreadable entry is preprocessed again and
        replaced as :func:`vvt.io.atomic_path` allows (vvt's own entries only)."""
        from vvt.io import atomic_path
        from vvt.realvvt.tryon import prepare_video

        entry = self.folder / self.key(video, category, max_frames, fps)
        if entry.is_dir():
            try:
                conditions = _open_entry(entry, video, max_frames)
            except VVTError as exc:
                logger.warning("%s: unreadable cache entry (%s), preprocessing again", entry, exc)
            else:
                self.hits += 1
                logger.info("%s: preprocessing from the cache (%s)", video, entry.name)
                return conditions
        self.misses += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(entry) as tmp:
            tmp.mkdir()
            prepare_video(video, tmp, category, max_frames, fps)
        return _open_entry(entry, video, max_frames)


def _open_entry(entry: Path, video: Path, max_frames: int | None) -> Any:
    """The streams of a cache entry, with the person video as the paste-back stream."""
    from vvt.preprocess.pipeline import condition_stream_paths
    from vvt.realvvt.tryon import read_conditions

    paths = condition_stream_paths(entry)
    return read_conditions(paths["agnostic"], paths["agnostic_mask"], paths["densepose"], "vvt_iuv",
                           person=video, max_frames=max_frames)


def assign(pairs: list[Pair], num_processes: int, index: int) -> list[Pair]:
    """The pairs of process ``index`` of ``num_processes``: the videos are dealt round-robin (in order of first
    appearance), each with all its pairs, so a video is preprocessed by one process only."""
    videos = list(dict.fromkeys(p.video for p in pairs))
    mine = {v for i, v in enumerate(videos) if i % num_processes == index}
    return [p for p in pairs if p.video in mine]


def run_batch(
    pairs: list[Pair],
    out_dir: str | Path,
    weights: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    device: str = "auto",
    progress: bool = True,
    **options: Any,
) -> BatchSummary:
    """Try every pair on (see the module docstring); ``options`` go to :func:`vvt.api.tryon_to_file` (steps, seed,
    ...). Under ``accelerate launch`` every process runs this with the same pairs and takes its share; the
    returned summary covers all processes."""
    from accelerate import PartialState
    from accelerate.utils import gather_object
    from tqdm.auto import tqdm

    from vvt.api import check_sampling, weights_folder
    from vvt.checks import check_output, has_accelerator
    from vvt.io.atomic import mark_output

    out_dir = Path(out_dir)
    sampling = {k: v for k, v in options.items() if k not in ("dtype", "prepare_garment")}
    check_sampling(**{k: v for k, v in sampling.items() if k not in ("size",)})
    state = PartialState(cpu=not has_accelerator())  # several CPU processes over gloo without a GPU
    distributed = state.num_processes > 1
    if distributed:
        device = "cpu" if state.device.type == "cpu" else str(state.device)  # each process its own GPU
    weights_folder(weights)  # a wrong folder fails before any work
    inputs = {f"row {p.row} {role}": getattr(p, role) for p in pairs for role in ("video", "garment")}
    check_output(out_dir, folder=True, inputs=inputs)
    mine = assign(pairs, state.num_processes, state.process_index)
    if state.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        mark_output(out_dir)
    state.wait_for_everyone()
    cache = PreprocessCache(Path(cache_dir) if cache_dir is not None else out_dir / CACHE_DIR)
    rounds = max(len(assign(pairs, state.num_processes, i)) for i in range(state.num_processes))
    bar = tqdm(total=len(pairs), desc="pairs", unit="pair", disable=not (progress and state.is_main_process))
    summary = BatchSummary()
    for r in range(rounds):
        outcome = None
        if r < len(mine):
            pair = mine[r]
            outcome = _one(pair, weights, device, cache, progress and not distributed, options)
        outcomes = gather_object([outcome]) if distributed else [outcome]
        for item in outcomes:
            if item is None:
                continue
            kind, pair, why = item
            if kind == "done":
                summary.done.append(pair)
            elif kind == "skipped":
                summary.skipped.append(pair)
            else:
                summary.failed.append((pair, why))
            bar.update()
    bar.close()
    state.wait_for_everyone()
    summary.failed.sort(key=lambda f: f[0].row)
    return summary


def _one(pair: Pair, weights: Any, device: str, cache: PreprocessCache, progress: bool,
         options: dict[str, Any]) -> tuple[str, Pair, str]:
    """Run one pair: ``("done" | "skipped" | "failed", pair, reason)``; never raises (but on Ctrl-C)."""
    if pair.out.exists():
        logger.info("row %d: %s exists, skipped", pair.row, pair.out)
        return "skipped", pair, ""
    from vvt.api import tryon_to_file

    try:
        tryon_to_file(pair.video, pair.garment, pair.out, pair.category, weights, device=device, cache=cache,
                      progress=progress, **options)
        logger.info("row %d: wrote %s", pair.row, pair.out)
        return "done", pair, ""
    except Exception as exc:  # a failing pair must not stop the batch
        why = " ".join(str(exc).split()) or type(exc).__name__
        logger.error("row %d: %s + %s failed: %s", pair.row, pair.video, pair.garment, why)
        return "failed", pair, why
