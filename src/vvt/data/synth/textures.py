"""Procedural garment textures (issue 3, item 4): seven families drawn on a flat canvas.

A texture is an ``(H, W, 3)`` uint8 image the size of the garment's product photo. A garment's print
*is* this canvas: the product photo shows it directly, and a worn garment looks every pixel up through
its UV chart (:mod:`vvt.data.synth.garments`), so the print moves with the body and never slides.

Families: ``solid``, ``stripes`` (any angle), ``checks`` (gingham: two stripe sets averaged), ``dots``
(rotated polka lattice), ``glyphs`` (tiled letters and symbols), ``logo`` (a large emblem with text
on a plain or two-tone ground) and ``gradient`` (linear or radial).
"""

from __future__ import annotations

import cv2
import numpy as np

TEXTURE_FAMILIES = ("solid", "stripes", "checks", "dots", "glyphs", "logo", "gradient")
_GLYPHS = "ABCDEFGHKMNRSTXZ0123456789#@&*+"


def random_color(rng: np.random.Generator, light: bool | None = None) -> np.ndarray:
    """A garment-like RGB colour ``(3,)`` float in [0, 255], never near-white (product photos are white)."""
    hue = rng.uniform(0, 180)
    sat = rng.uniform(0.25, 0.95) * 255
    val = (
        rng.uniform(0.65, 0.9)
        if light
        else rng.uniform(0.15, 0.5)
        if light is False
        else rng.uniform(0.2, 0.9)
    ) * 255
    hsv = np.uint8([[[hue, sat, val]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _rotated_coords(h: int, w: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    return x * c + y * s, -x * s + y * c


def _stripes(rng, h, w):
    a, b = random_color(rng, light=True), random_color(rng, light=False)
    along, _ = _rotated_coords(h, w, rng.uniform(0, np.pi))
    period = rng.uniform(0.05, 0.14) * min(h, w)
    duty = rng.uniform(0.3, 0.6)
    band = (along / period) % 1.0 < duty
    out = np.where(band[..., None], b, a)
    if rng.random() < 0.4:  # a thin third-colour pinstripe
        pin = np.abs((along / period) % 1.0 - (duty + 1) / 2) < 0.06
        out = np.where(pin[..., None], random_color(rng), out)
    return out


def _checks(rng, h, w):
    a, b = random_color(rng, light=True), random_color(rng, light=False)
    x, y = _rotated_coords(h, w, rng.choice([0.0, np.pi / 4, rng.uniform(0, np.pi / 2)]))
    period = rng.uniform(0.06, 0.16) * min(h, w)
    bx = ((x / period) % 1.0 < 0.5).astype(np.float32)
    by = ((y / period) % 1.0 < 0.5).astype(np.float32)
    mix = (bx + by)[..., None] / 2  # gingham: 0, 0.5, 1
    return a * (1 - mix) + b * mix


def _dots(rng, h, w):
    ground, dot = random_color(rng), random_color(rng)
    x, y = _rotated_coords(h, w, rng.uniform(0, np.pi / 2))
    period = rng.uniform(0.06, 0.13) * min(h, w)
    radius = rng.uniform(0.18, 0.35) * period
    row = np.floor(y / period)
    x = x + (row % 2) * period / 2  # staggered rows
    dx = (x % period) - period / 2
    dy = (y % period) - period / 2
    inside = dx * dx + dy * dy <= radius * radius
    return np.where(inside[..., None], dot, ground)


def _glyphs(rng, h, w):
    ground, ink = random_color(rng, light=True), random_color(rng, light=False)
    out = np.empty((h, w, 3), np.uint8)
    out[:] = ground.astype(np.uint8)
    cell = max(8, int(rng.uniform(0.09, 0.16) * min(h, w)))
    scale = cell / 30.0
    chars = rng.choice(list(_GLYPHS), size=rng.integers(1, 4))
    for j, y in enumerate(range(cell, h + cell, cell)):
        for i, x in enumerate(range(0, w + cell, cell)):
            ch = str(chars[(i + j) % len(chars)])
            org = (x + (cell // 2 if j % 2 else 0) - cell // 2, y - cell // 5)
            cv2.putText(
                out,
                ch,
                org,
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                tuple(int(c) for c in ink),
                max(1, int(2 * scale)),
                cv2.LINE_AA,
            )
    return out.astype(np.float32)


def _logo(rng, h, w, center: tuple[float, float]):
    ground = random_color(rng)
    out = np.empty((h, w, 3), np.uint8)
    out[:] = ground.astype(np.uint8)
    if rng.random() < 0.5:  # two-tone: a contrasting yoke band
        y0 = int(rng.uniform(0.1, 0.3) * h)
        out[:y0] = random_color(rng).astype(np.uint8)
    cx, cy = int(center[0]), int(center[1])
    r = max(4, int(rng.uniform(0.09, 0.15) * min(h, w)))
    emblem = tuple(int(c) for c in random_color(rng, light=float(ground.mean()) < 128))
    shape = rng.integers(3)
    if shape == 0:
        cv2.circle(out, (cx, cy), r, emblem, -1, cv2.LINE_AA)
    elif shape == 1:
        cv2.rectangle(out, (cx - r, cy - r), (cx + r, cy + r), emblem, -1, cv2.LINE_AA)
    else:
        pts = np.array([(cx + r * np.sin(a), cy - r * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 11)[:-1]])
        star = np.where(np.arange(10)[:, None] % 2 == 0, pts, (pts - [cx, cy]) * 0.45 + [cx, cy])
        cv2.fillPoly(out, [np.round(star).astype(np.int32)], emblem, cv2.LINE_AA)
    text = "".join(rng.choice(list(_GLYPHS[:16]), size=2))
    scale = r / 22.0
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, max(1, int(2 * scale)))
    ink = tuple(int(c) for c in ground)
    cv2.putText(
        out,
        text,
        (cx - tw // 2, cy + th // 2),
        cv2.FONT_HERSHEY_DUPLEX,
        scale,
        ink,
        max(1, int(2 * scale)),
        cv2.LINE_AA,
    )
    return out.astype(np.float32)


def _gradient(rng, h, w):
    a, b = random_color(rng), random_color(rng)
    if rng.random() < 0.6:
        along, _ = _rotated_coords(h, w, rng.uniform(0, 2 * np.pi))
        t = (along - along.min()) / max(1e-6, np.ptp(along))
    else:
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        t = np.sqrt((x - cx) ** 2 + (y - cy) ** 2) / np.hypot(h, w)
        t = np.clip(t * 1.6, 0, 1)
    return a * (1 - t[..., None]) + b * t[..., None]


def make_texture(
    family: str,
    rng: np.random.Generator,
    height: int,
    width: int,
    logo_center: tuple[float, float] | None = None,
) -> np.ndarray:
    """A texture canvas ``(height, width, 3)`` uint8 of ``family``, drawn from ``rng``.

    ``logo_center`` (x, y pixels) places the emblem of the ``logo`` family (e.g. on the chest); it
    defaults to the canvas centre.
    """
    if family not in TEXTURE_FAMILIES:
        raise ValueError(f"unknown texture family {family!r} (known: {', '.join(TEXTURE_FAMILIES)})")
    if family == "solid":
        out = np.broadcast_to(random_color(rng), (height, width, 3))
    elif family == "logo":
        out = _logo(rng, height, width, logo_center or (width / 2, height / 2))
    else:
        out = {
            "stripes": _stripes,
            "checks": _checks,
            "dots": _dots,
            "glyphs": _glyphs,
            "gradient": _gradient,
        }[family](rng, height, width)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
