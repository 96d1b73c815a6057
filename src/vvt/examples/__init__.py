"""The try-on example shipped with vvt: a held-out SynthVVT clip, a garment photo and the ground truth.

The files and the ``vvt synth`` command that made them are listed in this folder's ``README.md`` (seed 17;
the bundled model was trained on seed 0). :func:`load_example` reads them as the prepared conditions of
RealVVT (:class:`~vvt.realvvt.tryon.VideoConditions`), so the example needs no pose estimation.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

#: category of the bundled garment
EXAMPLE_CATEGORY = "upper"
#: the files of the example, by role
EXAMPLE_FILES = {
    "person": "person.mp4",
    "agnostic": "agnostic.mp4",
    "agnostic_mask": "agnostic_mask.mp4",
    "densepose": "densepose.mp4",
    "garment": "garment.jpg",
    "ground_truth": "ground_truth.mp4",
    "worn_mask": "worn_mask.mp4",
}


def example_dir() -> Path:
    """The folder holding the example's files."""
    return Path(str(resources.files(__name__)))


def example_path(role: str) -> Path:
    """The file of ``role`` (a key of :data:`EXAMPLE_FILES`)."""
    from vvt.errors import InputFileError

    path = example_dir() / EXAMPLE_FILES[role]
    if not path.is_file():
        raise InputFileError(path, "the bundled example is missing (the package was installed without it)")
    return path


@dataclass
class Example:
    """The bundled example: ``conditions`` (prepared streams, with the person video), the ``garment`` photo
    ``(h, w, 3)`` uint8, the ``ground_truth`` try-on ``(F, H, W, 3)`` uint8 and the ``worn_mask`` of the
    garment in it ``(F, H, W)`` bool."""

    conditions: object
    garment: np.ndarray
    ground_truth: np.ndarray
    worn_mask: np.ndarray
    category: str = EXAMPLE_CATEGORY


def load_example() -> Example:
    """Read the bundled example (:class:`Example`)."""
    from vvt.io import read_image, read_video
    from vvt.realvvt.tryon import read_conditions

    conditions = read_conditions(
        example_path("agnostic"),
        example_path("agnostic_mask"),
        example_path("densepose"),
        "vvt_iuv",
        example_path("person"),
    ).in_memory()
    conditions.name = "bundled example"
    truth, _ = read_video(example_path("ground_truth"))
    return Example(conditions, read_image(example_path("garment")), truth, _read_mask_video(example_path("worn_mask")))


def _read_mask_video(path: Path) -> np.ndarray:
    from vvt.io import read_video

    frames, _ = read_video(path)
    return frames.max(axis=-1) > 127
