"""SynthVVT renderer (issue 3, items 2, 6): every per-frame stream from one skeleton transform.

:class:`Scene` holds one person (body, motion, outfit, background). For a frame it computes the
:class:`FrameGeometry` once (3D joints, camera, projected BODY_25 keypoints, the body *bands* of
:mod:`vvt.data.synth.raster`, and the draw order), then :meth:`Scene.render` paints the person wearing any
outfit (the source video, or the ground truth of an unpaired try-on: same geometry, another garment) and
:meth:`Scene.agnostic_mask` draws the category's garment-independent agnostic mask.

**Draw order** (painter's algorithm, back to front): long hair; the legs (farther first; thigh and shin
ordered by depth); arms that are behind the torso; the torso group (neck, torso, then the garments'
torso and skirt pieces, lower garment before upper); arms in front of the torso (an arm reaching across
the body occludes the garment); the head. An arm is *in front* when its elbow-wrist midpoint is nearer
the camera than MidHip.

**DensePose (vvt IUV).** Each body band paints its DensePose part index (detectron2's 24-part order,
:data:`DENSEPOSE_PARTS`) and its chart ``(u, v)`` (``v`` from the proximal joint to the distal one, ``u``
across the band); garments do not (DensePose describes the body under the clothes). The figure always
faces the camera (|yaw| < 55 deg), so only the *front* chart of each front/back pair appears (torso 2,
upper legs 9/10, lower legs 13/14, upper arms 15/16, lower arms 19/20); the head is split at its midline
into 23 (the person's right, image left) and 24, each half with ``u`` rescaled to [0, 1]; the neck belongs
to the head charts (``v = 1``).

**Labels** per pixel (:data:`LABELS`): background, skin, hair, shoes, other garment, target garment; the
worn-garment mask is ``label == target``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vvt.data.synth.body import (
    WAIST_V,
    BodySpec,
    Camera,
    body25_array,
    frame_camera,
    project,
    skeleton_3d,
    skin_shade,
)
from vvt.data.synth.garments import Garment, envelope_pieces, piece_colors
from vvt.data.synth.motion import MotionSpec, PoseState, pose_at, rest_pose
from vvt.data.synth.raster import Ellipse, Patch, Segment, fill_segment, rasterize

#: DensePose part indices (detectron2 order: 1 torso back, 2 torso front, 3 right hand, 4 left hand, 5 left
#: foot, 6 right foot, 7/8 upper leg right/left back, 9/10 front, 11/12 lower leg right/left back,
#: 13/14 front,
#: 15/16 upper arm left/right front, 17/18 back, 19/20 lower arm left/right front, 21/22 back, 23/24 head
#: right/left) of the bands SynthVVT draws
DENSEPOSE_PARTS = {
    "torso": 2,
    "hand_R": 3,
    "hand_L": 4,
    "foot_L": 5,
    "foot_R": 6,
    "thigh_R": 9,
    "thigh_L": 10,
    "shin_R": 13,
    "shin_L": 14,
    "upper_arm_L": 15,
    "upper_arm_R": 16,
    "forearm_L": 19,
    "forearm_R": 20,
}
HEAD_RIGHT, HEAD_LEFT = 23, 24
LABELS = {"background": 0, "skin": 1, "hair": 2, "shoes": 3, "other_garment": 4, "target_garment": 5}


def body_bands(points: dict[str, np.ndarray], body: BodySpec, scale: float, yaw: float) -> dict[str, Segment]:
    """The body bands (pixels) of projected ``points`` (:func:`vvt.data.synth.body.project`).

    Widths do not foreshorten except the torso's, which turns from its width to its depth with ``yaw``.
    """

    def p(name):
        return points[name][:2]

    turn = float(np.hypot(np.cos(yaw), body.torso_depth * np.sin(yaw)))
    sw = (body.shoulder_w + 0.7 * body.arm_w) * turn * scale
    chest = max(body.waist_w * 1.1, 0.88 * (body.shoulder_w + 0.7 * body.arm_w)) * turn * scale
    waist, hips = body.waist_w * turn * scale, body.hip_outer_w * turn * scale
    aw, lw = body.arm_w * scale, body.leg_w * scale
    bands = {
        "torso": Segment(
            p("Neck"),
            p("Crotch"),
            np.array([0.0, 0.08, 0.35, WAIST_V, 0.85, 1.0]),
            np.array([0.55 * sw, sw, chest, waist, hips, 0.95 * hips]),
            False,
            False,
        ),
        "neck": Segment(
            p("Neck"),
            p("Neck") + 0.7 * (p("HeadCenter") - p("Neck")),
            np.array([0.0, 1.0]),
            np.array([0.42, 0.4]) * body.head_w * scale,
            cap_a=False,
        ),
    }
    for s in ("R", "L"):
        bands[f"upper_arm_{s}"] = Segment(
            p(f"{s}Shoulder"), p(f"{s}Elbow"), np.array([0.0, 1.0]), np.array([1.0, 0.8]) * aw
        )
        bands[f"forearm_{s}"] = Segment(
            p(f"{s}Elbow"), p(f"{s}Wrist"), np.array([0.0, 1.0]), np.array([0.78, 0.6]) * aw
        )
        bands[f"hand_{s}"] = Segment(
            p(f"{s}Wrist"), p(f"{s}HandTip"), np.array([0.0, 1.0]), np.array([0.62, 0.78]) * aw
        )
        bands[f"thigh_{s}"] = Segment(
            p(f"{s}Hip"), p(f"{s}Knee"), np.array([0.0, 1.0]), np.array([1.0, 0.66]) * lw
        )
        bands[f"shin_{s}"] = Segment(
            p(f"{s}Knee"), p(f"{s}Ankle"), np.array([0.0, 1.0]), np.array([0.64, 0.42]) * lw
        )
        toe = (p(f"{s}BigToe") + p(f"{s}SmallToe")) / 2
        bands[f"foot_{s}"] = Segment(p(f"{s}Ankle"), toe, np.array([0.0, 1.0]), np.array([0.44, 0.5]) * lw)
    waist_pt = bands["torso"].axis_point(WAIST_V)
    knees = (p("RKnee") + p("LKnee")) / 2
    hem = max(hips, float(np.hypot(*(p("RKnee") - p("LKnee")))) + 0.7 * lw)
    bands["skirt"] = Segment(
        waist_pt, knees, np.array([0.0, 0.35, 1.0]), np.array([waist, hips, hem]), False, False
    )
    return bands


def mannequin() -> dict[str, Segment]:
    """Bands (body units) of the flat-lay pose of every product photo: average body, arms and legs apart."""
    body = BodySpec(
        head_h=0.125,
        head_w=0.095,
        neck=0.045,
        torso=0.30,
        shoulder_w=0.22,
        hip_w=0.15,
        upper_arm=0.165,
        forearm=0.145,
        hand=0.06,
        thigh=0.245,
        shin=0.235,
        foot=0.055,
        arm_w=0.052,
        leg_w=0.078,
        waist_w=0.17,
        hip_outer_w=0.215,
        torso_depth=0.6,
        skin=(0, 0, 0),
        hair=(0, 0, 0),
        hair_style="short",
        shoes=(0, 0, 0),
    )
    pose = rest_pose(arm_abduction=0.5, leg_abduction=0.1)
    cam = Camera(scale=1.0, focus=np.zeros(2), center=np.zeros(2))
    return body_bands(project(skeleton_3d(body, pose), cam), body, 1.0, 0.0)


@dataclass(frozen=True)
class Background:
    """A wall with vertical panels above a floor, fixed in the world (so camera pan and zoom show)."""

    wall: tuple[float, float, float]
    floor: tuple[float, float, float]
    panel: float
    line: float

    @staticmethod
    def sample(rng: np.random.Generator) -> Background:
        hue = rng.uniform(0, 180)
        wall = cv2.cvtColor(
            np.uint8([[[hue, rng.uniform(10, 70), rng.uniform(150, 235)]]]), cv2.COLOR_HSV2RGB
        )[0, 0]
        floor = cv2.cvtColor(
            np.uint8([[[rng.uniform(0, 180), rng.uniform(20, 90), rng.uniform(70, 150)]]]), cv2.COLOR_HSV2RGB
        )[0, 0]
        return Background(
            tuple(float(c) for c in wall),
            tuple(float(c) for c in floor),
            float(rng.uniform(0.25, 0.6)),
            float(rng.uniform(0.82, 0.93)),
        )


@dataclass
class FrameGeometry:
    """Everything about frame ``t`` that does not depend on the garments worn."""

    t: int
    pose: PoseState
    camera: Camera
    points: dict[str, np.ndarray]
    bands: dict[str, Segment]
    keypoints: np.ndarray
    order: list[tuple]


@dataclass
class Rendered:
    """One rendered frame: ``rgb`` (H, W, 3) uint8; DensePose ``part`` (H, W) uint8, ``u``, ``v`` float32;
    ``label`` (H, W) uint8 (:data:`LABELS`)."""

    rgb: np.ndarray
    part: np.ndarray
    u: np.ndarray
    v: np.ndarray
    label: np.ndarray


class Scene:
    """One person moving: body, motion, background; rendered at ``height x width`` and ``fps``."""

    def __init__(
        self, body: BodySpec, motion: MotionSpec, background: Background, height: int, width: int, fps: float
    ):
        self.body, self.motion, self.background = body, motion, background
        self.height, self.width, self.fps = height, width, fps
        self._bg_res = 0.84 * height * 1.25  # canvas pixels per body unit (finer than any zoom shows)
        self._bg_origin = np.array([-1.2, (body.crown_y + body.sole_y) / 2 - 1.4])
        self._bg_canvas = self._wall_and_floor(int(2.4 * self._bg_res), int(2.8 * self._bg_res))

    # -- geometry ---------------------------------------------------------------------------------------
    def geometry(self, t: int) -> FrameGeometry:
        pose = pose_at(self.motion, t / self.fps)
        camera = frame_camera(self.body, pose, self.height, self.width)
        points = project(skeleton_3d(self.body, pose), camera)
        bands = body_bands(points, self.body, camera.scale, pose.yaw)
        return FrameGeometry(
            t, pose, camera, points, bands, body25_array(points, pose.yaw), self._order(points)
        )

    def _order(self, points) -> list[tuple]:
        """Draw slots back to front (see the module docstring)."""
        z = {k: float(v[2]) for k, v in points.items()}
        hip_z = z["MidHip"]
        groups: list[tuple[float, list[tuple]]] = []
        if self.body.hair_style == "long":
            groups.append((-10.0, [("hair_back",)]))
        for s in ("R", "L"):
            thigh = [("body", f"thigh_{s}"), ("pieces", (f"thigh_{s}",))]
            shin = [("body", f"foot_{s}"), ("body", f"shin_{s}"), ("pieces", (f"shin_{s}",))]
            thigh_z, shin_z = (z[f"{s}Hip"] + z[f"{s}Knee"]) / 2, (z[f"{s}Knee"] + z[f"{s}Ankle"]) / 2
            parts = thigh + shin if shin_z > thigh_z + 0.02 else shin + thigh
            groups.append((-5.0 + (z[f"{s}Knee"] + z[f"{s}Ankle"]) / 2, parts))
            upper = [("body", f"upper_arm_{s}"), ("pieces", (f"upper_arm_{s}",))]
            lower = [("body", f"hand_{s}"), ("body", f"forearm_{s}"), ("pieces", (f"forearm_{s}",))]
            upper_z, lower_z = (z[f"{s}Shoulder"] + z[f"{s}Elbow"]) / 2, (z[f"{s}Elbow"] + z[f"{s}Wrist"]) / 2
            arm = upper + lower if lower_z > upper_z + 0.02 else lower + upper
            arm_z = lower_z - hip_z
            groups.append(((1.0 if arm_z > -0.01 else -1.0) + arm_z, arm))
        groups.append((0.0, [("neck",), ("body", "torso"), ("pieces", ("torso", "skirt"))]))
        groups.append((3.0, [("head",)]))
        groups.sort(key=lambda g: g[0])
        return [slot for _, slots in groups for slot in slots]

    # -- painting ---------------------------------------------------------------------------------------
    def _wall_and_floor(self, rows: int, cols: int) -> np.ndarray:
        """The world-fixed background canvas ``(rows, cols, 3)`` uint8 (``_bg_res`` pixels per body unit)."""
        bg = self.background
        wx = self._bg_origin[0] + np.arange(cols) / self._bg_res
        wy = self._bg_origin[1] + np.arange(rows) / self._bg_res
        panel = np.where(np.abs((wx / bg.panel) % 1.0 - 0.5) > 0.485, bg.line, 1.0)
        floor_y = self.body.sole_y
        wall_shade = 0.9 + 0.1 * np.clip((wy - floor_y + 1.2) / 1.2, 0, 1)
        floor_shade = 0.75 + 0.25 * np.clip((wy - floor_y) / 0.3, 0, 1)
        is_floor = wy >= floor_y
        row_colors = np.where(
            is_floor[:, None],
            np.float32(bg.floor) * floor_shade[:, None],
            np.float32(bg.wall) * wall_shade[:, None],
        )
        col_factor = np.where(is_floor[:, None], 1.0, panel[None, :])
        return np.clip(row_colors[:, None, :] * col_factor[..., None], 0, 255).astype(np.uint8)

    def background_image(self, camera: Camera) -> np.ndarray:
        """``(H, W, 3)`` uint8: the wall and floor seen by ``camera`` (the canvas, warped)."""
        k = camera.scale / self._bg_res
        shift = camera.center + camera.scale * (self._bg_origin - camera.focus)
        m = np.array([[k, 0, shift[0]], [0, k, shift[1]]])
        return cv2.warpAffine(
            self._bg_canvas,
            m,
            (self.width, self.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def render(self, geom: FrameGeometry, outfit: list[tuple[Garment, int]]) -> Rendered:
        """Paint the person of ``geom`` wearing ``outfit``: ``(garment, label)`` pairs, drawn in order."""
        h, w = self.height, self.width
        out = Rendered(
            self.background_image(geom.camera),
            np.zeros((h, w), np.uint8),
            np.zeros((h, w), np.float32),
            np.zeros((h, w), np.float32),
            np.zeros((h, w), np.uint8),
        )
        skin = np.float32(self.body.skin)
        for slot in geom.order:
            kind = slot[0]
            if kind == "body":
                name = slot[1]
                patch = rasterize(geom.bands[name], h, w)
                if patch is not None:
                    is_foot = name.startswith("foot")
                    color = np.float32(self.body.shoes) if is_foot else skin
                    self._paint(
                        out,
                        patch,
                        patch.mask,
                        color[None, None] * skin_shade(patch.u)[..., None],
                        LABELS["shoes" if is_foot else "skin"],
                        DENSEPOSE_PARTS[name],
                        patch.u,
                        patch.v,
                    )
            elif kind == "pieces":
                for garment, label in outfit:
                    for i, piece in enumerate(garment.pieces):
                        if piece.anchor in slot[1]:
                            self._paint_piece(out, geom, garment, i, label)
            elif kind == "neck":
                patch = rasterize(geom.bands["neck"], h, w)
                if patch is not None:
                    part = np.where(patch.u < 0.5, HEAD_RIGHT, HEAD_LEFT)
                    self._paint(
                        out,
                        patch,
                        patch.mask,
                        skin[None, None] * 0.85 * skin_shade(patch.u)[..., None],
                        LABELS["skin"],
                        part,
                        (2 * patch.u) % 1.0,
                        np.ones_like(patch.u),
                    )
            elif kind == "head":
                self._paint_head(out, geom)
            elif kind == "hair_back":
                self._paint_hair_back(out, geom)
        return out

    @staticmethod
    def _paint(
        out: Rendered,
        patch: Patch,
        mask: np.ndarray,
        colors: np.ndarray,
        label: int,
        part=None,
        u=None,
        v=None,
    ) -> None:
        sl = patch.slices
        np.minimum(colors, 255, out=colors)
        np.copyto(out.rgb[sl], colors.astype(np.uint8), where=mask[..., None])
        np.copyto(out.label[sl], label, where=mask)
        if part is not None:
            np.copyto(out.part[sl], part, where=mask, casting="unsafe")
            np.copyto(out.u[sl], u, where=mask)
            np.copyto(out.v[sl], v, where=mask)

    def _paint_piece(self, out: Rendered, geom: FrameGeometry, garment: Garment, i: int, label: int) -> None:
        piece = garment.pieces[i]
        patch = rasterize(piece.on(geom.bands), self.height, self.width)
        if patch is None:
            return
        mask = patch.mask
        if piece.cut is not None:
            mask = mask & ~piece.cut.removed(patch.u, patch.v)
        colors = piece_colors(garment, i, patch.u, patch.v) * skin_shade(patch.u)[..., None]
        self._paint(out, patch, mask, colors, label)

    def _head_ellipse(self, geom: FrameGeometry, scale: float = 1.0) -> Ellipse:
        c = geom.points["HeadCenter"][:2]
        up = geom.points["Crown"][:2] - c
        up = up / max(1e-6, float(np.hypot(*up)))
        s = geom.camera.scale
        return Ellipse(c, scale * self.body.head_w / 2 * s, scale * self.body.head_h / 2 * s, up)

    def _paint_head(self, out: Rendered, geom: FrameGeometry) -> None:
        h, w, body = self.height, self.width, self.body
        hair = np.float32(body.hair)
        if body.hair_style == "bob":
            e = self._head_ellipse(geom, 1.16)
            patch = rasterize(Ellipse(e.center - e.up * 0.1 * e.ry, e.rx, e.ry, e.up), h, w)
            if patch is not None:
                self._paint(
                    out,
                    patch,
                    patch.mask & (patch.v < 0.85),
                    hair * 0.85 * skin_shade(patch.u)[..., None],
                    LABELS["hair"],
                )
        elif body.hair_style == "bun":
            e = self._head_ellipse(geom)
            bun = Ellipse(e.center + e.up * e.ry * 1.05, 0.45 * e.rx, 0.35 * e.ry, e.up)
            patch = rasterize(bun, h, w)
            if patch is not None:
                self._paint(out, patch, patch.mask, hair * skin_shade(patch.u)[..., None], LABELS["hair"])
        e = self._head_ellipse(geom)
        patch = rasterize(e, h, w)
        if patch is None:
            return
        u, v = patch.u, patch.v
        part = np.where(u < 0.5, HEAD_RIGHT, HEAD_LEFT)
        colors = np.float32(body.skin)[None, None] * skin_shade(u)[..., None]
        ys, xs = np.mgrid[patch.y0 : patch.y1, patch.x0 : patch.x1].astype(np.float32)
        r_eye = max(0.9, 0.075 * body.head_w * geom.camera.scale)
        for eye in ("REye", "LEye"):
            ex, ey = geom.points[eye][:2]
            colors[(xs - ex) ** 2 + (ys - ey) ** 2 <= r_eye * r_eye] = (35, 28, 28)
        nose = geom.points["Nose"][:2]
        mouth = nose + 1.6 * r_eye * np.array([-e.up[0], -e.up[1]]) * 1.4
        colors[((xs - mouth[0]) / (2.2 * r_eye)) ** 2 + ((ys - mouth[1]) / (0.7 * r_eye)) ** 2 <= 1] = (
            150,
            60,
            60,
        )
        side = np.abs(2 * u - 1)
        line = {"short": 0.3, "buzz": 0.2, "bob": 0.32, "long": 0.3, "bun": 0.28}[body.hair_style]
        is_hair = v < line + 0.12 * side**2
        if body.hair_style in ("bob", "long"):
            is_hair |= (side > 0.78) & (v < 0.75)
        colors[is_hair] = hair * (0.8 + 0.2 * (1 - side[is_hair]))[:, None]
        self._paint(out, patch, patch.mask, colors, LABELS["skin"], part, (2 * u) % 1.0, v)
        hair_mask = patch.mask & is_hair
        out.label[patch.slices][hair_mask] = LABELS["hair"]

    def _paint_hair_back(self, out: Rendered, geom: FrameGeometry) -> None:
        c, neck = geom.points["HeadCenter"][:2], geom.points["Neck"][:2]
        s = geom.camera.scale * self.body.head_w
        band = Segment(
            c, neck + 0.9 * (neck - c), np.array([0.0, 1.0]), np.array([1.08, 1.25]) * s, True, False
        )
        patch = rasterize(band, self.height, self.width)
        if patch is not None:
            self._paint(
                out,
                patch,
                patch.mask,
                np.float32(self.body.hair) * 0.8 * skin_shade(patch.u)[..., None],
                LABELS["hair"],
            )

    # -- agnostic ---------------------------------------------------------------------------------------
    def agnostic_mask(self, geom: FrameGeometry, category: str) -> np.ndarray:
        """``(H, W)`` bool: the union of the category's :func:`envelope_pieces`, dilated by ~2.5 % of the size
        (at least one pixel, which also absorbs the polygon fill's sub-pixel differences)."""
        mask = np.zeros((self.height, self.width), np.uint8)
        for piece in envelope_pieces(category):
            fill_segment(mask, piece.on(geom.bands))
        r = max(1, round(0.025 * min(self.height, self.width)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        return cv2.dilate(mask, kernel).astype(bool)
