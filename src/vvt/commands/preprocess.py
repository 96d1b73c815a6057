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
skeleton/ keypoints/ cloth/ cloth_mask/ and layout.json. Finished videos are skipped on a re-run.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--video", type=Path, help="a person video, or a folder of videos")
    parser.add_argument("--images", type=Path, help="a folder of person photos (each becomes a 1-frame clip)")
    parser.add_argument("--garment", type=Path, action="append", default=[],
                        help="a garment product photo on a plain light background (repeatable)")
    parser.add_argument("--category", choices=("upper", "lower", "dresses"), default="upper",
                        help="which garment region the agnostic mask covers (default: upper)")
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


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    from vvt.errors import ConfigError
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
    for g in args.garment:
        if preprocess_garment(g, args.out, gh, gw, overwrite=args.overwrite):
            log.info("garment %s -> %s/cloth", g, args.out)
        else:
            log.info("garment %s: already in %s; skipped", g, args.out)
    inputs = []
    if args.video is not None:
        inputs += find_inputs(args.video, images=False) if args.video.is_dir() else [args.video]
    if args.images is not None:
        inputs += find_inputs(args.images, images=True)
    if not inputs:
        return 0
    report = preprocess_many(inputs, args.out, args.category, load_parser(args.parser), smoothing,
                             overwrite=args.overwrite, measure_jitter=args.jitter_report)
    print(f"preprocessed {len(report['done'])}, skipped {len(report['skipped'])} (already done), "
          f"failed {len(report['failed'])} -> {args.out}")
    for _path, message in report["failed"]:
        print(f"  failed: {message}", file=sys.stderr)
    return 2 if report["failed"] else 0
