"""Video reading and writing through PyAV.

Videos are ``(N, H, W, 3)`` uint8 RGB arrays. A *video* may also be a folder of numbered image frames
(the layout of VVT and of many preprocessing tools); both read the same way. Writers pick the format
from the path: ``.mp4`` (H.264, yuv420p), ``.gif``, or a path without suffix (a folder of PNG frames).
Every write is atomic. GIF is for previews only: Pillow merges identical consecutive frames into one,
and GIF stores frame delays in 1/100 s, so 24 fps reads back as 25 fps.

H.264 in yuv420p needs even frame sizes. ``write_video(..., odd_size="pad")`` (the default) pads the
last row/column by replication and logs it; ``odd_size="refuse"`` raises :class:`VideoError` instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vvt.errors import VideoError
from vvt.io.atomic import atomic_path
from vvt.io.image import IMAGE_SUFFIXES, read_image, write_image

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif", ".m4v")
DEFAULT_FPS = 24.0


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds, read without decoding it."""

    path: Path
    num_frames: int
    fps: float
    height: int
    width: int


def _natural_key(path: Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def frame_files(folder: str | Path) -> list[Path]:
    """The image frames of a frame folder in natural order (``frame_2.png`` before ``frame_10.png``)."""
    return sorted((p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise VideoError(path, "video not found")


def video_info(path: str | Path) -> VideoInfo:
    """Frame count, fps and size of a video file or frame folder (the count is exact: frames are demuxed)."""
    path = Path(path)
    _check_exists(path)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise VideoError(path, "folder holds no image frames (zero frames)")
        h, w = read_image(files[0]).shape[:2]
        return VideoInfo(path, len(files), DEFAULT_FPS, h, w)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(path, "not a video: the file has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
            h, w = stream.codec_context.height, stream.codec_context.width
            n = sum(1 for pkt in container.demux(stream) if pkt.size > 0)
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"not a readable video ({exc})") from None
    if n == 0:
        raise VideoError(path, "video has zero frames")
    return VideoInfo(path, n, fps, h, w)


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield frames ``(H, W, 3)`` uint8 RGB one at a time, so a long video never sits in memory."""
    path = Path(path)
    _check_exists(path)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise VideoError(path, "folder holds no image frames (zero frames)")
        for f in files:
            yield read_image(f)
        return
    count = 0
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"not a readable video ({exc})") from None
    with container:
        if not container.streams.video:
            raise VideoError(path, "not a video: the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                count += 1
                yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise VideoError(path, f"unreadable frame after frame {count} ({exc})") from None
    if count == 0:
        raise VideoError(path, "video has zero frames")


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Read a whole video (or its first ``max_frames``) as ``(N, H, W, 3)`` uint8 and its fps."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    path = Path(path)
    fps = DEFAULT_FPS if path.is_dir() else None
    frames: list[np.ndarray] = []
    for frame in iter_frames(path):
        frames.append(frame)
        if max_frames is not None and len(frames) >= max_frames:
            break
    if fps is None:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
    if len({f.shape for f in frames}) != 1:
        raise VideoError(path, "frames have different sizes")
    return np.stack(frames), fps


def _as_uint8_frames(frames: np.ndarray | Iterable[np.ndarray]) -> list[np.ndarray]:
    out = []
    for f in frames:
        f = np.asarray(f)
        if f.ndim == 2:
            f = np.repeat(f[..., None], 3, axis=-1)
        if f.dtype == bool:
            f = f.astype(np.uint8) * 255
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[-1] != 3:
            raise ValueError(f"frames must be (H, W, 3) uint8, got {f.shape} {f.dtype}")
        out.append(f)
    if not out:
        raise ValueError("cannot write a video with zero frames")
    if len({f.shape for f in out}) != 1:
        raise ValueError(f"frames have different sizes: {sorted({f.shape for f in out})}")
    return out


def _pad_even(frames: list[np.ndarray], path: Path, odd_size: str) -> list[np.ndarray]:
    h, w = frames[0].shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frames
    if odd_size == "refuse":
        raise VideoError(path, f"frame size {h}x{w} is odd; H.264 needs even sizes (use odd_size='pad')")
    log.warning("%s: frame size %dx%d is odd; padding to %dx%d for H.264", path, h, w, h + h % 2, w + w % 2)
    return [np.pad(f, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") for f in frames]


def write_video(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float = DEFAULT_FPS,
    *,
    crf: int = 18,
    odd_size: str = "pad",
    lossless: bool = False,
) -> Path:
    """Write frames ``(N, H, W, 3)`` uint8 atomically: ``.mp4`` (H.264), ``.gif``, or a PNG-frame folder.

    Args:
        path: output path; the suffix picks the format, no suffix means a folder of ``00000.png`` frames.
        frames: ``(N, H, W, 3)`` uint8 array or an iterable of ``(H, W, 3)`` frames
            (grey ``(H, W)`` is expanded).
        fps: frames per second.
        crf: H.264 constant rate factor (0 lossless, 18 visually lossless, 23 x264's default).
        odd_size: ``"pad"`` or ``"refuse"`` odd frame sizes for H.264 (see the module docstring).
        lossless: for ``.mp4``/``.mov``/``.mkv``: encode RGB losslessly (``libx264rgb``, 4:4:4, qp 0, one
            encoder thread so the bytes do not depend on the machine); frames read back exactly, any size.
            Ignores ``crf`` and ``odd_size``. Many players other than ffmpeg/PyAV cannot show such files.
    """
    path = Path(path)
    if odd_size not in ("pad", "refuse"):
        raise ValueError("odd_size must be 'pad' or 'refuse'")
    items = _as_uint8_frames(frames)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == "":
            tmp.mkdir()
            for i, f in enumerate(items):
                write_image(tmp / f"{i:05d}.png", f)
        elif suffix == ".gif":
            ims = [Image.fromarray(f) for f in items]
            ims[0].save(tmp, format="GIF", save_all=True, append_images=ims[1:],
                        duration=max(1, round(1000 / fps)), loop=0)
        elif suffix in (".mp4", ".mov", ".mkv", ".m4v"):
            if not lossless:
                items = _pad_even(items, path, odd_size)
            h, w = items[0].shape[:2]
            with av.open(str(tmp), mode="w", format="mp4" if suffix in (".mp4", ".m4v") else None) as out:
                rate = Fraction(fps).limit_denominator(1001)
                stream = out.add_stream("libx264rgb" if lossless else "libx264", rate=rate)
                stream.width, stream.height = w, h
                stream.pix_fmt = "rgb24" if lossless else "yuv420p"
                stream.options = ({"qp": "0", "preset": "medium", "threads": "1"} if lossless
                                  else {"crf": str(crf), "preset": "medium"})
                for f in items:
                    for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                        out.mux(packet)
                for packet in stream.encode():
                    out.mux(packet)
        else:
            raise VideoError(path, f"unsupported output suffix {suffix!r} (use .mp4, .gif or a folder)")
    return path


def is_video_path(path: str | Path) -> bool:
    """True for a video file suffix or an existing folder of frames."""
    path = Path(path)
    return path.suffix.lower() in VIDEO_SUFFIXES or path.is_dir()
