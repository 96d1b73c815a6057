"""The ``vvt`` command line.

Each sub-command lives in its own module (``vvt.commands.<name>``) exposing ``add_arguments(parser)`` and
``run(args)``. Those modules import heavy libraries (torch, diffusers) inside ``run`` so that
``vvt --help`` answers at once. User errors (:class:`vvt.errors.VVTError`) print one clear line and
exit with status 2; Ctrl-C exits with status 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from vvt import __version__
from vvt.errors import VVTError

# name -> (module, one-line description shown by `vvt --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("vvt.commands.synth", "generate SynthVVT: procedural try-on videos with exact ground truth"),
    "preprocess": ("vvt.commands.preprocess", "person videos/photos, garment photos -> ViViD layout (offline)"),
    "train": ("vvt.commands.train", "train with accelerate (vae, realvvt, fashionmirror) and report on a tiny run"),
    "tryon": ("vvt.commands.tryon", "try on a garment: RealVVT (video), FashionMirror (image + pose video)"),
    "demo": ("vvt.commands.demo", "the try-on web demo (Gradio) on this machine: upload a video and a garment"),
    "eval": ("vvt.commands.eval", "score predictions vs ground truth: SSIM, LPIPS, FID/KID, VFID, temporal"),
    "bench": ("vvt.commands.bench", "benchmarks that write JSON: synth, preprocess, realvvt, fashionmirror, quality"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vvt",
        description="vvt: video virtual try-on. Run `vvt COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"vvt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    setup_logging(args.verbose, args.quiet)
    try:
        result = importlib.import_module(args._module).run(args)
    except VVTError as exc:
        print(f"vvt {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vvt {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
