"""``vvt bench quality``: the papers' quality table for baselines and the model on a dataset split."""

from __future__ import annotations

import argparse
from pathlib import Path

from vvt.checks import add_device_argument
from vvt.commands import add_strict_argument, size_arg


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``vvt eval`` and ``vvt bench quality``."""
    from vvt.eval.protocols import PROTOCOLS

    parser.add_argument(
        "--protocol",
        choices=tuple(PROTOCOLS),
        default="vvt",
        help="named evaluation settings, printed in every report: "
        + "; ".join(f"{p.name}: {p.summary}" for p in PROTOCOLS.values())
        + ". The paper protocols fix the options below (see vvt.eval.protocols)",
    )
    parser.add_argument(
        "--weights-dir",
        type=Path,
        default=None,
        help="folder with the metric networks' weight files (default: $VVT_WEIGHTS); "
        "metrics whose file is missing are reported as absent; see vvt.eval.weights "
        "for the file names",
    )
    parser.add_argument(
        "--lpips-net",
        choices=("squeeze", "alex", "vgg"),
        default=None,
        help="LPIPS backbone: squeeze (CatV2TON's video protocol) or alex (image try-on papers); "
        "default: the protocol's (vvt: squeeze)",
    )
    parser.add_argument(
        "--flow",
        choices=("dis", "farneback"),
        default=None,
        help="optical flow of the temporal metrics (on the reference frames); warping errors compare only "
        "between runs with the same flow; default: the protocol's (dis)",
    )
    parser.add_argument(
        "--vfid-channel-order",
        choices=("bgr", "rgb"),
        default=None,
        help="VFID input channel order: bgr as CatV2TON's loader feeds it, rgb as the networks were trained; "
        "default: the protocol's (vvt: bgr)",
    )
    parser.add_argument(
        "--fid-backend",
        choices=("pytorch-fid", "clean-fid"),
        default=None,
        help="FID/KID features: pytorch-fid (bilinear resize inside the network) or clean-fid (PIL bicubic "
        "resize, NVIDIA's TorchScript Inception, as CatVTON/CatV2TON); default: the protocol's "
        "(vvt: pytorch-fid)",
    )
    parser.add_argument(
        "--kid-scale",
        type=int,
        choices=(1, 1000),
        default=None,
        help="KID is reported times this; default: the protocol's (1000)",
    )
    parser.add_argument(
        "--ssim-border",
        choices=("full", "crop5"),
        default=None,
        help="SSIM border rule: full (torchmetrics today) or crop5 (torchmetrics before its PR #2721, "
        "scikit-image); default: the protocol's (full)",
    )
    parser.add_argument("--max-frames", type=int, default=None, help="evaluate only the first N frames")
    add_device_argument(parser, "the networks")
    parser.add_argument(
        "--allow-truncated",
        action="store_true",
        help="use truncated videos (fewer frames than their container declares), with a warning",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (KID subsets, model sampling)")
    add_strict_argument(parser)
    parser.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metrics (default: every metric the inputs allow); "
        "ssim,psnr,lpips,masked_ssim,fid,kid,is,vfid_i3d,vfid_resnext,warp_error,flicker",
    )


def parse_metrics(text: str | None) -> tuple[str, ...] | None:
    return tuple(m.strip() for m in text.split(",") if m.strip()) if text else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run try-on baselines (copy the agnostic video; naive garment paste) and, with --model, RealVVT over "
        "a dataset split, then write the papers' quality table (OUT/quality.md) and every number "
        "(OUT/quality.json); predictions go to OUT/predictions/<method>/. Example: vvt bench quality "
        "--data synth/ --pairs unpaired --weights-dir ~/vvt-weights --out runs/quality"
    )
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="dataset folder (SynthVVT output or any layout vvt reads, e.g. ViViD)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="model folder of --method (a RealVVT pipeline or a FashionMirror save_pretrained folder); without "
        "it only the baselines run",
    )
    parser.add_argument(
        "--method",
        choices=("realvvt", "fashionmirror"),
        default="realvvt",
        help="what --model is: realvvt (default) or fashionmirror (person = frame 0 of the person video, driven "
        "by the skeleton stream)",
    )
    parser.add_argument("--split", choices=("test", "train"), default="test", help="dataset split")
    parser.add_argument(
        "--pairs",
        choices=("paired", "unpaired"),
        default="paired",
        help="paired: reconstruct the worn garment; unpaired: another garment "
        "(ground truth from SynthVVT's ground_truth/ where present)",
    )
    parser.add_argument("--layout", default="auto", help="dataset layout (auto-detected by default)")
    parser.add_argument(
        "--size",
        type=size_arg(2),
        default=None,
        metavar="HxW",
        help="even HxW every stream is resized to (default: the dataset's size)",
    )
    parser.add_argument("--steps", type=int, default=25, help="denoising steps of the model")
    parser.add_argument("--max-items", type=int, default=None, help="use only the first N samples")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-quality"),
        help="output folder (quality.md, quality.json, predictions/)",
    )
    add_evaluation_arguments(parser)


def evaluation_settings(args: argparse.Namespace) -> dict:
    """The options of :func:`add_evaluation_arguments` as keyword arguments of ``evaluate`` /
    ``EvalConfig.for_protocol`` (settings not given are None: the protocol's)."""
    from vvt.eval.protocols import get_protocol, with_channel_order

    return {
        "protocol": args.protocol,
        "metrics": parse_metrics(args.metrics),
        "weights_dir": args.weights_dir,
        "device": args.device,
        "lpips_net": args.lpips_net,
        "vfid": with_channel_order(get_protocol(args.protocol), args.vfid_channel_order),
        "flow": args.flow,
        "fid_backend": args.fid_backend,
        "kid_scale": args.kid_scale,
        "ssim_border": args.ssim_border,
        "seed": args.seed,
        "max_frames": args.max_frames,
    }


def eval_config(args: argparse.Namespace, size: tuple[int, int] | None = None):
    """The ``EvalConfig`` of the options (``size``: ``--size``, None for the protocol's)."""
    from vvt.eval.evaluator import EvalConfig

    settings = evaluation_settings(args)
    return EvalConfig.for_protocol(settings.pop("protocol"), size=size, **settings)


def run(args: argparse.Namespace) -> dict:
    from vvt.checks import resolve_device
    from vvt.data.layouts import strict_layouts
    from vvt.eval.runner import QualityConfig, run_quality
    from vvt.io import allowing_truncated

    args.device = resolve_device(args.device)
    config = QualityConfig(
        data=args.data,
        out=args.out,
        split=args.split,
        pairs=args.pairs,
        layout=args.layout,
        model=args.model,
        steps=args.steps,
        eval=eval_config(args, args.size),
        max_items=args.max_items,
        method=args.method,
    )
    with allowing_truncated(args.allow_truncated), strict_layouts(args.strict):
        result = run_quality(config)
    print((args.out / "quality.md").read_text())
    # `vvt bench` writes the returned dict (plus the environment) to args.out: point it at the JSON report
    args.out = args.out / "quality.json"
    return result
