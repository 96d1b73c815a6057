"""``vvt preprocess``: person videos/photos and garment photos -> the ViViD layout (offline, mediapipe)."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """examples:
  vvt preprocess --video person.mp4 --category upper --out data/mine
  vvt preprocess --video clips/ --category dresses --out data/mine        (every video in clips/, resumable)
  vvt preprocess --images photos/ --category lower --out data/photos      (each photo -> a 1-frame clip)
  vvt preprocess --garment shirt.jpg --out data/mine                      (cloth/ and cloth_mask/ only)

The output folder is one ViViD category folder: videos/ agnostic/ agnostic_mask/ densepose/ (vvt IUV)
skeleton/ keypoints/ cloth/ cloth_mask/ and layout.json (recording each video's --category, so the folder
reads without naming its category; videos of several categories may share it). It must be new, empty, or an
earlier output of vvt (which is added to); the run writes into a hidden copy renamed into place at the end,
so an interrupted run leaves no partial output (Ctrl-C keeps what finished). Finished videos are skipped on a
re-run.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--video", type=Path, help="a person video, or a folder of videos")
    parser.add_argument("--images", type=Path, help="a folder of person photos (each becomes a 1-frame clip)")
    parser.add_argument("--garment", type=Path, action="append", default=[],
                        help="a garment product photo on a plain light background (repeatable)")
    parser.add_argument("--category", choices=("upper", "lower", "dresses"), default="upper",
                        help="which garment region the agnostic mask covers (default: upper); recorded per "
                             "video in OUT/layout.json, which is how vvt reads the category of this flat folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder (ViViD layout, one category)")
    parser.add_argument("--parser", default="offline",
                        help="human parsing: 'offline' (mediapipe, default) or a local SegFormer directory "
                             "(save_pretrained layout, e.g. the FASHN human parser)")
    parser.add_argument("--no-smoothing", action="store_true", help="keep raw per-frame detections")
    parser.add_argument("--min-cutoff", type=float, default=1.0, help="One-Euro f_min in Hz (default: 1.0)")
    parser.add_argument("--beta", type=float, default=1.0, help="One-Euro speed coefficient (default: 1.0)")
    parser.add_argument("--mask-sigma", type=float, default=1.0,
                        help="temporal Gaussian on person masks, in frames (default: 1.0)")
    parser.add_argument("--garment-size", default="1024x768",
                        help="garment output size HxW, the model's aspect ratio (default: 1024x768)")
    parser.add_argument("--jitter-report", action="store_true",
                        help="also write jitter/<vid>.json: keypoint and mask jitter, raw and smoothed")
    parser.add_argument("--overwrite", action="store_true",
                        help="redo finished outputs instead of skipping them")
    parser.add_argument("--allow-truncated", action="store_true",
                        help="use truncated videos (fewer frames than their container declares), with a warning")


def _forget_categories(stage: Path, unfinished: set[str]) -> None:
    """Drop the ``layout.json`` entries of ``unfinished`` videos (written when each video started); without any
    finished video the file describes nothing and is removed."""
    import json

    from vvt.io import atomic_write_text

    path = stage / "layout.json"
    if not path.is_file():
        return
    if not any((stage / "videos").glob("*.mp4")):
        path.unlink()
        return
    doc = json.loads(path.read_text())
    if isinstance(doc.get("categories"), dict):
        doc["categories"] = {v: c for v, c in doc["categories"].items() if v not in unfinished}
        atomic_write_text(path, json.dumps(doc, indent=2) + "\n")


def _keep_finished(stage: Path, inputs: list[Path], garments: list[Path]) -> bool:
    """After an interrupt: drop what unfinished videos and garments left in ``stage`` (keeping finished ones
    and what was there before), then empty folders. True when something worth committing remains."""
    import shutil

    from vvt.preprocess.pipeline import is_finished, outputs_for

    unfinished = {path.stem for path in inputs if not is_finished(stage, path.stem)}
    for vid in unfinished:
        for out in [*outputs_for(stage, vid).values(), stage / "jitter" / f"{vid}.json"]:
            out.unlink(missing_ok=True)
    _forget_categories(stage, unfinished)
    for g in garments:
        if not (stage / "cloth" / f"{g.stem}.jpg").is_file():
            (stage / "cloth_mask" / f"{g.stem}.jpg").unlink(missing_ok=True)
    for folder in sorted((p for p in stage.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    kept = [p for p in stage.rglob("*") if p.is_file() and p.name not in ("layout.json", ".vvt-output")]
    if not kept:
        shutil.rmtree(stage)
        return False
    return True


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    from vvt.checks import check_output
    from vvt.errors import ConfigError, InputFileError, VVTError
    from vvt.io import allowing_truncated, atomic_path, video_info
    from vvt.io.atomic import link_tree
    from vvt.io.image import IMAGE_SUFFIXES
    from vvt.preprocess.parsing import load_parser
    from vvt.preprocess.pipeline import Smoothing, find_inputs, preprocess_garment, preprocess_many

    log = logging.getLogger("vvt.commands.preprocess")
    if args.video is None and args.images is None and not args.garment:
        raise ConfigError("nothing to do: give --video, --images and/or --garment (see --help)")
    smoothing = Smoothing(not args.no_smoothing, args.min_cutoff, args.beta, args.mask_sigma)
    try:
        gh, gw = (int(x) for x in args.garment_size.lower().split("x"))
    except ValueError:
        gh = gw = 0
    if gh < 1 or gw < 1:
        raise ConfigError(f"--garment-size {args.garment_size!r}: expected HxW of positive sizes, e.g. 1024x768")
    given = {"--video": args.video, "--images": args.images, **{f"--garment {g}": g for g in args.garment}}
    check_output(args.out, folder=True, inputs=given)
    for option, path in given.items():
        if path is not None and not path.exists():
            raise InputFileError(path, f"not found ({option.split()[0]})")
    inputs = []
    if args.video is not None:
        inputs += find_inputs(args.video, images=False) if args.video.is_dir() else [args.video]
    if args.images is not None:
        inputs += find_inputs(args.images, images=True)
    with allowing_truncated(args.allow_truncated):
        for path in inputs:  # unreadable and truncated videos fail here, before any work
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                video_info(path)
    parser = load_parser(args.parser) if inputs else None

    # The whole output is staged in a hidden sibling (a hard-linked copy of an earlier output) and renamed into
    # place at the end, so an interrupted or failed run never leaves a partial output at --out. Ctrl-C keeps the
    # videos and garments finished so far.
    interrupted, existed = False, args.out.is_dir()
    report: dict[str, list] = {"done": [], "skipped": [], "failed": []}
    with allowing_truncated(args.allow_truncated), atomic_path(args.out) as stage:
        if existed:
            link_tree(args.out, stage)
        else:
            stage.mkdir()
        try:
            for g in args.garment:
                if preprocess_garment(g, stage, gh, gw, overwrite=args.overwrite):
                    log.info("garment %s -> %s/cloth", g, args.out)
                else:
                    log.info("garment %s: already in %s; skipped", g, args.out)
            if inputs:
                report = preprocess_many(inputs, stage, args.category, parser, smoothing,
                                         overwrite=args.overwrite, measure_jitter=args.jitter_report)
        except KeyboardInterrupt:
            interrupted = True
            if not _keep_finished(stage, inputs, args.garment):
                raise
        failed = report["failed"]
        if failed and len(failed) == len(inputs) and not args.garment and not existed:
            # nothing to keep: no output folder at all
            raise VVTError(failed[0][1] if len(failed) == 1 else f"every input failed; the first: {failed[0][1]}")
    if interrupted:
        log.warning("interrupted: %s keeps the finished videos and garments; run again to continue", args.out)
        raise KeyboardInterrupt
    if inputs:
        print(f"preprocessed {len(report['done'])}, skipped {len(report['skipped'])} (already done), "
              f"failed {len(failed)} -> {args.out}")
    if len(failed) == 1 and len(inputs) == 1:
        raise VVTError(failed[0][1])
    for _path, message in failed:
        print(f"  failed: {message}", file=sys.stderr)
    if failed:
        raise VVTError(f"{len(failed)} of {len(inputs)} input(s) failed (listed above)")
    return 0
