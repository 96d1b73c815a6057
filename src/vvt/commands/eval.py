"""``vvt eval``: score predicted try-on videos or images against ground truth, write a JSON report."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vvt.eval.bench import add_evaluation_arguments

    parser.description = (
        "Score predictions against ground truth, matched by file name (videos, frame folders or images). "
        "Example: vvt eval --pred out/tryon --gt data/videos --masks data/agnostic_mask "
        "--weights-dir ~/vvt-weights --out report.json. --gt may also be a dataset root (e.g. CatV2TON's "
        "ViViD-S split: vvt eval --protocol catv2ton --pred out/vivid-s --gt ViViD-S/): its paired test split "
        "is the ground truth, each prediction named PRED/<sample name>.mp4 (e.g. upper_body/1057795_detail.mp4, "
        "or 1057795_detail.mp4 as CatV2TON writes it), only the frames its list scores (ViViD-S front_seqs), "
        "and its agnostic masks the masks; with --pairs unpaired its unpaired split (test_data_180_unpaired."
        "jsonl), which has no ground truth: VFID/FID/KID compare the predictions with the person videos, as "
        "CatV2TON's unpaired tables. Deep metrics (LPIPS, FID, KID, IS, VFID) need their "
        "network's weight file in --weights-dir; without it they are reported as absent with the file to add. "
        "--protocol picks named settings (size, clip sampling, channel order, resize, backbones) that the "
        "report prints in full: vvt (default), catv2ton (CatV2TON's released scripts as they run), "
        "realvvt-vvt (RealVVT Table 1), realvvt-image (RealVVT Tables 2-5)."
    )
    parser.add_argument("--pred", type=Path, required=True, help="folder of predicted videos/images")
    parser.add_argument(
        "--gt", type=Path, required=True,
        help="folder of ground truths with the same names, or a dataset root (its paired test split)",
    )
    parser.add_argument(
        "--masks",
        type=Path,
        default=None,
        help="folder of try-on region masks with the same names (white = region), e.g. "
        "agnostic masks: enables masked_ssim and flicker (with a dataset root: its agnostic masks by default)",
    )
    parser.add_argument(
        "--pairs", choices=("paired", "unpaired"), default="paired",
        help="with a dataset root as --gt: its paired test split (the person video is the ground truth) or its "
        "unpaired one (another garment; real data has no ground truth, so SSIM/LPIPS are absent and "
        "VFID/FID/KID compare the predictions with the split's person videos)",
    )
    parser.add_argument("--out", type=Path, default=Path("report.json"), help="JSON report to write")
    add_evaluation_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import json

    from vvt.checks import Bound, check_numbers, check_output, resolve_device

    inputs = {"--pred": args.pred, "--gt": args.gt, "--masks": args.masks, "--weights-dir": args.weights_dir}
    check_output(args.out, folder=False, suffixes=(".json",), inputs=inputs)
    check_numbers({"--max-frames": (args.max_frames, Bound(ge=1))})
    args.device = resolve_device(args.device)

    from vvt.data.layouts import strict_layouts
    from vvt.eval import evaluate
    from vvt.eval.bench import evaluation_settings
    from vvt.io import allowing_truncated, atomic_write_text

    with allowing_truncated(args.allow_truncated), strict_layouts(args.strict):
        report = evaluate(args.pred, args.gt, masks_dir=args.masks, pairs=args.pairs, **evaluation_settings(args))
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    for name, value in report["metrics"].items():
        print(f"{name:>13}: {'n/a (' + report['absent'][name] + ')' if value is None else f'{value:.6g}'}")
    from vvt.eval.protocols import report_lines

    print("\n".join(report_lines(report["protocol"])))
    print(f"wrote {args.out}")
    return 0
