"""Seam effects of the windowed analysis of a person video (issue 22): whole-video against windowed.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/preprocess_windows.py \\
        --video $VVT_VIVID_SAMPLES/videos/upper1.mp4 --truth $VVT_VIVID_SAMPLES/agnostic_mask/upper1.mp4 \\
        --windows 16:4 24:6 --out benchmarks/preprocess-windows-upper1.json

:func:`vvt.realvvt.tryon.prepare_video` runs once with a window longer than the clip (the whole-video analysis)
and once per ``W:O`` (windows of W frames, O frames of context on each side). Per frame, the windowed agnostic
mask (frame size) is compared with the whole-video one (IoU) and, with ``--truth``, both with ViViD's mask;
"join" frames are the two frames either side of each boundary between kept ranges (where a seam would show).
``mask_change`` is the mean ``1 - IoU`` of consecutive masks, at joins and elsewhere (a seam is a jump).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def masks_of(video: Path, folder: Path, window: int, overlap: int) -> tuple[np.ndarray, np.ndarray, float]:
    from vvt.realvvt.tryon import prepare_video

    tick = time.perf_counter()
    conditions = prepare_video(video, folder, "upper", window=window, overlap=overlap)
    seconds = time.perf_counter() - tick
    _, mask, densepose = conditions.load(np.arange(conditions.num_frames))
    return mask, densepose, seconds


def summary(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "min": float(np.min(values))} if values else {}


def main() -> None:
    from vvt.io import read_video, video_info
    from vvt.preprocess.pipeline import analysis_windows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--truth", type=Path, help="the clip's reference agnostic mask video")
    parser.add_argument("--windows", nargs="+", default=["16:4", "24:6"], help="W:O pairs")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    n = video_info(args.video).num_frames
    truth = None
    if args.truth is not None:
        truth = read_video(args.truth)[0][..., 0] >= 128
    with tempfile.TemporaryDirectory() as tmp:
        whole, whole_dp, whole_s = masks_of(args.video, Path(tmp) / "whole", n + 1, 0)
        result = {"video": str(args.video), "frames": n, "whole": {"seconds": whole_s}, "windowed": []}
        if truth is not None:
            result["whole"]["iou_vs_truth"] = summary([iou(whole[t], truth[t]) for t in range(n)])
        for spec in args.windows:
            window, overlap = map(int, spec.split(":"))
            mask, dp, seconds = masks_of(args.video, Path(tmp) / spec, window, overlap)
            wins = analysis_windows(n, window, overlap)
            boundaries = [keep for _, _, keep, _ in wins[1:]]
            joins = sorted({t for b in boundaries for t in (b - 1, b)})
            per_frame = [iou(mask[t], whole[t]) for t in range(n)]
            change = [1 - iou(mask[t], mask[t + 1]) for t in range(n - 1)]
            whole_change = [1 - iou(whole[t], whole[t + 1]) for t in range(n - 1)]
            at_join = [b - 1 for b in boundaries]  # the change from frame b-1 to b crosses the boundary
            row = {
                "window": window, "overlap": overlap, "windows": [list(w) for w in wins], "join_frames": joins,
                "seconds": seconds,
                "iou_vs_whole": {"all": summary(per_frame), "joins": summary([per_frame[t] for t in joins]),
                                 "elsewhere": summary([per_frame[t] for t in range(n) if t not in joins])},
                "iou_vs_whole_per_frame": [round(v, 4) for v in per_frame],
                "densepose_equal_fraction": float((dp == whole_dp).all(-1).mean()),
                "mask_change": {
                    "windowed_at_boundaries": float(np.mean([change[t] for t in at_join])),
                    "windowed_elsewhere": float(np.mean([c for t, c in enumerate(change) if t not in at_join])),
                    "whole_at_boundaries": float(np.mean([whole_change[t] for t in at_join])),
                    "whole_elsewhere": float(np.mean([c for t, c in enumerate(whole_change) if t not in at_join])),
                },
            }
            if truth is not None:
                row["iou_vs_truth"] = summary([iou(mask[t], truth[t]) for t in range(n)])
            result["windowed"].append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("iou_vs_whole_per_frame", "windows")}))
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["whole"]))


if __name__ == "__main__":
    main()
