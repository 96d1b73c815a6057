"""Video and image I/O (PyAV, Pillow) with clear errors and atomic writes."""

from vvt.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from vvt.io.image import read_image, read_mask, write_image
from vvt.io.video import (
    VideoInfo,
    frame_files,
    is_video_path,
    iter_frames,
    read_video,
    video_info,
    write_video,
)

__all__ = [
    "VideoInfo",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "frame_files",
    "is_video_path",
    "iter_frames",
    "read_image",
    "read_mask",
    "read_video",
    "video_info",
    "write_image",
    "write_video",
]
