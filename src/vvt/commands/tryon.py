"""``vvt tryon``: dress a person in a garment and write the result as a video.

Three ways in: one video (``--video``, or prepared streams), a catalogue (``--pairs pairs.csv --out DIR``,
:mod:`vvt.batch`) and the bundled example (``--example``: a SynthVVT clip and garment shipped in the package,
with its ground truth; writes the video, a side-by-side PNG and the SSIM inside the mask). Without
``--weights`` RealVVT runs the bundled model (:mod:`vvt.models`). Every option, input and output path is
checked before the model loads (:func:`check_arguments`).

Methods are entries of :data:`METHODS` (name -> runner); each runner validates its own inputs before any
model work. ``fashionmirror`` (FashionMirror, ICCV 2021) takes a person *image*, a garment image and a
driving *pose video*: the pose video is turned into OpenPose-style skeletons on the fly (mediapipe,
offline), or read from keypoint JSON files written by ``vvt preprocess``. ``realvvt`` (RealVVT) takes a
person *video*: its agnostic video, agnostic mask and DensePose are made on the fly (``vvt.preprocess``) or
read from prepared streams (a ViViD-layout folder with ``--data``, or ``--agnostic``/``--agnostic-mask``/
``--densepose``); videos longer than the clip length run Algorithm 1 (:mod:`vvt.realvvt.tryon`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vvt.checks import add_device_argument
from vvt.pose.densepose import DENSEPOSE_FORMATS

METHODS_HELP = {
    "fashionmirror": "FashionMirror: person image + garment image + pose video (needs --pose-video)",
    "realvvt": "RealVVT: person video + garment image (--video, or prepared streams: --data / --agnostic)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Generate a try-on video. Start with the bundled example: vvt tryon --example --out example.mp4 | "
        "your video, bundled model: vvt tryon --video me.mp4 --garment shirt.jpg --category upper --out "
        "me_in_shirt.mp4 | your weights: add --weights runs/realvvt/final | a catalogue: vvt tryon --pairs "
        "pairs.csv --out results/ (CSV columns video, garment, category, optional out) | prepared streams: "
        "vvt tryon --data data/vivid/upper_body --sample upper1 --garment 00057_00 --out upper1_00057.mp4 | "
        "FashionMirror: vvt tryon --method fashionmirror --weights runs/fm/final "
        "--person me.jpg --garment shirt.jpg --pose-video dance.mp4 --out me_in_shirt.mp4"
    )
    parser.add_argument(
        "--method",
        choices=sorted(METHODS_HELP),
        default="realvvt",
        help="; ".join(f"{k}: {v}" for k, v in METHODS_HELP.items()),
    )
    parser.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="folder of the trained model (written by save_pretrained / `vvt train`; for realvvt also a "
        "`vvt train realvvt` run folder, whose final/ EMA export is used). realvvt without it: the bundled "
        "tiny-synth model (64x48, synthetic people only; a demonstration). fashionmirror: required",
    )
    parser.add_argument(
        "--example",
        action="store_true",
        help="[realvvt] try the bundled garment on the bundled SynthVVT clip; writes --out, a side-by-side "
        "PNG beside it (input | garment | result | ground truth) and prints the SSIM inside the mask",
    )
    parser.add_argument(
        "--pairs",
        type=Path,
        help="[realvvt] catalogue batch: a CSV with columns video, garment, category (optional out, a file "
        "name in --out); --out is then a folder. Each video is preprocessed once (cached in OUT/.vvt-cache), "
        "finished outputs are skipped, failures are listed at the end (exit 1). Under `accelerate launch` "
        "the pairs are split across processes",
    )
    parser.add_argument("--cache", type=Path, help="[--pairs] preprocessing cache folder (None: OUT/.vvt-cache)")
    parser.add_argument("--person", type=Path, help="[fashionmirror] image of the person to dress")
    parser.add_argument(
        "--garment",
        help="garment product photo (on a plain light background); with --data also the stem of a photo in "
        "the sample's cloth/ folder. realvvt with --data: default the sample's own garment",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output video: .mp4, .gif, or a path without suffix for a folder of PNG frames; it has the input "
        "video's size (an odd size in .mp4 is encoded H.264 4:4:4, which some players cannot open). With "
        "--pairs: the output folder",
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
        "--max-frames",
        type=int,
        default=None,
        help="use only the first N frames of the pose video (fashionmirror) or person video (realvvt)",
    )
    parser.add_argument(
        "--fps", type=float, default=None, help="output frame rate (None: the pose / person video's)"
    )
    add_device_argument(parser)
    parser.add_argument(
        "--allow-truncated",
        action="store_true",
        help="use truncated videos (fewer frames than their container declares), with a warning",
    )

    inputs = parser.add_argument_group(
        "realvvt inputs",
        "Give one of: --video (preprocessed on the fly), --data [--sample] (a ViViD-layout folder, e.g. "
        "ViViD or `vvt preprocess` output), or --agnostic --agnostic-mask --densepose (prepared streams; "
        "--video then only supplies the pixels kept outside the mask).",
    )
    inputs.add_argument("--video", type=Path, help="[realvvt] person video (file or folder of frames)")
    inputs.add_argument(
        "--category",
        choices=("upper", "lower", "dresses"),
        help="[realvvt] garment category: the region --video preprocessing replaces (None: upper)",
    )
    inputs.add_argument(
        "--data", type=Path, help="[realvvt] ViViD-layout folder holding the prepared streams"
    )
    inputs.add_argument(
        "--sample",
        help="[realvvt] video of --data to use: its name (upper1), or upper_body/upper1; optional when the "
        "folder holds one video",
    )
    inputs.add_argument("--agnostic", type=Path, help="[realvvt] clothing-agnostic video")
    inputs.add_argument("--agnostic-mask", type=Path, help="[realvvt] agnostic mask video (white = replace)")
    inputs.add_argument("--densepose", type=Path, help="[realvvt] DensePose video")
    inputs.add_argument(
        "--densepose-format",
        choices=DENSEPOSE_FORMATS,
        help="[realvvt] format of the DensePose stream (None: the folder's layout.json says, else ViViD's "
        "detectron2_parts)",
    )
    inputs.add_argument(
        "--no-garment-prep",
        action="store_true",
        help="[realvvt] use the --garment photo as it is (fitted on white) instead of cutting the garment "
        "out of its background and centring it",
    )

    sampling = parser.add_argument_group("realvvt sampling")
    sampling.add_argument(
        "--size",
        help="[realvvt] working size HxW, multiples of 8 (None: the training run's, else 512x384). The "
        "video is resized to fit, aspect kept, padded; the output has the input video's size",
    )
    sampling.add_argument(
        "--clip-len",
        type=int,
        help="[realvvt] frames per model call, N (None: the training run's clip length, else the U-Net's "
        "num_frames); longer videos run Algorithm 1 (keyframes, then overlapping segments)",
    )
    sampling.add_argument(
        "--d-pose",
        type=float,
        default=None,
        help="[realvvt] keyframe threshold: RMS DensePose difference in [0, 1] from the last keyframe (None: 0.15)",
    )
    sampling.add_argument("--s-max", type=int, help="[realvvt] largest stride between keyframes (None: 16)")
    sampling.add_argument(
        "--overlap", type=int, help="[realvvt] frames shared by consecutive segments (None: clip-len // 4)"
    )
    sampling.add_argument(
        "--steps", type=int, help="[realvvt] denoising steps (None: the model's saved setting, 25 for tiny-synth)"
    )
    sampling.add_argument(
        "--guidance-min", type=float, help="[realvvt] garment guidance scale of the first frame (None: the model's)"
    )
    sampling.add_argument(
        "--guidance-max", type=float, help="[realvvt] garment guidance scale of the last frame (None: the model's)"
    )
    sampling.add_argument(
        "--guidance-mode",
        choices=("constant", "video", "clip"),
        default="constant",
        help="[realvvt] how each frame's guidance scale is set from --guidance-min and --guidance-max: constant "
        "(their mean on every frame; measured best by `vvt bench longvideo`), video (a ramp over the whole "
        "video) or clip (SVD's ramp, restarted in every model call)",
    )
    sampling.add_argument("--seed", type=int, default=0, help="[realvvt] seed of the sampling noise")
    sampling.add_argument(
        "--dtype",
        choices=("auto", "float32", "float16", "bfloat16"),
        default="auto",
        help="[realvvt] weights' dtype (auto: float16 on CUDA, float32 on CPU)",
    )


def run_fashionmirror(args: argparse.Namespace) -> int:
    import logging

    from vvt.errors import InputFileError, ShapeMismatchError
    from vvt.fashionmirror.inference import detect_keypoints, load_model, try_on
    from vvt.io import read_image, read_video, write_video
    from vvt.pose.openpose import load_keypoints

    log = logging.getLogger(__name__)
    if args.weights is None:
        raise InputFileError("--weights", "fashionmirror needs trained weights (--weights DIR); none are bundled")
    if args.person is None or args.garment is None:
        raise InputFileError(
            "--person" if args.person is None else "--garment",
            "fashionmirror needs a person image (--person IMAGE) and a garment photo (--garment IMAGE)",
        )
    if args.pose_video is None:
        raise InputFileError("--pose-video", "fashionmirror needs a pose video (--pose-video VIDEO)")
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


def _realvvt_inputs(args: argparse.Namespace) -> tuple:
    """``(VideoConditions or the --video path, garment photo path, category, prepare)`` from the arguments;
    ``prepare``: cut the
    garment out and centre it (any photo but one from the dataset's own ``cloth/``, which is used as trained
    on)."""
    from vvt.errors import InputFileError
    from vvt.realvvt.tryon import (
        conditions_from_sample,
        densepose_format_of,
        find_sample,
        read_conditions,
    )

    streams = {
        "--agnostic": args.agnostic,
        "--agnostic-mask": args.agnostic_mask,
        "--densepose": args.densepose,
    }
    given = [k for k, v in streams.items() if v is not None]
    prepare = not args.no_garment_prep
    if args.data is not None:
        if given or args.video is not None:
            raise InputFileError("--data", "give either --data or --video / --agnostic ..., not both")
        sample = find_sample(args.data, args.sample)
        cloth = sample.person.parent.parent / "cloth"
        garment = _garment_path(args.garment, cloth) if args.garment is not None else sample.garment
        if garment is None:
            raise InputFileError(
                sample.person,
                "this video has no garment of its own: pass --garment PHOTO (or a stem in cloth/)",
            )
        conditions = conditions_from_sample(sample, args.densepose_format, args.max_frames)
        prepare = prepare and garment.parent.resolve() != cloth.resolve()
        return conditions, garment, args.category or sample.category, prepare
    if args.garment is None:
        raise InputFileError("--garment", "realvvt needs a garment photo (--garment IMAGE)")
    garment = _garment_path(args.garment, None)
    category = args.category or "upper"
    if given:
        missing = [k for k, v in streams.items() if v is None]
        if missing:
            raise InputFileError(missing[0], f"prepared streams need all of {', '.join(streams)}")
        fmt = args.densepose_format or densepose_format_of(args.densepose)
        conditions = read_conditions(
            args.agnostic, args.agnostic_mask, args.densepose, fmt, args.video, args.max_frames
        )
        return conditions, garment, category, prepare
    if args.video is None:
        raise InputFileError(
            "--video", "realvvt needs a person video (--video) or prepared streams (--data, --agnostic ...)"
        )
    return args.video, garment, category, prepare  # preprocessed by vvt.api.tryon (its preprocess stage)


def _garment_path(garment: str, cloth: Path | None) -> Path:
    """``--garment`` as a file, else (with a dataset) as a photo name or stem in its ``cloth/`` folder."""
    from vvt.errors import InputFileError
    from vvt.io.image import IMAGE_SUFFIXES

    path = Path(garment)
    if path.is_file():
        return path
    if cloth is not None:
        for candidate in (cloth / garment, *(cloth / f"{garment}{s}" for s in IMAGE_SUFFIXES)):
            if candidate.is_file():
                return candidate
        raise InputFileError(path, f"garment image not found (neither a file nor a photo in {cloth})")
    raise InputFileError(path, "garment image not found")


def _sampling(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`vvt.api.tryon` given on the command line."""
    from vvt.realvvt.tryon import parse_size

    return {
        "dtype": args.dtype,
        "fps": args.fps,
        "max_frames": args.max_frames,
        "size": parse_size(args.size) if args.size is not None else None,
        "clip_len": args.clip_len,
        "steps": args.steps,
        "guidance_min": args.guidance_min,
        "guidance_max": args.guidance_max,
        "guidance_mode": args.guidance_mode,
        "seed": args.seed,
        "d_pose": args.d_pose,
        "s_max": args.s_max,
        "overlap": args.overlap,
    }


def _timing_line(timings: dict) -> str:
    from vvt.realvvt.tryon import STAGES

    return ", ".join(f"{name} {timings[name]:.1f}s" for name in STAGES if name in timings)


def run_example(args: argparse.Namespace) -> int:
    from vvt.api import run_example as example

    report = example(args.out, args.weights, args.device, seed=args.seed, steps=args.steps)
    print(f"wrote {report['video']} and {report['sheet']} (input | garment | result | ground truth)")
    print(f"SSIM in the agnostic mask vs the ground truth: {report['ssim_in_mask']:.3f} (1 = identical)")
    print(f"{report['seconds']:.1f}s ({_timing_line(report['timings'])}) with {report['weights']}")
    return 0


def run_pairs(args: argparse.Namespace) -> int:
    from vvt.batch import read_pairs, run_batch

    pairs = read_pairs(args.pairs, args.out)
    options = _sampling(args)
    options["prepare_garment"] = not args.no_garment_prep
    summary = run_batch(pairs, args.out, args.weights, cache_dir=args.cache, device=args.device, **options)
    from accelerate import PartialState

    if PartialState().is_main_process:
        print("\n".join(summary.lines()))
    return 0 if summary.ok else 1


def run_realvvt(args: argparse.Namespace) -> int:
    import logging

    from vvt.api import tryon_to_file, weights_folder

    log = logging.getLogger(__name__)
    if args.example:
        return run_example(args)
    if args.pairs is not None:
        return run_pairs(args)
    if args.weights is not None:
        weights_folder(args.weights)  # a missing or wrong folder fails before any stream is read
    options = _sampling(args)
    video, garment_path, category, prepare = _realvvt_inputs(args)
    # frames are encoded as they are generated: a long video never sits in memory whole
    result = tryon_to_file(video, garment_path, args.out, category, args.weights, device=args.device,
                           prepare_garment=prepare, **options)
    log.info("wrote %s (%d frames, %s, garment %s)", args.out, result.num_frames, category, garment_path)
    print(f"wrote {args.out} ({result.num_frames} frames; {_timing_line(result.timings)})")
    return 0


METHODS = {"fashionmirror": run_fashionmirror, "realvvt": run_realvvt}


def check_arguments(args: argparse.Namespace) -> None:
    """Options in range, a garment photo that can be tried on, an output path that destroys nothing, an
    available device: before any model loads."""
    from vvt.api import VIDEO_SUFFIXES, check_sampling, read_garment
    from vvt.checks import check_output, resolve_device
    from vvt.errors import OptionError

    check_sampling(
        fps=args.fps, max_frames=args.max_frames, steps=args.steps, clip_len=args.clip_len, d_pose=args.d_pose,
        s_max=args.s_max, overlap=args.overlap, guidance_min=args.guidance_min, guidance_max=args.guidance_max,
        guidance_mode=args.guidance_mode, seed=args.seed,
    )
    modes = [name for name, on in (("--example", args.example), ("--pairs", args.pairs is not None),
                                   ("--video/--data/--agnostic", any((args.video, args.data, args.agnostic))))
             if on]
    if len(modes) > 1:
        raise OptionError(f"give one of {' or '.join(modes)}, not both")
    if (args.example or args.pairs is not None) and args.method != "realvvt":
        raise OptionError(f"{modes[0]} runs RealVVT: leave out --method {args.method}")
    inputs = {
        f"--{name.replace('_', '-')}": getattr(args, name)
        for name in ("weights", "person", "garment", "pose_video", "pose_keypoints", "person_keypoints", "video",
                     "data", "agnostic", "agnostic_mask", "densepose", "pairs", "cache")
    }
    if args.pairs is not None:
        check_output(args.out, folder=True, inputs=inputs)
    elif args.example:
        check_output(args.out, folder=False, suffixes=VIDEO_SUFFIXES, inputs=inputs)
        check_output(args.out.with_suffix(".png"), folder=False, inputs=inputs)
    else:
        check_output(args.out, folder=args.out.suffix == "", suffixes=("", *VIDEO_SUFFIXES), inputs=inputs)
    if args.garment is not None and Path(args.garment).is_file():
        read_garment(Path(args.garment))  # readable, not blank, not a decompression bomb
    args.device = resolve_device(args.device)  # under `accelerate launch` --pairs uses each process's device


def run(args: argparse.Namespace) -> int:
    from vvt.io import allowing_truncated

    check_arguments(args)
    with allowing_truncated(args.allow_truncated):
        return METHODS[args.method](args)
