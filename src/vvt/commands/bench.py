"""``vvt bench TARGET``: speed and memory benchmarks that write JSON.

Each target is a module with ``add_arguments(parser)`` and ``run(args) -> dict``; the result is
written to ``--out`` (atomically) and printed. Ratios are always against a baseline measured in the
same run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from pathlib import Path

# target -> (module, one-line description)
BENCHES: dict[str, tuple[str, str]] = {
    "synth": ("vvt.data.synth.bench", "SynthVVT rendering frames/s per stream on one thread"),
    "preprocess": ("vvt.preprocess.bench", "frames/s of each preprocessing stage on CPU"),
    "fashionmirror": ("vvt.fashionmirror.bench", "FashionMirror CMN time vs the human-parsing step (Sec. 4.3)"),
    "realvvt": ("vvt.realvvt.bench", "RealVVT denoising step (C&T + pose guider) vs the plain SVD U-Net"),
    "train": ("vvt.train.bench", "a RealVVT training step (fwd, bwd, optimiser) at a preset width; GPU memory plan"),
    "quality": ("vvt.eval.bench", "the papers' quality table: baselines and RealVVT on a dataset split"),
    "layouts": ("vvt.data.bench", "seconds to index a VITON-HD-sized tree (11,647 pairs) with read_layout"),
    "longvideo": ("vvt.realvvt.long_video_bench", "vvt tryon peak RSS on 64-1,024 frames; Algorithm 1 vs chunking"),
    "table": ("vvt.eval.table", "one published table (e.g. RealVVT Table 1) scored with its protocol, beside its rows"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, (module, help_text) in BENCHES.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.set_defaults(_bench_module=module)
        importlib.import_module(module).add_arguments(p)
        if not any(a.dest == "out" for a in p._actions):
            p.add_argument("--out", type=Path, default=Path(f"bench-{name}.json"), help="JSON file to write")
            p.set_defaults(_out_is_json=True)


def environment() -> dict:
    """Where a benchmark ran: recorded in every JSON so numbers are never compared across machines blindly."""
    import torch

    env = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def run(args: argparse.Namespace) -> int:
    from vvt.checks import check_output
    from vvt.io import atomic_write_text

    if getattr(args, "_out_is_json", False):  # checked before the benchmark (quality and table write a folder)
        check_output(args.out, folder=False, suffixes=(".json",))
    result = importlib.import_module(args._bench_module).run(args)
    result = {"benchmark": args.target, "environment": environment(), **result}
    text = json.dumps(result, indent=2, sort_keys=False)
    atomic_write_text(args.out, text + "\n")
    print(text)
    print(f"wrote {args.out}")
    return 0
