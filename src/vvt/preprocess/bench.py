"""``vvt bench preprocess``: frames per second of each preprocessing stage on this machine (CPU).

Runs :func:`vvt.preprocess.pipeline.analyse_clip` on a video (default: the first ``--frames`` frames of
ViViD's ``upper1.mp4`` when the samples are beside the checkout) and reports, per stage, frames per
second: keypoints (person selection + mediapipe Holistic, forward and backward), smoothing, masks and
DensePose-style maps, rendering at full size, and the whole clip.
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "vivid-samples" / "videos" / "upper1.mp4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="person video to time")
    parser.add_argument("--frames", type=int, default=24, help="first N frames")
    parser.add_argument("--category", default="upper", choices=("upper", "lower", "dresses"))


def run(args: argparse.Namespace) -> dict:
    import cv2

    from vvt.errors import InputFileError
    from vvt.io import read_video
    from vvt.preprocess.pipeline import analyse_clip

    if not args.video.exists():
        raise InputFileError(args.video, "benchmark video not found (give --video)")
    frames, fps = read_video(args.video, max_frames=args.frames)
    n = len(frames)
    result = analyse_clip(frames, fps, args.category, name=str(args.video))
    total = sum(result.seconds.values())
    return {
        "video": str(args.video),
        "frames": n,
        "frame_size": list(frames.shape[1:3]),
        "opencv_threads": cv2.getNumThreads(),
        "frames_per_second": {k: n / v for k, v in result.seconds.items()} | {"total": n / total},
        "seconds": result.seconds | {"total": total},
    }
