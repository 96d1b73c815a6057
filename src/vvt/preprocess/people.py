"""Several people in view: keep the largest one and follow it over time.

mediapipe's Holistic tracks a single person and picks whichever its detector scores highest. Before a
frame reaches it, :class:`PersonSelector` segments every person with mediapipe's selfie segmentation
(offline, shipped in the wheel), groups the foreground into people (:func:`person_components`), chooses
the target (the largest person in the first frame where anyone is seen, then the person overlapping the
previous target most) and paints the *other* people with the background colour. Frames holding one
person pass through unchanged. People who touch or stand one behind the other (overlapping columns)
count as one; that case is not separated.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)


def person_components(prob: np.ndarray, min_area_frac: float = 0.01) -> list[np.ndarray]:
    """People in a person probability map ``(H, W)`` in [0, 1], largest first, as ``(H, W)`` bool masks.

    Selfie segmentation often splits one person into pieces (torso, skirt, legs in a side view). Two
    pieces are one person when their column ranges overlap by more than 20 % of the narrower one, or
    when their row ranges overlap by less than 20 % of the shorter one (stacked vertically); people side
    by side overlap in rows and not in columns. Pieces smaller
    than ``min_area_frac`` of the frame are dropped (speckle).
    """
    fg = (prob >= 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_area_frac * prob.size]
    group = {i: i for i in keep}

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    def overlap(a: int, b: int, start: int, size: int) -> float:
        sa, la, sb, lb = stats[a, start], stats[a, size], stats[b, start], stats[b, size]
        return (min(sa + la, sb + lb) - max(sa, sb)) / min(la, lb)

    for a in keep:
        for b in keep:
            if a < b and (overlap(a, b, cv2.CC_STAT_LEFT, cv2.CC_STAT_WIDTH) > 0.2
                          or overlap(a, b, cv2.CC_STAT_TOP, cv2.CC_STAT_HEIGHT) < 0.2):
                group[root(b)] = root(a)
    people: dict[int, np.ndarray] = {}
    for i in keep:
        people[root(i)] = people.get(root(i), np.zeros(prob.shape, bool)) | (labels == i)
    return sorted(people.values(), key=lambda m: -int(m.sum()))


def choose_target(components: list[np.ndarray], previous: np.ndarray | None) -> int:
    """Index of the person to follow: most overlap with ``previous`` (IoU), else the largest (index 0)."""
    if previous is None or not previous.any():
        return 0
    ious = [np.logical_and(c, previous).sum() / max(1, np.logical_or(c, previous).sum()) for c in components]
    best = int(np.argmax(ious))
    return best if ious[best] > 0 else 0


class PersonSelector:
    """Erase every person but the tracked one from each frame of a clip (see the module docstring).

    With ``track=False`` (unrelated photos) every frame keeps its own largest person.
    """

    def __init__(self, track: bool = True) -> None:
        import mediapipe as mp

        self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        self._previous: np.ndarray | None = None
        self._track = track
        self.frames_with_several = 0

    def close(self) -> None:
        self._seg.close()

    def __enter__(self) -> PersonSelector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W, 3)`` uint8 RGB -> (the frame with the other people painted as background,
        the target person's ``(H, W)`` bool selfie-segmentation mask, all False when nobody is seen)."""
        prob = self._seg.process(frame).segmentation_mask
        comps = person_components(prob)
        if not comps:
            return frame, np.zeros(prob.shape, bool)
        k = choose_target(comps, self._previous)
        if self._track:
            self._previous = comps[k]
        if len(comps) == 1:
            return frame, comps[k]
        self.frames_with_several += 1
        others = np.zeros(prob.shape, dtype=np.uint8)
        for i, c in enumerate(comps):
            if i != k:
                others |= c.astype(np.uint8)
        r = max(3, round(0.02 * max(prob.shape)))
        others = cv2.dilate(others, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0
        background = prob < 0.1
        fill = np.median(frame[background], axis=0) if background.any() else np.array([128, 128, 128])
        out = frame.copy()
        out[others & ~comps[k]] = fill.astype(np.uint8)
        return out, comps[k]
