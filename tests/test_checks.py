"""vvt.checks (output paths, numeric options, devices) and the config values they share with vvt.config."""

from __future__ import annotations

import math
import os
import stat

import pytest
import torch

from vvt.checks import Bound, check_numbers, check_output, check_run_folder, resolve_device
from vvt.config import load_config, parse_yaml
from vvt.errors import ConfigError, OptionError, OutputPathError
from vvt.io import atomic_write_text, write_video
from vvt.train.realvvt import RealVVTRunConfig


def test_bound_known_answers():
    assert Bound(gt=0).problem(1e-9) is None and Bound(gt=0).problem(0) == "must be > 0, got 0"
    assert Bound(ge=0, lt=1).problem(1.0) == "must be >= 0 and < 1, got 1.0"
    assert Bound(gt=0, multiple_of=8).problem(60) == "must be > 0 and a multiple of 8, got 60"
    assert Bound(gt=0, multiple_of=8).problem(64) is None
    assert Bound(gt=0).problem(math.nan) == "must be > 0, got nan"  # NaN is never in range
    assert Bound(ge=0, multiple_of=8).problem(math.inf) is not None
    with pytest.raises(OptionError, match=r"^--fps must be > 0, got -5; --steps must be >= 1, got 0$"):
        check_numbers({"--fps": (-5, Bound(gt=0)), "--steps": (0, Bound(ge=1)), "--seed": (None, Bound(ge=0))})


def test_output_may_not_be_an_input_or_hold_one(tmp_path):
    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    clip = data / "videos" / "a.mp4"
    clip.write_bytes(b"x")
    link = tmp_path / "link.mp4"
    link.symlink_to(clip)
    inputs = {"--video": clip}
    for out, problem in ((clip, "is the input --video"), (link, "is the input --video"),
                         (data / "videos", "holds the input --video"), (data, "holds the input --video"),
                         (tmp_path, "holds the input --video")):
        with pytest.raises(OutputPathError, match=problem):
            check_output(out, folder=None, inputs=inputs)
    assert check_output(data / "videos" / "b.mp4", folder=False, inputs=inputs).name == "b.mp4"
    with pytest.raises(OutputPathError, match=r"a.mp4/x.mp4: its parent .*a.mp4 is a file"):
        check_output(clip / "x.mp4", folder=False)
    with pytest.raises(OutputPathError, match=r"unsupported output type '.txt'; use .mp4, no suffix \(a folder\)"):
        check_output(tmp_path / "o.txt", folder=False, suffixes=(".mp4", ""))
    assert clip.read_bytes() == b"x"


def test_existing_outputs_vvt_made_are_replaceable_others_not(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.txt").write_text("x")
    with pytest.raises(OutputPathError, match="mine: is a folder that vvt did not write"):
        check_output(mine, folder=True)
    frames = write_video(tmp_path / "frames", torch.zeros(2, 8, 8, 3, dtype=torch.uint8).numpy())
    assert check_output(frames, folder=True) == frames
    with pytest.raises(OutputPathError, match="frames: holds the input --video"):
        check_output(frames, folder=True, inputs={"--video": frames / "00000.png"})
    # a run folder: new, empty, vvt's, or an earlier run (checkpoints/ or config.yaml)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "notes.txt").write_text("mine")
    assert check_run_folder(run) == run
    with pytest.raises(OutputPathError, match="mine: is a folder that is not a vvt run"):
        check_run_folder(mine)
    with pytest.raises(OutputPathError, match="holds the input data"):
        check_run_folder(tmp_path, {"data": mine})


def test_atomic_writes_refuse_special_files_and_report_unwritable_parents_in_one_line(tmp_path):
    """Found after issue 18's first pass: an existing FIFO (or device) with the right suffix was replaced by a
    regular file, and a parent that is a file gave FileExistsError from inside atomic_path (e.g. ``vvt bench
    --out afile/b.json``, which checked nothing before the benchmark)."""
    pipe = tmp_path / "pipe.json"
    os.mkfifo(pipe)
    with pytest.raises(OutputPathError, match="pipe.json: is not a regular file"):
        check_output(pipe, folder=False, suffixes=(".json",))
    with pytest.raises(OutputPathError, match="pipe.json: is not a regular file"):
        atomic_write_text(pipe, "{}")
    assert stat.S_ISFIFO(pipe.lstat().st_mode)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputPathError, match=r"afile/b.json: cannot write in .*afile: "):
        atomic_write_text(tmp_path / "afile" / "b.json", "{}")
    # a folder output cannot be renamed over a symbolic link (NotADirectoryError after the whole work); a file
    # output replaces the link, never its target
    (tmp_path / "mine").mkdir()
    (tmp_path / "link").symlink_to("mine")
    with pytest.raises(OutputPathError, match="link: is a symbolic link"):
        check_output(tmp_path / "link", folder=True)
    (tmp_path / "target.json").write_text("keep")
    (tmp_path / "alias.json").symlink_to("target.json")
    atomic_write_text(tmp_path / "alias.json", "{}")
    assert (tmp_path / "alias.json").read_text() == "{}" and not (tmp_path / "alias.json").is_symlink()
    assert (tmp_path / "afile").read_text() == "x" and (tmp_path / "target.json").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "alias.json", "link", "mine", "pipe.json",
                                                         "target.json"]


def test_resolve_device():
    assert resolve_device("cpu") == "cpu" and resolve_device(" CPU ") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "cpu:0", "cuda:x", "", "mps:1"):
        with pytest.raises(OptionError, match="use auto, cpu, cuda, cuda:N or mps"):
            resolve_device(bad)
    if torch.cuda.is_available():
        assert resolve_device("cuda:0") == "cuda:0"
        with pytest.raises(OptionError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(OptionError, match=r"--device cuda:1: CUDA is not available"):
            resolve_device("cuda:1")
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        with pytest.raises(OptionError, match="MPS is not available"):
            resolve_device("mps")


def test_config_reads_numbers_as_yaml_1_2_and_checks_ranges_naming_the_key():
    assert parse_yaml("1e-3") == 0.001 and parse_yaml("-5E+2") == -500.0 and parse_yaml("010") == 10
    assert parse_yaml("yes") == "yes" and parse_yaml("True") is True and parse_yaml("1:30") == "1:30"
    assert parse_yaml("{lr: 1e-4, on: off}") == {"lr": 1e-4, "on": "off"}
    config = load_config(RealVVTRunConfig, "tiny-synth", ["train.learning_rate=1e-3", "train.max_grad_norm=null"])
    assert config.train.learning_rate == 0.001 and config.train.max_grad_norm is None
    for override, message in (
        ("train.learning_rate=-0.001", r"train.learning_rate must be > 0, got -0.001"),
        ("data.size=[60,44]", r"data.size\[0\] must be > 0 and a multiple of 8, got 60"),
        ("data.size=[64]", r"data.size: expected 2 values, got 1"),
        ("train.ema.decay=1.5", r"train.ema.decay must be >= 0 and <= 1, got 1.5"),
        ("train.max_steps=2.0", r"train.max_steps: expected int, got 2.0 \(write 2\)"),
        ("data.sources=[{root: x, weight: 0}]", r"data.sources\[0\].weight must be > 0, got 0"),
        ("train.adam_beta2=1", r"train.adam_beta2 must be >= 0 and < 1, got 1.0"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(RealVVTRunConfig, "tiny-synth", [override])
