"""``vvt tryon``: dress a person in a garment and write the result as a video.

Methods are entries of :data:`METHODS` (name -> runner); each runner validates its own inputs before any
model work. ``fashionmirror`` (FashionMirror, ICCV 2021) takes a person *image*, a garment image and a
driving *pose video*: the pose video is turned into OpenPose-style skeletons on the fly (mediapipe,
offline), or read from keypoint JSON files written by ``vvt preprocess``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

METHODS_HELP = {
    "fashionmirror": "FashionMirror: person image + garment image + pose video (needs --pose-video)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Generate a try-on video. Example: vvt tryon --method fashionmirror --weights runs/fm/final "
        "--person me.jpg --garment shirt.jpg --pose-video dance.mp4 --out me_in_shirt.mp4"
    )
    parser.add_argument(
        "--method",
        choices=sorted(METHODS_HELP),
        default="fashionmirror",
        help="; ".join(f"{k}: {v}" for k, v in METHODS_HELP.items()),
    )
    parser.add_argument(
        "--weights",
        type=Path,
        required=True,
        help="folder of the trained model (written by save_pretrained / `vvt train`)",
    )
    parser.add_argument("--person", type=Path, required=True, help="image of the person to dress")
    parser.add_argument("--garment", type=Path, required=True, help="garment product photo")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output video: .mp4, .gif, or a path without suffix for a folder of PNG frames",
    )
    parser.add_argument(
        "--pose-video",
        type=Path,
        help="[fashionmirror] video (or frame folder) whose poses the person follows",
    )
    parser.add_argument(
        "--pose-keypoints",
        type=Path,
        help="[fashionmirror] keypoints JSON of the pose video (skips detection)",
    )
    parser.add_argument(
        "--person-keypoints",
        type=Path,
        help="[fashionmirror] keypoints JSON of the person image, 1 frame (skips detection)",
    )
    parser.add_argument(
        "--max-frames", type=int, default=None, help="use only the first N frames of the pose video"
    )
    parser.add_argument("--fps", type=float, default=None, help="output frame rate (None: the pose video's)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def _check_out(path: Path) -> None:
    from vvt.errors import InputFileError

    if path.suffix and path.suffix.lower() not in (".mp4", ".gif", ".mov", ".mkv"):
        raise InputFileError(
            path, "unsupported output type; use .mp4, .gif or a path without suffix (PNG folder)"
        )


def run_fashionmirror(args: argparse.Namespace) -> int:
    import logging

    from vvt.errors import InputFileError, ShapeMismatchError
    from vvt.fashionmirror.inference import detect_keypoints, load_model, try_on
    from vvt.io import read_image, read_video, write_video
    from vvt.pose.openpose import load_keypoints

    log = logging.getLogger(__name__)
    if args.pose_video is None:
        raise InputFileError("--pose-video", "fashionmirror needs a pose video (--pose-video VIDEO)")
    if args.max_frames is not None and args.max_frames < 1:
        raise InputFileError("--max-frames", f"must be >= 1, got {args.max_frames}")
    _check_out(args.out)
    person = read_image(args.person)
    garment = read_image(args.garment)
    pose_frames, fps = read_video(args.pose_video, max_frames=args.max_frames)
    model = load_model(args.weights, args.device)

    if args.person_keypoints is not None:
        person_kp = load_keypoints(args.person_keypoints)[:1]
    else:
        person_kp = detect_keypoints([person], str(args.person), static=True)
    if args.pose_keypoints is not None:
        pose_kp = load_keypoints(args.pose_keypoints)
        if len(pose_kp) < len(pose_frames):
            raise ShapeMismatchError(
                f"{args.pose_keypoints}: {len(pose_kp)} frame(s) of keypoints for "
                f"{len(pose_frames)} frame(s) of {args.pose_video}"
            )
        pose_kp = pose_kp[: len(pose_frames)]
    else:
        pose_kp = detect_keypoints(list(pose_frames), str(args.pose_video))

    frames = try_on(model, person, garment, person_kp, pose_frames, pose_kp)
    write_video(args.out, frames, fps=args.fps or fps)
    log.info("wrote %s (%d frames)", args.out, len(frames))
    print(f"wrote {args.out} ({len(frames)} frames)")
    return 0


METHODS = {"fashionmirror": run_fashionmirror}


def run(args: argparse.Namespace) -> int:
    return METHODS[args.method](args)
