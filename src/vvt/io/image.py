"""Image reading and writing (RGB uint8 arrays), with clear errors and atomic writes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vvt.errors import InputFileError
from vvt.io.atomic import atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _too_large(path: Path, exc: Exception) -> InputFileError:
    """Pillow's decompression-bomb refusal as one line naming the image."""
    m = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(m.group(1)):,} pixels" if m else "too many pixels"
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return InputFileError(
        path, f"image too large to decode safely ({size}, over Pillow's limit of {limit:,}); resize it first"
    )


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB (alpha is composited on white)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "image file not found")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(white, rgba)
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except Image.DecompressionBombError as exc:
        raise _too_large(path, exc) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputFileError(path, f"not a readable image ({exc})") from None


def read_mask(path: str | Path, threshold: int = 128) -> np.ndarray:
    """Read a mask image as ``(H, W)`` bool (``True`` where the grey value is >= ``threshold``)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "mask file not found")
    try:
        with Image.open(path) as im:
            grey = np.asarray(im.convert("L"), dtype=np.uint8)
    except Image.DecompressionBombError as exc:
        raise _too_large(path, exc) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputFileError(path, f"not a readable mask image ({exc})") from None
    return grey >= threshold


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write ``(H, W, 3)`` / ``(H, W)`` uint8 (or bool) to ``path`` atomically; format from the suffix."""
    path = Path(path)
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8 or bool, got {arr.dtype}")
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    options = {"quality": 95} if fmt == "JPEG" else {}
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format=fmt, **options)
    return path
