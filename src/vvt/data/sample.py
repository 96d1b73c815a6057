"""The one record every dataset layout maps onto."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Category = Literal["upper", "lower", "dresses"]
CATEGORIES: tuple[Category, ...] = ("upper", "lower", "dresses")
#: folder names used by ViViD and DressCode for each category
CATEGORY_DIRS: dict[Category, str] = {"upper": "upper_body", "lower": "lower_body", "dresses": "dresses"}


@dataclass
class Sample:
    """One try-on sample: a person (video or image) with its conditions and a garment.

    Streams are paths, read lazily by :mod:`vvt.data.datasets`. A *video* path is a video file or a
    folder of frames; for image datasets the person streams are single images and ``is_video`` is False.
    ``garment`` is the garment to put on: the worn one for paired samples, another one for unpaired.

    Attributes:
        name: unique id within the dataset, e.g. ``"upper_body/upper1"``.
        dataset: the layout it was read from (``"vivid"``, ``"vivid_s"``, ``"vitonhd"``, ``"dresscode"``,
            ``"vvt"``, ``"fashionvideo"``).
        category: ``"upper"``, ``"lower"`` or ``"dresses"``.
        person: person video / image (the ground truth in paired mode).
        garment: garment product image, or None where the layout has none for this person.
        garment_mask: garment product mask.
        agnostic: clothing-agnostic person video / image.
        agnostic_mask: agnostic mask video / image (white = region to inpaint).
        densepose: DensePose video / image (vvt IUV or detectron2's part colour map, see ``densepose_format``).
        keypoints: keypoints for :func:`vvt.pose.openpose.load_keypoints`: a vvt keypoints JSON, one OpenPose
            ``*_keypoints.json`` (image datasets) or a folder of them, one per frame (VVT).
        skeleton: OpenPose-style skeleton video / image.
        densepose_format: ``"vvt_iuv"`` (:mod:`vvt.pose.densepose`) or ``"detectron2_parts"`` (colour map).
        paired: whether ``garment`` is the garment worn in ``person``.
        split: ``"train"`` or ``"test"``.
        frame_ranges: ``[start, end)`` frame ranges of the person stream that the dataset's protocol uses
            (CatV2TON's ``front_seqs``: the front-facing part of a ViViD-S video); empty = every frame. The
            evaluation (``vvt eval``, ``vvt bench quality``) runs and scores only these frames of every
            per-frame stream; training draws its clips inside them.
        extra: layout-specific paths (e.g. SynthVVT ground truth of an unpaired try-on).
    """

    name: str
    dataset: str
    category: Category
    person: Path | None
    garment: Path | None
    garment_mask: Path | None = None
    agnostic: Path | None = None
    agnostic_mask: Path | None = None
    densepose: Path | None = None
    keypoints: Path | None = None
    skeleton: Path | None = None
    densepose_format: str = "vvt_iuv"
    is_video: bool = True
    paired: bool = True
    split: str = "test"
    frame_ranges: tuple[tuple[int, int], ...] = ()
    extra: dict[str, Path] = field(default_factory=dict)

    def streams(self) -> dict[str, Path]:
        """The per-frame streams that exist for this sample (name -> path)."""
        names = ("person", "agnostic", "agnostic_mask", "densepose", "skeleton")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}
