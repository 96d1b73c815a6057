"""``vvt bench fashionmirror``: CMN time vs the human-parsing step of vvt's preprocessing (Sec. 4.3).

The paper times its CMN against a semantic-segmentation network (0.1983 s vs 0.3469 s per input on a
2080 Ti, ratio 57.16%). Here both run in one process on the same frames:

- **CMN**: one single-frame forward ``CMN(h, C)`` per frame (batch 1, ``no_grad``), at the model's
  ``sample_size`` (also reported: the per-frame time with the garment features computed once, as
  :meth:`FashionMirror.iter_generate` does along a video); a trained model from ``--weights`` or, by
  default, the full-size architecture (ResNet-50 trunk, 256x192, output stride ``--output-stride``) with
  random weights - the time does not depend on the weights.
- **Parsing**: what :mod:`vvt.preprocess` runs to know where the garment is. With the default offline
  backend that is mediapipe Holistic keypoints (:func:`vvt.preprocess.keypoints.track_video`, photo mode)
  plus :meth:`OfflineParser.parse`; the offline parser needs the keypoints, so both count. With
  ``--parser DIR`` it is a SegFormer human parser's forward pass (:meth:`SegformerParser.labels`),
  the closest match to the paper's segmentation network.

Inputs: the first ``--frames`` frames of ``--video``, or scikit-image's astronaut photo repeated. The
garment input of the CMN is ``--garment`` or the same frame (content does not change the time).
Each side is warmed up once before timing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from vvt.checks import add_device_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", type=Path, help="person video (default: scikit-image's astronaut photo)")
    parser.add_argument("--garment", type=Path, help="garment photo for the CMN (default: the person frame)")
    parser.add_argument("--frames", type=int, default=8, help="number of frames timed")
    parser.add_argument(
        "--weights", type=Path, help="trained FashionMirror folder (default: full-size, random)"
    )
    parser.add_argument(
        "--output-stride",
        type=int,
        choices=(8, 16),
        default=8,
        help="CMN output stride of the random full-size model (ignored with --weights)",
    )
    parser.add_argument(
        "--parser", default="offline", help="human parsing backend: offline or a SegFormer folder"
    )
    add_device_argument(parser, "the CMN and SegFormer")


def _frames(args: argparse.Namespace):
    import numpy as np

    if args.video is not None:
        from vvt.io import read_video

        return list(read_video(args.video, max_frames=args.frames)[0])
    from skimage import data

    return [np.ascontiguousarray(data.astronaut())] * args.frames


def _stats(times: list[float]) -> dict:
    return {
        "sec_per_frame_mean": statistics.fmean(times),
        "sec_per_frame_median": statistics.median(times),
        "frames": len(times),
    }


def _time_cmn(args, frames) -> dict:
    import torch

    from vvt.fashionmirror.inference import _image_tensor, load_model
    from vvt.fashionmirror.model import FashionMirror
    from vvt.io import read_image

    if args.weights:
        model = load_model(args.weights, args.device)
    else:
        model = FashionMirror(cmn_output_stride=args.output_stride).to(args.device).eval()
    size = tuple(model.config.sample_size)
    garment_img = read_image(args.garment) if args.garment else frames[0]
    garment = _image_tensor(garment_img, size, args.device)
    humans = [_image_tensor(f, size, args.device) for f in frames]
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    full, cached = [], []
    with torch.no_grad():
        eps_c = model.cmn.encode(garment)  # also the warm-up
        for h in humans:
            sync()
            t0 = time.perf_counter()
            model.cmn(h, garment)
            sync()
            t1 = time.perf_counter()
            model.cmn(h, garment, garment_features=eps_c)
            sync()
            full.append(t1 - t0)
            cached.append(time.perf_counter() - t1)
    params = sum(p.numel() for p in model.cmn.parameters())
    return {
        "resolution": list(size),
        "output_stride": model.config.cmn_output_stride,
        "parameters": params,
        "trained_weights": bool(args.weights),
        **_stats(full),
        "garment_cached_sec_per_frame_mean": statistics.fmean(cached),
    }


def _time_parsing(args, frames) -> dict:
    from vvt.preprocess.keypoints import to_working, track_video
    from vvt.preprocess.parsing import load_parser

    parser = load_parser(args.parser, device=args.device)
    h, w = frames[0].shape[:2]
    if parser.name != "offline":
        parser.labels(frames[0])  # warm-up
        times = []
        for f in frames:
            t0 = time.perf_counter()
            parser.labels(f)
            times.append(time.perf_counter() - t0)
        return {"backend": parser.name, "what": "SegFormer forward pass", **_stats(times)}
    track_video([to_working(frames[0])], w, h, name="warm-up", static=True)
    kp_times, parse_times = [], []
    for f in frames:
        t0 = time.perf_counter()
        kp = track_video([to_working(f)], w, h, name="bench", static=True).keypoints
        t1 = time.perf_counter()
        parser.parse(f, kp.body[0], (kp.hand_left[0], kp.hand_right[0]), kp.face[0])
        parse_times.append(time.perf_counter() - t1)
        kp_times.append(t1 - t0)
    total = [a + b for a, b in zip(kp_times, parse_times)]
    return {
        "backend": "offline",
        "what": "mediapipe Holistic keypoints + OfflineParser.parse",
        "keypoints_sec_per_frame_mean": statistics.fmean(kp_times),
        "parse_sec_per_frame_mean": statistics.fmean(parse_times),
        **_stats(total),
    }


def run(args: argparse.Namespace) -> dict:
    from vvt.checks import resolve_device
    from vvt.errors import InputFileError

    if args.frames < 1:
        raise InputFileError("--frames", f"must be >= 1, got {args.frames}")
    args.device = resolve_device(args.device)
    frames = _frames(args)
    cmn = _time_cmn(args, frames)
    parsing = _time_parsing(args, frames)
    return {
        "cmn": cmn,
        "parsing": parsing,
        "ratio_cmn_to_parsing": cmn["sec_per_frame_mean"] / parsing["sec_per_frame_mean"],
        "paper": {"cmn_sec": 0.1983, "parsing_sec": 0.3469, "ratio": 0.5716, "gpu": "NVIDIA 2080 Ti"},
        "device": args.device,
    }
