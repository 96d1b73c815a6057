"""Agnostic masks measured against a reference (ViViD's own masks), frame by frame (issue 20, item 3).

For our mask ``M`` and the reference ``R`` of one frame:

- **IoU** ``|M & R| / |M | R|``;
- **coverage** ``|M & R| / |R|``: the share of the reference that ours hides too (a try-on model must repaint
  all of the old garment, so this is the one that must stay near 1);
- **excess** ``|M - R| / |M|``: the share of ours outside the reference (person or background repainted
  for nothing);
- **other garment** ``|M & O| / |O|``: the share of the *other* garment's region ``O`` that ours covers (an
  upper-body mask must leave the skirt or trousers alone, a lower-body mask the top). ViViD ships no garment
  labels, so ``O`` is estimated from its DensePose (:func:`other_garment_region`).
- **temporal change** ``1 - IoU(M_t, M_t+1)`` between consecutive frames, ours and the reference's
  (issue 20, item 4: ours may exceed the reference's by at most 20 %).
"""

from __future__ import annotations

import numpy as np

from vvt.pose.densepose import decode_iuv, to_vvt_iuv

#: DensePose parts (detectron2 indices) of the torso, and of the legs down to the knees (thighs 7-10)
TORSO_PARTS = (1, 2)
THIGH_PARTS = (7, 8, 9, 10)
#: temporal change allowed beyond the reference's (issue 20, item 4)
MAX_CHANGE_RATIO = 1.2


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def mask_scores(ours: np.ndarray, ref: np.ndarray, other: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-frame scores of ``(N, H, W)`` bool masks (module docstring); each value is ``(N,)`` float64.

    ``other``: ``(N, H, W)`` bool region of the other garment (no ``other_garment`` score without it). A
    ratio whose denominator is empty is NaN (no reference, no mask or no other garment in that frame).
    """
    ours, ref = np.asarray(ours, bool), np.asarray(ref, bool)
    if ours.shape != ref.shape:
        raise ValueError(f"mask shapes differ: ours {ours.shape}, reference {ref.shape}")
    n = len(ours)
    flat = lambda a: a.reshape(n, -1)  # noqa: E731
    o, r = flat(ours), flat(ref)
    inter = (o & r).sum(1)
    out = {
        "iou": _ratio(inter, (o | r).sum(1)),
        "coverage": _ratio(inter, r.sum(1)),
        "excess": _ratio((o & ~r).sum(1), o.sum(1)),
    }
    if other is not None:
        g = flat(np.asarray(other, bool))
        out["other_garment"] = _ratio((o & g).sum(1), g.sum(1))
    return out


def mask_changes(masks: np.ndarray) -> np.ndarray:
    """``(N - 1,)`` float64: ``1 - IoU`` of consecutive ``(N, H, W)`` bool masks (two empty masks: 0)."""
    m = np.asarray(masks, bool).reshape(len(masks), -1)
    if len(m) < 2:
        return np.zeros(0)
    inter = (m[1:] & m[:-1]).sum(1)
    union = (m[1:] | m[:-1]).sum(1)
    return 1.0 - np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def densepose_parts(frames: np.ndarray, source_format: str = "detectron2_parts") -> np.ndarray:
    """``(N, H, W)`` int part index (0 background, 1..24 detectron2 parts) of DensePose frames in any of
    :data:`vvt.pose.densepose.DENSEPOSE_FORMATS` (ViViD ships detectron2's colour-mapped part rendering)."""
    return decode_iuv(to_vvt_iuv(np.asarray(frames), source_format))[0]


def other_garment_region(category: str, parts: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Where the garment that a ``category`` mask must leave alone lies, from DensePose parts ``(N, H, W)``.

    For ``upper`` it is the thighs (parts 7-10: under a skirt or trousers in every outfit) outside the
    reference mask; for ``lower`` the torso (parts 1-2: under the top) outside it; ``dresses`` has no other
    garment (all False). An estimate: DensePose follows the body, not the garment's outline.
    """
    if category == "dresses":
        return np.zeros(np.shape(parts), bool)
    ids = THIGH_PARTS if category == "upper" else TORSO_PARTS
    return np.isin(parts, ids) & ~np.asarray(ref, bool)


def summarise(scores: dict[str, np.ndarray], ours: np.ndarray, ref: np.ndarray) -> dict:
    """Per-frame lists, means, minima and the temporal change of ours and of the reference (JSON-ready)."""
    per_frame = {k: [None if np.isnan(x) else round(float(x), 4) for x in v] for k, v in scores.items()}
    mean = {k: float(np.nanmean(v)) if np.isfinite(v).any() else None for k, v in scores.items()}
    low = {k: float(np.nanmin(v)) if np.isfinite(v).any() else None for k, v in scores.items()}
    ours_change, ref_change = mask_changes(ours), mask_changes(ref)
    mc = float(ours_change.mean()) if len(ours_change) else 0.0
    rc = float(ref_change.mean()) if len(ref_change) else 0.0
    return {
        "mean": mean,
        "min": low,
        "temporal_change": {"ours": mc, "reference": rc, "ratio": mc / rc if rc > 0 else None,
                            "within_20_percent": mc <= MAX_CHANGE_RATIO * rc},
        "per_frame": per_frame | {"temporal_change_ours": [round(float(x), 4) for x in ours_change],
                                  "temporal_change_reference": [round(float(x), 4) for x in ref_change]},
    }
