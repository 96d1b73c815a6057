"""Video and image I/O (PyAV, Pillow) with clear errors and atomic writes that never destroy a user's files."""

from vvt.io.atomic import OUTPUT_MARKER, atomic_path, atomic_write_bytes, atomic_write_text, is_vvt_output
from vvt.io.image import read_image, read_mask, write_image
from vvt.io.video import (
    VideoInfo,
    VideoWriter,
    allowing_truncated,
    frame_files,
    is_video_path,
    iter_frames,
    read_video,
    video_info,
    write_video,
)

__all__ = [
    "OUTPUT_MARKER",
    "VideoInfo",
    "VideoWriter",
    "allowing_truncated",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "frame_files",
    "is_video_path",
    "is_vvt_output",
    "iter_frames",
    "read_image",
    "read_mask",
    "read_video",
    "video_info",
    "write_image",
    "write_video",
]
