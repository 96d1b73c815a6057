"""``vvt bench synth``: SynthVVT rendering speed per stream, on one thread (issue 3, item 8).

Renders ``--videos`` clips per category (``--frames`` each, ``--size``) with ``cv2.setNumThreads(1)``
and times each stage with the thread's CPU clock (``time.thread_time``: the cost on one core, unaffected
by other processes sharing the machine) and the wall clock. Streams: ``geometry`` (skeleton, camera,
keypoints), ``person`` (the painted frame, which also yields the DensePose index/UV and the worn mask),
``densepose`` (vvt IUV encoding), ``worn_mask``, ``agnostic_mask``, ``agnostic``, ``skeleton``, and
``ground_truth`` (one extra person render per unpaired garment, reported per rendered GT frame).
``all_streams`` is every stream of a source frame (ground truth excluded); ``encode_mp4`` is the lossless
writing cost per frame of one stream, for reference.
"""

from __future__ import annotations

import argparse
import time

from vvt.commands import size_arg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--videos", type=int, default=2, help="videos per category")
    parser.add_argument("--frames", type=int, default=24, help="frames per video")
    parser.add_argument("--size", type=size_arg(), default=(256, 192), metavar="HxW", help="frame size")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> dict:
    import tempfile
    from pathlib import Path

    import cv2
    import numpy as np

    from vvt.data.synth.render import LABELS
    from vvt.data.synth.writer import SynthConfig, make_scene, outfit, plan
    from vvt.io import write_video
    from vvt.pose.densepose import encode_iuv
    from vvt.pose.openpose import Keypoints, render_skeleton
    from vvt.preprocess.masks import agnostic_frame

    cv2.setNumThreads(1)
    h, w = args.size
    cfg = SynthConfig(videos=args.videos, frames=args.frames, height=h, width=w, seed=args.seed)
    names = (
        "geometry",
        "person",
        "densepose",
        "worn_mask",
        "agnostic_mask",
        "agnostic",
        "skeleton",
        "ground_truth",
    )
    cpu = dict.fromkeys(names, 0.0)
    wall = dict.fromkeys(names, 0.0)
    frames = gt_frames = 0
    last = None
    stamps: list[tuple[float, float]] = []

    def tick() -> None:
        stamps.append((time.thread_time(), time.perf_counter()))

    for person in plan(cfg):
        scene = make_scene(cfg, person)
        for t in range(cfg.frames):
            stamps.clear()
            tick()
            geom = scene.geometry(t)
            tick()
            r = scene.render(geom, outfit(person, person.garment))
            tick()
            encode_iuv(r.part, r.u, r.v)
            tick()
            _ = r.label == LABELS["target_garment"]
            tick()
            mask = scene.agnostic_mask(geom, person.category)
            tick()
            agnostic_frame(r.rgb, mask)
            tick()
            kp = Keypoints.empty(1, w, h)
            kp.body[0] = geom.keypoints
            render_skeleton(kp, 0)
            tick()
            for g in person.unpaired:
                scene.render(geom, outfit(person, g))
                gt_frames += 1
            tick()
            for i, name in enumerate(names):
                cpu[name] += stamps[i + 1][0] - stamps[i][0]
                wall[name] += stamps[i + 1][1] - stamps[i][1]
            frames += 1
            last = r.rgb
    source = [n for n in names if n != "ground_truth"]
    per_stream = {
        n: {
            "fps_cpu": round((frames if n != "ground_truth" else gt_frames) / max(cpu[n], 1e-9), 1),
            "fps_wall": round((frames if n != "ground_truth" else gt_frames) / max(wall[n], 1e-9), 1),
        }
        for n in names
    }
    with tempfile.TemporaryDirectory() as tmp:
        clip = np.repeat(last[None], 16, axis=0)
        c0 = time.thread_time()
        write_video(Path(tmp) / "bench.mp4", clip, lossless=True)
        encode_ms = (time.thread_time() - c0) / 16 * 1000
    return {
        "size": [h, w],
        "frames": frames,
        "ground_truth_frames": gt_frames,
        "threads": 1,
        "clock": "fps_cpu from time.thread_time (one core), fps_wall from time.perf_counter",
        "streams": per_stream,
        "all_streams": {
            "fps_cpu": round(frames / sum(cpu[n] for n in source), 1),
            "fps_wall": round(frames / sum(wall[n] for n in source), 1),
        },
        "encode_mp4_ms_per_frame_cpu": round(encode_ms, 2),
        "target_fps": 30,
    }
