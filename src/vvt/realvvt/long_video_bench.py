"""``vvt bench longvideo``: long videos in bounded memory, and Algorithm 1 against plain chunking (issue 22).

Two parts, one run, on SynthVVT clips made here (exact ground truth, ``vvt synth``):

1. **Host memory.** ``vvt tryon --method realvvt`` runs as a child process on a clip of each of
   ``--rss-frames`` (64, 256, 1,024) and its peak RSS is read from ``os.wait4``'s rusage (``ru_maxrss``).
   The figure of every length is divided by the first's: with streaming it stays near 1 (the issue asks
   for at most 1.3). ``--rss-input streams`` gives the clip's prepared streams (``--data``);
   ``--rss-input video`` gives its person video (``--video``), preprocessed on the fly.
2. **Quality of the long-video strategies** (:data:`vvt.realvvt.long_video.STRATEGIES`) on one unpaired
   clip of ``--frames`` frames with the same model, seed and sampling settings: (a) independent chunks,
   (b) overlapping chunks without keyframes, (c) Algorithm 1, (d) Algorithm 1 with latent replacement at
   every denoising step; then (c) with each guidance mode (:data:`vvt.realvvt.long_video.GUIDANCE_MODES`).
   Measured against the ground truth:

   - ``ssim_in_mask``: SSIM averaged inside the agnostic mask (:func:`vvt.eval.image.masked_ssim`), mean
     over frames;
   - ``warp_error``: Lai et al.'s warping error under the ground truth's motion
     (:mod:`vvt.eval.temporal`, DIS flow);
   - ``seam_jump``: the mean absolute frame-to-frame change inside the mask (union of the two frames'
     masks) across seams - consecutive frames made by different clip calls - divided by the same change
     between frames of one call. ``seam_jump_gt`` is that ratio on the ground truth (the motion itself):
     a strategy without visible seams sits near it.

The model's size and clip length come from its saved settings (``model_index.json``), never from here, so
the same command reruns on a retrained model.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default="tiny-synth", help="RealVVT pipeline folder or bundled model name")
    parser.add_argument("--rss-frames", default="64,256,1024", help="clip lengths of the memory part")
    parser.add_argument("--rss-steps", type=int, default=1, help="denoising steps of the memory runs")
    parser.add_argument("--rss-input", choices=("streams", "video"), default="streams",
                        help="memory runs on prepared streams (--data) or on the person video (--video, "
                        "preprocessed on the fly with mediapipe)")
    parser.add_argument("--frames", type=int, default=128, help="frames of the quality clip (>= 96)")
    parser.add_argument("--steps", type=int, default=6, help="denoising steps of the quality runs")
    parser.add_argument("--overlap", type=int, default=None, help="segment overlap (default clip_len // 4)")
    parser.add_argument("--s-max", type=int, default=16, help="Algorithm 1's largest keyframe stride")
    parser.add_argument("--d-pose", type=float, default=0.15, help="Algorithm 1's pose distance threshold")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (every strategy uses it)")
    parser.add_argument("--skip-rss", action="store_true", help="only the quality part")
    parser.add_argument("--skip-quality", action="store_true", help="only the memory part")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables as Markdown here")
    parser.add_argument("--out", type=Path, default=Path("bench-longvideo.json"), help="JSON file to write")


def synth_clip(root: Path, frames: int, size: tuple[int, int]) -> Path:
    """One upper-body SynthVVT test video of ``frames`` frames at ``size`` under ``root`` (``vvt synth``)."""
    cmd = [
        sys.executable, "-m", "vvt.cli", "synth", "--out", str(root), "--videos", "1", "--frames", str(frames),
        "--size", f"{size[0]}x{size[1]}", "--categories", "upper", "--test-fraction", "1.0",
    ]
    subprocess.run(cmd, check=True, capture_output=True, env=_child_env())
    return root / "upper_body"


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def peak_rss(cmd: list[str]) -> tuple[int, float]:
    """Run ``cmd``; its peak RSS in bytes (Linux ``ru_maxrss`` of that child alone) and its seconds."""
    tick = time.perf_counter()
    # the child's log goes to a file: a pipe nobody reads while waiting would fill and block the child
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(cmd, env=_child_env(), stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        if os.waitstatus_to_exitcode(status):
            log.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed: {log.read().decode(errors='replace')[-2000:]}")
    return int(usage.ru_maxrss) * 1024, time.perf_counter() - tick


def memory_part(args: argparse.Namespace, weights: Path, size: tuple[int, int], tmp: Path) -> dict:
    lengths = [int(v) for v in str(args.rss_frames).split(",")]
    rows = []
    for frames in lengths:
        data = synth_clip(tmp / f"rss-{frames}", frames, size)
        out = tmp / f"rss-{frames}.mp4"
        if args.rss_input == "streams":
            inputs = ["--data", str(data)]
        else:
            video, garment = (data / "test_pairs_unpaired.txt").read_text().split()[:2]
            inputs = ["--video", str(data / "videos" / video), "--garment", str(data / "cloth" / garment)]
        cmd = [
            sys.executable, "-m", "vvt.cli", "tryon", "--method", "realvvt", "--weights", str(weights), *inputs,
            "--steps", str(args.rss_steps), "--seed", str(args.seed), "--device", "cpu", "--out", str(out),
        ]
        rss, seconds = peak_rss(cmd)
        rows.append({"frames": frames, "peak_rss_mib": round(rss / 2**20, 1), "seconds": round(seconds, 1)})
        logger.info("vvt tryon on %d frames: peak RSS %.1f MiB in %.0fs", frames, rss / 2**20, seconds)
    base = rows[0]["peak_rss_mib"]
    for row in rows:
        row["ratio_to_first"] = round(row["peak_rss_mib"] / base, 3)
    return {"steps": args.rss_steps, "input": args.rss_input, "runs": rows,
            "max_ratio": max(r["ratio_to_first"] for r in rows)}


def seam_pairs(plan, num_frames: int) -> np.ndarray:
    """``(F - 1,)`` bool: True where frames ``t`` and ``t + 1`` were made by different calls of ``plan``."""
    maker = np.full(num_frames, -1)
    for call, indices in enumerate(plan.calls):
        for i in indices:
            if maker[i] < 0:
                maker[i] = call
    return maker[1:] != maker[:-1]


def seam_jump(frames: np.ndarray, mask: np.ndarray, seams: np.ndarray) -> float:
    """Mean absolute change inside the mask across seams over that between frames of one call."""
    both = mask[1:] | mask[:-1]
    diff = np.abs(frames[1:].astype(np.float32) - frames[:-1].astype(np.float32)).mean(axis=-1)
    change = np.array([d[m].mean() if m.any() else 0.0 for d, m in zip(diff, both)])
    if not seams.any() or seams.all():
        return float("nan")
    return float(change[seams].mean() / max(change[~seams].mean(), 1e-8))


def quality_part(args: argparse.Namespace, pipeline, size: tuple[int, int], clip_len: int, tmp: Path) -> dict:
    from vvt.eval.image import masked_ssim
    from vvt.eval.temporal import reference_motion, warping_error
    from vvt.io import read_image, read_video
    from vvt.realvvt.long_video import long_video_plan
    from vvt.realvvt.tryon import conditions_from_sample, find_sample, iter_try_on_video

    root = synth_clip(tmp / "quality", args.frames, size)
    sample = find_sample(root, None)
    person, garment_name = (root / "test_pairs_unpaired.txt").read_text().split()[:2]
    garment = read_image(root / "cloth" / garment_name)
    truth = read_video(root.parent / "ground_truth" / "upper_body" / "videos" /
                       f"{Path(person).stem}__{Path(garment_name).stem}.mp4")[0]
    conditions = conditions_from_sample(sample)
    mask = np.stack(list(conditions.agnostic_mask))
    motions = reference_motion(truth)
    overlap = clip_len // 4 if args.overlap is None else args.overlap
    runs = [(s, "clip") for s in ("independent", "overlap", "algorithm1", "algorithm1-latent")]
    runs += [("algorithm1", "video"), ("algorithm1", "constant")]
    seams_gt = {}
    rows = []
    for strategy, guidance in runs:
        tick = time.perf_counter()
        frames = np.stack(list(iter_try_on_video(
            pipeline, conditions, garment, size, clip_len, d_pose=args.d_pose, s_max=args.s_max, overlap=overlap,
            num_inference_steps=args.steps, seed=args.seed, progress=False, guidance=guidance, strategy=strategy,
            min_guidance_scale=pipeline.config.min_guidance_scale,
            max_guidance_scale=pipeline.config.max_guidance_scale,
        )))
        plan = long_video_plan(conditions.iter_densepose(), len(frames), clip_len, args.d_pose, args.s_max,
                               overlap, strategy)
        seams = seam_pairs(plan, len(frames))
        seams_gt[strategy] = seam_jump(truth, mask, seams)
        rows.append({
            "strategy": strategy,
            "guidance": guidance,
            "calls": len(plan.calls),
            "keyframes": len(plan.keyframes),
            "ssim_in_mask": round(float(np.nanmean(masked_ssim(frames / 255.0, truth / 255.0, mask))), 4),
            "warp_error": round(warping_error(frames / 255.0, motions), 6),
            "seam_jump": round(seam_jump(frames, mask, seams), 3),
            "seam_jump_gt": round(seams_gt[strategy], 3),
            "seconds": round(time.perf_counter() - tick, 1),
        })
        logger.info("%s", rows[-1])
    truth_row = {"warp_error_gt": round(warping_error(truth / 255.0, motions), 6)}
    return {"video": sample.name, "garment": garment_name, "frames": len(truth), "steps": args.steps,
            "overlap": overlap, "d_pose": args.d_pose, "s_max": args.s_max, "seed": args.seed, **truth_row,
            "runs": rows}


def markdown(result: dict) -> str:
    lines = [f"# vvt bench longvideo ({result['model']}, {result['size'][0]}x{result['size'][1]}, "
             f"{result['clip_len']}-frame clips)", "", f"Command: `{result['command']}`", ""]
    if "memory" in result:
        m = result["memory"]
        lines += [f"## Peak RSS of `vvt tryon` ({m['steps']} step(s), CPU, input: {m.get('input', 'streams')})", "",
                  "| frames | peak RSS (MiB) | / first | seconds |", "|---:|---:|---:|---:|"]
        lines += [f"| {r['frames']} | {r['peak_rss_mib']} | {r['ratio_to_first']} | {r['seconds']} |"
                  for r in m["runs"]]
        lines.append("")
    if "quality" in result:
        q = result["quality"]
        lines += [f"## Long-video strategies on {q['video']} x {q['garment']} ({q['frames']} frames, "
                  f"{q['steps']} steps, overlap {q['overlap']}, d_pose {q['d_pose']}, s_max {q['s_max']}, "
                  f"seed {q['seed']})", "",
                  f"Ground truth's own warping error: {q['warp_error_gt']}.", "",
                  "| strategy | guidance | calls | keyframes | SSIM in mask | warping error | seam jump | "
                  "seam jump of the ground truth |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['strategy']} | {r['guidance']} | {r['calls']} | {r['keyframes']} | {r['ssim_in_mask']} "
                  f"| {r['warp_error']} | {r['seam_jump']} | {r['seam_jump_gt']} |" for r in q["runs"]]
        lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    import torch

    from vvt.io import atomic_write_text
    from vvt.models import resolve
    from vvt.realvvt.tryon import load_pipeline, pipeline_folder

    torch.manual_seed(args.seed)
    weights = pipeline_folder(resolve(args.weights))
    pipeline = load_pipeline(weights, "cpu", "float32")
    size = pipeline.trained_size
    clip_len = int(pipeline.config.num_frames or pipeline.unet.config.num_frames)
    if size is None:
        raise SystemExit(f"{weights}: model_index.json does not say the training size (height, width)")
    result = {
        "model": str(args.weights), "size": list(size), "clip_len": clip_len,
        "command": "vvt bench longvideo " + " ".join(sys.argv[3:]),
    }
    with tempfile.TemporaryDirectory(prefix="vvt-longvideo-") as tmp:
        if not args.skip_rss:
            result["memory"] = memory_part(args, weights, size, Path(tmp))
        if not args.skip_quality:
            result["quality"] = quality_part(args, pipeline, size, clip_len, Path(tmp))
    if args.markdown is not None:
        atomic_write_text(args.markdown, markdown(result))
    return result
