"""SynthVVT people: body proportions, looks, and a 3D kinematic skeleton in OpenPose BODY_25 order.

Issue 3, item 2. A person is a :class:`BodySpec` (lengths and widths in *body units*, 1 = standing
height from crown to sole; skin, hair and shoe colours; hair style). :func:`skeleton_3d` places every
BODY_25 joint (plus a few helper points) for one :class:`~vvt.data.synth.motion.PoseState`.

Body frame: ``x`` to the image right when the person faces the camera (so the person's *right* side is
at ``-x``, as in OpenPose, where RShoulder appears on the image left), ``y`` down, ``z`` towards the
camera; the origin is MidHip. The whole figure is yawed about the vertical axis through MidHip and
projected orthographically by :func:`project`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vvt.pose.openpose import BODY25

#: skin tones from light to dark (RGB); a person's tone interpolates between two neighbours
SKIN_TONES = np.float32(
    [
        (255, 224, 196),
        (241, 194, 160),
        (224, 172, 128),
        (198, 134, 96),
        (160, 102, 66),
        (120, 74, 46),
        (84, 52, 34),
    ]
)
HAIR_COLORS = np.float32(
    [
        (20, 16, 14),
        (58, 38, 26),
        (96, 64, 36),
        (170, 130, 80),
        (216, 184, 120),
        (140, 56, 30),
        (160, 160, 160),
    ]
)
HAIR_STYLES = ("short", "buzz", "bob", "long", "bun")
EXTRA_POINTS = ("Crown", "HeadCenter", "Crotch", "RHandTip", "LHandTip")
#: crotch depth below MidHip as a fraction of the torso length
CROTCH_DROP = 0.2
#: the waist (0.38 torso lengths above MidHip) on the torso band Neck -> Crotch: the same on every body
WAIST_V = (1 - 0.38) / (1 + CROTCH_DROP)
SIDES = (("R", -1.0), ("L", 1.0))


@dataclass(frozen=True)
class BodySpec:
    """Proportions (body units) and looks of one person."""

    head_h: float
    head_w: float
    neck: float
    torso: float
    shoulder_w: float
    hip_w: float
    upper_arm: float
    forearm: float
    hand: float
    thigh: float
    shin: float
    foot: float
    arm_w: float
    leg_w: float
    waist_w: float
    hip_outer_w: float
    torso_depth: float
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    hair_style: str
    shoes: tuple[float, float, float]

    @property
    def sole_y(self) -> float:
        """Rest-pose y of the soles below MidHip."""
        return self.thigh + self.shin + 0.03

    @property
    def crown_y(self) -> float:
        """Rest-pose y of the top of the head (negative: above MidHip)."""
        return -(self.torso + self.neck + self.head_h)


def sample_body(rng: np.random.Generator) -> BodySpec:
    """Draw a person: proportions vary ~+-10 %, body width 0.85-1.3x, any skin tone, hair and shoes."""

    def j(x, spread=0.08):
        return float(x * rng.uniform(1 - spread, 1 + spread))

    width = float(rng.uniform(0.85, 1.3))
    head_h = j(0.125, 0.06)
    torso = j(0.30, 0.06)
    legs = j(1.0, 0.06)
    # scale so that crown-to-sole is exactly 1 body unit
    raw = {
        "head_h": head_h,
        "neck": j(0.045, 0.15),
        "torso": torso,
        "thigh": 0.245 * legs,
        "shin": 0.235 * legs,
    }
    total = sum(raw.values()) + 0.03
    raw = {k: v / total for k, v in raw.items()}
    tone = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(np.floor(tone))
    skin = SKIN_TONES[lo] * (1 - (tone - lo)) + SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] * (tone - lo)
    shoe_val = rng.uniform(20, 90) if rng.random() < 0.7 else rng.uniform(150, 230)
    shoes = np.clip(shoe_val + rng.normal(0, 15, 3), 0, 255)
    return BodySpec(
        head_h=raw["head_h"],
        head_w=j(0.095, 0.08),
        neck=raw["neck"],
        torso=raw["torso"],
        shoulder_w=j(0.22) * (0.85 + 0.15 * width),
        hip_w=j(0.15) * (0.8 + 0.2 * width),
        upper_arm=j(0.165, 0.05),
        forearm=j(0.145, 0.05),
        hand=j(0.06, 0.05),
        thigh=raw["thigh"],
        shin=raw["shin"],
        foot=j(0.055, 0.05),
        arm_w=0.048 * width,
        leg_w=0.075 * width,
        waist_w=j(0.17) * width,
        hip_outer_w=j(0.215) * width,
        torso_depth=j(0.6, 0.1),
        skin=tuple(float(c) for c in skin),
        hair=tuple(float(c) for c in HAIR_COLORS[rng.integers(len(HAIR_COLORS))]),
        hair_style=str(rng.choice(HAIR_STYLES)),
        shoes=tuple(float(c) for c in shoes),
    )


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def limb_direction(side: float, abduction: float, flexion: float) -> np.ndarray:
    """Unit direction of a limb hanging down, abducted sideways (``side`` -1 right, +1 left), flexed forward.

    ``abduction`` 0 hangs down, pi/2 points sideways, pi points up; negative adducts across the body.
    ``flexion`` > 0 swings towards the camera (+z).
    """
    return np.array(
        [side * np.sin(abduction) * np.cos(flexion), np.cos(abduction) * np.cos(flexion), np.sin(flexion)]
    )


def skeleton_3d(body: BodySpec, pose) -> dict[str, np.ndarray]:
    """Joint positions ``name -> (3,)`` in body units for one :class:`~vvt.data.synth.motion.PoseState`.

    Names are the BODY_25 names plus :data:`EXTRA_POINTS`. Upper-body joints rotate with the torso bend
    (forward about x, sideways about z) around MidHip; then everything yaws about y.
    """
    upper = _rot_z(pose.bend_side) @ _rot_x(-pose.bend_forward)
    pts: dict[str, np.ndarray] = {}
    neck = upper @ np.array([0.0, -body.torso, 0.0])
    pts["MidHip"] = np.zeros(3)
    pts["Neck"] = neck
    pts["Crotch"] = np.array([0.0, CROTCH_DROP * body.torso, 0.0])
    head_up = upper @ _rot_z(pose.head_tilt)
    pts["HeadCenter"] = neck + head_up @ np.array([0.0, -(body.neck + body.head_h / 2), 0.0])
    pts["Crown"] = neck + head_up @ np.array([0.0, -(body.neck + body.head_h), 0.0])
    hc = pts["HeadCenter"]
    hw = body.head_w
    pts["Nose"] = hc + head_up @ np.array([0.0, 0.12 * body.head_h, 0.5 * hw])
    pts["REye"] = hc + head_up @ np.array([-0.23 * hw, -0.08 * body.head_h, 0.42 * hw])
    pts["LEye"] = hc + head_up @ np.array([0.23 * hw, -0.08 * body.head_h, 0.42 * hw])
    pts["REar"] = hc + head_up @ np.array([-0.5 * hw, 0.0, 0.0])
    pts["LEar"] = hc + head_up @ np.array([0.5 * hw, 0.0, 0.0])
    for name, side in SIDES:
        arm = pose.arms[name]
        shoulder = neck + upper @ np.array([side * body.shoulder_w / 2, 0.01, 0.0])
        elbow = shoulder + upper @ limb_direction(side, arm.abduction, arm.flexion) * body.upper_arm
        fore = limb_direction(side, arm.abduction + arm.elbow_abduction, arm.flexion + arm.elbow)
        wrist = elbow + upper @ fore * body.forearm
        pts[f"{name}Shoulder"], pts[f"{name}Elbow"], pts[f"{name}Wrist"] = shoulder, elbow, wrist
        pts[f"{name}HandTip"] = wrist + upper @ fore * body.hand
        leg = pose.legs[name]
        hip = np.array([side * body.hip_w / 2, 0.0, 0.0])
        knee = hip + limb_direction(side, leg.abduction, leg.flexion) * body.thigh
        ankle = knee + limb_direction(side, leg.abduction, leg.flexion - leg.knee) * body.shin
        toe_dir = np.array([side * 0.3, 0.35, 0.9])
        toe_dir /= np.linalg.norm(toe_dir)
        pts[f"{name}Hip"], pts[f"{name}Knee"], pts[f"{name}Ankle"] = hip, knee, ankle
        big, small = ("RBigToe", "RSmallToe") if name == "R" else ("LBigToe", "LSmallToe")
        pts[big] = ankle + toe_dir * body.foot + np.array([-side * 0.012, 0.015, 0.0])
        pts[small] = ankle + toe_dir * body.foot + np.array([side * 0.012, 0.015, -0.01])
        pts[f"{name}Heel"] = ankle + np.array([0.0, 0.025, -0.025])
    yaw = _rot_y(pose.yaw)
    return {k: yaw @ v for k, v in pts.items()}


@dataclass(frozen=True)
class Camera:
    """Orthographic camera: pixel = ``center + scale * (xy - focus)``; depth is ``z``."""

    scale: float
    focus: np.ndarray
    center: np.ndarray

    def to_pixels(self, p: np.ndarray) -> np.ndarray:
        return self.center + self.scale * (np.asarray(p)[..., :2] - self.focus)


def frame_camera(body: BodySpec, pose, height: int, width: int, fill: float = 0.84) -> Camera:
    """The camera of one frame: the figure fills ``fill`` of the frame height at zoom 1, centred.

    Pan (``pose.cam_x``, ``pose.cam_y``, body units) and zoom (``pose.zoom``) move the view, not the person;
    ``pose.root_x`` / ``pose.root_y`` move the person in the world (side steps, bobbing).
    """
    scale = pose.zoom * fill * height
    focus = np.array([pose.cam_x - pose.root_x, (body.crown_y + body.sole_y) / 2 + pose.cam_y - pose.root_y])
    return Camera(scale=scale, focus=focus, center=np.array([width / 2.0, height / 2.0]))


def project(joints: dict[str, np.ndarray], camera: Camera) -> dict[str, np.ndarray]:
    """``name -> (x_px, y_px, z)``: pixel position (camera applied) and depth in body units."""
    return {k: np.array([*camera.to_pixels(v), v[2]]) for k, v in joints.items()}


def body25_array(points: dict[str, np.ndarray], yaw: float) -> np.ndarray:
    """``(25, 3)`` OpenPose BODY_25 ``(x, y, confidence)``; the far ear is undetected when turned > 30 deg."""
    out = np.zeros((25, 3), np.float32)
    for name, idx in BODY25.items():
        out[idx, :2] = points[name][:2]
        out[idx, 2] = 1.0
    if yaw > np.radians(30):  # turned to the image left: the person's left ear faces the camera
        out[BODY25["REar"], 2] = 0.0
    elif yaw < -np.radians(30):
        out[BODY25["LEar"], 2] = 0.0
    return out


def skin_shade(u: np.ndarray) -> np.ndarray:
    """Cylinder shading across a limb (``u`` in [0, 1] across it), lit from the upper left: ~0.7-1.05."""
    c = np.clip(2 * u - 1, -1, 1)
    return 0.74 + 0.26 * np.sqrt(1 - c * c) - 0.06 * c
