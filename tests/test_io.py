"""vvt.io: round trips within codec tolerance, lazy reading, atomic writes, and every error path."""

from __future__ import annotations

import numpy as np
import pytest

import vvt.io.video as video_mod
from fault_support import bomb_png, faststart_mp4, truncate_after_packets
from vvt.errors import InputFileError, OutputPathError, VideoError, VVTError
from vvt.io import (
    OUTPUT_MARKER,
    VideoWriter,
    allowing_truncated,
    atomic_path,
    atomic_write_text,
    frame_files,
    is_vvt_output,
    iter_frames,
    read_image,
    read_mask,
    read_video,
    video_info,
    write_image,
    write_video,
)


def smooth_clip(n: int = 6, h: int = 64, w: int = 48) -> np.ndarray:
    """A smooth moving gradient: frame k shifts the pattern by 8k (codecs keep smooth images well)."""
    y, x = np.mgrid[0:h, 0:w]
    frames = [np.stack([(x * 4 + 8 * k) % 256, (y * 3) % 256, np.full_like(x, 60 + 25 * k)], -1)
              for k in range(n)]
    return np.asarray(frames, dtype=np.uint8)


def flat_clip(n: int = 5, h: int = 16, w: int = 12) -> np.ndarray:
    """Frame k is one flat colour, distinct per frame."""
    return np.stack([np.full((h, w, 3), (30 * k + 10, 200 - 30 * k, 100), np.uint8) for k in range(n)])


def test_mp4_round_trip_within_codec_tolerance(tmp_path):
    clip = smooth_clip()
    path = write_video(tmp_path / "a.mp4", clip, fps=24, crf=10)
    got, fps = read_video(path)
    assert got.shape == clip.shape and fps == 24.0
    err = np.abs(got.astype(int) - clip.astype(int))
    assert err.mean() < 3.0 and np.percentile(err, 99) < 16
    # and each frame is closer to its own source than to the neighbouring one (order is kept)
    for k in range(1, len(clip)):
        assert np.abs(got[k].astype(int) - clip[k]).mean() < np.abs(got[k].astype(int) - clip[k - 1]).mean()
    info = video_info(path)
    assert (info.num_frames, info.height, info.width, info.fps) == (6, 64, 48, 24.0)


def test_gif_round_trip(tmp_path):
    clip = flat_clip()
    path = write_video(tmp_path / "a.gif", clip, fps=10)
    got, fps = read_video(path)
    assert got.shape == clip.shape
    assert np.abs(got.astype(int) - clip).max() <= 8  # palette quantisation of flat colours
    assert fps == pytest.approx(10.0)


def test_png_folder_round_trip_is_exact(tmp_path):
    clip = smooth_clip(n=3)
    path = write_video(tmp_path / "frames", clip)
    assert [p.name for p in frame_files(path)] == ["00000.png", "00001.png", "00002.png"]
    got, _ = read_video(path)
    np.testing.assert_array_equal(got, clip)
    assert video_info(path).num_frames == 3


def test_frame_folder_uses_natural_order(tmp_path):
    clip = flat_clip(n=11)
    for k in range(11):
        write_image(tmp_path / "f" / f"frame_{k}.png", clip[k])
    got, _ = read_video(tmp_path / "f")
    np.testing.assert_array_equal(got, clip)  # frame_10 after frame_9, not after frame_1


def test_iter_frames_is_lazy_on_a_video(tmp_path, monkeypatch):
    path = write_video(tmp_path / "a.mp4", flat_clip(n=8))
    decoded = []
    real_open = video_mod.av.open

    class CountingContainer:
        def __init__(self, container):
            self.container = container
            self.streams = container.streams

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.container.__exit__(*exc)

        def decode(self, stream):
            for frame in self.container.decode(stream):
                decoded.append(frame)
                yield frame

    monkeypatch.setattr(video_mod.av, "open", lambda *a, **k: CountingContainer(real_open(*a, **k)))
    frames = iter_frames(path)
    first = next(frames)
    assert first.shape == (16, 12, 3)
    assert len(decoded) == 1  # one frame pulled from the decoder, not eight
    frames.close()


def test_iter_frames_is_lazy_on_a_frame_folder(tmp_path):
    folder = write_video(tmp_path / "frames", flat_clip(n=4))
    frames = iter_frames(folder)
    next(frames)
    for p in frame_files(folder)[1:]:
        p.unlink()  # files not read yet: removing them makes the next read fail
    with pytest.raises(InputFileError):
        next(frames)


def test_read_video_max_frames(tmp_path):
    path = write_video(tmp_path / "a.mp4", smooth_clip())
    got, _ = read_video(path, max_frames=2)
    assert got.shape == (2, 64, 48, 3)
    np.testing.assert_array_equal(got, read_video(path)[0][:2])  # the first two frames, decoded alike
    with pytest.raises(ValueError, match="max_frames must be at least 1"):
        read_video(path, max_frames=0)


def test_failed_write_leaves_previous_file_and_no_temporaries(tmp_path):
    path = write_video(tmp_path / "a.mp4", flat_clip())
    before = path.read_bytes()

    def broken_frames():
        yield flat_clip(n=1)[0]
        raise RuntimeError("producer died")

    with pytest.raises(RuntimeError):
        write_video(path, broken_frames())
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("interrupted")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


def test_failed_folder_write_keeps_previous_folder(tmp_path):
    folder = write_video(tmp_path / "frames", flat_clip(n=2))
    with pytest.raises(RuntimeError), atomic_path(folder) as tmp:
        tmp.mkdir()
        (tmp / "00000.png").write_bytes(b"x")
        raise RuntimeError("interrupted")
    assert len(frame_files(folder)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_overwrite_replaces_content(tmp_path):
    path = write_video(tmp_path / "frames", flat_clip(n=3))
    write_video(path, flat_clip(n=2))
    assert video_info(path).num_frames == 2


def test_missing_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.mp4"
    for call in (video_info, read_video, lambda p: next(iter_frames(p))):
        with pytest.raises(VideoError, match="nope.mp4: video not found"):
            call(missing)
    with pytest.raises(InputFileError, match="nope.png: image file not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(InputFileError, match="mask file not found"):
        read_mask(tmp_path / "nope.png")


def test_not_a_video(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file, not a video")
    for call in (video_info, read_video):
        with pytest.raises(VideoError, match="notes.mp4: not a readable video"):
            call(fake)
    with pytest.raises(InputFileError, match="not a readable image"):
        read_image(fake)


def test_zero_frames(tmp_path):
    (tmp_path / "empty").mkdir()
    for call in (video_info, read_video):
        with pytest.raises(VideoError, match="zero frames"):
            call(tmp_path / "empty")
    with pytest.raises(ValueError, match="zero frames"):
        write_video(tmp_path / "b.mp4", [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_odd_sizes_pad_or_refuse(tmp_path):
    clip = smooth_clip(n=3, h=33, w=47)
    padded = write_video(tmp_path / "pad.mp4", clip, crf=0, odd_size="pad")
    got, _ = read_video(padded)
    assert got.shape == (3, 34, 48, 3)
    # the padding replicates the last row / column; the content is kept (yuv420p chroma is subsampled)
    assert np.abs(got[:, :33, :47].astype(int) - clip).mean() < 3.0
    assert np.abs(got[:, 33].astype(int) - got[:, 32]).mean() < 3.0
    with pytest.raises(VideoError, match="33x47 is odd"):
        write_video(tmp_path / "refuse.mp4", clip, odd_size="refuse")
    assert not (tmp_path / "refuse.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pad.mp4"]


def test_unsupported_suffix_and_bad_frames(tmp_path):
    with pytest.raises(VideoError, match="unsupported output suffix"):
        write_video(tmp_path / "a.xyz", flat_clip())
    with pytest.raises(ValueError, match="different sizes"):
        write_video(tmp_path / "a.mp4", [np.zeros((4, 4, 3), np.uint8), np.zeros((6, 4, 3), np.uint8)])
    assert list(tmp_path.iterdir()) == []


def test_video_writers_open_together_write_frame_by_frame_atomically(tmp_path):
    """:class:`VideoWriter`: several files written frame by frame in one pass, each appearing only at the end of
    its block; an error in the block, zero frames or a frame of another size leave nothing (an older file
    stays as it was)."""
    clip = smooth_clip(n=4, h=33, w=47)
    with VideoWriter(tmp_path / "a.mkv", 8, lossless=True) as a, VideoWriter(tmp_path / "b.mkv", 8,
                                                                              lossless=True) as b:
        for f in clip:
            a.write(f)
            b.write(255 - f)
            assert not (tmp_path / "a.mkv").exists()
    np.testing.assert_array_equal(read_video(tmp_path / "a.mkv")[0], clip)
    np.testing.assert_array_equal(read_video(tmp_path / "b.mkv")[0], 255 - clip)
    assert a.num_frames == 4
    before = (tmp_path / "a.mkv").read_bytes()
    with pytest.raises(RuntimeError), VideoWriter(tmp_path / "a.mkv", 8) as a:
        a.write(clip[0])
        raise RuntimeError("producer died")
    with pytest.raises(ValueError, match="zero frames"), VideoWriter(tmp_path / "c.mp4"):
        pass
    with pytest.raises(ValueError, match="different sizes"), VideoWriter(tmp_path / "d.mp4") as d:
        d.write(clip[0])
        d.write(clip[0, :32])
    assert (tmp_path / "a.mkv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mkv", "b.mkv"]
    with pytest.raises(VideoError, match="encodes"):
        VideoWriter(tmp_path / "e.gif")


def test_errors_are_vvt_errors():
    assert issubclass(VideoError, VVTError) and issubclass(InputFileError, VVTError)


def test_image_and_mask_round_trip(tmp_path):
    image = smooth_clip(n=1)[0]
    write_image(tmp_path / "a.png", image)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), image)
    write_image(tmp_path / "a.jpg", image)
    assert np.abs(read_image(tmp_path / "a.jpg").astype(int) - image).mean() < 3.0
    mask = np.zeros((8, 6), bool)
    mask[2:5, 1:3] = True
    write_image(tmp_path / "m.png", mask)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), mask)


def test_real_vivid_video(vivid_samples):
    path = vivid_samples / "videos" / "upper1.mp4"
    info = video_info(path)
    assert (info.num_frames, info.height, info.width, info.fps) == (48, 832, 624, 24.0)
    count = 0
    for frame in iter_frames(path):
        assert frame.shape == (832, 624, 3) and frame.dtype == np.uint8
        count += 1
    assert count == 48
    first, fps = read_video(path, max_frames=1)
    assert fps == 24.0 and first.shape == (1, 832, 624, 3)
    assert 20 < first.mean() < 235  # a real picture, not a blank frame


# ------------------------------------------------------------------- outputs never destroy a user's files
def test_an_output_replaces_only_folders_vvt_wrote(tmp_path):
    user = tmp_path / "photos"
    user.mkdir()
    (user / "me.png").write_bytes(b"mine")
    with pytest.raises(OutputPathError, match="photos: is a folder that vvt did not write"):
        write_video(user, flat_clip(n=2))
    assert sorted(p.name for p in user.iterdir()) == ["me.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no temporary left either
    # vvt's own output folders carry the marker and are replaced; an empty folder is taken
    out = write_video(tmp_path / "frames", flat_clip(n=3))
    assert is_vvt_output(out) and (out / OUTPUT_MARKER).is_file()
    write_video(out, flat_clip(n=2))
    assert video_info(out).num_frames == 2
    (tmp_path / "empty").mkdir()
    assert is_vvt_output(write_video(tmp_path / "empty", flat_clip(n=1)))
    # a file is never replaced by a folder, nor a user's folder by a file
    (tmp_path / "notes").write_text("keep")
    with pytest.raises(OutputPathError, match="notes: is a file"):
        write_video(tmp_path / "notes", flat_clip(n=1))
    with pytest.raises(OutputPathError, match="photos: is a folder"):
        atomic_write_text(user, "report")
    assert (tmp_path / "notes").read_text() == "keep" and (user / "me.png").read_bytes() == b"mine"


def test_truncated_video_is_an_error_naming_both_counts_unless_allowed(tmp_path, caplog):
    clip = smooth_clip(n=12)
    full = faststart_mp4(tmp_path / "full.mp4", clip)
    assert video_info(full).num_frames == 12 and len(read_video(full)[0]) == 12
    cut = truncate_after_packets(full, tmp_path / "cut.mp4", 5)  # the index still declares 12 frames
    for call in (video_info, read_video, lambda p: list(iter_frames(p))):
        with pytest.raises(VideoError, match=r"cut.mp4: truncated video: the container declares 12 frames but "
                                             r"only 5 (are stored|decode).*--allow-truncated"):
            call(cut)
    with caplog.at_level("WARNING"):
        frames, _ = read_video(cut, allow_truncated=True)
    assert len(frames) == 5
    np.testing.assert_allclose(frames.astype(float), read_video(full)[0][:5].astype(float), atol=1e-9)
    assert "declares 12 frames, 5 decode" in caplog.text
    with allowing_truncated():
        assert video_info(cut).num_frames == 5
    with pytest.raises(VideoError, match="truncated"):
        video_info(cut)  # the context manager's setting ends with its block
    # the first frames of a truncated file read without complaint when they are all there
    assert len(read_video(cut, max_frames=4)[0]) == 4
    # cut in the middle of a frame: the broken frame is not returned
    mid = tmp_path / "mid.mp4"
    mid.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    with pytest.raises(VideoError, match="mid.mp4: truncated video: the container declares 12 frames"):
        read_video(mid)
    try:
        kept = len(read_video(mid, allow_truncated=True)[0])
    except VideoError as exc:  # allowed, but the decoder may give no whole frame of it
        assert "zero frames of the 12 it declares" in str(exc)
        kept = 0
    assert kept < 12


def test_odd_sizes_are_kept_by_default(tmp_path):
    clip = smooth_clip(n=3, h=63, w=47)
    got, _ = read_video(write_video(tmp_path / "odd.mp4", clip))
    assert got.shape == clip.shape
    assert np.abs(got.astype(int) - clip).mean() < 2.0


def test_decompression_bomb_is_one_clear_error(tmp_path):
    bomb = bomb_png(tmp_path / "huge.png", 100_000, 100_000)
    for read in (read_image, read_mask):
        with pytest.raises(InputFileError, match=r"huge.png: image too large to decode safely \(10,000,000,000 "
                                                 r"pixels"):
            read(bomb)
