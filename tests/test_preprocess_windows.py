"""A person video file preprocessed in overlapping analysis windows (issue 22: host memory bounded by a window,
not by the video): :func:`vvt.preprocess.pipeline.analyse_video` and :func:`vvt.realvvt.tryon.prepare_video`,
with a stand-in analysis (``fault_support.example_analysis``, no mediapipe). Real-pixel equality of a clip
shorter than one window with the whole-clip analysis is in ``test_preprocess_real.py``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fault_support import example_analysis
from vvt.errors import ConfigError
from vvt.io import read_video, write_video
from vvt.preprocess.keypoints import NoPersonError
from vvt.preprocess.pipeline import analyse_video, analysed_frames, analysis_windows

ANALYSE = "vvt.preprocess.pipeline.analyse_working"


def grey_clip(path: Path, num_frames: int, height: int = 8, width: int = 6) -> Path:
    """A lossless frame folder whose frame ``t`` is the grey level ``t`` (``t < 256``)."""
    levels = np.arange(num_frames, dtype=np.uint8)
    return write_video(path, np.broadcast_to(levels[:, None, None, None], (num_frames, height, width, 3)).copy())


@pytest.mark.parametrize("num_frames", [1, 5, 16, 17, 20, 29, 45, 100])
@pytest.mark.parametrize("window, overlap", [(16, 4), (16, 0), (5, 2), (64, 16)])
def test_analysis_windows_tile_the_clip(num_frames, window, overlap):
    wins = analysis_windows(num_frames, window, overlap)
    kept = [t for _, _, a, b in wins for t in range(a, b)]
    assert kept == list(range(num_frames))  # every frame kept once, in order
    for i, (start, stop, keep, keep_stop) in enumerate(wins):
        assert 0 <= start <= keep < keep_stop <= stop <= num_frames and stop - start <= window
        if i > 0:  # context before the kept frames
            assert keep - start == overlap
        if i < len(wins) - 1:  # and after them
            assert stop - keep_stop == overlap and stop - start == window
    assert len(wins) == 1 or num_frames > window
    with pytest.raises(ConfigError):
        analysis_windows(10, 8, 4)


@pytest.mark.parametrize("num_frames", [10, 16, 45], ids=["F<W", "F=W", "ragged"])
def test_windowed_preprocessing_writes_each_frame_once_in_order(num_frames, tmp_path, monkeypatch):
    """F < W, F = W and a ragged F: the DensePose stream (the stand-in echoes each working frame) reads back
    0, 1, ..., F-1; each window of :func:`analysis_windows` is analysed once, with its own name."""
    from vvt.realvvt.tryon import prepare_video

    clip = grey_clip(tmp_path / "clip", num_frames)
    calls = []
    monkeypatch.setattr(ANALYSE, example_analysis(calls, echo=True))
    conditions = prepare_video(clip, tmp_path / "out", "upper", window=16, overlap=4)
    assert conditions.num_frames == num_frames
    agnostic, mask, densepose = conditions.load(np.arange(num_frames))
    np.testing.assert_array_equal(densepose[:, 0, 0, 0], np.arange(num_frames))
    assert (densepose == np.arange(num_frames)[:, None, None, None]).all()
    assert agnostic.shape == (num_frames, 8, 6, 3) and mask.shape == (num_frames, 8, 6)
    wins = analysis_windows(num_frames, 16, 4)
    assert [n for _, n in calls] == [b - a for a, b, _, _ in wins]
    if len(wins) == 1:
        assert calls == [(str(clip), num_frames)]  # the whole clip, named as before
    else:
        assert [name for name, _ in calls][1] == f"{clip} [frames 8-23]"
    # with a cap: the first frames only, analysed with the frames after them (at least a window, 4 of context)
    calls.clear()
    capped = prepare_video(clip, tmp_path / "capped", "upper", max_frames=num_frames - 3, window=16, overlap=4)
    np.testing.assert_array_equal(capped.load(np.arange(capped.num_frames))[2][:, 0, 0, 0],
                                  np.arange(num_frames - 3))
    analysed = min(num_frames, max(num_frames - 3 + 4, 16))
    assert sum(n for _, n in calls) == sum(b - a for a, b, _, _ in analysis_windows(analysed, 16, 4))


@pytest.mark.parametrize("max_frames, expected", [(None, None), (1, 64), (4, 64), (48, 64), (49, 65), (100, 116)])
def test_a_capped_request_analyses_a_window_and_context(max_frames, expected):
    """Issue 20 item 6: the first ``max_frames`` frames are analysed with at least the first window and 16 frames
    of context after them, so the person is found in them as in the whole video."""
    assert analysed_frames(max_frames) == expected
    assert analysed_frames(4, window=16, overlap=4) == 16 and analysed_frames(20, window=16, overlap=4) == 24


def test_windows_without_a_person_are_filled_not_fatal(tmp_path, monkeypatch, caplog):
    """Nobody in frames 0-9, 24-43 and 56-63 (64 frames, windows of 16 with 4 of context): the windows made only
    of such frames find nobody, and their kept frames take the nearest analysed frame with a person: before
    the first window with a person, its first frame; between two, the nearer of the last frame before and
    the first analysed frame after (frames of the next window's context get its own analysis); after the
    last, the last frame. Each frame is yielded once, marked not found."""
    from vvt.realvvt.tryon import prepare_video

    clip = grey_clip(tmp_path / "clip", 64)
    nobody = frozenset([*range(0, 10), *range(24, 44), *range(56, 64)])
    calls = []
    monkeypatch.setattr(ANALYSE, example_analysis(calls, echo=True, nobody=nobody))
    stats = {}
    frames = list(analyse_video(clip, 8.0, "upper", window=16, overlap=4, stats=stats))
    # windows: [0,16) keeps 0-11, [8,24) 12-19, [16,32) 20-27, [24,40) 28-35 (nobody), [32,48) 36-43,
    # [40,56) 44-51, [48,64) 52-63
    expected = np.arange(64)
    expected[28:32] = [27, 27, 32, 32]  # nearer of frame 27 (before) and 32 (first analysed after)
    assert len(frames) == 64 and stats["frames"] == 64 and stats["windows"] == 7
    assert stats["windows_without_person"] == 1
    np.testing.assert_array_equal([p[0, 0, 0] for _, p, _ in frames], expected)
    assert [t for t, (_, _, found) in enumerate(frames) if not found] == sorted(nobody)
    assert stats["found"] == 64 - len(nobody)
    assert "[frames 24-39]: no person found; its frames 28-35 are filled" in caplog.text

    nobody = frozenset([*range(0, 24), *range(40, 64)])  # leading and trailing windows without anybody
    calls.clear()
    monkeypatch.setattr(ANALYSE, example_analysis(calls, echo=True, nobody=nobody))
    conditions = prepare_video(clip, tmp_path / "out", "upper", window=16, overlap=4)
    densepose = conditions.load(np.arange(64))[2][:, 0, 0, 0]
    # [16,32) is the first window with a person: frames 0-15 take its first frame, 16-19 its own analysis;
    # [32,48) keeps 36-43, the last with a person; [40,56) and [48,64) find nobody: 44-63 take frame 43
    expected = np.concatenate([np.full(16, 16), np.arange(16, 44), np.full(20, 43)])
    np.testing.assert_array_equal(densepose, expected)


def test_nobody_in_any_window_is_an_error_that_writes_nothing(tmp_path, monkeypatch):
    from vvt.realvvt.tryon import prepare_video

    clip = grey_clip(tmp_path / "clip", 40)
    calls = []
    monkeypatch.setattr(ANALYSE, example_analysis(calls, nobody=frozenset(range(40))))
    (tmp_path / "out").mkdir()
    with pytest.raises(NoPersonError, match="no person found in any of its 40 frame"):
        prepare_video(clip, tmp_path / "out", "upper", window=16, overlap=4)
    assert len(calls) == len(analysis_windows(40, 16, 4)) and list((tmp_path / "out").iterdir()) == []


def test_a_clip_of_one_window_is_analysed_whole(tmp_path, monkeypatch):
    """The default window: a 64-frame clip is one call of the analysis on all its frames (so the equality with
    the whole-clip analysis holds exactly), a 65-frame one two overlapping windows."""
    from vvt.realvvt.tryon import prepare_video

    calls = []
    monkeypatch.setattr(ANALYSE, example_analysis(calls))
    prepare_video(grey_clip(tmp_path / "a", 64), tmp_path / "oa", "upper")
    prepare_video(grey_clip(tmp_path / "b", 65), tmp_path / "ob", "upper")
    assert [n for _, n in calls] == [64, 64, 33]


RSS_CHILD = """
import resource, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import numpy as np
import vvt.preprocess.pipeline as pipeline
from fault_support import example_analysis
from vvt.realvvt.tryon import prepare_video
pipeline.analyse_working = example_analysis([])
conditions = prepare_video(sys.argv[3], sys.argv[4], "upper", max_frames=int(sys.argv[5]))
assert conditions.num_frames == int(sys.argv[5])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_preprocessing_host_memory_does_not_grow_with_the_video(tmp_path):
    """Issue 22, item 1, for the preprocessing of a person video: the peak RSS of :func:`prepare_video` (the
    stand-in analysis, so no mediapipe) on the first 20 and 300 frames of a 240x320 video (its own working size:
    0.23 MB per working frame, ~70 MB for the 300) stays within 1.3x of the 20-frame one. Measured: 154 and
    170 MiB; the analysis that held every working frame before the windows: 136 and 207 MiB (1.52x)."""
    src = Path(__file__).resolve().parents[1] / "src"
    tests = Path(__file__).resolve().parent
    ramp = np.linspace(0, 255, 320).astype(np.uint8)
    frame = np.stack(np.broadcast_arrays(ramp[None, :], ramp[::-1, None][:240], np.uint8(90)), -1)
    clip = write_video(tmp_path / "clip", np.broadcast_to(frame, (300, 240, 320, 3)))
    assert len(read_video(clip, max_frames=2)[0]) == 2
    peaks = [
        int(subprocess.run([sys.executable, "-c", RSS_CHILD, str(src), str(tests), str(clip), str(tmp_path / str(n)),
                            str(n)], check=True, capture_output=True, text=True).stdout.split()[-1])
        for n in (20, 300)
    ]
    assert peaks[1] < 1.3 * peaks[0], peaks
