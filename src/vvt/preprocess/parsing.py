"""Human parsing backends: which pixels are head, hands, feet, and which garments (DESIGN.md).

A backend turns a frame (and its keypoints) into :class:`Parsing`, a set of region masks. Two backends:

- :class:`OfflineParser` (default, nothing to download): head, hands and feet drawn from the mediapipe
  keypoints (face-mesh hull, hand-landmark hulls, foot points). It knows no garment classes: where the top
  ends and the bottom begins is found by colour in :mod:`vvt.preprocess.outfit`.
- :class:`SegformerParser`: a SegFormer human parser loaded from a local directory with transformers'
  ``SegformerForSemanticSegmentation`` (``config.json`` + weights + ``preprocessor_config.json``), for
  example the 18-class FASHN human parser. Its class names (``config.id2label``) are mapped onto vvt's
  regions by :data:`REGION_LABELS`; garment regions then shape the agnostic masks.

:func:`load_parser` picks one and logs which ran.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vvt.errors import WeightsNotFoundError
from vvt.pose.openpose import BODY25

log = logging.getLogger(__name__)

#: vvt region -> parser class names that belong to it (names lower-cased, '-' and ' ' read as '_')
REGION_LABELS: dict[str, tuple[str, ...]] = {
    "head": ("face", "hair", "hat", "glasses", "sunglasses", "head", "headwear"),
    "hands": ("hands", "hand", "left_hand", "right_hand", "gloves", "glove"),
    "feet": ("feet", "foot", "shoes", "shoe", "left_shoe", "right_shoe", "left_foot", "right_foot", "socks"),
    "upper": ("top", "upper_clothes", "upper_clothing", "shirt", "coat", "jacket", "sweater", "upper"),
    "lower": ("pants", "skirt", "shorts", "trousers", "lower_clothes", "lower"),
    "dress": ("dress", "jumpsuit", "jumpsuits", "dresses"),
    "arms": ("arms", "arm", "left_arm", "right_arm"),
    "legs": ("legs", "leg", "left_leg", "right_leg"),
    "torso": ("torso", "torso_skin", "neck"),
}


@dataclass
class Parsing:
    """Region masks of one frame, each ``(H, W)`` bool; a region a backend cannot see is absent."""

    regions: dict[str, np.ndarray] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray | None:
        return self.regions.get(name)

    @property
    def knows_garments(self) -> bool:
        return any(k in self.regions for k in ("upper", "lower", "dress"))


def _hull_mask(points: np.ndarray, shape: tuple[int, int], grow: float) -> np.ndarray:
    """Filled convex hull of ``(K, 2)`` points scaled by ``1 + grow`` about their centre."""
    mask = np.zeros(shape, np.uint8)
    if len(points) >= 3:
        c = points.mean(axis=0)
        pts = (c + (points - c) * (1 + grow)).round().astype(np.int32)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 1)
    return mask > 0


class OfflineParser:
    """Head, hands and feet from keypoints (module docstring)."""

    name = "offline"

    def parse(self, frame: np.ndarray, body: np.ndarray, hands: tuple[np.ndarray, np.ndarray],
              face: np.ndarray, person: np.ndarray | None = None) -> Parsing:
        """Regions of one frame.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.
            body: ``(25, 3)`` BODY_25 keypoints ``(x, y, conf)`` in pixels of ``frame``.
            hands: left and right ``(21, 3)`` hand keypoints.
            face: ``(70, 3)`` face keypoints.
            person: ``(H, W)`` bool person mask (not used by this backend).
        """
        shape = frame.shape[:2]
        regions: dict[str, np.ndarray] = {}
        if face[:, 2].max() > 0:
            # the face hull grown upwards to the hairline: brows sit ~1/3 of the way from chin to crown
            pts = face[:68, :2]
            chin = pts[8]
            brow = pts[17:27].mean(axis=0)
            crown = brow + (brow - chin) * 0.6
            regions["head"] = _hull_mask(np.vstack([pts, crown[None]]), shape, grow=0.12)
        else:
            head_pts = body[[BODY25[k] for k in ("Nose", "REye", "LEye", "REar", "LEar")]]
            seen = head_pts[head_pts[:, 2] > 0.3, :2]
            if len(seen) >= 2:
                c = seen.mean(axis=0)
                r = max(4.0, 1.2 * float(np.linalg.norm(seen - c, axis=1).max()))
                mask = np.zeros(shape, np.uint8)
                cv2.circle(mask, (round(c[0]), round(c[1])), round(r), 1, -1)
                regions["head"] = mask > 0
        hands_mask = np.zeros(shape, bool)
        for h in hands:
            if h[:, 2].max() > 0:
                hands_mask |= _hull_mask(h[:, :2], shape, grow=0.15)
        regions["hands"] = hands_mask
        feet = np.zeros(shape, bool)
        for side in ("L", "R"):
            pts = body[[BODY25[f"{side}{k}"] for k in ("Ankle", "BigToe", "Heel")]]
            if (pts[:, 2] > 0.3).all():
                feet |= _hull_mask(pts[:, :2], shape, grow=0.5)
        regions["feet"] = feet
        return Parsing(regions)


def _normalise(label: str) -> str:
    return label.strip().lower().replace("-", "_").replace(" ", "_")


def label_regions(id2label: dict[int, str]) -> dict[str, list[int]]:
    """vvt region -> class ids of a parser whose classes are named ``id2label`` (unknown names ignored)."""
    out: dict[str, list[int]] = {}
    for idx, label in id2label.items():
        name = _normalise(label)
        for region, names in REGION_LABELS.items():
            if name in names:
                out.setdefault(region, []).append(int(idx))
    return out


class SegformerParser:
    """A SegFormer semantic-segmentation human parser loaded from a local directory (offline)."""

    name = "segformer"

    def __init__(self, path: str | Path, device: str = "cpu"):
        path = Path(path)
        if not (path / "config.json").is_file():
            raise WeightsNotFoundError(
                "SegFormer human parser", path,
                "a save_pretrained directory: config.json, model.safetensors, preprocessor_config.json")
        import torch
        from transformers import SegformerForSemanticSegmentation, SegformerImageProcessor

        try:
            self.model = SegformerForSemanticSegmentation.from_pretrained(path, local_files_only=True)
            self.processor = SegformerImageProcessor.from_pretrained(path, local_files_only=True)
        except OSError as exc:
            raise WeightsNotFoundError("SegFormer human parser", path, str(exc).splitlines()[0]) from None
        self.model.eval().to(device)
        self.device = device
        self._torch = torch
        self.regions = label_regions(self.model.config.id2label)
        if not self.regions:
            log.warning("%s: no class name of this parser matches a vvt region (%s)", path,
                        ", ".join(self.model.config.id2label.values()))

    def labels(self, frame: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB -> ``(H, W)`` int64 class index per pixel (logits upsampled bilinearly)."""
        torch = self._torch
        inputs = self.processor(images=frame, return_tensors="pt").to(self.device)
        with torch.no_grad():
            logits = self.model(**inputs).logits
        logits = torch.nn.functional.interpolate(logits, size=frame.shape[:2], mode="bilinear",
                                                 align_corners=False)
        return logits.argmax(dim=1)[0].cpu().numpy()

    def parse(self, frame: np.ndarray, body: np.ndarray, hands: tuple[np.ndarray, np.ndarray],
              face: np.ndarray, person: np.ndarray | None = None) -> Parsing:
        """Regions of one frame from the parser's classes (keypoints and person mask are not used)."""
        labels = self.labels(frame)
        return Parsing({region: np.isin(labels, ids) for region, ids in self.regions.items()})


def load_parser(spec: str | Path | None = None, device: str = "cpu") -> OfflineParser | SegformerParser:
    """``None`` / ``"offline"`` -> :class:`OfflineParser`; a directory -> :class:`SegformerParser`."""
    if spec is None or str(spec) == "offline":
        log.info("human parsing: offline backend (mediapipe keypoints and colour; no garment classes)")
        return OfflineParser()
    parser = SegformerParser(spec, device=device)
    log.info("human parsing: SegFormer from %s (%d classes)", spec, len(parser.model.config.id2label))
    return parser
