"""vvt: video virtual try-on (RealVVT, FashionMirror), SynthVVT data, preprocessing and evaluation.

``vvt.tryon(video, garment, category="upper", weights=None, **sampling)`` and ``vvt.tryon_batch(pairs, out_dir)``
(``vvt.tryon_to_file(video, garment, out)`` streams a long video to a file)
are the Python API of ``vvt tryon`` (:mod:`vvt.api`), imported on first use so that ``import vvt`` stays light.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vvt")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from vvt.errors import VVTError  # noqa: E402

_API = ("tryon", "tryon_to_file", "tryon_batch", "TryOnResult")

__all__ = ["VVTError", "__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module("vvt.api"), name)
    raise AttributeError(f"module 'vvt' has no attribute {name!r}")
