"""Body, hand and face keypoints and the person mask per frame, from mediapipe 0.10.14 Holistic (offline).

The wheel ships the pose (``pose_landmark_full``, i.e. ``model_complexity=1``; the lite and heavy models
would be downloaded, so they are not used), hand, face-mesh (with iris refinement) and segmentation
models; Holistic runs them all. Landmarks are converted to OpenPose order (:mod:`vvt.pose.openpose`):

- BODY_25 from mediapipe's 33 pose landmarks (:data:`BODY25_FROM_MEDIAPIPE`). Neck and MidHip are the
  midpoints of the shoulders and of the hips; mediapipe has no small toe, so ``*SmallToe`` repeats
  ``*BigToe`` (mediapipe's ``foot_index``). Confidence is mediapipe's visibility, floored at 0.01 in a
  frame where the person was found, so 0 keeps OpenPose's meaning "not detected". Coordinates of points
  mediapipe extrapolates outside the frame (a head cut off by the top edge) are kept.
- hands: mediapipe's 21 hand landmarks are in OpenPose's hand order already (wrist, then 4 per finger).
- face: the 68 dlib/OpenPose face points picked from the 468-point face mesh (:data:`FACE68_FROM_MESH`),
  then the two pupils (iris centres 468 and 473). Hands and face have confidence 1 where found.

Video mode follows the person from frame to frame (mediapipe's own ROI tracking). The detector needs a
fairly complete view: on a person walking in with the head cut off (ViViD's ``upper1.mp4``) it misses
frames or locks onto the wrong thing until the person is fully in view, and the tracker then carries
the error on. :func:`track_video` therefore runs a cascade (forward tracking, backward tracking of the
weak runs only, a static retry on a shrunk frame) and keeps, per frame, the result that agrees best with
the person's selfie segmentation (mean of the IoU of the bounding boxes and the IoU of the masks,
:func:`pose_agreement`). Frames where nothing agrees (agreement < 0.3) are filled from their neighbours
(linear interpolation of the keypoints, nearest mask) and logged; a clip with no person at all raises
:class:`NoPersonError`. Photos and videos, short and long clips go through the same cascade (issue 20,
item 6). A limit remains: mediapipe's pose detector finds a person by the face, so a frame whose head is
out of view is found only by tracking from a frame that shows it. A request for the first frames of a video
is therefore analysed with the frames after them (:func:`vvt.preprocess.pipeline.analysed_frames`: the first
4 frames of ``upper1`` then come out as in the whole video). A clip made only of such frames (those 4 frames
given alone) gets no right pose, and such a frame alone is at the detector's threshold, where re-encoding it
(PNG against H.264) changes the outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from vvt.errors import InputFileError
from vvt.pose.openpose import GROUPS, Keypoints
from vvt.preprocess.people import PersonSelector

log = logging.getLogger(__name__)

#: BODY_25 joint -> mediapipe pose landmark indices (averaged)
BODY25_FROM_MEDIAPIPE: tuple[tuple[int, ...], ...] = (
    (0,), (11, 12), (12,), (14,), (16,), (11,), (13,), (15,), (23, 24), (24,), (26,), (28,), (23,), (25,),
    (27,), (5,), (2,), (8,), (7,), (31,), (31,), (29,), (32,), (32,), (30,),
)
#: dlib/OpenPose face point 0..67 -> mediapipe face-mesh index (jaw, brows, nose, eyes, lips)
FACE68_FROM_MESH: tuple[int, ...] = (
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87,
)
#: iris centres (refined face mesh): the subject's right pupil, then the left one (OpenPose points 68, 69)
PUPILS_FROM_MESH = (468, 473)
#: longest side of the frames mediapipe sees (smaller frames are enlarged up to MIN_SIDE)
MAX_SIDE, MIN_SIDE = 640, 256
MIN_VISIBILITY = 0.01
#: a frame's pose is accepted when it agrees this well with the person's segmentation (:func:`pose_agreement`)
MIN_AGREEMENT = 0.3
#: forward-tracked frames agreeing less than this are tracked again backwards (:func:`track_video`)
GOOD_AGREEMENT = 0.6
#: the first frame agreeing this well anchors the backward pass over the frames before it (:func:`track_video`);
#: on ViViD's upper1 the forward tracker locks onto the skirt as a torso in frames 0-24 with agreement up
#: to 0.65, while the right pose scores 0.77-0.90 once the head is in view
STRONG_AGREEMENT = 0.75
#: shrink factors of the static retry for frames still without a pose
RETRY_SCALES = (0.5,)


class NoPersonError(InputFileError):
    """No frame of an input shows a person mediapipe can find."""


@dataclass
class PoseTrack:
    """Per-frame detections of one person, in pixels of the original frames.

    Attributes:
        keypoints: OpenPose BODY_25 + hands + face (:class:`vvt.pose.openpose.Keypoints`), ``N`` frames.
        person_prob: ``(N, h, w)`` uint8 person probability (0..255) at the working resolution.
        found: ``(N,)`` bool, True where mediapipe found the person (False: filled from neighbours).
    """

    keypoints: Keypoints
    person_prob: np.ndarray
    found: np.ndarray

    def __len__(self) -> int:
        return len(self.found)


def working_size(height: int, width: int) -> tuple[int, int]:
    """``(h, w)`` mediapipe runs at: the longest side clipped to ``[MIN_SIDE, MAX_SIDE]``, aspect kept."""
    scale = min(1.0, MAX_SIDE / max(height, width))
    scale = max(scale, MIN_SIDE / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_working(frame: np.ndarray) -> np.ndarray:
    """Resize an ``(H, W, 3)`` frame to :func:`working_size` (area interpolation when shrinking)."""
    h, w = working_size(*frame.shape[:2])
    if (h, w) == frame.shape[:2]:
        return np.ascontiguousarray(frame)
    interp = cv2.INTER_AREA if h < frame.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(frame, (w, h), interpolation=interp)


def _landmarks(lms, n: int) -> np.ndarray | None:
    if lms is None:
        return None
    arr = np.array([(p.x, p.y, p.visibility) for p in lms.landmark], dtype=np.float32)
    return arr[:n] if len(arr) >= n else None


class _Result:
    """One frame's raw mediapipe output in normalised coordinates."""

    __slots__ = ("pose", "left", "right", "face", "prob")

    def __init__(self, r, work_hw: tuple[int, int]):
        self.pose = _landmarks(r.pose_landmarks, 33)
        self.left = _landmarks(r.left_hand_landmarks, 21)
        self.right = _landmarks(r.right_hand_landmarks, 21)
        self.face = _landmarks(r.face_landmarks, 478)
        mask = r.segmentation_mask
        self.prob = (np.zeros(work_hw, np.uint8) if mask is None
                     else np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8))


def _holistic(static: bool):
    import mediapipe as mp

    return mp.solutions.holistic.Holistic(
        static_image_mode=static, model_complexity=1, smooth_landmarks=False, enable_segmentation=True,
        smooth_segmentation=False, refine_face_landmarks=True, min_detection_confidence=0.3,
        min_tracking_confidence=0.3)


def _run(frames: list[np.ndarray], order: range, static: bool) -> dict[int, _Result]:
    out: dict[int, _Result] = {}
    with _holistic(static) as model:
        for i in order:
            res = _Result(model.process(frames[i]), frames[i].shape[:2])
            if res.pose is not None:
                out[i] = res
    return out


def _box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def pose_agreement(res: _Result, person: np.ndarray) -> float:
    """How well one frame's Holistic result matches the ``(h, w)`` bool selfie-segmentation person mask:
    the mean of (a) the IoU of the boxes around the 33 pose landmarks (clipped to the frame) and around
    the mask and (b) the IoU of Holistic's own person mask with it. 0 when the mask is empty."""
    if not person.any():
        return 0.0
    h, w = person.shape
    ys, xs = np.nonzero(person)
    mask_box = (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)
    p = np.clip(res.pose[:, :2], 0.0, 1.0)
    box = _box_iou(mask_box, (p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()))
    own = res.prob >= 128
    masks = (own & person).sum() / max(1, (own | person).sum())
    return 0.5 * (box + float(masks))


def _fill_gaps(found: np.ndarray) -> list[tuple[int, int, float]]:
    """Per frame: (previous found, next found, weight of next) for linear filling (same index if found)."""
    idx = np.flatnonzero(found)
    plan = []
    for t in range(len(found)):
        k = np.searchsorted(idx, t)
        if k < len(idx) and idx[k] == t:
            plan.append((t, t, 0.0))
        elif k == 0:
            plan.append((idx[0], idx[0], 0.0))
        elif k == len(idx):
            plan.append((idx[-1], idx[-1], 0.0))
        else:
            a, b = idx[k - 1], idx[k]
            plan.append((a, b, (t - a) / (b - a)))
    return plan


def _ranges(frames: np.ndarray) -> str:
    """``[0, 1, 2, 7]`` -> ``"0-2, 7"``."""
    parts, start = [], None
    for i, t in enumerate(frames):
        if start is None:
            start = t
        if i + 1 == len(frames) or frames[i + 1] != t + 1:
            parts.append(f"{start}-{t}" if t != start else f"{t}")
            start = None
    return ", ".join(parts)


def _to_openpose(res: _Result, width: int, height: int) -> tuple[np.ndarray, ...]:
    scale = np.array([width, height], dtype=np.float32)
    pose = res.pose.copy()
    pose[:, :2] *= scale
    body = np.zeros((25, 3), np.float32)
    for j, src in enumerate(BODY25_FROM_MEDIAPIPE):
        body[j, :2] = pose[list(src), :2].mean(axis=0)
        body[j, 2] = max(MIN_VISIBILITY, float(pose[list(src), 2].min()))
    hands = []
    for h in (res.left, res.right):
        arr = np.zeros((21, 3), np.float32)
        if h is not None:
            arr[:, :2] = h[:, :2] * scale
            arr[:, 2] = 1.0
        hands.append(arr)
    face = np.zeros((70, 3), np.float32)
    if res.face is not None:
        mesh = res.face[:, :2] * scale
        face[:68, :2] = mesh[list(FACE68_FROM_MESH)]
        face[68:, :2] = mesh[list(PUPILS_FROM_MESH)]
        face[:, 2] = 1.0
    return body, hands[0], hands[1], face


def _retry_static(frame: np.ndarray, model) -> _Result | None:
    """Static detection on ``frame`` shrunk by each of :data:`RETRY_SCALES` (the first that finds a pose)."""
    h, w = frame.shape[:2]
    for scale in RETRY_SCALES:
        small = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        res = _Result(model.process(small), small.shape[:2])
        if res.pose is not None:
            res.prob = cv2.resize(res.prob, (w, h), interpolation=cv2.INTER_LINEAR)
            return res
    return None


def _weak_runs(score: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Maximal runs ``[a, b)`` of frames whose score is below ``threshold``."""
    weak = np.concatenate([[0], (score < threshold).astype(np.int8), [0]])
    edges = np.diff(weak)
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def track_video(frames: list[np.ndarray], width: int, height: int, name: str = "input",
                static: bool = False) -> PoseTrack:
    """Detect and follow one person through ``frames`` (RGB uint8 at :func:`working_size`).

    Detection runs as a cascade, the same for every clip length and for photos and videos alike:

    1. the tracker forwards over the clip (photos: static detection per frame);
    2. the frames before the first one found well (agreement with the person's selfie segmentation of at
       least :data:`STRONG_AGREEMENT`, :func:`pose_agreement`; else the best-agreeing frame) are tracked
       again backwards from it: a person walking in is found once fully in view and followed back to the
       edge of the frame. After it, each run of frames the forward pass missed or placed poorly (agreement
       below :data:`GOOD_AGREEMENT`) is tracked again backwards from the frame after the run;
    3. frames still below :data:`MIN_AGREEMENT` get a static detection on the frame shrunk by
       :data:`RETRY_SCALES` (mediapipe's detector finds a person cut by the frame's edge more readily when
       the person is small). It does not find the person of ViViD's ``upper1.mp4`` in its first 4 frames
       alone (head above the frame): the poses it returns there agree 0.15-0.26 (see the module docstring).

    Each frame keeps its best-agreeing result; one with agreement >= :data:`MIN_AGREEMENT` is accepted.
    When no frame of the clip reaches it, each frame's best result is accepted anyway (logged): a photo
    and a one-frame video are treated the same.

    Args:
        frames: ``N`` frames ``(h, w, 3)`` uint8 RGB at the working resolution.
        width, height: size of the original frames; keypoints are returned in their pixels.
        name: the input's name for messages.
        static: treat frames as unrelated photos (no tracking, no backward pass).

    Raises:
        NoPersonError: when no frame shows a person.
    """
    with PersonSelector(track=not static) as selector:
        selected = [selector(f) for f in frames]
    if selector.frames_with_several:
        log.info("%s: several people in %d frame(s); following the largest", name,
                 selector.frames_with_several)
    frames = [f for f, _ in selected]
    n = len(frames)
    candidates: list[list[tuple[float, _Result]]] = [[] for _ in range(n)]

    def add(found: dict[int, _Result]) -> None:
        for t, res in found.items():
            candidates[t].append((pose_agreement(res, selected[t][1]), res))

    def best_score() -> np.ndarray:
        return np.array([max((a for a, _ in c), default=-1.0) for c in candidates])

    add(_run(frames, range(n), static))
    if not static and n > 1:
        score = best_score()
        strong = np.flatnonzero(score >= STRONG_AGREEMENT)
        anchor = int(strong[0]) if len(strong) else int(np.argmax(score))
        if anchor > 0:  # a person walking in: followed back from the first frame that shows them well
            add(_run(frames, range(anchor, -1, -1), static=False))
        for a, b in _weak_runs(best_score(), GOOD_AGREEMENT):
            if a > anchor:
                add(_run(frames, range(min(b, n - 1), a - 1, -1), static=False))
    weak = np.flatnonzero(best_score() < MIN_AGREEMENT)
    if len(weak):
        with _holistic(True) as model:
            for t in weak:
                res = _retry_static(frames[t], model)
                if res is not None:
                    add({int(t): res})
    score = best_score()
    accept = score >= MIN_AGREEMENT
    if not accept.any():
        accept = score > -1.0
        if accept.any():
            log.warning("%s: the person's pose agrees poorly with its segmentation in every frame; "
                        "using the best detections", name)
    if not accept.any():
        raise NoPersonError(name, f"no person found in any of its {n} frame(s) (mediapipe Holistic)")
    results = {t: max(candidates[t], key=lambda c: c[0])[1] for t in np.flatnonzero(accept).tolist()}
    found = accept
    if not found.all():
        missing = np.flatnonzero(~found)
        log.warning("%s: no person found in frame(s) %s of %d; filled from neighbouring frames",
                    name, _ranges(missing), n)
    kp = Keypoints.empty(n, width, height)
    converted = {t: _to_openpose(r, width, height) for t, r in results.items()}
    probs = np.zeros((n, *frames[0].shape[:2]), np.uint8)
    for t, (a, b, w) in enumerate(_fill_gaps(found)):
        for k, attr in enumerate(GROUPS):
            pa, pb = converted[a][k], converted[b][k]
            both = (pa[:, 2] > 0) & (pb[:, 2] > 0)
            value = np.where(both[:, None], (1 - w) * pa + w * pb, pa if w < 0.5 else pb)
            getattr(kp, attr)[t] = value
        probs[t] = results[a if w < 0.5 else b].prob
    return PoseTrack(kp, probs, found)
