"""Human parsing backends: which pixels are head, hands, feet, and which garments (DESIGN.md).

A backend turns a frame (and its keypoints) into :class:`Parsing`, a set of region masks. Two backends:

- :class:`OfflineParser` (default, nothing to download): head, hands and feet drawn from the mediapipe
  keypoints (face-mesh hull, hand-landmark hulls, foot points), and a colour estimate of where the lower
  garment starts (:func:`lower_garment_by_colour`). It knows no garment shapes, so agnostic masks follow
  body geometry.
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


def _patch_colour(lab: np.ndarray, centre: np.ndarray, radius: int) -> np.ndarray | None:
    h, w = lab.shape[:2]
    x, y = int(round(centre[0])), int(round(centre[1]))
    if not (0 <= x < w and 0 <= y < h):
        return None
    patch = lab[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1]
    return np.median(patch.reshape(-1, 3), axis=0)


def lower_garment_by_colour(frame: np.ndarray, body: np.ndarray, person: np.ndarray,
                            min_contrast: float = 10.0) -> np.ndarray | None:
    """Where the lower garment reaches up the torso, told apart from the top by colour, ``(H, W)`` bool.

    Seeds: the median CIELAB colour of the chest (35 % of the way from Neck to MidHip) and of the thighs
    (30 % from MidHip to the knees' midpoint). Person pixels below the chest line that are nearer the thigh
    colour than the chest colour, and connected to the thigh seed, are the lower garment. Returns None
    when the two colours differ by less than ``min_contrast`` (Delta E; one-colour outfit or a dress) or a
    seed lies outside the frame.
    """
    neck, mid = body[BODY25["Neck"], :2], body[BODY25["MidHip"], :2]
    knees = (body[BODY25["RKnee"], :2] + body[BODY25["LKnee"], :2]) / 2
    radius = max(2, int(0.03 * np.linalg.norm(neck - mid)))
    chest_at, thigh_at = neck + 0.35 * (mid - neck), mid + 0.3 * (knees - mid)
    h, w = person.shape
    # only person pixels below the chest line can be the lower garment: work in their box
    ys, xs = np.nonzero(person)
    y0 = int(np.clip(chest_at[1] - radius, 0, h))
    if not len(ys) or ys.max() < y0:
        return None
    y1, x0, x1 = ys.max() + 1, xs.min(), xs.max() + 1
    crop = frame[y0:y1, x0:x1]
    lab = cv2.cvtColor(cv2.GaussianBlur(crop, (5, 5), 0), cv2.COLOR_RGB2LAB).astype(np.float32)
    offset = np.array([x0, y0], dtype=np.float64)
    top, bottom = _patch_colour(lab, chest_at - offset, radius), _patch_colour(lab, thigh_at - offset, radius)
    if top is None or bottom is None or np.linalg.norm(top - bottom) < min_contrast:
        return None
    nearer_bottom = np.linalg.norm(lab - bottom, axis=-1) < np.linalg.norm(lab - top, axis=-1)
    rows = np.arange(y0, y1)[:, None] > chest_at[1]
    cand = (nearer_bottom & person[y0:y1, x0:x1] & rows).astype(np.uint8)
    n, labels = cv2.connectedComponents(cand, connectivity=4)
    seed = labels[int(round(thigh_at[1])) - y0, int(round(thigh_at[0])) - x0]
    if seed == 0:
        return None
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = labels == seed
    return out


class OfflineParser:
    """Head, hands, feet and the lower garment's upper edge, from keypoints and colour (module docstring)."""

    name = "offline"

    def parse(self, frame: np.ndarray, body: np.ndarray, hands: tuple[np.ndarray, np.ndarray],
              face: np.ndarray, person: np.ndarray | None = None) -> Parsing:
        """Regions of one frame.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.
            body: ``(25, 3)`` BODY_25 keypoints ``(x, y, conf)`` in pixels of ``frame``.
            hands: left and right ``(21, 3)`` hand keypoints.
            face: ``(70, 3)`` face keypoints.
            person: ``(H, W)`` bool person mask; without it the lower garment is not estimated.
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
        if person is not None:
            lower = lower_garment_by_colour(frame, body, person)
            if lower is not None:
                regions["lower"] = lower
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
