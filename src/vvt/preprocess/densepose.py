"""DensePose-style 24-part IUV maps rendered from keypoints and the person mask (issue 9, item 4).

detectron2's DensePose is not installable here, so vvt approximates its output: every body bone is a
capsule (a segment with a radius proportional to the body scale ``s``,
:func:`vvt.preprocess.masks.body_scale`).
A pixel belongs to the part whose capsule is nearest relative to its radius, ``argmin_b d_b / r_b``;
pixels of the person mask up to 2.5 radii away, and any pixel inside a capsule, are body. Chart
coordinates are approximate: ``V`` runs along the bone from its first joint (0) to its second (1), ``U``
across it from one side (0) to the other (1).

Part indices follow detectron2 (:mod:`vvt.pose.densepose`): 1/2 torso, 3 right hand, 4 left hand,
5 left foot, 6 right foot, 7/9 right thigh, 8/10 left thigh, 11/13 right shin, 12/14 left shin,
15/17 left upper arm, 16/18 right upper arm, 19/21 left forearm, 20/22 right forearm, 23/24 head
(right/left half). Of each pair vvt reads the first as the back and the second as the front, and
picks the front when the person faces the camera (their right shoulder is on the image's left).
The result is written in the vvt IUV format (:func:`vvt.pose.densepose.encode_iuv`).
"""

from __future__ import annotations

import cv2
import numpy as np

from vvt.pose.densepose import encode_iuv
from vvt.pose.openpose import BODY25
from vvt.preprocess.masks import body_scale

#: (first joint, second joint, radius / s, back part, front part)
BONES: tuple[tuple[str, str, float, int, int], ...] = (
    ("Neck", "MidHip", 0.5, 1, 2),
    ("RShoulder", "RElbow", 0.18, 16, 18), ("LShoulder", "LElbow", 0.18, 15, 17),
    ("RElbow", "RWrist", 0.15, 20, 22), ("LElbow", "LWrist", 0.15, 19, 21),
    ("RWrist", "RHandTip", 0.13, 3, 3), ("LWrist", "LHandTip", 0.13, 4, 4),
    ("RHip", "RKnee", 0.26, 7, 9), ("LHip", "LKnee", 0.26, 8, 10),
    ("RKnee", "RAnkle", 0.2, 11, 13), ("LKnee", "LAnkle", 0.2, 12, 14),
    ("RAnkle", "RBigToe", 0.12, 6, 6), ("LAnkle", "LBigToe", 0.12, 5, 5),
    ("Neck", "HeadTop", 0.3, 23, 23),
)
MAX_REACH = 2.5


def _joints(body: np.ndarray) -> dict[str, np.ndarray]:
    j = {name: body[i, :2].astype(np.float64) for name, i in BODY25.items()}
    for side in ("R", "L"):
        j[f"{side}HandTip"] = j[f"{side}Wrist"] + 0.35 * (j[f"{side}Wrist"] - j[f"{side}Elbow"])
    j["HeadTop"] = j["Neck"] + 2.0 * (j["Nose"] - j["Neck"])
    return j


def faces_camera(body: np.ndarray) -> bool:
    """True when the person's right shoulder is left of their left shoulder in the image."""
    return bool(body[BODY25["RShoulder"], 0] <= body[BODY25["LShoulder"], 0])


def render_part_map(body: np.ndarray, person: np.ndarray, step: int = 2) -> np.ndarray:
    """One frame's IUV image.

    Args:
        body: ``(25, 3)`` BODY_25 keypoints ``(x, y, conf)`` in pixels of the frame.
        person: ``(H, W)`` bool person mask.
        step: evaluate every ``step``-th pixel and enlarge (nearest): part maps are coarse, this is
            ``step**2`` times faster.

    Returns ``(H, W, 3)`` uint8 in the vvt IUV format.
    """
    h, w = person.shape
    s = body_scale(body)
    j = _joints(body)
    front = faces_camera(body)
    # only pixels within reach of a bone can be body: work in that box
    pts = np.array(list(j.values()))
    reach = MAX_REACH * max(b[2] for b in BONES) * s
    x0, y0 = (np.floor(pts.min(0) - reach).astype(int)).clip(0, [w, h])
    x1, y1 = (np.ceil(pts.max(0) + reach).astype(int) + 1).clip(0, [w, h])
    out = np.zeros((h, w, 3), np.uint8)
    if x1 <= x0 or y1 <= y0:
        return out
    person = person[y0:y1:step, x0:x1:step]
    ys, xs = np.mgrid[y0:y1:step, x0:x1:step].astype(np.float32)
    shape = person.shape
    best = np.full(shape, np.inf, np.float32)
    part = np.zeros(shape, np.int64)
    u = np.zeros(shape, np.float32)
    v = np.zeros(shape, np.float32)
    for a, b, radius, back_id, front_id in BONES:
        pa, pb = j[a], j[b]
        r = radius * s
        d = pb - pa
        length2 = max(float(d @ d), 1e-6)
        t = np.clip(((xs - pa[0]) * d[0] + (ys - pa[1]) * d[1]) / length2, 0.0, 1.0)
        px, py = xs - (pa[0] + t * d[0]), ys - (pa[1] + t * d[1])
        dist = np.sqrt(px * px + py * py) / r
        across = (px * -d[1] + py * d[0]) / np.sqrt(length2) / r  # signed, in radii
        closer = dist < best
        best = np.where(closer, dist, best)
        pid = front_id if front else back_id
        if a == "Neck" and b == "HeadTop":  # head halves: subject's right is 23, left 24
            pid_map = np.where((across > 0) == front, 24, 23)
            part = np.where(closer, pid_map, part)
        else:
            part = np.where(closer, pid, part)
        u = np.where(closer, np.clip(0.5 + 0.5 * across, 0, 1), u)
        v = np.where(closer, t, v)
    body_px = (person & (best <= MAX_REACH)) | (best <= 1.0)
    part = np.where(body_px, part, 0)
    iuv = encode_iuv(part, u, v)
    out[y0:y1, x0:x1] = cv2.resize(iuv, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return out
