"""``vvt synth``: write a SynthVVT dataset (procedural try-on videos with exact ground truth)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vvt.commands import size_arg

_CATEGORIES = ("upper", "lower", "dresses")
_FAMILIES = ("solid", "stripes", "checks", "dots", "glyphs", "logo", "gradient")


def _names(choices: tuple[str, ...]):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        bad = [n for n in names if n not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(bad)} (choose from {', '.join(choices)})")
        return names

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Generate SynthVVT: procedural people in procedural garments doing smooth motions, written in the "
        "ViViD folder layout (videos, agnostic, agnostic_mask, densepose, skeleton, keypoints, worn_mask, "
        "cloth, cloth_mask, pair lists, layout.json) plus ground_truth/ videos of every unpaired test pair "
        "(same person and motion, other garment). Example: vvt synth --out data/synth --videos 4 --frames 16 "
        "--size 256x192 --preview"
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder (new or empty; an earlier output of vvt there is replaced, any other folder is "
        "refused)",
    )
    parser.add_argument("--videos", type=int, default=4, help="person videos per category")
    parser.add_argument("--frames", type=int, default=16, help="frames per video")
    parser.add_argument(
        "--size", type=size_arg(), default=(256, 192), metavar="HxW", help="frame size, height x width"
    )
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives byte-identical files")
    parser.add_argument(
        "--categories",
        type=_names(_CATEGORIES),
        default=_CATEGORIES,
        metavar="LIST",
        help=f"comma-separated categories from {','.join(_CATEGORIES)}",
    )
    parser.add_argument(
        "--texture-families",
        type=_names(_FAMILIES),
        default=_FAMILIES,
        metavar="LIST",
        help=f"comma-separated garment print families from {','.join(_FAMILIES)}",
    )
    parser.add_argument(
        "--held-out",
        type=_names(_FAMILIES),
        default=("glyphs",),
        metavar="LIST",
        help="families never printed on training garments (test garments alternate between "
        "these and the others); empty string for none",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.5,
        help="share of each category's people in the test split (at least one)",
    )
    parser.add_argument("--fps", type=float, default=24.0, help="frame rate (motion is defined in seconds)")
    parser.add_argument("--speed", type=float, default=1.0, help="motion speed multiplier")
    parser.add_argument(
        "--format",
        dest="video_format",
        choices=("mp4", "png"),
        default="mp4",
        help="mp4: lossless RGB H.264 (frames read back exactly with PyAV/ffmpeg); "
        "png: one folder of PNG frames per video",
    )
    parser.add_argument("--preview", action="store_true", help="also write OUT/preview.png, a contact sheet")


def run(args: argparse.Namespace) -> int:
    from vvt.checks import Bound, check_numbers, check_output
    from vvt.data.synth import SynthConfig, generate

    check_numbers({
        "--videos": (args.videos, Bound(ge=1)),
        "--frames": (args.frames, Bound(ge=1)),
        "--test-fraction": (args.test_fraction, Bound(ge=0, le=1)),
        "--fps": (args.fps, Bound(gt=0, le=1000)),
        "--speed": (args.speed, Bound(ge=0, le=1000)),
    })
    check_output(args.out, folder=True)
    h, w = args.size
    cfg = SynthConfig(
        videos=args.videos,
        frames=args.frames,
        height=h,
        width=w,
        seed=args.seed,
        categories=tuple(args.categories),
        texture_families=tuple(args.texture_families),
        held_out_families=tuple(args.held_out),
        test_fraction=args.test_fraction,
        fps=args.fps,
        speed=args.speed,
        video_format=args.video_format,
        preview=args.preview,
    )
    out = generate(args.out, cfg)
    print(f"wrote SynthVVT dataset to {out}" + (f" (preview: {out / 'preview.png'})" if args.preview else ""))
    return 0
