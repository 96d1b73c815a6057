"""``vvt bench fashionmirror``: CMN time vs the human-parsing step it replaces (Sec. 4.3), measured fairly.

The paper times its CMN against a semantic-segmentation network (0.1983 s vs 0.3469 s per input on a
2080 Ti, ratio 57.16%, at FashionVideo's 256x256). Here both run in one process, on the same frames, at the
same size (``--size``, default the paper's 256x256), on the same device:

- **CMN**: one single-frame forward ``CMN(h, C)`` per frame (batch 1, ``no_grad``) (also reported: the
  per-frame time with the garment features computed once, as :meth:`FashionMirror.iter_generate` does along a
  video); a trained model from ``--weights`` or, by default, the full-size architecture (ResNet-50 trunk,
  output stride ``--output-stride``) with random weights - the time does not depend on the weights.
- **Parsing**: what :mod:`vvt.preprocess` runs to know where the garment is. With ``--parser DIR`` a SegFormer
  human parser's forward pass (:meth:`SegformerParser.labels`), the closest match to the paper's segmentation
  network. With the default offline backend, :meth:`OfflineParser.parse`, which needs keypoints.
- **Keypoints** are timed apart (``keypoints``) and counted on neither side: FashionMirror needs them anyway for
  its skeletons (Eq. 3), and the offline parser reuses the same ones. They come from one mediapipe Holistic
  graph built once and reused for every frame (building the graph per frame would time its construction).
- **Device**: the offline parser and mediapipe run on the CPU only, so with them the CMN is timed on the CPU too;
  with a SegFormer both run on ``--device``. The JSON says which device each side used and what it includes.

Inputs: the first ``--frames`` frames of ``--video``, or scikit-image's astronaut photo repeated, resized to
``--size``. The garment input of the CMN is ``--garment`` or the same frame (content does not change the
time). Each side is warmed up once before timing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from vvt.checks import add_device_argument
from vvt.commands import size_arg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", type=Path, help="person video (default: scikit-image's astronaut photo)")
    parser.add_argument("--garment", type=Path, help="garment photo for the CMN (default: the person frame)")
    parser.add_argument("--frames", type=int, default=8, help="number of frames timed")
    parser.add_argument("--weights", type=Path, help="trained FashionMirror folder (default: full-size, random)")
    parser.add_argument(
        "--output-stride",
        type=int,
        choices=(8, 16),
        default=8,
        help="CMN output stride of the random full-size model (ignored with --weights)",
    )
    parser.add_argument(
        "--size",
        type=size_arg(8),
        default=(256, 256),
        help="HxW every side runs at (default: the paper's 256x256; with --weights, the model's own "
        "sample_size)",
    )
    parser.add_argument("--parser", default="offline", help="human parsing backend: offline or a SegFormer folder")
    add_device_argument(parser, "the CMN and SegFormer")


def _frames(args: argparse.Namespace):
    import numpy as np

    if args.video is not None:
        from vvt.io import read_video

        frames = list(read_video(args.video, max_frames=args.frames)[0])
    else:
        from skimage import data

        frames = [np.ascontiguousarray(data.astronaut())] * args.frames
    import cv2

    h, w = args.size
    return [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]


def _stats(times: list[float]) -> dict:
    return {
        "sec_per_frame_mean": statistics.fmean(times),
        "sec_per_frame_median": statistics.median(times),
        "frames": len(times),
    }


def _time_cmn(args, frames, device: str) -> dict:
    import torch

    from vvt.fashionmirror.inference import _image_tensor, load_model
    from vvt.fashionmirror.model import FashionMirror
    from vvt.io import read_image

    if args.weights:
        model = load_model(args.weights, device)
    else:
        model = FashionMirror(sample_size=tuple(args.size), cmn_output_stride=args.output_stride).to(device).eval()
    size = tuple(model.config.sample_size)
    garment_img = read_image(args.garment) if args.garment else frames[0]
    garment = _image_tensor(garment_img, size, device)
    humans = [_image_tensor(f, size, device) for f in frames]
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
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
        "what": "CMN single-frame forward (ResNet trunk + ASPP + co-attention + heads), batch 1",
        "device": device,
        "resolution": list(size),
        "output_stride": model.config.cmn_output_stride,
        "parameters": params,
        "trained_weights": bool(args.weights),
        **_stats(full),
        "garment_cached_sec_per_frame_mean": statistics.fmean(cached),
    }


def _time_keypoints(frames) -> tuple[dict, list]:
    """mediapipe Holistic keypoints per frame from one graph built once (photo mode), and the keypoints."""
    from vvt.preprocess.keypoints import _holistic, _Result, _to_openpose, to_working

    h, w = frames[0].shape[:2]
    works = [to_working(f) for f in frames]
    times, keypoints = [], []
    with _holistic(True) as graph:
        graph.process(works[0])  # warm-up
        for work in works:
            t0 = time.perf_counter()
            res = _Result(graph.process(work), work.shape[:2])
            kp = _to_openpose(res, w, h) if res.pose is not None else None
            times.append(time.perf_counter() - t0)
            keypoints.append(kp)
    stats = {"what": "mediapipe Holistic keypoints, one graph reused (counted on neither side)", "device": "cpu"}
    return {**stats, **_stats(times)}, keypoints


def _time_parsing(args, frames, keypoints, device: str) -> dict:
    import numpy as np

    from vvt.preprocess.parsing import load_parser

    parser = load_parser(args.parser, device=device)
    if parser.name != "offline":
        parser.labels(frames[0])  # warm-up
        times = []
        for f in frames:
            t0 = time.perf_counter()
            parser.labels(f)
            times.append(time.perf_counter() - t0)
        return {"backend": parser.name, "what": "SegFormer forward pass", "device": device, **_stats(times)}
    empty = (
        np.zeros((25, 3), np.float32),
        np.zeros((21, 3), np.float32),
        np.zeros((21, 3), np.float32),
        np.zeros((70, 3), np.float32),
    )
    kps = [kp if kp is not None else empty for kp in keypoints]
    parser.parse(frames[0], kps[0][0], (kps[0][1], kps[0][2]), kps[0][3])  # warm-up
    times = []
    for f, (body, left, right, face) in zip(frames, kps):
        t0 = time.perf_counter()
        parser.parse(f, body, (left, right), face)
        times.append(time.perf_counter() - t0)
    return {
        "backend": "offline",
        "what": "OfflineParser.parse given the keypoints (the keypoints are timed apart)",
        "device": "cpu",
        **_stats(times),
    }


def run(args: argparse.Namespace) -> dict:
    from vvt.checks import resolve_device
    from vvt.errors import InputFileError

    if args.frames < 1:
        raise InputFileError("--frames", f"must be >= 1, got {args.frames}")
    args.device = resolve_device(args.device)
    if args.weights is not None and (args.weights / "config.json").is_file():
        import json

        args.size = tuple(json.loads((args.weights / "config.json").read_text())["sample_size"])
    frames = _frames(args)
    # the offline parser and mediapipe run on the CPU only: the CMN then runs there too
    device = "cpu" if args.parser == "offline" else args.device
    keypoints, kps = _time_keypoints(frames)
    cmn = _time_cmn(args, frames, device)
    parsing = _time_parsing(args, frames, kps, device)
    return {
        "cmn": cmn,
        "parsing": parsing,
        "keypoints": keypoints,
        "ratio_cmn_to_parsing": cmn["sec_per_frame_mean"] / parsing["sec_per_frame_mean"],
        "paper": {
            "cmn_sec": 0.1983,
            "parsing_sec": 0.3469,
            "ratio": 0.5716,
            "gpu": "NVIDIA 2080 Ti",
            "size": [256, 256],
            "parsing": "PGN semantic segmentation [12]",
        },
        "device": device,
        "size": list(args.size),
    }
