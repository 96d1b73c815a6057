"""``vvt demo``: the try-on web demo (Gradio, :mod:`vvt.demo`) on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from vvt.checks import add_device_argument


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value in ("true", "yes", "1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve the try-on web demo: upload a person video (or use the bundled example) and a garment photo, "
        "choose the category, steps and seed, watch the progress, play and download the result. Example: "
        "vvt demo, then open http://127.0.0.1:7860 in a browser. Nothing is sent outside this machine "
        "(analytics off, no public link unless --share true)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on")
    parser.add_argument(
        "--share", type=_bool, default=False, metavar="true|false",
        help="Gradio's public share link (a tunnel through Gradio's servers)",
    )
    parser.add_argument(
        "--weights", type=Path, default=None,
        help="RealVVT folder (save_pretrained layout or a `vvt train realvvt` run; None: the bundled tiny-synth)",
    )
    add_device_argument(parser, "the model")


def run(args: argparse.Namespace) -> int:
    from vvt.api import weights_folder
    from vvt.checks import Bound, check_numbers, resolve_device

    check_numbers({"--port": (args.port, Bound(ge=0, le=65535))})
    device = resolve_device(args.device)
    weights_folder(args.weights)  # a missing or wrong folder fails before the server starts
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        from vvt.errors import VVTError

        raise VVTError('the web demo needs Gradio: pip install -c constraints.txt -e ".[demo]"')
    from vvt.demo import launch

    launch(args.host, args.port, args.share, args.weights, device)
    return 0
