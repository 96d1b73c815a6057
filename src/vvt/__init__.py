"""vvt: video virtual try-on (RealVVT, FashionMirror), SynthVVT data, preprocessing and evaluation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vvt")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from vvt.errors import VVTError  # noqa: E402

__all__ = ["VVTError", "__version__"]
