"""``vvt bench preprocess``: frames per second of each preprocessing stage, and masks measured against ViViD's.

**Speed.** Runs :func:`vvt.preprocess.pipeline.analyse_clip` on the first ``--frames`` frames of a video
(default: ViViD's ``upper1.mp4`` when the samples are beside the checkout), resized to ``--size`` (default
512x384, issue 20 item 5), and reports frames per second per stage: keypoints (person selection +
mediapipe Holistic cascade), smoothing, agnostic masks, DensePose-style maps, rendering, and the whole clip.
With ``--baseline-src DIR`` (the ``src`` folder of another vvt checkout, e.g. the main branch) the same
frames go through that checkout's pipeline in a subprocess of the same run, and the ratio of the totals
is reported: speed is only ever compared within one run on one machine.

**Masks** (``--compare DIR``, issue 20 items 3-4): every video of a ViViD-layout folder (``videos/``,
``agnostic_mask/``, optionally ``densepose/``) is preprocessed with ``--category`` and our agnostic masks
are scored against the folder's, per frame and on average (:mod:`vvt.preprocess.compare`): IoU, coverage,
excess, the share of the other garment's region (estimated from the DensePose) that ours covers, and the
frame-to-frame change of ours and of the reference. ``--overlay PNG`` writes four frames of the first
video: green where both masks agree, red where only the reference masks, blue where only ours does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "vivid-samples" / "videos" / "upper1.mp4"
#: issue 20 targets on ViViD's upper1 (upper-body masks)
TARGETS = {"iou_mean": 0.80, "coverage_min": 0.95}

_BASELINE = """
import json, sys, time
import numpy as np
from vvt.preprocess.pipeline import analyse_clip
frames = np.load(sys.argv[1])
result = analyse_clip(frames, float(sys.argv[2]), sys.argv[3], name="baseline")
print(json.dumps(result.seconds))
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="person video to time")
    parser.add_argument("--frames", type=int, default=24, help="first N frames to time")
    parser.add_argument("--size", default="512x384", help="HxW the timed frames are resized to ('' keeps them)")
    parser.add_argument("--category", default="upper", choices=("upper", "lower", "dresses"))
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="src/ folder of another vvt checkout whose pipeline is timed on the same frames")
    parser.add_argument("--compare", type=Path, default=None, metavar="DIR",
                        help="a ViViD-layout folder: score our agnostic masks against its agnostic_mask/")
    parser.add_argument("--overlay", type=Path, default=None, help="PNG of ours vs the reference (with --compare)")
    parser.add_argument("--no-timing", action="store_true", help="only --compare")


def _resize(frames: np.ndarray, size: str) -> np.ndarray:
    import cv2

    from vvt.errors import ConfigError

    if not size:
        return frames
    try:
        h, w = (int(x) for x in size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {size!r}: expected HxW, e.g. 512x384") from None
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def time_stages(frames: np.ndarray, fps: float, category: str, baseline_src: Path | None) -> dict:
    """Frames/s per stage of this checkout's pipeline (and of ``baseline_src``'s, in a subprocess)."""
    from vvt.preprocess.pipeline import analyse_clip

    n = len(frames)
    result = analyse_clip(frames, fps, category, name="bench")
    total = sum(result.seconds.values())
    out = {
        "frames": n,
        "frame_size": list(frames.shape[1:3]),
        "frames_per_second": {k: n / v for k, v in result.seconds.items()} | {"total": n / total},
        "seconds": result.seconds | {"total": total},
    }
    if baseline_src is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "frames.npy"
            np.save(path, frames)
            env = {"PYTHONPATH": str(baseline_src.resolve())}
            proc = subprocess.run([sys.executable, "-c", _BASELINE, str(path), str(fps), category],
                                  capture_output=True, text=True, env=os.environ | env, check=False)
        if proc.returncode != 0:
            out["baseline"] = {"src": str(baseline_src), "error": proc.stderr.strip().splitlines()[-1:]}
        else:
            seconds = json.loads(proc.stdout.strip().splitlines()[-1])
            base_total = sum(seconds.values())
            out["baseline"] = {
                "src": str(baseline_src),
                "frames_per_second": {k: n / v for k, v in seconds.items()} | {"total": n / base_total},
                "seconds": seconds | {"total": base_total},
            }
            out["speedup_vs_baseline"] = base_total / total
    return out


def _overlay(frames: np.ndarray, ours: np.ndarray, ref: np.ndarray, path: Path) -> None:
    import cv2

    from vvt.io import write_image

    picks = np.linspace(0, len(frames) - 1, 4).round().astype(int)
    tiles = []
    for t in picks:
        f = frames[t].astype(np.float32)
        colour = np.zeros_like(f)
        colour[ours[t] & ref[t]] = (0, 200, 0)
        colour[ref[t] & ~ours[t]] = (255, 0, 0)
        colour[ours[t] & ~ref[t]] = (0, 80, 255)
        any_mask = (ours[t] | ref[t])[..., None]
        tile = np.where(any_mask, 0.45 * f + 0.55 * colour, f).astype(np.uint8)
        cv2.putText(tile, f"frame {t}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
        tiles.append(tile)
    sheet = np.concatenate(tiles, axis=1)
    scale = min(1.0, 1600 / sheet.shape[1])
    sheet = cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    write_image(path, sheet)


def compare_folder(root: Path, category: str, max_frames: int | None, overlay: Path | None) -> dict:
    """Score our masks against every video of the ViViD-layout folder ``root`` (module docstring)."""
    from vvt.errors import InputFileError
    from vvt.io import read_video
    from vvt.preprocess.compare import densepose_parts, mask_scores, other_garment_region, summarise
    from vvt.preprocess.pipeline import analyse_clip

    videos = sorted((root / "videos").glob("*.mp4")) if (root / "videos").is_dir() else []
    pairs = [(v, root / "agnostic_mask" / v.name) for v in videos if (root / "agnostic_mask" / v.name).is_file()]
    if not pairs:
        raise InputFileError(root, "holds no videos/<name>.mp4 with an agnostic_mask/<name>.mp4 (ViViD layout)")
    layout = root / "layout.json"
    dp_format = json.loads(layout.read_text()).get("densepose_format", "detectron2_parts") if layout.is_file() \
        else "detectron2_parts"
    report = {}
    for k, (video, mask_path) in enumerate(pairs):
        frames, fps = read_video(video, max_frames=max_frames)
        ref = read_video(mask_path, max_frames=max_frames)[0].mean(axis=-1) >= 128
        n = min(len(frames), len(ref))
        frames, ref = frames[:n], ref[:n]
        result = analyse_clip(frames, fps, category, name=str(video))
        ours = result.agnostic_mask
        dp_path = root / "densepose" / video.name
        other = None
        if dp_path.is_file():
            parts = densepose_parts(read_video(dp_path, max_frames=max_frames)[0][:n], dp_format)
            other = other_garment_region(category, parts, ref)
        summary = summarise(mask_scores(ours, ref, other), ours, ref)
        summary["frames"] = n
        summary["frames_found"] = int(result.found.sum())
        if category == "upper":
            summary["targets"] = {"iou_mean >= 0.80": summary["mean"]["iou"] >= TARGETS["iou_mean"],
                                  "coverage >= 0.95 on every frame": summary["min"]["coverage"]
                                  >= TARGETS["coverage_min"]}
        report[video.stem] = summary
        if overlay is not None and k == 0:
            _overlay(frames, ours, ref, overlay)
    return report


def run(args: argparse.Namespace) -> dict:
    import cv2

    from vvt.errors import InputFileError
    from vvt.io import read_video

    out: dict = {"opencv_threads": cv2.getNumThreads()}
    if not args.no_timing:
        if not args.video.exists():
            raise InputFileError(args.video, "benchmark video not found (give --video)")
        frames, fps = read_video(args.video, max_frames=args.frames)
        out["video"] = str(args.video)
        out["timing"] = time_stages(_resize(frames, args.size), fps, args.category, args.baseline_src)
    if args.compare is not None:
        if not args.compare.is_dir():
            raise InputFileError(args.compare, "not a folder (--compare expects a ViViD-layout folder)")
        out["compare"] = {"folder": str(args.compare), "category": args.category,
                          "videos": compare_folder(args.compare, args.category, None, args.overlay)}
    return out
