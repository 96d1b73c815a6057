"""Hypothesis properties of the readers and the config parser on random bytes and values: every outcome is a
result that keeps its contract or a :class:`~vvt.errors.VVTError` naming the input, never another exception."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fault_support import faststart_mp4
from vvt.config import load_config, parse_yaml
from vvt.errors import ConfigError, InputFileError, VideoError
from vvt.io import read_image, read_mask, read_video, video_info
from vvt.train.realvvt import RealVVTRunConfig

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    """An 8-frame faststart mp4 (index first) and its frames."""
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 256, (8, 1, 1, 3), dtype=np.uint8), 16, 1).repeat(16, 2)
    return faststart_mp4(tmp_path_factory.mktemp("prop") / "clip.mp4", frames).read_bytes()


def _read_both(path):
    """``video_info`` then ``read_video``: both succeed consistently, or a VideoError names the file."""
    try:
        info = video_info(path)
        frames, fps = read_video(path)
    except VideoError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return None
    assert frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3 and len(frames) >= 1
    assert frames.shape[1:3] == (info.height, info.width) and fps > 0 and math.isfinite(fps)
    return frames


@FAST
@given(data=st.binary(min_size=0, max_size=2048), suffix=st.sampled_from([".mp4", ".gif", ".mkv", ".avi"]))
def test_video_readers_on_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    _read_both(path)


@FAST
@given(cut=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), max_size=3))
@example(cut=0.0625, flips=[(0.25, 128)])  # a flipped byte in the metadata tags: PyAV's UnicodeDecodeError on open
def test_video_readers_on_damaged_mp4(tmp_path, clip_file, cut, flips):
    """A real mp4 cut short and maybe with flipped bytes: read, or refused; cut short only, never fewer frames
    than its index declares without an error (truncation is never silent)."""
    data = bytearray(clip_file[: max(1, round(len(clip_file) * cut))])
    for where, xor in flips:
        data[min(len(data) - 1, int(where * len(data)))] ^= xor
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    frames = _read_both(path)
    if frames is not None and not flips:
        assert len(frames) == 8  # a short last frame may still decode; a missing one is an error


@FAST
@given(data=st.binary(min_size=0, max_size=1024), suffix=st.sampled_from([".png", ".jpg", ".webp"]))
def test_image_readers_on_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data if suffix == ".png" else data)
    for read in (read_image, read_mask):
        try:
            out = read(path)
        except InputFileError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            continue
        assert out.dtype in (np.uint8, np.bool_) and out.ndim in (2, 3)


@FAST
@given(x=st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_config_numbers_parse_as_yaml_1_2(x):
    """Every way of writing a float (``1e-3``, ``1.0e-03``, ``0.001``, ``-5E+2``) reads back as that float."""
    for text in (repr(x), f"{x:e}", f"{x:E}", f"{x:.17g}"):
        value = parse_yaml(text)
        assert isinstance(value, (int, float)) and not isinstance(value, bool), text
        assert value == float(text), text


@FAST
@given(
    key=st.sampled_from(
        ["train.learning_rate", "train.max_steps", "train.seed", "train.ema.decay", "train.adam_beta1",
         "train.max_grad_norm", "data.frames", "data.size"]
    ),
    value=st.one_of(
        st.integers(-10**6, 10**6).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda v: f"{v:e}"),
        st.lists(st.integers(-100, 1000), max_size=3).map(str),
        st.text(max_size=12),
    ),
)
def test_config_overrides_give_a_valid_config_or_name_the_key(key, value):
    try:
        config = load_config(RealVVTRunConfig, "tiny-synth", [f"{key}={value}"])
    except ConfigError as exc:
        assert key.split(".")[-1] in str(exc) or "override" in str(exc), str(exc)
        return
    got = config
    for part in key.split("."):
        got = getattr(got, part)
    train = config.train
    assert train.learning_rate > 0 and train.max_steps >= 1 and train.seed >= 0 and 0 <= train.ema.decay <= 1
    assert 0 <= train.adam_beta1 < 1 and (train.max_grad_norm is None or train.max_grad_norm > 0)
    assert config.data.frames >= 1 and all(s > 0 and s % 8 == 0 for s in config.data.size)
    assert len(config.data.size) == 2
