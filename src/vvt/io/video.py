"""Video reading and writing through PyAV.

Videos are ``(N, H, W, 3)`` uint8 RGB arrays. A *video* may also be a folder of numbered image frames
(the layout of VVT and of many preprocessing tools); both read the same way. Writers pick the format
from the path: ``.mp4`` (H.264, yuv420p), ``.gif``, or a path without suffix (a folder of PNG frames).
Every write is atomic. GIF is for previews only: Pillow merges identical consecutive frames into one,
and GIF stores frame delays in 1/100 s, so 24 fps reads back as 25 fps.

H.264 in yuv420p needs even frame sizes. ``write_video(..., odd_size="keep")`` (the default) keeps an odd
size exactly by encoding 4:4:4 chroma (H.264 High 4:4:4; ffmpeg, PyAV, VLC and Chrome play it, some players
do not) and logs it; ``odd_size="pad"`` pads the last row/column by replication to stay 4:2:0;
``odd_size="refuse"`` raises :class:`VideoError`.

**Truncated videos.** A container that declares N frames in its index (MP4, MOV) but holds fewer (an
interrupted download or copy whose index survived) is a :class:`VideoError` naming both counts, found by
:func:`video_info` before any frame is decoded and by :func:`iter_frames` / :func:`read_video` while
decoding. ``allow_truncated=True`` (the CLI's ``--allow-truncated``; or :func:`allowing_truncated` around
code that reads videos deep inside) uses the frames that can be read and logs a warning with both counts.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import re
import sys
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
_ALLOW_TRUNCATED: contextvars.ContextVar[bool] = contextvars.ContextVar("vvt_allow_truncated", default=False)


@contextlib.contextmanager
def allowing_truncated(allow: bool = True) -> Iterator[None]:
    """Within the block, readers called without ``allow_truncated`` accept truncated videos (with a warning)."""
    token = _ALLOW_TRUNCATED.set(bool(allow))
    try:
        yield
    finally:
        _ALLOW_TRUNCATED.reset(token)


def _truncated(path: Path, declared: int, found: int, allow: bool | None, what: str = "can be read") -> None:
    """Error (or, when allowed, warn) about a video with fewer frames than its container declares."""
    if _ALLOW_TRUNCATED.get() if allow is None else allow:
        log.warning(
            "%s: truncated video: the container declares %d frames, %d %s; using those %d (--allow-truncated)",
            path, declared, found, what, found,
        )
        return
    raise VideoError(
        path,
        f"truncated video: the container declares {declared} frames but only {found} {what} (an interrupted "
        f"download or copy?); fetch it again, or pass --allow-truncated to use the {found} frame(s)",
    )


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


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The first video stream, with decodable parameters (a file cut inside its header has none)."""
    if not container.streams.video:
        raise VideoError(path, "not a video: the file has no video stream")
    stream = container.streams.video[0]
    context = stream.codec_context
    if context is None or not context.width or not context.height:
        raise VideoError(path, "not a readable video (its video stream has no size or codec: a damaged header?)")
    return stream


#: what PyAV raises on a damaged container: FFmpeg's errors, and UnicodeDecodeError from metadata tags that are
#: not UTF-8 (PyAV decodes every tag when it opens the file)
_DECODE_ERRORS = (av.error.FFmpegError, UnicodeDecodeError)


def _open_input(path: Path) -> av.container.InputContainer:
    """Open a video file for reading; a file PyAV cannot open is a :class:`VideoError` naming it."""
    try:
        return av.open(str(path))
    except _DECODE_ERRORS as exc:
        raise VideoError(path, f"not a readable video ({exc})") from None


def video_info(path: str | Path, allow_truncated: bool | None = None) -> VideoInfo:
    """Frame count, fps and size of a video file or frame folder (the count is exact: frames are demuxed).

    A file holding fewer frames than its container declares is an error unless ``allow_truncated`` (None:
    as :func:`allowing_truncated` says); see the module docstring."""
    path = Path(path)
    _check_exists(path)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise VideoError(path, "folder holds no image frames (zero frames)")
        h, w = read_image(files[0]).shape[:2]
        return VideoInfo(path, len(files), DEFAULT_FPS, h, w)
    try:
        with _open_input(path) as container:
            stream = _video_stream(container, path)
            fps = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
            h, w = stream.codec_context.height, stream.codec_context.width
            declared = int(stream.frames or 0)
            n = sum(1 for pkt in container.demux(stream) if pkt.size > 0)
    except _DECODE_ERRORS as exc:
        raise VideoError(path, f"not a readable video ({exc})") from None
    if n == 0:
        raise VideoError(path, "video has zero frames" + (f" of the {declared} it declares" if declared else ""))
    if declared > n:
        _truncated(path, declared, n, allow_truncated, "are stored")
    return VideoInfo(path, n, fps, h, w)


def iter_frames(path: str | Path, allow_truncated: bool | None = None) -> Iterator[np.ndarray]:
    """Yield frames ``(H, W, 3)`` uint8 RGB one at a time, so a long video never sits in memory.

    A file that ends before the frame count its container declares is an error once the last readable frame
    has been yielded, unless ``allow_truncated`` (None: as :func:`allowing_truncated` says)."""
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
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        declared = int(stream.frames or 0)
        try:
            for frame in container.decode(stream):
                count += 1
                yield frame.to_ndarray(format="rgb24")
        except _DECODE_ERRORS as exc:
            if not declared > count:
                raise VideoError(path, f"unreadable frame after frame {count} ({exc})") from None
    if declared > count:
        _truncated(path, declared, count, allow_truncated, "decode")
    if count == 0:
        raise VideoError(path, "video has zero frames" + (f" of the {declared} it declares" if declared else ""))


def read_video(
    path: str | Path, max_frames: int | None = None, allow_truncated: bool | None = None
) -> tuple[np.ndarray, float]:
    """Read a whole video (or its first ``max_frames``) as ``(N, H, W, 3)`` uint8 and its fps.

    ``allow_truncated``: accept a file with fewer frames than its container declares (see the module
    docstring); the first ``max_frames`` frames of a truncated file are read without complaint when present.
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    path = Path(path)
    fps = DEFAULT_FPS if path.is_dir() else None
    frames: list[np.ndarray] = []
    for frame in iter_frames(path, allow_truncated):
        frames.append(frame)
        if max_frames is not None and len(frames) >= max_frames:
            break
    if fps is None:
        with _open_input(path) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
    if len({f.shape for f in frames}) != 1:
        raise VideoError(path, "frames have different sizes")
    return np.stack(frames), fps


def _as_uint8_frame(f: np.ndarray) -> np.ndarray:
    """One frame as ``(H, W, 3)`` uint8 (grey ``(H, W)`` expanded, bool masks as 0/255)."""
    f = np.asarray(f)
    if f.ndim == 2:
        f = np.repeat(f[..., None], 3, axis=-1)
    if f.dtype == bool:
        f = f.astype(np.uint8) * 255
    if f.dtype != np.uint8 or f.ndim != 3 or f.shape[-1] != 3:
        raise ValueError(f"frames must be (H, W, 3) uint8, got {f.shape} {f.dtype}")
    return f


def _as_uint8_frames(frames: np.ndarray | Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """The frames as ``(H, W, 3)`` uint8, checked one at a time as they are consumed (an iterator of frames is
    never held in memory as a whole)."""
    shape = None
    for f in frames:
        f = _as_uint8_frame(f)
        if shape is not None and f.shape != shape:
            raise ValueError(f"frames have different sizes: {sorted({f.shape, shape})}")
        shape = f.shape
        yield f
    if shape is None:
        raise ValueError("cannot write a video with zero frames")


#: the suffixes :class:`VideoWriter` encodes (H.264)
ENCODED_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")


class VideoWriter:
    """Encode frames into an H.264 video file (``.mp4``, ``.mov``, ``.mkv``, ``.m4v``) one at a time,
    atomically: the frames go to a temporary sibling, renamed to ``path`` when the ``with`` block ends without
    an error (with an error, or with zero frames written, the temporary is removed and ``path`` is left as it
    was). Several writers may be open at once, e.g. streams made frame by frame from one pass over a video::

        with VideoWriter(a, fps) as wa, VideoWriter(b, fps) as wb:
            for fa, fb in pairs:
                wa.write(fa)
                wb.write(fb)

    Arguments as in :func:`write_video` (which uses this class for these suffixes).
    """

    def __init__(
        self, path: str | Path, fps: float = DEFAULT_FPS, *, crf: int = 18, odd_size: str = "keep",
        lossless: bool = False
    ) -> None:
        self.path = Path(path)
        if odd_size not in ("keep", "pad", "refuse"):
            raise ValueError("odd_size must be 'keep', 'pad' or 'refuse'")
        if self.path.suffix.lower() not in ENCODED_SUFFIXES:
            raise VideoError(self.path, f"VideoWriter encodes {', '.join(ENCODED_SUFFIXES)} files only")
        self.fps, self.crf, self.odd_size, self.lossless = fps, crf, odd_size, lossless
        self.num_frames = 0
        self._atomic: contextlib.AbstractContextManager[Path] | None = None
        self._tmp: Path | None = None
        self._out: av.container.OutputContainer | None = None
        self._stream = None
        self._shape: tuple[int, ...] | None = None
        self._pad = (0, 0)

    def __enter__(self) -> VideoWriter:
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        return self

    def _open(self, shape: tuple[int, ...]) -> None:
        h, w = shape[:2]
        pix_fmt = "rgb24"
        if not self.lossless and (h % 2 or w % 2):
            if self.odd_size == "refuse":
                raise VideoError(self.path, f"frame size {h}x{w} is odd; H.264 4:2:0 needs even sizes "
                                            "(use odd_size='keep')")
            if self.odd_size == "keep":
                log.warning(
                    "%s: frame size %dx%d is odd; encoding H.264 4:4:4 to keep it (some players cannot open 4:4:4; "
                    "write .gif or a PNG folder, or use an even size, for those)", self.path, h, w,
                )
                pix_fmt = "yuv444p"
            else:
                log.warning("%s: frame size %dx%d is odd; padding to %dx%d for H.264", self.path, h, w, h + h % 2,
                            w + w % 2)
                self._pad = (h % 2, w % 2)
                pix_fmt = "yuv420p"
        elif not self.lossless:
            pix_fmt = "yuv420p"
        suffix = self.path.suffix.lower()
        self._out = av.open(str(self._tmp), mode="w", format="mp4" if suffix in (".mp4", ".m4v") else None)
        stream = self._out.add_stream("libx264rgb" if self.lossless else "libx264",
                                      rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = w + self._pad[1], h + self._pad[0]
        stream.pix_fmt = pix_fmt
        stream.options = ({"qp": "0", "preset": "medium", "threads": "1"} if self.lossless
                          else {"crf": str(self.crf), "preset": "medium"})
        self._stream = stream
        self._shape = shape

    def write(self, frame: np.ndarray) -> None:
        """Encode one frame ``(H, W, 3)`` uint8 (grey ``(H, W)`` is expanded, bool masks as 0/255)."""
        if self._tmp is None:
            raise RuntimeError("VideoWriter.write outside its with block")
        f = _as_uint8_frame(frame)
        if self._out is None:
            self._open(f.shape)
        elif f.shape != self._shape:
            raise ValueError(f"frames have different sizes: {sorted({f.shape, self._shape})}")
        if any(self._pad):
            f = np.pad(f, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
            self._out.mux(packet)
        self.num_frames += 1

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self._atomic is not None
        atomic, self._atomic, self._tmp = self._atomic, None, None
        try:
            if self._out is not None:
                try:
                    if exc_type is None:
                        for packet in self._stream.encode():
                            self._out.mux(packet)
                finally:
                    self._out.close()
                    self._out = None
            if exc_type is None and self.num_frames == 0:
                raise ValueError("cannot write a video with zero frames")
        except BaseException:
            if not atomic.__exit__(*sys.exc_info()):
                raise
            return False
        return bool(atomic.__exit__(exc_type, exc, tb))


def write_video(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float = DEFAULT_FPS,
    *,
    crf: int = 18,
    odd_size: str = "keep",
    lossless: bool = False,
) -> Path:
    """Write frames ``(N, H, W, 3)`` uint8 atomically: ``.mp4`` (H.264), ``.gif``, or a PNG-frame folder.

    An iterator of frames is encoded as it yields them (``.mp4`` and folders; ``.gif`` collects them), into a
    temporary file renamed at the end, so a long video is written in bounded memory and an interrupted run
    leaves no partial file.

    Args:
        path: output path; the suffix picks the format, no suffix means a folder of ``00000.png`` frames.
        frames: ``(N, H, W, 3)`` uint8 array or an iterable of ``(H, W, 3)`` frames
            (grey ``(H, W)`` is expanded).
        fps: frames per second.
        crf: H.264 constant rate factor (0 lossless, 18 visually lossless, 23 x264's default).
        odd_size: ``"keep"`` (4:4:4), ``"pad"`` or ``"refuse"`` odd frame sizes for H.264 (see the module
            docstring).
        lossless: for ``.mp4``/``.mov``/``.mkv``: encode RGB losslessly (``libx264rgb``, 4:4:4, qp 0, one
            encoder thread so the bytes do not depend on the machine); frames read back exactly, any size.
            Ignores ``crf`` and ``odd_size``. Many players other than ffmpeg/PyAV cannot show such files.
    """
    path = Path(path)
    if odd_size not in ("keep", "pad", "refuse"):
        raise ValueError("odd_size must be 'keep', 'pad' or 'refuse'")
    items = _as_uint8_frames(frames)
    first = next(items)  # raises ValueError on zero frames, before anything is written
    items = itertools.chain([first], items)
    suffix = path.suffix.lower()
    if suffix in ENCODED_SUFFIXES:
        with VideoWriter(path, fps, crf=crf, odd_size=odd_size, lossless=lossless) as writer:
            for f in items:
                writer.write(f)
        return path
    with atomic_path(path) as tmp:
        if suffix == "":
            tmp.mkdir()
            for i, f in enumerate(items):
                write_image(tmp / f"{i:05d}.png", f)
        elif suffix == ".gif":
            ims = [Image.fromarray(f) for f in items]
            ims[0].save(tmp, format="GIF", save_all=True, append_images=ims[1:],
                        duration=max(1, round(1000 / fps)), loop=0)
        else:
            raise VideoError(path, f"unsupported output suffix {suffix!r} (use .mp4, .gif or a folder)")
    return path


def is_video_path(path: str | Path) -> bool:
    """True for a video file suffix or an existing folder of frames."""
    path = Path(path)
    return path.suffix.lower() in VIDEO_SUFFIXES or path.is_dir()
