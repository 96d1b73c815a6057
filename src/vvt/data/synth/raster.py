"""2D shape primitives with UV charts, rasterised with vectorised numpy inside their bounding boxes.

Every body part and garment piece of SynthVVT is a :class:`Segment`: a tapered band along an axis from
``a`` to ``b`` (pixels), of full width ``w(v)`` (piecewise linear over ``knots``), optionally with round
caps. Its chart is exact and invertible:

    point(u, v) = a + v (b - a) + (u - 1/2) w(v) n,    n = the unit normal of the axis,

so a pixel's ``(u, v)`` (the DensePose-style U, V and the texture lookup coordinates) and the pixel of a
given ``(u, v)`` (followed by the tests) are computed from the same skeleton transform. Heads are
:class:`Ellipse` s with ``u, v`` the normalised ellipse coordinates. Pixel centres are at integer
coordinates (OpenCV's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Patch:
    """A rasterised shape: rows ``y0:y1``, columns ``x0:x1``, and per-pixel ``mask``, ``u``, ``v`` there."""

    y0: int
    y1: int
    x0: int
    x1: int
    mask: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


@dataclass(frozen=True)
class Segment:
    """A tapered band ``a -> b`` (pixels), full width ``w(v) = interp(v, knots, widths) * (gain0 + gain1 v)``.

    The linear gain is how a skirt flares (exactly, so an envelope with more flare contains it pixel for
    pixel); it is 1 for every other band.
    """

    a: np.ndarray
    b: np.ndarray
    knots: np.ndarray
    widths: np.ndarray
    cap_a: bool = True
    cap_b: bool = True
    gain0: float = 1.0
    gain1: float = 0.0

    @property
    def frame(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Unit axis ``t``, unit normal ``n`` (t rotated by -90 deg: +x for an axis pointing down), length."""
        d = np.asarray(self.b, np.float64) - np.asarray(self.a, np.float64)
        length = float(np.hypot(*d))
        t = d / length if length > 1e-6 else np.array([0.0, 1.0])
        return t, np.array([t[1], -t[0]]), length

    def width_at(self, v) -> np.ndarray:
        v = np.clip(v, 0.0, 1.0)
        return np.interp(v, self.knots, self.widths) * (self.gain0 + self.gain1 * v)

    def axis_point(self, v: float) -> np.ndarray:
        return np.asarray(self.a, np.float64) + v * (
            np.asarray(self.b, np.float64) - np.asarray(self.a, np.float64)
        )

    def point(self, u, v) -> np.ndarray:
        """Pixel ``(..., 2)`` of chart coordinates ``(u, v)`` in [0, 1] (the inverse of :func:`rasterize`)."""
        x, y = self.point_xy(u, v)
        return np.stack([x, y], axis=-1)

    def point_xy(self, u, v) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`point` as separate ``x`` and ``y`` arrays (float32 for float32 inputs)."""
        u, v = np.asarray(u), np.asarray(v)
        dt = np.float32 if u.dtype == np.float32 else np.float64
        t, n, length = self.frame
        across = (u - dt(0.5)) * self.width_at(v).astype(dt)
        along = v * dt(length)
        return (
            along * dt(t[0]) + across * dt(n[0]) + dt(self.a[0]),
            along * dt(t[1]) + across * dt(n[1]) + dt(self.a[1]),
        )

    def sub(
        self,
        v0: float,
        v1: float,
        scale: float = 1.0,
        flare: float = 0.0,
        cap_a: bool = False,
        cap_b: bool = False,
    ) -> Segment:
        """The band between ``v0`` and ``v1`` of this one (beyond [0, 1] the end width continues), ``scale``
        times as wide and flared by ``(1 + flare * v)`` (``v`` on this band): how garment pieces sit on body
        parts. Widths are exact (this band's knots are kept); requires a band without gain."""
        inner = self.knots[(self.knots > v0) & (self.knots < v1)]
        vs = np.concatenate([[v0], inner, [v1]])
        g = (vs - v0) / (v1 - v0)
        return Segment(
            self.axis_point(v0),
            self.axis_point(v1),
            g,
            np.interp(np.clip(vs, 0, 1), self.knots, self.widths) * scale,
            cap_a,
            cap_b,
            1.0 + flare * v0,
            flare * (v1 - v0),
        )

    def bounds(self) -> tuple[float, float, float, float]:
        r = float(np.max(self.widths)) * max(self.gain0, self.gain0 + self.gain1) / 2
        xs, ys = (self.a[0], self.b[0]), (self.a[1], self.b[1])
        return min(xs) - r, min(ys) - r, max(xs) + r, max(ys) + r


@dataclass(frozen=True)
class Ellipse:
    """An ellipse with semi-axes ``rx`` (across) and ``ry`` (along ``up``, the unit vector to its top)."""

    center: np.ndarray
    rx: float
    ry: float
    up: np.ndarray

    def bounds(self) -> tuple[float, float, float, float]:
        r = max(self.rx, self.ry)
        return self.center[0] - r, self.center[1] - r, self.center[0] + r, self.center[1] + r


def _grid(shape, height: int, width: int):
    x0f, y0f, x1f, y1f = shape.bounds()
    x0, y0 = max(0, int(np.floor(x0f)) - 1), max(0, int(np.floor(y0f)) - 1)
    x1, y1 = min(width, int(np.ceil(x1f)) + 2), min(height, int(np.ceil(y1f)) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def rasterize(shape: Segment | Ellipse, height: int, width: int) -> Patch | None:
    """Pixels of ``shape`` in an ``height x width`` image with their chart ``(u, v)``; None if off-image."""
    box = _grid(shape, height, width)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    origin = shape.center if isinstance(shape, Ellipse) else shape.a
    px = (np.arange(x0, x1, dtype=np.float32) - np.float32(origin[0]))[None, :]
    py = (np.arange(y0, y1, dtype=np.float32) - np.float32(origin[1]))[:, None]
    if isinstance(shape, Ellipse):
        ux, uy = np.float32(shape.up[0]), np.float32(shape.up[1])
        across = (px * -uy + py * ux) * np.float32(1 / shape.rx)  # to the right of "up"
        down = (px * ux + py * uy) * np.float32(-1 / shape.ry)
        mask = across * across + down * down <= 1.0
        across += 1
        across *= 0.5
        down += 1
        down *= 0.5
        return Patch(y0, y1, x0, x1, mask, across, down)
    t, n, length = shape.frame
    inv_len = np.float32(1 / max(length, 1e-6))
    v = px * np.float32(t[0] * inv_len) + py * np.float32(t[1] * inv_len)
    across = px * np.float32(n[0]) + py * np.float32(n[1])
    vc = np.minimum(np.maximum(v, np.float32(0)), np.float32(1))
    if len(shape.knots) == 2 and shape.knots[0] == 0 and shape.knots[1] == 1:
        w0, w1 = shape.widths
        half = vc * np.float32((w1 - w0) / 2) + np.float32(w0 / 2)
    else:
        half = np.interp(vc, shape.knots, shape.widths / 2).astype(np.float32)
    if shape.gain1 != 0 or shape.gain0 != 1:
        half *= vc * np.float32(shape.gain1) + np.float32(shape.gain0)
    mask = np.abs(across) <= half
    mask &= v == vc
    if shape.cap_a:
        mask |= (v < 0) & (px * px + py * py <= half * half)
    if shape.cap_b:
        dx, dy = np.float32(shape.b[0] - shape.a[0]), np.float32(shape.b[1] - shape.a[1])
        mask |= (v > 1) & ((px - dx) ** 2 + (py - dy) ** 2 <= half * half)
    u = across / (2 * np.maximum(half, np.float32(5e-4)))
    u += 0.5
    np.minimum(np.maximum(u, np.float32(0), out=u), np.float32(1), out=u)
    return Patch(y0, y1, x0, x1, mask, u, vc)


def fill_segment(mask: np.ndarray, seg: Segment, samples: int = 8) -> None:
    """Fill ``seg`` into the uint8 ``mask`` (value 1) as a polygon plus cap discs: no UV, for masks only.

    The outline samples the width at every knot and at ``samples`` points between the ends (the flare gain
    makes it quadratic); OpenCV's fill is within a pixel of :func:`rasterize`'s shape.
    """
    t, n, length = seg.frame
    vs = np.union1d(seg.knots, np.linspace(0.0, 1.0, samples))
    half = seg.width_at(vs) / 2
    axis = np.asarray(seg.a, np.float64) + (vs * length)[:, None] * t
    outline = np.concatenate([axis + half[:, None] * n, (axis - half[:, None] * n)[::-1]])
    shift = 4
    cv2.fillPoly(mask, [np.round(outline * (1 << shift)).astype(np.int32)], 1, cv2.LINE_8, shift)
    for cap, end, r in ((seg.cap_a, seg.a, half[0]), (seg.cap_b, seg.b, half[-1])):
        if cap:
            center = tuple(int(c) for c in np.round(np.asarray(end) * (1 << shift)))
            cv2.circle(mask, center, int(round(r * (1 << shift))), 1, -1, cv2.LINE_8, shift)
