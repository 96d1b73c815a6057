"""OpenPose BODY_25 keypoints (+ hands + face), their JSON file, and OpenPose-style skeleton images.

Keypoints of a clip are arrays of ``(x, y, confidence)`` in pixels, confidence 0 meaning "not detected":
body ``(N, 25, 3)`` in BODY_25 order, hands ``(N, 21, 3)`` each, face ``(N, 70, 3)``; 25 + 42 + 70 = 137
points, the representation FashionMirror Sec. 3.2 (Eq. 3) draws as 3-channel skeleton images.

File format (``keypoints/<video>.json``)::

    {"format": "openpose-body25", "width": W, "height": H,
     "frames": [{"pose_keypoints_2d": [x, y, c, ...] (75), "hand_left_keypoints_2d": (63),
                 "hand_right_keypoints_2d": (63), "face_keypoints_2d": (210)}, ...]}

Each frame entry uses OpenPose's own per-person key names, so a person entry written by OpenPose
(``{"people": [entry, ...]}``) reads the same way.

:func:`load_keypoints` also reads OpenPose's own output (``--write_json``, CMU-Perceptual-Computing-Lab/
openpose ``doc/02_output.md``): one ``<image>_keypoints.json`` per image or frame, ``{"version": ...,
"people": [{"pose_keypoints_2d": [x, y, c, ...], "face_keypoints_2d": ..., "hand_left_keypoints_2d": ...,
"hand_right_keypoints_2d": ...}]}`` (OpenPose 1.0 wrote the same keys without ``_2d``), as VITON-HD's
``openpose_json/`` holds them, or a folder of them, one per frame, as VVT's ``*_frames_keypoint/<video>/``.
The body is BODY_25 (75 numbers) or COCO-18 (54 numbers, the older model VVT was detected with); COCO-18
joints are moved to their BODY_25 index, MidHip (absent from COCO) is the midpoint of the hips when both
are detected (confidence: the smaller of the two), feet are left undetected (confidence 0).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vvt.errors import InputFileError

BODY25_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
    "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
BODY25 = {name: i for i, name in enumerate(BODY25_NAMES)}
#: OpenPose's COCO-18 body model, in its own order (``doc/02_output.md``, "Pose Output Format (COCO)")
COCO18_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
)
#: BODY_25 index of each COCO-18 joint
COCO18_TO_BODY25 = tuple(BODY25[name] for name in COCO18_NAMES)

#: limb pairs in OpenPose's BODY_25 render order
BODY25_LIMBS = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
    (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
    (11, 22), (22, 23), (11, 24),
)
#: per-joint RGB colours of OpenPose's BODY_25 renderer; a limb takes the colour of its second joint
BODY25_COLORS = (
    (255, 0, 85), (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (255, 0, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (255, 0, 170), (170, 0, 255), (255, 0, 255), (85, 0, 255), (0, 0, 255), (0, 0, 255),
    (0, 0, 255), (0, 255, 255), (0, 255, 255), (0, 255, 255),
)
#: hand limbs (21 points: wrist, then 4 per finger from thumb to little finger)
HAND_LIMBS = tuple((0 if j % 4 == 0 else j, j + 1) for j in range(20))
HAND_COLORS = tuple(
    tuple(int(c) for c in cv2.cvtColor(np.uint8([[[int(180 * f / 5), 255, 255]]]), cv2.COLOR_HSV2RGB)[0, 0])
    for f in range(5)
)
NUM_BODY, NUM_HAND, NUM_FACE = 25, 21, 70
#: the point groups of :class:`Keypoints`, in the order of :meth:`Keypoints.all_points`
GROUPS = ("body", "hand_left", "hand_right", "face")


@dataclass
class Keypoints:
    """Keypoints of a clip; each array is ``(N, K, 3)`` of ``(x, y, confidence)`` in pixels."""

    body: np.ndarray
    hand_left: np.ndarray
    hand_right: np.ndarray
    face: np.ndarray
    width: int
    height: int

    @classmethod
    def empty(cls, num_frames: int, width: int, height: int) -> Keypoints:
        z = lambda k: np.zeros((num_frames, k, 3), dtype=np.float32)  # noqa: E731
        return cls(z(NUM_BODY), z(NUM_HAND), z(NUM_HAND), z(NUM_FACE), width, height)

    def __len__(self) -> int:
        return len(self.body)

    def __getitem__(self, idx) -> Keypoints:
        idx = np.atleast_1d(np.arange(len(self))[idx])
        return Keypoints(self.body[idx], self.hand_left[idx], self.hand_right[idx], self.face[idx],
                         self.width, self.height)

    def all_points(self) -> np.ndarray:
        """``(N, 137, 3)``: body, left hand, right hand, face."""
        return np.concatenate([getattr(self, g) for g in GROUPS], axis=1)

    def copy(self) -> Keypoints:
        """A deep copy (the arrays are copied)."""
        return Keypoints(*(getattr(self, g).copy() for g in GROUPS), self.width, self.height)

    def resized(self, width: int, height: int) -> Keypoints:
        """A copy in pixels of a ``width x height`` frame: ``x`` scaled by ``width / self.width``, ``y`` by
        ``height / self.height``; confidences unchanged."""
        out = self.copy()
        sx, sy = width / self.width, height / self.height
        for g in GROUPS:
            arr = getattr(out, g)
            arr[..., 0] *= sx
            arr[..., 1] *= sy
        out.width, out.height = width, height
        return out


_KEYS = (("body", "pose_keypoints_2d", NUM_BODY), ("hand_left", "hand_left_keypoints_2d", NUM_HAND),
         ("hand_right", "hand_right_keypoints_2d", NUM_HAND), ("face", "face_keypoints_2d", NUM_FACE))


def save_keypoints(path: str | Path, kp: Keypoints) -> Path:
    """Write keypoints in the JSON format of the module docstring (atomically)."""
    from vvt.io.atomic import atomic_write_text

    frames = []
    for t in range(len(kp)):
        frames.append({key: np.round(getattr(kp, attr)[t], 3).reshape(-1).tolist() for attr, key, _ in _KEYS})
    doc = {"format": "openpose-body25", "width": int(kp.width), "height": int(kp.height), "frames": frames}
    return atomic_write_text(path, json.dumps(doc))


def load_keypoints(path: str | Path, *, width: int | None = None, height: int | None = None) -> Keypoints:
    """Keypoints from a file of :func:`save_keypoints`, an OpenPose ``*_keypoints.json`` (one frame) or a
    folder of them (one per frame, in natural order of their names), see the module docstring.

    OpenPose files do not record the size of the image they were detected on: pass it as ``width`` and
    ``height`` (pixels; OpenPose's default ``--keypoint_scale 0`` writes pixel coordinates). Of several people
    in a frame the one with the highest summed body confidence is taken; a frame with none is undetected
    (all confidences 0). ``width`` / ``height``, when given for a vvt file, must match the file's.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*_keypoints.json")) or sorted(path.glob("*.json"))
        if not files:
            raise InputFileError(path, "folder holds no OpenPose *_keypoints.json files")
        files.sort(key=lambda f: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", f.name)])
        return _openpose_frames(path, [_read_json(f) for f in files], files, width, height)
    doc = _read_json(path)
    if isinstance(doc, dict) and "frames" in doc:
        try:
            frames = doc["frames"]
            kp = Keypoints.empty(len(frames), int(doc["width"]), int(doc["height"]))
            for t, entry in enumerate(frames):
                people = entry["people"] if "people" in entry else [entry]
                _fill(kp, t, people, path)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputFileError(path, f"not a vvt/OpenPose keypoints file ({exc})") from None
        if (width, height) != (None, None) and (width, height) != (kp.width, kp.height):
            raise InputFileError(path, f"keypoints of a {kp.width}x{kp.height} frame, {width}x{height} was given")
        return kp
    return _openpose_frames(path, [doc], [path], width, height)


def _read_json(path: Path):
    if not path.is_file():
        raise InputFileError(path, "keypoints file not found")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not a JSON keypoints file ({exc})") from None


def _openpose_frames(where: Path, docs: list, files: list[Path], width: int | None,
                     height: int | None) -> Keypoints:
    if width is None or height is None:
        raise InputFileError(where, "OpenPose keypoints do not record the image size: pass width= and height= "
                                    "(the size of the image they were detected on)")
    kp = Keypoints.empty(len(docs), int(width), int(height))
    for t, (doc, file) in enumerate(zip(docs, files)):
        if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
            raise InputFileError(file, "not an OpenPose keypoints file (no \"people\" list)")
        _fill(kp, t, doc["people"], file)
    return kp


def _values(person: dict, key: str) -> list:
    """The flat ``x, y, c`` list of ``key`` (``pose_keypoints_2d``), or of its OpenPose 1.0 name without ``_2d``."""
    return person.get(key) or person.get(key[: -len("_2d")]) or []


def _body25(values: list, where: Path) -> np.ndarray:
    """``(25, 3)`` BODY_25 body from OpenPose's BODY_25 (75 numbers) or COCO-18 (54 numbers) body."""
    arr = np.asarray(values, dtype=np.float32)
    if arr.size == 3 * NUM_BODY:
        return arr.reshape(NUM_BODY, 3)
    if arr.size != 3 * len(COCO18_NAMES):
        raise InputFileError(where, f"a body of {arr.size} numbers is neither BODY_25 (75) nor COCO-18 (54)")
    coco = arr.reshape(len(COCO18_NAMES), 3)
    body = np.zeros((NUM_BODY, 3), dtype=np.float32)
    body[list(COCO18_TO_BODY25)] = coco
    right, left = body[BODY25["RHip"]], body[BODY25["LHip"]]
    if right[2] > 0 and left[2] > 0:
        body[BODY25["MidHip"]] = ((right[0] + left[0]) / 2, (right[1] + left[1]) / 2, min(right[2], left[2]))
    return body


def _fill(kp: Keypoints, t: int, people: list, where: Path) -> None:
    """Frame ``t`` of ``kp`` from OpenPose person entries: the one with the highest summed body confidence."""
    if not people:
        return
    bodies = [_body25(_values(p, "pose_keypoints_2d"), where) if _values(p, "pose_keypoints_2d")
              else np.zeros((NUM_BODY, 3), np.float32) for p in people]
    best = int(np.argmax([b[:, 2].sum() for b in bodies]))
    kp.body[t] = bodies[best]
    for attr, key, k in _KEYS[1:]:
        values = _values(people[best], key)
        if values:
            arr = np.asarray(values, dtype=np.float32)
            if arr.size != 3 * k:
                raise InputFileError(where, f"{key} has {arr.size} numbers, expected {3 * k}")
            getattr(kp, attr)[t] = arr.reshape(k, 3)


def _draw_limbs(canvas, pts, limbs, colors, thickness, min_conf):
    for li, (a, b) in enumerate(limbs):
        if pts[a, 2] > min_conf and pts[b, 2] > min_conf:
            color = colors[b] if len(colors) == len(pts) else colors[li // 4 % len(colors)]
            cv2.line(canvas, (int(round(pts[a, 0])), int(round(pts[a, 1]))),
                     (int(round(pts[b, 0])), int(round(pts[b, 1]))), tuple(int(c) for c in color),
                     thickness, lineType=cv2.LINE_AA)


def render_skeleton(kp: Keypoints, t: int, height: int | None = None, width: int | None = None,
                    min_conf: float = 0.05) -> np.ndarray:
    """Frame ``t`` as an OpenPose-style skeleton image ``(H, W, 3)`` uint8 on black.

    Body limbs in BODY_25 colours, hands in per-finger hues, face points as white dots. Keypoints are
    scaled when ``height``/``width`` differ from the keypoints' own frame size.
    """
    h, w = height or kp.height, width or kp.width
    frame = kp[t].resized(w, h)
    canvas = np.zeros((h, w, 3), dtype=np.uint8)
    scale = max(1, round(min(h, w) / 128))
    body = frame.body[0]
    _draw_limbs(canvas, body, BODY25_LIMBS, BODY25_COLORS, 2 * scale, min_conf)
    for j in range(NUM_BODY):
        if body[j, 2] > min_conf:
            cv2.circle(canvas, (int(round(body[j, 0])), int(round(body[j, 1]))), 2 * scale,
                       BODY25_COLORS[j], -1, lineType=cv2.LINE_AA)
    for hand in (frame.hand_left[0], frame.hand_right[0]):
        _draw_limbs(canvas, hand, HAND_LIMBS, HAND_COLORS, scale, min_conf)
    for p in frame.face[0]:
        if p[2] > min_conf:
            cv2.circle(canvas, (int(round(p[0])), int(round(p[1]))), max(1, scale // 2), (255, 255, 255), -1)
    return canvas


def render_skeleton_video(kp: Keypoints, height: int | None = None, width: int | None = None) -> np.ndarray:
    """All frames as skeleton images ``(N, H, W, 3)`` uint8."""
    return np.stack([render_skeleton(kp, t, height, width) for t in range(len(kp))])
