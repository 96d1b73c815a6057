"""User-facing errors.

Every problem a user can fix (a missing file, a malformed dataset, a bad config, missing weights)
is raised as a :class:`VVTError` subclass whose message names the input and says what to do.
The CLI prints the message without a traceback and exits with status 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class VVTError(Exception):
    """Base class of every error meant for the user."""


class InputFileError(VVTError):
    """An input file is missing, unreadable or has the wrong content."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class VideoError(InputFileError):
    """A video cannot be read or written: not a video, zero frames, an unreadable frame, odd sizes."""


class OutputPathError(VVTError):
    """An output path cannot be written: an input, an input's folder, a folder vvt did not write, a parent that
    is a file or read-only, a wrong suffix. Raised before any work, and nothing is changed."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class OptionError(VVTError):
    """A command-line option has a value out of its range (``--fps -5``) or names something unavailable
    (``--device cuda`` without CUDA)."""


class ShapeMismatchError(VVTError):
    """Inputs that must agree (frame counts, sizes) do not."""


class LayoutError(VVTError):
    """A dataset folder does not follow its layout. Lists every problem found, not only the first."""

    def __init__(self, root: str | Path, problems: Iterable[str]):
        self.root = Path(root)
        self.problems = list(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{root}: the dataset tree is malformed ({len(self.problems)} problem(s)):\n{listed}")


class ConfigError(VVTError):
    """A configuration file or override is invalid."""


class WeightsNotFoundError(VVTError):
    """Pretrained weights are missing from a local directory (nothing is ever downloaded)."""

    def __init__(self, what: str, expected: str | Path, hint: str = ""):
        self.expected = Path(expected)
        msg = f"{what}: weights not found; put them at {expected}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)
