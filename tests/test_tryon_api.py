"""The try-on front door: ``vvt tryon --example``, defaults (bundled model, ``--device auto``), checks before
any model loads, the per-stage timings, and the Python API ``vvt.tryon`` with the README's snippet."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest

import vvt
from vvt.cli import build_parser, main
from vvt.examples import EXAMPLE_FILES, example_dir, load_example
from vvt.io import read_video, write_image
from vvt.io.image import read_image
from vvt.realvvt.tryon import STAGES

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning"),
]


@pytest.fixture(scope="module")
def example():
    return load_example()


def test_example_files_are_small_and_consistent(example):
    files = [example_dir() / name for name in EXAMPLE_FILES.values()]
    assert sum(f.stat().st_size for f in files) < 400_000
    cond = example.conditions
    f, h, w = cond.agnostic_mask.shape
    assert cond.person.shape == example.ground_truth.shape == (f, h, w, 3)
    assert example.worn_mask.shape == (f, h, w)
    # the ground truth differs from the person only where a garment is worn: inside the agnostic mask
    changed = np.abs(example.ground_truth.astype(int) - cond.person.astype(int)).max(-1) > 8
    assert (changed & cond.agnostic_mask).sum() > (changed & ~cond.agnostic_mask).sum()


def test_python_api_on_the_example(example):
    result = vvt.tryon(example.conditions, example.garment, "upper", steps=2, prepare_garment=False,
                       progress=False)
    person = example.conditions.person
    assert result.frames.shape == person.shape and result.frames.dtype == np.uint8
    assert result.fps == pytest.approx(example.conditions.fps)
    # outside the agnostic mask the output is the input, bit for bit (paste-back)
    outside = ~result.agnostic_mask
    assert np.array_equal(result.frames[outside], person[outside])
    assert not np.array_equal(result.frames[result.agnostic_mask], person[result.agnostic_mask])
    # the model's saved settings, not hard-coded ones
    from vvt.api import load_model

    pipe = load_model(None, "cpu")
    assert tuple(result.settings["size"]) == pipe.trained_size
    assert result.settings["clip_len"] == pipe.config.num_frames
    assert result.settings["guidance_max"] == pipe.config.max_guidance_scale
    assert result.settings["guidance_mode"] == "constant"  # what vvt bench longvideo measured best
    assert set(STAGES[:4]) <= set(result.timings) and all(t >= 0 for t in result.timings.values())
    # the same seed gives the same video
    again = vvt.tryon(example.conditions, example.garment, "upper", steps=2, prepare_garment=False,
                      progress=False)
    assert np.array_equal(result.frames, again.frames)


def test_example_command(tmp_path, capsys, caplog):
    out = tmp_path / "example.mp4"
    caplog.set_level("INFO")
    assert main(["tryon", "--example", "--out", str(out), "--steps", "2"]) == 0
    printed = capsys.readouterr().out
    ssim = float(re.search(r"SSIM in the agnostic mask vs the ground truth: (-?[0-9.]+)", printed).group(1))
    assert -1 <= ssim <= 1
    assert "no --weights given: using the bundled model tiny-synth" in caplog.text
    for stage in STAGES:
        assert re.search(rf"stage {stage} +[0-9.]+s", caplog.text), stage
    frames, _ = read_video(out)
    person = load_example().conditions.person
    assert frames.shape == person.shape
    sheet = read_image(out.with_suffix(".png"))
    f, h, w = person.shape[:3]
    assert sheet.shape == (min(4, f) * h, 4 * w, 3)  # input | garment | result | ground truth
    assert np.abs(sheet[:h, :w].astype(int) - person[0].astype(int)).mean() < 3


def test_ssim_in_mask_of_the_example_is_the_reports(example):
    from vvt.api import ssim_in_mask
    from vvt.eval.image import masked_ssim

    truth, mask = example.ground_truth, example.conditions.agnostic_mask
    assert ssim_in_mask(truth, truth, mask) == pytest.approx(1.0)
    person = example.conditions.person
    expected = np.nanmean(masked_ssim(person / 255.0, truth / 255.0, mask))
    assert ssim_in_mask(person, truth, mask) == pytest.approx(expected) and expected < 0.95


def test_readme_python_snippet_runs(tmp_path, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = re.search(r"<!-- api-snippet -->\s*```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    assert (tmp_path / "result.mp4").is_file()
    assert namespace["summary"].ok and len(namespace["summary"].done) == 1


def _no_model(monkeypatch):
    import vvt.api

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the inputs were checked")

    monkeypatch.setattr(vvt.api, "load_model", refuse)
    monkeypatch.setattr("vvt.realvvt.tryon.load_pipeline", refuse)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--steps", "0"], "--steps must be >= 1"),
        (["--fps", "-5"], "--fps must be > 0"),
        (["--overlap", "8", "--clip-len", "4"], "--overlap 8 must be smaller than --clip-len 4"),
        (["--garment", "BLANK"], "blank"),
        (["--garment", "NOTANIMAGE"], "not a readable image"),
        (["--out", "DIR"], "is a folder"),
        (["--out", "out.txt"], "unsupported output type"),
        (["--out", "VIDEO"], "is the input --video"),
        (["--device", "tpu"], "--device 'tpu'"),
        (["--category", "hats"], None),
        (["--guidance-mode", "segment"], None),
    ],
)
def test_bad_options_fail_before_the_model_loads(tmp_path, capsys, monkeypatch, extra, message):
    _no_model(monkeypatch)
    video = tmp_path / "person.mp4"
    video.write_bytes((example_dir() / "person.mp4").read_bytes())
    garment = tmp_path / "shirt.png"
    write_image(garment, read_image(example_dir() / "garment.jpg"))
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((64, 48, 3), 200, np.uint8))
    (tmp_path / "notimage.png").write_bytes(b"not an image")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "keep.txt").write_text("user data")
    subst = {"BLANK": str(blank), "NOTANIMAGE": str(tmp_path / "notimage.png"), "DIR": str(tmp_path / "dir"),
             "VIDEO": str(video), "out.txt": str(tmp_path / "out.txt")}
    argv = ["tryon", "--video", str(video), "--garment", str(garment), "--out", str(tmp_path / "o.mp4")]
    for i, value in enumerate(extra):
        extra[i] = subst.get(value, value)
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    if message is None:  # argparse refuses it
        with pytest.raises(SystemExit):
            main(argv)
        assert "invalid choice" in capsys.readouterr().err
        return
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert (tmp_path / "dir" / "keep.txt").read_text() == "user data"


def test_api_checks_before_loading(monkeypatch, example):
    _no_model(monkeypatch)
    with pytest.raises(vvt.VVTError, match="--category 'hats'"):
        vvt.tryon(example.conditions, example.garment, "hats")
    with pytest.raises(vvt.VVTError, match="blank"):
        vvt.tryon(example.conditions, np.zeros((64, 48, 3), np.uint8))
    with pytest.raises(vvt.VVTError, match="--steps must be >= 1"):
        vvt.tryon(example.conditions, example.garment, steps=0)
    with pytest.raises(vvt.VVTError, match="--guidance-mode 'segment': use one of clip, video, constant"):
        vvt.tryon(example.conditions, example.garment, guidance_mode="segment")
    with pytest.raises(vvt.VVTError, match="unknown try-on option.s.: stpes"):
        vvt.tryon_to_file(example.conditions, example.garment, "out.mp4", stpes=2)


def _device_actions(parser: argparse.ArgumentParser, path: str = "vvt"):
    for action in parser._actions:
        if "--device" in action.option_strings:
            yield path, action
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _device_actions(sub, f"{path} {name}")


def test_every_device_option_defaults_to_auto():
    found = dict(_device_actions(build_parser()))
    for command in ("vvt tryon", "vvt eval", "vvt demo", "vvt bench realvvt", "vvt bench table"):
        assert command in found, sorted(found)
    assert {path: a.default for path, a in found.items()} == dict.fromkeys(found, "auto")


def test_method_defaults_to_realvvt():
    args = build_parser().parse_args(["tryon", "--video", "v.mp4", "--garment", "g.jpg", "--out", "o.mp4"])
    assert args.method == "realvvt" and args.weights is None and args.device == "auto"


def test_readme_commands_and_ci():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    quick = readme[readme.index("## Quick start"):readme.index("## Tour")]
    first, second = re.findall(r"```bash\n(.*?)\n```", quick, re.S)[:2]
    assert first.endswith("vvt tryon --example --out example.mp4") and "pip install -c constraints.txt -e ." in first
    test_command = second.split(" && ", 2)[-1]  # after the venv and its activation
    ci = (root / ".ci" / "run").read_text().splitlines()
    assert test_command in ci  # .ci/run runs exactly the README's test command, as one line
    assert ci.index(test_command) > next(i for i, line in enumerate(ci) if "chromium-driver" in line)


def test_a_person_video_file_is_preprocessed_in_a_scratch_folder_removed_after(tmp_path, monkeypatch):
    """``vvt.tryon_to_file`` on a video file: the conditions are written to a scratch folder as lossless streams
    (no mediapipe here: a stand-in analysis), read back a window at a time, and the folder is gone after the
    run, as after a failing one."""
    import tempfile

    from fault_support import example_analysis

    calls = []
    monkeypatch.setattr("vvt.preprocess.pipeline.analyse_working", example_analysis(calls))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    video = example_dir() / "person.mp4"
    result = vvt.tryon_to_file(video, example_dir() / "garment.jpg", tmp_path / "out.mp4", steps=1,
                               prepare_garment=False, progress=False)
    assert result.num_frames == 8 and [n for _, n in calls] == [8]
    assert read_video(tmp_path / "out.mp4")[0].shape == read_video(video)[0].shape
    assert list(scratch.glob("vvt-tryon-*")) == []
    with pytest.raises(vvt.VVTError, match="--overlap 9 must be smaller than --clip-len 8"):
        vvt.tryon_to_file(video, example_dir() / "garment.jpg", tmp_path / "o2.mp4", clip_len=8, overlap=9)
    monkeypatch.setattr("vvt.realvvt.tryon.iter_try_on_video", lambda *a, **k: iter([]))
    with pytest.raises(ValueError):  # zero frames to write: fails after preprocessing
        vvt.tryon_to_file(video, example_dir() / "garment.jpg", tmp_path / "o3.mp4", progress=False)
    assert list(scratch.glob("vvt-tryon-*")) == [] and not (tmp_path / "o3.mp4").exists()
