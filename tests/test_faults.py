"""Fault injection through the real CLI (``python -m vvt.cli`` in subprocesses, every one bounded in time).

:data:`CASES` is the table of bad inputs and options of issue 18, as a careless or hostile user would give them.
Each must end with exit status 2, one ``vvt CMD: error: ...`` line naming the file (or option) and the
problem, no traceback, and no new or changed file anywhere in the working tree (the command's output never
appears when the command fails before its work). The table grows with every bug found.

Then the cases whose right answer is to go on (a corrupt latest checkpoint: fall back and say so; an odd
input size; an all-white mask: warn), and the crash-safety tests: SIGINT and SIGKILL at seeded points of
``synth``, ``preprocess``, ``tryon`` and ``train`` never leave a partial output at the target path, and
``train --resume latest`` afterwards ends with the same weights, bit for bit, as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fault_support import (
    bomb_png,
    changes,
    cli_command,
    cli_env,
    example_analysis,
    faststart_mp4,
    run_cli,
    snapshot,
    truncate_after_packets,
)
from vvt.io import is_vvt_output, read_video, video_info, write_image, write_video
from vvt.io.atomic import link_tree
from vvt.train import checkpoint as ckpt

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning"),
]

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
HAS_CUDA = torch.cuda.is_available()

#: the tiny RealVVT run of these tests: SynthVVT 64x48, 4-frame clips, 3 steps, a checkpoint after each
TRAIN = [
    "train", "realvvt", "--config", "tiny-synth", "train.max_steps=3", "train.checkpoint_every=1",
    "train.keep_last=0", "train.sample_every=100", "train.num_workers=0", "train.log_every=1", "data.frames=4",
    "data.sources=[{root: S}]", "model.vae_dir=null", "train.init_from=null", "sample.num_inference_steps=1",
    # the tiny preset whatever tiny-synth.yaml trains (its preset and agnostic-loss level change with the bundled
    # model); agn_level null: the preset's own
    "model.preset=tiny", "model.agn_level=null",
]
TRYON = ["tryon", "--method", "realvvt", "--weights", "W", "--steps", "1", "--size", "64x48", "--clip-len", "4"]
FM = ["tryon", "--method", "fashionmirror", "--weights", "FM", "--person", "person.png", "--garment",
      "garment.jpg", "--pose-video", "clip.mp4"]
PREPARED = ["--agnostic", "S/upper_body/agnostic/s00001.mp4", "--densepose", "S/upper_body/densepose/s00001.mp4",
            "--densepose-format", "vvt_iuv", "--garment", "garment.jpg"]


@dataclass
class Case:
    """``argv`` (run in the world folder) must fail with one error line holding every string of ``names``."""

    id: str
    argv: list[str]
    names: list[str]
    skip: str = ""
    setup: str = ""  # name of a function of this module preparing a run folder (checkpoint cases)
    extra: dict = field(default_factory=dict)


def _cases() -> list[Case]:
    c = [
        # 1. an output that would destroy an input or a folder vvt did not write
        Case("eval-out-is-gt-folder", ["eval", "--pred", "P", "--gt", "G", "--out", "G", "--metrics", "ssim"],
             ["G: is the input --gt"]),
        Case("eval-out-is-pred-folder", ["eval", "--pred", "P", "--gt", "G", "--out", "P"], ["P: is the input --pred"]),
        Case("tryon-out-is-input-frame-folder", [*TRYON, "--video", "frames", "--garment", "garment.jpg", "--out",
                                                 "frames"], ["frames: is the input --video"]),
        Case("tryon-out-is-input-video", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--out",
                                          "clip.mp4"], ["clip.mp4: is the input --video"]),
        Case("tryon-out-is-input-garment", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--out",
                                            "garment.jpg"], ["garment.jpg: is the input --garment"]),
        Case("tryon-out-holds-the-input", [*TRYON, "--video", "S/upper_body/videos/s00001.mp4", "--garment",
                                           "garment.jpg", "--out", "S/upper_body/videos"],
             ["S/upper_body/videos: holds the input --video"]),
        Case("tryon-out-is-the-dataset", [*TRYON, "--data", "S", "--sample", "s00001", "--out", "S"],
             ["S: is the input --data"]),
        Case("tryon-out-is-the-weights", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--out", "W"],
             ["W: is the input --weights"]),
        Case("tryon-out-is-a-user-folder", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--out",
                                            "mine"], ["mine: is a folder that vvt did not write"]),
        Case("fm-out-is-the-pose-video", [*FM, "--out", "clip.mp4"], ["clip.mp4: is the input --pose-video"]),
        Case("synth-out-is-a-user-folder", ["synth", "--out", "mine", "--videos", "1", "--frames", "2"],
             ["mine: is a folder that vvt did not write"]),
        Case("preprocess-out-is-the-input-folder", ["preprocess", "--video", "clips", "--out", "clips"],
             ["clips: is the input --video"]),
        Case("preprocess-out-is-a-user-folder", ["preprocess", "--video", "clip.mp4", "--out", "mine"],
             ["mine: is a folder that vvt did not write"]),
        Case("eval-out-is-a-folder", ["eval", "--pred", "P", "--gt", "G", "--out", "dir.json"],
             ["dir.json: is a folder"]),
        Case("train-output-dir-is-the-data", [*TRAIN, "train.output_dir=S"], ["S: is the input data.sources[0].root"]),
        Case("train-output-dir-is-a-user-folder", [*TRAIN, "train.output_dir=mine"], ["mine: is a folder that is "
                                                                                       "not a vvt run"]),
        # 2. an output that cannot be written, impossible options: before any model loads
        Case("tryon-out-parent-is-a-file", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--out",
                                            "afile/out.mp4"], ["afile/out.mp4: its parent afile is a file"]),
        Case("tryon-out-bad-suffix", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--out", "o.txt"],
             ["o.txt: unsupported output type '.txt'"]),
        Case("tryon-fps-negative", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--fps", "-5",
                                    "--out", "o.mp4"], ["--fps must be > 0", "got -5.0"]),
        Case("tryon-every-bad-number", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--fps", "nan",
                                        "--max-frames", "0", "--steps", "0", "--clip-len", "0", "--d-pose", "2",
                                        "--s-max", "0", "--overlap", "-1", "--guidance-max", "-1", "--out", "o.mp4"],
             ["--fps must be > 0", "--max-frames must be >= 1", "--steps must be >= 1", "--clip-len must be >= 1",
              "--d-pose must be >= 0 and <= 1", "--s-max must be >= 1", "--overlap must be >= 0",
              "--guidance-max must be >= 0"]),
        Case("fm-fps-zero", [*FM, "--fps", "0", "--out", "o.mp4"], ["--fps must be > 0 and <= 1000, got 0.0"]),
        Case("synth-out-parent-is-a-file", ["synth", "--out", "afile/ds"], ["afile/ds: its parent afile is a file"]),
        Case("synth-bad-numbers", ["synth", "--out", "new", "--videos", "0", "--frames", "-1", "--fps", "nan",
                                   "--speed", "-1", "--test-fraction", "2"],
             ["--videos must be >= 1", "--frames must be >= 1", "--fps must be > 0", "--speed must be >= 0",
              "--test-fraction must be >= 0 and <= 1"]),
        Case("preprocess-out-parent-is-a-file", ["preprocess", "--video", "clip.mp4", "--out", "afile/pp"],
             ["afile/pp: its parent afile is a file"]),
        Case("preprocess-bad-numbers", ["preprocess", "--video", "clip.mp4", "--out", "pp", "--min-cutoff", "0",
                                        "--beta", "-1", "--mask-sigma", "-2"],
             ["smoothing: need min_cutoff > 0 Hz, beta >= 0 and mask_sigma >= 0 frames, got 0.0, -1.0, -2.0"]),
        Case("eval-out-parent-is-a-file", ["eval", "--pred", "P", "--gt", "G", "--out", "afile/r.json"],
             ["afile/r.json: its parent afile is a file"]),
        Case("eval-out-bad-suffix", ["eval", "--pred", "P", "--gt", "G", "--out", "r.txt"], ["r.txt: unsupported"]),
        Case("eval-max-frames-zero", ["eval", "--pred", "P", "--gt", "G", "--max-frames", "0"],
             ["--max-frames must be >= 1, got 0"]),
        Case("tryon-device-unknown", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--device", "gpu",
                                      "--out", "o.mp4"], ["--device 'gpu': use auto, cpu, cuda, cuda:N or mps"]),
        Case("tryon-device-cuda-without-cuda", [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg",
                                                "--device", "cuda", "--out", "o.mp4"],
             ["--device cuda: CUDA is not available"], skip="cuda" if HAS_CUDA else ""),
        Case("eval-device-cuda-without-cuda", ["eval", "--pred", "P", "--gt", "G", "--device", "cuda"],
             ["--device cuda: CUDA is not available"], skip="cuda" if HAS_CUDA else ""),
        # 3. checkpoints
        Case("resume-truncated-model", [*TRAIN, "train.output_dir=R", "--resume", "R/checkpoints/step-0000003"],
             ["step-0000003/model.safetensors", "manifest.json says", "truncated"], setup="truncate:model.safetensors"),
        Case("resume-truncated-optimizer", [*TRAIN, "train.output_dir=R", "--resume", "R/checkpoints/step-0000003"],
             ["step-0000003/optimizer.bin", "truncated"], setup="truncate:optimizer.bin"),
        Case("resume-truncated-trainer-state", [*TRAIN, "train.output_dir=R", "--resume",
                                                "R/checkpoints/step-0000003"],
             ["step-0000003/trainer_state.json", "truncated"], setup="truncate:trainer_state.json"),
        Case("resume-truncated-ema", [*TRAIN, "train.output_dir=R", "--resume", "R/checkpoints/step-0000003"],
             ["step-0000003/ema.safetensors", "truncated"], setup="truncate:ema.safetensors"),
        Case("resume-corrupt-rng", [*TRAIN, "train.output_dir=R", "--resume", "R/checkpoints/step-0000003"],
             ["step-0000003/random_states_0.pkl", "SHA-256 mismatch", "--resume-inexact"],
             setup="flip:random_states_0.pkl"),
        Case("resume-missing-rng-no-manifest", [*TRAIN, "train.output_dir=R", "--resume", "latest"],
             ["step-0000003/random_states_0.pkl: missing", "--resume-inexact"], setup="legacy-no-rng"),
        Case("resume-legacy-truncated-model", [*TRAIN, "train.output_dir=R", "--resume", "R/checkpoints/step-0000003"],
             ["step-0000003/model.safetensors", "unreadable"], setup="legacy-truncate:model.safetensors"),
        Case("resume-other-trainable-list", [*TRAIN, "train.output_dir=R", "trainable=[unet,pose_guider]",
                                             "--resume", "latest"],
             ["model.safetensors", "the checkpoint trains [pose_guider, reference_unet, unet] but this run trains "
              "[pose_guider, unet]"], setup="copy"),
        # 4. truncated videos: an error naming both counts, before any model loads
        Case("tryon-truncated-video", [*TRYON, "--video", "truncated.mp4", "--garment", "garment.jpg", "--out",
                                       "o.mp4"], ["truncated.mp4: truncated video", "declares 24 frames",
                                                  "only 11", "--allow-truncated"]),
        Case("fm-truncated-pose-video", [*FM[:-1], "truncated.mp4", "--out", "o.mp4"],
             ["truncated.mp4: truncated video", "declares 24 frames"]),
        Case("preprocess-truncated-video", ["preprocess", "--video", "truncated.mp4", "--out", "pp"],
             ["truncated.mp4: truncated video", "declares 24 frames"]),
        Case("eval-truncated-prediction", ["eval", "--pred", "Ptrunc", "--gt", "Gtrunc", "--metrics", "ssim"],
             ["truncated.mp4: truncated video", "declares 24 frames"]),
        # 5. config values: YAML 1.2 numbers, ranges naming the key, nothing written first
        Case("train-negative-learning-rate", [*TRAIN, "train.output_dir=new-run", "train.learning_rate=-1e-3"],
             ["train.learning_rate must be > 0, got -0.001"]),
        Case("train-size-not-multiple-of-8", [*TRAIN, "train.output_dir=new-run", "data.size=[60,44]"],
             ["data.size[0] must be > 0 and a multiple of 8, got 60"]),
        Case("train-bad-yaml-override", [*TRAIN, "train.output_dir=new-run", "train.max_steps=[3"],
             ["override 'train.max_steps=[3': the value is not valid YAML"]),
        # 6. the smaller ones
        Case("tryon-bomb-garment", [*TRYON, "--data", "S", "--sample", "s00001", "--garment", "bomb.png", "--out",
                                    "o.mp4"], ["bomb.png: image too large to decode safely"]),
        Case("fm-bomb-person", [*FM[:6], "bomb.png", *FM[7:], "--out", "o.mp4"],
             ["bomb.png: image too large to decode safely"]),
        Case("fm-truncated-weights", [*FM[:4], "FMcut", *FM[5:], "--out", "o.mp4"],
             ["FMcut/diffusion_pytorch_model.safetensors: cannot load the FashionMirror weights"]),
        Case("tryon-black-mask", [*TRYON, *PREPARED, "--agnostic-mask", "black", "--out", "o.mp4"],
             ["black: the agnostic mask is black in every frame"]),
        # 7. found while finishing issue 18: bench checked --out only after the benchmark (FileExistsError
        # traceback for a parent that is a file); a FIFO with the right suffix was replaced by a file
        Case("bench-out-parent-is-a-file", ["bench", "synth", "--out", "afile/b.json"],
             ["afile/b.json: its parent afile is a file"]),
        Case("bench-out-is-a-folder", ["bench", "synth", "--out", "dir.json"], ["dir.json: is a folder"]),
        Case("bench-out-bad-suffix", ["bench", "synth", "--out", "b.txt"], ["b.txt: unsupported output type"]),
        Case("ablation-out-is-a-user-folder", ["train", "ablation", "--config", "tiny-synth", "--out", "mine",
                                                "--steps", "1"], ["mine: is a folder that vvt did not write"]),
        Case("synth-out-is-a-link-to-a-folder", ["synth", "--out", "link", "--videos", "1", "--frames", "2"],
             ["link: is a symbolic link"]),
        Case("eval-out-is-a-fifo", ["eval", "--pred", "P", "--gt", "G", "--out", "special/pipe.json"],
             ["special/pipe.json: is not a regular file"]),
    ]
    return c


CASES = _cases()


# ------------------------------------------------------------------------------------------------ the world
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A working tree of small inputs: SynthVVT S/, tiny RealVVT W/ and FashionMirror FM/ weights, a person
    video and its frame folder, predictions P/ and ground truth G/, damaged files, a user's own folder."""
    from test_fashionmirror_model import TINY
    from vvt.data.synth import SynthConfig, generate
    from vvt.fashionmirror.model import FashionMirror
    from vvt.realvvt.config import RealVVTConfig
    from vvt.realvvt.model import RealVVT

    root = tmp_path_factory.mktemp("world")
    generate(root / "S", SynthConfig(videos=2, frames=4, height=64, width=48, categories=("upper",)))
    RealVVT.from_config(RealVVTConfig(preset="tiny", seed=0)).save_pretrained(root / "W")
    torch.manual_seed(0)
    FashionMirror(**TINY).eval().save_pretrained(root / "FM")
    shutil.copytree(root / "FM", root / "FMcut")
    weights = root / "FMcut" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])

    person = root / "S" / "upper_body" / "videos" / "s00001.mp4"
    shutil.copy(person, root / "clip.mp4")
    frames = read_video(person)[0]
    (root / "frames").mkdir()  # a user's frame folder (not written by vvt)
    for i, f in enumerate(frames):
        write_image(root / "frames" / f"{i:03d}.png", f)
    shutil.copy(root / "S" / "upper_body" / "cloth" / "g00001.jpg", root / "garment.jpg")
    write_image(root / "person.png", frames[0])
    (root / "clips").mkdir()
    shutil.copy(person, root / "clips" / "a.mp4")
    for d in ("P", "G"):
        (root / d).mkdir()
        shutil.copy(person, root / d / "s00001.mp4")
    (root / "dir.json").mkdir()
    (root / "mine").mkdir()
    (root / "mine" / "notes.txt").write_text("my own file")
    (root / "afile").write_text("a file, not a folder")
    (root / "special").mkdir()
    os.mkfifo(root / "special" / "pipe.json")
    (root / "link").symlink_to("mine")
    rng = np.random.default_rng(0)
    clip = faststart_mp4(root / "full24.mp4", rng.integers(0, 256, (24, 64, 48, 3), dtype=np.uint8))
    truncate_after_packets(clip, root / "truncated.mp4", 11)
    clip.unlink()
    for d in ("Ptrunc", "Gtrunc"):
        (root / d).mkdir()
    shutil.copy(root / "truncated.mp4", root / "Ptrunc" / "truncated.mp4")
    write_video(root / "Gtrunc" / "truncated.mp4", rng.integers(0, 256, (24, 64, 48, 3), dtype=np.uint8))
    bomb_png(root / "bomb.png", 100_000, 100_000)
    write_video(root / "black", np.zeros((4, 64, 48, 3), np.uint8))
    (root / "black" / ".vvt-output").unlink()  # as if made by another tool
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, world):
    """The tiny RealVVT run of :data:`TRAIN`, trained in this process (the reference of the crash tests)."""
    from vvt.config import load_config
    from vvt.train.realvvt import RealVVTRunConfig, RealVVTTask
    from vvt.train.trainer import Trainer

    out = tmp_path_factory.mktemp("reference") / "run"
    overrides = [a for a in TRAIN[4:] if "=" in a]
    overrides = [o.replace("root: S", f"root: {world / 'S'}") for o in overrides] + [f"train.output_dir={out}"]
    config = load_config(RealVVTRunConfig, "tiny-synth", overrides)
    Trainer(RealVVTTask(config), config.train, run_config=config, name="realvvt").train()
    assert [s for s, _ in ckpt.list_checkpoints(out)] == [1, 2, 3]
    return out


def _prepare_run(kind: str, run: Path, target: Path) -> None:
    """A copy of the reference run (hard links: the reference is never modified) with one file damaged."""
    link_tree(run, target)
    last = ckpt.checkpoint_dir(target, 3)

    def damage(path: Path, how: str) -> None:
        data = path.read_bytes()
        path.unlink()  # a new file: the hard-linked original stays intact
        if how == "truncate":
            path.write_bytes(data[: len(data) // 2])
        else:
            path.write_bytes(data[:-64] + bytes(b ^ 0x5A for b in data[-64:]))

    if kind == "copy":
        return
    if kind == "legacy-no-rng":
        for _, folder in ckpt.list_checkpoints(target):
            (folder / ckpt.MANIFEST_FILE).unlink()
            (folder / "random_states_0.pkl").unlink()
        return
    how, name = kind.split(":")
    if how.startswith("legacy-"):
        (last / ckpt.MANIFEST_FILE).unlink()
        how = how.removeprefix("legacy-")
    damage(last / name, how)


def _check_failure(case: Case, proc: subprocess.CompletedProcess) -> None:
    command = case.argv[0]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    errors = [line for line in lines if line.startswith(f"vvt {command}: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr[-3000:]
    message = errors[0]
    assert len(message) < 500, message
    for name in case.names:
        assert name in message, (name, message)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_is_one_clear_error_and_changes_nothing(case, world, run_dir, tmp_path):
    if case.skip == "cuda":
        pytest.skip("this machine has CUDA")
    cwd = link_tree(world, tmp_path / "cwd")  # each case in its own copy (hard links: cheap, and safe because
    if case.setup:  # vvt replaces files, it never writes into one)
        _prepare_run(case.setup, run_dir, cwd / "R")
    before = snapshot(cwd)
    proc = run_cli(*case.argv, cwd=cwd, timeout=600)
    changed = changes(before, snapshot(cwd))
    if os.environ.get("VVT_FAULTS_TALLY"):  # one JSON line per case, to count outcomes (e.g. of an older checkout)
        with open(os.environ["VVT_FAULTS_TALLY"], "a") as f:
            f.write(json.dumps({"id": case.id, "rc": proc.returncode, "traceback": "Traceback" in proc.stderr,
                                "stderr": proc.stderr[-600:], "changed": changed}) + "\n")
    _check_failure(case, proc)
    assert changed == []


def test_read_only_output_folder(world, tmp_path):
    if IS_ROOT:
        pytest.skip("root may write into read-only folders; the 'parent is a file' cases cover the check")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        for argv in (["synth", "--out", str(ro / "ds")], ["eval", "--pred", "P", "--gt", "G", "--out",
                                                           str(ro / "r.json")],
                     [*TRYON, "--video", "clip.mp4", "--garment", "garment.jpg", "--out", str(ro / "o.mp4")],
                     ["preprocess", "--video", "clip.mp4", "--out", str(ro / "pp")]):
            case = Case(argv[0], argv, [f"cannot write in {ro}"])
            _check_failure(case, run_cli(*argv, cwd=world))
    finally:
        ro.chmod(0o755)


# --------------------------------------------------------------------- faults whose right answer is to go on
def _weights_equal(a: Path, b: Path) -> None:
    """The raw and EMA weights of two checkpoints are equal bit for bit."""
    for name in (ckpt.MODEL_FILE, ckpt.EMA_FILE):
        x, y = load_file(str(a / name)), load_file(str(b / name))
        assert x.keys() == y.keys()
        for k in x:
            assert torch.equal(x[k], y[k]), (name, k)


def test_resume_latest_skips_a_corrupt_checkpoint_says_so_and_continues_exactly(world, run_dir, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "S").symlink_to(world / "S")
    _prepare_run("truncate:model.safetensors", run_dir, cwd / "R")
    proc = run_cli(*TRAIN, "train.output_dir=R", "--resume", "latest", cwd=cwd, timeout=600)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "skipping corrupt checkpoint step-0000003: R/checkpoints/step-0000003/model.safetensors" in proc.stderr
    assert "falling back to step-0000002, the newest intact checkpoint" in proc.stderr
    _weights_equal(ckpt.checkpoint_dir(cwd / "R", 3), ckpt.checkpoint_dir(run_dir, 3))
    assert ckpt.verify_checkpoint(ckpt.checkpoint_dir(cwd / "R", 3)).intact


def test_resume_inexact_accepts_broken_rng_states_with_a_warning(run_dir, tmp_path, caplog):
    _prepare_run("flip:random_states_0.pkl", run_dir, tmp_path / "R")
    step3 = ckpt.checkpoint_dir(tmp_path / "R", 3)
    with pytest.raises(ckpt.InputFileError, match="random_states_0.pkl: corrupt checkpoint.*--resume-inexact"):
        ckpt.resolve_resume(tmp_path / "R", step3)
    # latest: the newest checkpoint whose RNG states are intact
    assert ckpt.resolve_resume(tmp_path / "R", "latest") == ckpt.checkpoint_dir(tmp_path / "R", 2)
    with caplog.at_level("WARNING"):
        assert ckpt.resolve_resume(tmp_path / "R", step3, inexact=True) == step3
    assert "will not match an uninterrupted one exactly" in caplog.text
    assert ckpt.resolve_resume(tmp_path / "R", "latest", inexact=True) == step3


def test_odd_input_size_comes_back_at_its_size_and_a_white_mask_warns(world, tmp_path):
    """63x47 prepared streams (lossless PNG folders) with an all-white mask: the try-on is 63x47 (H.264
    4:4:4), and the mask is accepted with a warning."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "W").symlink_to(world / "W")
    shutil.copy(world / "garment.jpg", cwd / "garment.jpg")
    base = world / "S" / "upper_body"
    size = (47, 63)
    for name, interpolation in (("videos", cv2.INTER_AREA), ("agnostic", cv2.INTER_AREA),
                                ("densepose", cv2.INTER_NEAREST)):
        frames = read_video(base / name / "s00001.mp4")[0]
        write_video(cwd / name, np.stack([cv2.resize(f, size, interpolation=interpolation) for f in frames]))
    write_video(cwd / "white", np.full((4, 63, 47, 3), 255, np.uint8))
    before = snapshot(cwd)
    proc = run_cli(*TRYON, "--video", "videos", "--agnostic", "agnostic", "--agnostic-mask", "white",
                   "--densepose", "densepose", "--densepose-format", "vvt_iuv", "--garment", "garment.jpg",
                   "--out", "out.mp4", cwd=cwd, timeout=600)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "white: the agnostic mask is white in every frame" in proc.stderr
    out, _ = read_video(cwd / "out.mp4")
    assert out.shape == (4, 63, 47, 3)
    assert changes(before, snapshot(cwd)) == ["out.mp4"]


def test_max_frames_tracks_through_later_frames_when_the_first_show_nobody(tmp_path, monkeypatch):
    """``--max-frames 4`` on the real ViViD clip found no person (mediapipe misses the person in each of its
    first 8 frames and finds them only by tracking from later ones), while all 48 frames worked. A request for
    the first frames is analysed with at least the first window (:func:`vvt.preprocess.pipeline.analysed_frames`)
    and cut back; where nobody is found there either, twice as many frames are analysed, up to the whole
    video. Here stand-in analyses find a person only in calls of 16 frames or more, or only from frame 12 on."""
    from vvt.preprocess.keypoints import NoPersonError
    from vvt.realvvt.tryon import prepare_video

    frames = np.arange(24, dtype=np.uint8)[:, None, None, None].repeat(8, 1).repeat(6, 2).repeat(3, 3)
    write_video(tmp_path / "clip", frames)
    seen = []
    monkeypatch.setattr("vvt.preprocess.pipeline.analyse_working", example_analysis(seen, min_frames=16))
    (tmp_path / "a").mkdir()
    conditions = prepare_video(tmp_path / "clip", tmp_path / "a", "upper", 4)
    assert [n for _, n in seen] == [24]  # the first window (here the whole clip) in one call, cut to 4
    agnostic, mask, _ = conditions.load(np.arange(conditions.num_frames))
    assert agnostic.shape == (4, 8, 6, 3) and mask.shape == (4, 8, 6)
    np.testing.assert_array_equal(conditions.person[np.arange(4)][:, 0, 0, 0], [0, 1, 2, 3])
    (tmp_path / "b").mkdir()
    assert prepare_video(tmp_path / "clip", tmp_path / "b", "upper", None).num_frames == 24

    # windows of 8 frames, 2 of context: the first 2 frames are analysed with frames 0-7, where nobody is;
    # then with the first 16 (+ 2 of context), whose window [8, 16) finds the person in frames 12-15: frames 0-1
    # take that window's first frame, as frames before the first window with a person do
    seen.clear()
    monkeypatch.setattr("vvt.preprocess.pipeline.analyse_working",
                        example_analysis(seen, echo=True, nobody=frozenset(range(12))))
    (tmp_path / "w").mkdir()
    conditions = prepare_video(tmp_path / "clip", tmp_path / "w", "upper", 2, window=8, overlap=2)
    assert conditions.num_frames == 2 and seen[0][1] == 8 and len(seen) > 1
    np.testing.assert_array_equal(conditions.load(np.arange(2))[2][:, 0, 0, 0], [8, 8])

    seen.clear()
    monkeypatch.setattr("vvt.preprocess.pipeline.analyse_working", example_analysis(seen, min_frames=10**6))
    (tmp_path / "c").mkdir()
    with pytest.raises(NoPersonError, match="no person found"):  # nobody in the whole video: the error stays
        prepare_video(tmp_path / "clip", tmp_path / "c", "upper", 4)
    assert [n for _, n in seen] == [24]  # the whole video was seen at once: no retry


# ------------------------------------------------------------------------------------------- crash safety
def _staged_files(parent: Path, name: str) -> int:
    """Files in the hidden staging siblings ``.NAME.*`` of an output being written."""
    return sum(1 for d in parent.glob(f".{name}.*") for p in ([d] if d.is_file() else d.rglob("*")) if p.is_file())


def _interrupt(argv: list[str], cwd: Path, sig: int, when, timeout: float = 600, log: str = "") -> int:
    """Run the CLI, send ``sig`` as soon as ``when(pid)`` is true (or, with ``log``, once that text is in its
    INFO log), wait (bounded); the exit status."""
    errors = cwd / f".stderr-{sig}"
    with open(errors, "w") as err:
        proc = subprocess.Popen(cli_command(*argv, quiet=not log), cwd=cwd, env=cli_env(),
                                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if (log in errors.read_text()) if log else when(proc.pid):
                    proc.send_signal(sig)
                    break
                time.sleep(0.02)
            return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            errors.unlink()


POINTS = random.Random(18)  # the seeded points of every crash test below


@pytest.mark.slow
def test_interrupted_synth_leaves_no_partial_dataset(tmp_path):
    from vvt.data.synth import SynthConfig, generate

    argv = ["synth", "--out", "T", "--videos", "2", "--frames", "6", "--size", "64x48", "--categories",
            "upper,lower"]
    reference = snapshot_digests(generate(tmp_path / "ref", SynthConfig(videos=2, frames=6, height=64, width=48,
                                                                       categories=("upper", "lower"))))
    total = len([k for k, v in reference.items() if v != "dir"])
    codes = []
    for sig in (signal.SIGINT, signal.SIGKILL, signal.SIGKILL):
        cwd = tmp_path / f"run-{sig}-{POINTS.random():.3f}"
        cwd.mkdir()
        k = POINTS.randint(1, total // 2)  # the first half: the rename at the end is never reached first
        rc = _interrupt(argv, cwd, sig, lambda pid, k=k, cwd=cwd: _staged_files(cwd, "T") >= k)
        codes.append((k, rc))
        assert rc in (0, 130, -signal.SIGKILL), rc
        target = cwd / "T"
        assert not target.exists() or snapshot_digests(target) == reference, f"partial dataset after {sig} at {k}"
        if sig == signal.SIGINT:
            assert sorted(p.name for p in cwd.iterdir()) == ([] if rc else ["T"])  # no temporaries either
    assert all(rc for _, rc in codes), f"every point interrupts the work: {codes}"


def snapshot_digests(root: Path) -> dict[str, str]:
    from fault_support import digest

    return {p.relative_to(root).as_posix(): "dir" if p.is_dir() else digest(p) for p in sorted(root.rglob("*"))}


@pytest.mark.slow
def test_interrupted_preprocess_keeps_only_finished_videos(world, tmp_path):
    from vvt.preprocess.pipeline import is_finished

    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a", "b"):
        shutil.copy(world / "S" / "upper_body" / "videos" / "s00001.mp4", clips / f"{name}.mp4")
    argv = ["preprocess", "--video", str(clips), "--out", "T", "--garment", str(world / "garment.jpg"),
            "--garment-size", "64x48"]
    codes = []
    for sig in (signal.SIGINT, signal.SIGKILL):
        cwd = tmp_path / f"run-{sig}"
        cwd.mkdir()
        k = POINTS.randint(1, 6)
        rc = _interrupt(argv, cwd, sig, lambda pid, k=k, cwd=cwd: _staged_files(cwd, "T") >= k)
        codes.append(rc)
        assert rc in (0, 130, -signal.SIGKILL), rc
        target = cwd / "T"
        if not target.exists():
            continue
        assert is_vvt_output(target)
        vids = {p.stem for p in (target / "videos").glob("*.mp4")} if (target / "videos").is_dir() else set()
        assert all(is_finished(target, v) for v in vids)
        stray = [p for p in target.rglob("*") if p.is_file() and p.suffix in (".mp4", ".json")
                 and p.parent.name != "cloth" and p.stem not in vids and p.name != "layout.json"]
        assert not stray, f"files of an unfinished video after {sig}: {stray}"
        assert not [d for d in target.rglob("*") if d.is_dir() and not any(d.iterdir())]
        assert (target / "layout.json").is_file() == bool(vids)
    assert all(codes), f"every point interrupted the work: {codes}"


@pytest.mark.slow
def test_interrupted_tryon_leaves_no_partial_video(world, tmp_path):
    argv = [*TRYON, "--data", str(world / "S"), "--sample", "s00001", "--weights", str(world / "W")]
    # points marked by the log: the weights loading, the denoising of the first clip
    points = [(signal.SIGINT, "T.mp4", "loading RealVVT weights"), (signal.SIGKILL, "T", "at working size"),
              (POINTS.choice([signal.SIGINT, signal.SIGKILL]), "T", POINTS.choice(["loading", "working size"]))]
    for i, (sig, out, log) in enumerate(points):
        cwd = tmp_path / f"run-{i}"
        cwd.mkdir()
        rc = _interrupt([*argv, "--out", out], cwd, sig, None, log=log)
        assert rc in (130, -signal.SIGKILL), f"the point did not interrupt the work: {rc}"
        target = cwd / out
        if target.exists():
            assert video_info(target).num_frames == 4, f"partial output after {sig}"
        if sig == signal.SIGINT:
            assert not list(cwd.glob(".T.*")), "a temporary left after Ctrl-C"


@pytest.mark.slow
def test_killed_training_resumes_to_the_uninterrupted_weights(world, run_dir, tmp_path):
    """SIGINT mid-run (a checkpoint of the last finished step, exit 130) and SIGKILL while a checkpoint is being
    written: the checkpoints left are intact, and ``--resume latest`` reaches step 3 with the reference weights
    bit for bit."""
    checkpoints = lambda cwd: cwd / "R" / "checkpoints"  # noqa: E731
    points = (
        (signal.SIGINT, lambda cwd: lambda pid: (checkpoints(cwd) / "step-0000001").is_dir()),
        (signal.SIGKILL, lambda cwd: lambda pid: any(checkpoints(cwd).glob(".tmp-step-*/*.safetensors"))),
    )
    for sig, when in points:
        cwd = tmp_path / f"run-{sig}"
        cwd.mkdir()
        (cwd / "S").symlink_to(world / "S")
        rc = _interrupt([*TRAIN, "train.output_dir=R"], cwd, sig, when(cwd))
        assert rc in (130, -signal.SIGKILL), f"the point did not interrupt the work: {rc}"
        for _, folder in ckpt.list_checkpoints(cwd / "R"):
            assert ckpt.verify_checkpoint(folder).intact, folder
        assert not (cwd / "R" / "final").exists() or rc == 0
        if rc != 0:
            proc = run_cli(*TRAIN, "train.output_dir=R", "--resume", "latest", cwd=cwd, timeout=600)
            assert proc.returncode == 0, proc.stderr[-3000:]
        _weights_equal(ckpt.checkpoint_dir(cwd / "R", 3), ckpt.checkpoint_dir(run_dir, 3))
        assert is_vvt_output(cwd / "R") and (cwd / "R" / "final" / "model_index.json").is_file()
