"""Where the upper and the lower garment of a worn outfit meet, from colour seeded by the pose (issue 20, item 1).

No human-parsing weights can be had offline, so vvt tells the top from the skirt or trousers by colour,
with the pose saying where to look:

1. **Seeds.** The median CIELAB colour of a chest patch (30 % of the way from Neck to MidHip) is the upper
   garment's, that of a thigh patch (30 % from MidHip to the knees) the lower garment's; only person pixels
   count. Each pixel gets ``z = (|c - upper| - |c - lower|) / |upper - lower|``, clipped to ``[-1, 1]``:
   negative is top-like, positive bottom-like; a pixel far from both seeds (skin, hair, a bag;
   :data:`NEAR_SEED`) gets 0. The weight of colour grows with the seeds' contrast (Delta E) and vanishes
   for a one-colour outfit or a dress (:data:`MIN_CONTRAST`).
2. **Seam** (:func:`waist_seam`): in a band around the hip line (40 % to 135 % of Neck -> MidHip) and the
   torso's columns, one row per column, chosen by dynamic programming to minimise bottom-like pixels above
   it plus top-like pixels below it, minus a bonus on strong vertical colour edges, with the row moving at
   most :data:`SEAM_JUMP` pixels from column to column. The boundary therefore follows the real hem (a
   curved or slanted one too), not a fixed line; arm pixels (pose capsules) are left out, sleeves hang over
   the skirt, and so are edges that are not between garment-coloured pixels (a hand's edge on the skirt).
   A column with little garment colour in the band (:data:`INFORMED_PIXELS`: an arm, the background)
   takes the row of the nearest column that has it; outside the torso's columns the seam keeps its end
   rows.
3. **Top by colour** (:func:`top_by_colour`): person pixels clearly top-like (``z < -0.15``) connected to the
   chest seed: the sleeves, wherever the arms are (mediapipe places an arm hidden behind the body poorly,
   colour does not care), down to ``0.15 s`` below the lower wrist (or the seam, if lower): a bag or bare
   legs can match the top's colour and touch it through a hand.
4. **Bottom** (:func:`bottom_region`): person pixels clearly bottom-like (``z > 0.15``), closed, holes
   filled (shadowed folds, a print), the component at the thigh seed and the largest one.

:class:`OutfitSplit` holds both; :mod:`vvt.preprocess.masks` builds the category masks from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vvt.pose.openpose import BODY25

#: seeds differing by less than this (Delta E) carry no colour information (one-colour outfit)
MIN_CONTRAST = 8.0
#: the bottom's pixels are closed by a disc of this many body scales before holes are filled
BOTTOM_CLOSE = 0.05
#: weights of L, a, b (OpenCV's 8-bit CIELAB) in colour distances: shading changes lightness more than hue.
#: On ViViD's upper1 the shadowed folds of the white skirt lie nearer the cream top than the lit skirt at full
#: lightness weight; upper-mask IoU against ViViD's masks rose from 0.78 (weight 1) to 0.83 (0.5) and 0.85 (0.25)
LAB_WEIGHTS = (0.25, 1.0, 1.0)
#: rows the seam may move from one column to the next (at the working resolution, :mod:`keypoints`)
SEAM_JUMP = 3
#: the seam's band along Neck -> MidHip (fractions of that length from the neck)
SEAM_BAND = (0.4, 1.35)
#: z below which a person pixel is clearly the top's colour
TOP_Z = -0.15
#: a pixel farther than this many seed contrasts from both seeds is neither garment (z = 0): on ViViD's
#: upper1 (cream top, white skirt, contrast 16-22 Delta E) the bare forearms lie 90-115 from both seeds
#: but nearer the top, and counted as top they pulled the seam down to the wrists
NEAR_SEED = 1.0
#: a column of the seam's band with fewer clearly top- or bottom-like pixels than this share of the band
#: carries no information on the hem (:func:`split_outfit`)
INFORMED_PIXELS = 0.1


def _pt(body: np.ndarray, name: str) -> np.ndarray:
    return body[BODY25[name], :2].astype(np.float64)


def _disc(radius: float) -> np.ndarray:
    r = max(1, round(radius))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


@dataclass
class OutfitSplit:
    """One frame's outfit, ``(H, W)`` bool each.

    Attributes:
        above: pixels above the seam between top and bottom (a whole half-plane, person or not).
        top: person pixels of the top's colour connected to the chest (sleeves included).
        bottom: the bottom garment as a solid region (:func:`bottom_region`).
        contrast: Delta E between the two seeds (0 when a seed fell outside the person).
    """

    above: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    contrast: float


def _seeds(lab: np.ndarray, body: np.ndarray, person: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    neck, mid = _pt(body, "Neck"), _pt(body, "MidHip")
    knees = (_pt(body, "RKnee") + _pt(body, "LKnee")) / 2
    r = max(2, int(0.04 * np.linalg.norm(mid - neck)))
    h, w = person.shape
    out = []
    for c in (neck + 0.3 * (mid - neck), mid + 0.3 * (knees - mid)):
        x, y = int(round(c[0])), int(round(c[1]))
        sl = np.s_[max(0, y - r):max(0, y + r + 1), max(0, x - r):max(0, x + r + 1)]
        inside = person[sl]
        if inside.sum() < 4:
            return None
        out.append(np.median(lab[sl][inside], axis=0))
    return out[0], out[1]


def _arms(body: np.ndarray, shape: tuple[int, int], s: float) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    for side in "RL":
        sh, el, wr = (np.round(_pt(body, f"{side}{k}")).astype(int) for k in ("Shoulder", "Elbow", "Wrist"))
        cv2.line(m, tuple(sh), tuple(el), 1, max(1, round(0.35 * s)))
        cv2.line(m, tuple(el), tuple(wr), 1, max(1, round(0.3 * s)))
    return m > 0


def waist_seam(z: np.ndarray, edges: np.ndarray, rows: tuple[int, int], cols: tuple[int, int],
               jump: int = SEAM_JUMP, edge_weight: float = 1.0) -> np.ndarray:
    """The seam's row per column of ``cols`` (module docstring, step 2).

    Args:
        z: ``(H, W)`` top-like (< 0) / bottom-like (> 0) score, 0 where unknown.
        edges: ``(H, W)`` edge strength in [0, 1].
        rows, cols: ``[start, stop)`` of the band and of the columns.
        jump: most rows the seam moves between neighbouring columns (each row moved costs 0.1).
        edge_weight: bonus of a full-strength edge, in pixels of misplaced colour.

    Returns ``(cols[1] - cols[0],)`` int rows (image coordinates).
    """
    (y0, y1), (x0, x1) = rows, cols
    zb = z[y0:y1, x0:x1]
    # cutting just above row i: bottom-like pixels above plus top-like pixels below
    above = np.vstack([np.zeros((1, zb.shape[1])), np.cumsum(np.maximum(zb, 0), axis=0)[:-1]])
    below = np.cumsum(np.maximum(-zb, 0)[::-1], axis=0)[::-1]
    cost = above + below - edge_weight * edges[y0:y1, x0:x1]
    n, m = cost.shape
    idx = np.arange(n)
    acc = cost[:, 0].copy()
    back = np.zeros((m, n), np.int32)
    for j in range(1, m):
        best, arg = np.full(n, np.inf), idx.copy()
        for d in range(-jump, jump + 1):
            src = np.clip(idx + d, 0, n - 1)
            v = acc[src] + 0.1 * abs(d)
            better = v < best
            best[better], arg[better] = v[better], src[better]
        acc = best + cost[:, j]
        back[j] = arg
    path = np.empty(m, np.int64)
    path[-1] = int(np.argmin(acc))
    for j in range(m - 1, 0, -1):
        path[j - 1] = back[j, path[j]]
    return path + y0


def top_by_colour(z: np.ndarray, person: np.ndarray, chest: np.ndarray, s: float) -> np.ndarray:
    """Person pixels with ``z < TOP_Z`` connected to the ``chest`` point (module docstring, step 3)."""
    cand = ((z < TOP_Z) & person).astype(np.uint8)
    cand = cv2.morphologyEx(cand, cv2.MORPH_OPEN, _disc(0.03 * s))
    _, labels = cv2.connectedComponents(cand, connectivity=8)
    x, y = int(round(chest[0])), int(round(chest[1]))
    h, w = person.shape
    if not (0 <= x < w and 0 <= y < h) or labels[y, x] == 0:
        return np.zeros_like(person)
    return labels == labels[y, x]


def bottom_region(z: np.ndarray, person: np.ndarray, thigh: np.ndarray, s: float) -> np.ndarray:
    """The bottom garment as a solid region (module docstring, step 4): person pixels with ``z > -TOP_Z``,
    closed by a disc of :data:`BOTTOM_CLOSE` ``* s`` and with holes filled, the components reaching the
    ``thigh`` point's row band or larger than the largest top-sized speck; ``(H, W)`` bool."""
    cand = ((z > -TOP_Z) & person).astype(np.uint8)
    cand = cv2.morphologyEx(cand, cv2.MORPH_CLOSE, _disc(BOTTOM_CLOSE * s)) & person.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
    if n <= 1:
        return np.zeros_like(person)
    keep = np.zeros(n, bool)
    keep[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))] = True
    x, y = int(round(thigh[0])), int(round(thigh[1]))
    h, w = person.shape
    if 0 <= x < w and 0 <= y < h and labels[y, x] > 0:
        keep[labels[y, x]] = True
    solid = keep[labels].astype(np.uint8)
    # holes: background regions of the solid not connected to the image border
    filled = solid.copy()
    flood = np.zeros((h + 2, w + 2), np.uint8)
    inv = (1 - solid).astype(np.uint8)
    for yy, xx in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)):
        if inv[yy, xx]:
            cv2.floodFill(inv, flood, (xx, yy), 2)
    filled[inv == 1] = 1
    return filled > 0


def split_outfit(frame: np.ndarray, body: np.ndarray, person: np.ndarray, s: float) -> OutfitSplit:
    """The seam and the top's pixels of one frame (module docstring).

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        body: ``(25, 3)`` BODY_25 keypoints in pixels of ``frame``.
        person: ``(H, W)`` bool person mask.
        s: body scale (:func:`vvt.preprocess.masks.body_scale`).
    """
    h, w = person.shape
    neck, mid = _pt(body, "Neck"), _pt(body, "MidHip")
    knees = (_pt(body, "RKnee") + _pt(body, "LKnee")) / 2
    length = max(mid[1] - neck[1], 1.0)
    y0 = int(np.clip(neck[1] + SEAM_BAND[0] * length, 0, h - 1))
    y1 = int(np.clip(neck[1] + SEAM_BAND[1] * length, y0 + 1, h))
    xs = [_pt(body, k)[0] for k in ("RShoulder", "LShoulder", "RHip", "LHip")]
    x0 = int(np.clip(min(xs) - 0.1 * s, 0, w - 1))
    x1 = int(np.clip(max(xs) + 0.1 * s, x0 + 1, w))
    line = np.full(w, int(np.clip(mid[1], 0, h)))
    lab = cv2.cvtColor(cv2.GaussianBlur(frame, (5, 5), 0), cv2.COLOR_RGB2LAB).astype(np.float32)
    colour = lab * np.float32(LAB_WEIGHTS)  # shading changes lightness more than hue
    seeds = _seeds(colour, body, person)
    contrast = 0.0 if seeds is None else float(np.linalg.norm(seeds[0] - seeds[1]))
    z = np.zeros((h, w), np.float32)
    near = np.zeros((h, w), bool)
    if contrast >= MIN_CONTRAST:
        top_c, bottom_c = seeds
        d_top, d_bottom = np.linalg.norm(colour - top_c, axis=-1), np.linalg.norm(colour - bottom_c, axis=-1)
        near = np.minimum(d_top, d_bottom) <= NEAR_SEED * contrast  # skin, hair, a bag: neither garment
        z = np.clip((d_top - d_bottom) / contrast, -1, 1) * min(1.0, contrast / 10) * (person & near)
    top = top_by_colour(z, person, neck + 0.3 * (mid - neck), s) if contrast >= MIN_CONTRAST else np.zeros_like(person)
    if contrast >= MIN_CONTRAST and x1 - x0 >= 3 and y1 - y0 >= 3:
        gy = (np.abs(cv2.Sobel(lab[..., 0], cv2.CV_32F, 0, 1, ksize=3))
              + 2 * np.abs(cv2.Sobel(lab[..., 2], cv2.CV_32F, 0, 1, ksize=3)))
        # only edges between garment-coloured pixels count: a hand's lower edge on the skirt is no hem
        garment = cv2.dilate((near & person).astype(np.uint8), _disc(2)) > 0
        arms = _arms(body, person.shape, s)
        edges = np.minimum(gy, 30) / 30 * (garment & ~arms)
        zs = z * ~arms
        seam_rows = waist_seam(zs, edges, (y0, y1), (x0, x1), edge_weight=0.5 * max(2, int(0.04 * length)))
        # a column with (almost) no garment colour in the band (an arm, the background) says nothing of
        # the hem: it takes the row of the nearest column that does, and so do the columns outside
        informed = (np.abs(zs[y0:y1, x0:x1]) > -TOP_Z).sum(0) >= INFORMED_PIXELS * (y1 - y0)
        if informed.any():
            cols = np.arange(x1 - x0)
            seam_rows = np.round(np.interp(cols, cols[informed], seam_rows[informed])).astype(np.int64)
        line[x0:x1], line[:x0], line[x1:] = seam_rows, seam_rows[0], seam_rows[-1]
    rows = np.arange(h)[:, None]
    above = rows < line[None, :]
    # a bag or the legs' skin can match the top's colour and touch it through a hand: sleeves end at the wrists
    wrists = max(_pt(body, "RWrist")[1], _pt(body, "LWrist")[1])
    top &= rows <= max(wrists + 0.15 * s, float(line.max()))
    bottom = bottom_region(z, person, mid + 0.3 * (knees - mid), s) if contrast >= MIN_CONTRAST \
        else np.zeros_like(person)
    return OutfitSplit(above, top, bottom, contrast)
