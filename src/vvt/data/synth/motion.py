"""SynthVVT motion (issue 3, item 3): smooth, varied joint-angle trajectories and a moving camera.

A clip's motion is a :class:`MotionSpec`, a random mix of primitives, each a sum of smooth periodic
terms in time ``t`` (seconds), so poses change continuously and a clip can be sampled at any frame:

- ``walk``: walking in place (thighs swing in antiphase, knees bend on the forward swing, arms counter-swing,
  the body bobs);
- ``arm_swing``: arms swing sideways; ``raise``: arms rise slowly up to overhead; ``reach``: one arm reaches
  forward and across the body (passing in front of the torso and its garment);
- ``turn``: the body yaws up to +-50 deg (the torso foreshortens); ``bend``: forward and side bends;
- ``side_step``: the person moves sideways with the legs opening;
- ``camera``: slow pan and zoom.

``speed`` scales every frequency. Amplitudes are bounded so the figure stays front-facing (|yaw| < 55 deg)
and in frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PRIMITIVES = ("walk", "arm_swing", "raise", "reach", "turn", "bend", "side_step", "camera")
_ACTIVE_PROB = {
    "walk": 0.6,
    "arm_swing": 0.5,
    "raise": 0.35,
    "reach": 0.35,
    "turn": 0.6,
    "bend": 0.35,
    "side_step": 0.4,
    "camera": 0.7,
}


@dataclass(frozen=True)
class ArmPose:
    abduction: float
    flexion: float
    elbow: float
    elbow_abduction: float


@dataclass(frozen=True)
class LegPose:
    abduction: float
    flexion: float
    knee: float


@dataclass(frozen=True)
class PoseState:
    """Every degree of freedom of one frame (angles in radians, positions in body units)."""

    arms: dict[str, ArmPose]
    legs: dict[str, LegPose]
    yaw: float = 0.0
    bend_forward: float = 0.0
    bend_side: float = 0.0
    head_tilt: float = 0.0
    root_x: float = 0.0
    root_y: float = 0.0
    cam_x: float = 0.0
    cam_y: float = 0.0
    zoom: float = 1.0


def rest_pose(arm_abduction: float = 0.2, leg_abduction: float = 0.05) -> PoseState:
    """Standing, arms slightly away from the body."""
    arms = {s: ArmPose(arm_abduction, 0.0, 0.0, 0.0) for s in ("R", "L")}
    legs = {s: LegPose(leg_abduction, 0.0, 0.0) for s in ("R", "L")}
    return PoseState(arms=arms, legs=legs)


@dataclass(frozen=True)
class MotionSpec:
    """Amplitudes (0 = primitive off), frequencies (Hz) and phases of one clip's motion."""

    amp: dict[str, float]
    freq: dict[str, float]
    phase: dict[str, float]
    base_arm: tuple[float, float]
    base_elbow: tuple[float, float]
    base_leg: float
    reach_side: str
    speed: float = 1.0
    extra: dict[str, float] = field(default_factory=dict)


def sample_motion(rng: np.random.Generator, speed: float = 1.0) -> MotionSpec:
    """Draw a clip's motion: 2-5 active primitives with random amplitudes, frequencies and phases."""
    while True:
        active = {p: rng.random() < _ACTIVE_PROB[p] for p in PRIMITIVES}
        if sum(active.values()) >= 2:
            break
    hi = {
        "walk": 0.45,
        "arm_swing": 1.1,
        "raise": 2.3,
        "reach": 1.3,
        "turn": 0.85,
        "bend": 0.45,
        "side_step": 0.1,
        "camera": 1.0,
    }
    amp = {p: float(rng.uniform(0.45, 1.0) * hi[p]) if active[p] else 0.0 for p in PRIMITIVES}
    if amp["raise"] > 0 and amp["arm_swing"] > 0:  # keep the arms inside a portrait frame
        amp["arm_swing"] *= 0.4
    base_hz = {
        "walk": 1.0,
        "arm_swing": 0.6,
        "raise": 0.35,
        "reach": 0.4,
        "turn": 0.3,
        "bend": 0.3,
        "side_step": 0.4,
        "camera": 0.15,
    }
    freq = {p: float(base_hz[p] * rng.uniform(0.8, 1.25)) for p in PRIMITIVES}
    phase = {p: float(rng.uniform(0, 2 * np.pi)) for p in PRIMITIVES}
    return MotionSpec(
        amp=amp,
        freq=freq,
        phase=phase,
        base_arm=(float(rng.uniform(0.1, 0.35)), float(rng.uniform(0.1, 0.35))),
        base_elbow=(float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.05, 0.5))),
        base_leg=float(rng.uniform(0.02, 0.1)),
        reach_side=str(rng.choice(["R", "L"])),
        speed=float(speed),
        extra={
            "pan": float(rng.uniform(-1, 1)),
            "zoom": float(rng.uniform(-1, 1)),
            "side_bend": float(rng.uniform(-1, 1)),
        },
    )


def pose_at(spec: MotionSpec, t: float) -> PoseState:
    """The pose at time ``t`` seconds: a continuous function of ``t``, smooth (C1) except the walking bob
    ``root_y``, which follows ``|sin|`` and so bounces (a kink) at each step."""
    a, f, ph = spec.amp, spec.freq, spec.phase

    def wave(p: str) -> float:
        return float(np.sin(2 * np.pi * f[p] * spec.speed * t + ph[p]))

    def rise(p: str) -> float:  # 0..1, smooth
        return float((1 - np.cos(2 * np.pi * f[p] * spec.speed * t + ph[p])) / 2)

    w = wave("walk")
    arms, legs = {}, {}
    for i, (side, sgn) in enumerate((("R", 1.0), ("L", -1.0))):
        swing = sgn * w
        abd = spec.base_arm[i] + a["arm_swing"] * rise("arm_swing") + a["raise"] * rise("raise")
        flex = -0.8 * a["walk"] * swing
        elbow = spec.base_elbow[i] + 0.3 * a["walk"] * max(0.0, -swing) ** 2
        elbow_abd = 0.0
        if side == spec.reach_side and a["reach"] > 0:
            r = rise("reach")
            flex += a["reach"] * r
            abd -= (0.35 + spec.base_arm[i]) * r  # across the body
            elbow += 0.6 * r
            elbow_abd = -0.3 * r
        arms[side] = ArmPose(abd, flex, elbow, elbow_abd)
        step = a["side_step"] * 1.5 * rise("side_step")
        lift = ((swing + 1) / 2) ** 2
        legs[side] = LegPose(spec.base_leg + step, a["walk"] * swing, 1.4 * a["walk"] * lift)
    return PoseState(
        arms=arms,
        legs=legs,
        yaw=a["turn"] * wave("turn"),
        bend_forward=a["bend"] * rise("bend"),
        bend_side=0.3 * a["bend"] * spec.extra["side_bend"] * wave("bend") + 0.04 * a["walk"] * w,
        head_tilt=0.08 * wave("turn") * (a["turn"] > 0) + 0.04 * w,
        root_x=a["side_step"] * wave("side_step"),
        root_y=-0.008 * a["walk"] / 0.45 * abs(w) - 0.02 * a["bend"] * rise("bend"),
        cam_x=0.05 * a["camera"] * spec.extra["pan"] * wave("camera"),
        cam_y=0.02 * a["camera"] * wave("camera"),
        zoom=1.0 + 0.08 * a["camera"] * spec.extra["zoom"] * wave("camera"),
    )
