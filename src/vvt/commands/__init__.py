"""Sub-commands of the ``vvt`` CLI: each module has ``add_arguments(parser)`` and ``run(args)``.

Keep module-level imports light (argparse, pathlib); import torch and friends inside ``run``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def size_arg(multiple_of: int = 1) -> Callable[[str], tuple[int, int]]:
    """An argparse ``type`` for ``HxW`` sizes (``"256x192"`` -> ``(256, 192)``): positive, multiples of
    ``multiple_of``."""

    def parse(text: str) -> tuple[int, int]:
        try:
            h, w = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"size {text!r} is not HEIGHTxWIDTH, e.g. 256x192") from None
        if h <= 0 or w <= 0 or h % multiple_of or w % multiple_of:
            rule = "positive" if multiple_of == 1 else f"positive multiples of {multiple_of}"
            raise argparse.ArgumentTypeError(f"size {text!r}: height and width must be {rule}")
        return h, w

    return parse


def add_strict_argument(parser: argparse.ArgumentParser) -> None:
    """``--strict``, for every command that reads a dataset root (:func:`vvt.data.layouts.strict_layouts`)."""
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail when a dataset sample cannot be read (a missing or unreadable person video or garment, a "
        "malformed pair line, streams that disagree), listing every one; by default such samples are skipped "
        "with a warning giving their count and the first 10 with the reason",
    )
