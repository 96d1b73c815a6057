"""SynthVVT garments (issue 3, items 4-5): shapes made of pieces on body parts, prints through UV charts.

A garment is a list of :class:`Piece` s. A piece sits on an *anchor* band of the body
(``torso``, ``upper_arm_R``, ``forearm_L``, ``thigh_R``, ``shin_L``, ``skirt`` ...; see
:func:`vvt.data.synth.render.body_bands`) between chart positions ``v0..v1`` (fractions of the anchor's
length), ``scale`` times the body's width (looser than the body) and optionally flared. A neckline and
shoulder straps are cut out of a piece's chart. The category fixes which shapes exist:

===========  ========================================================================================
upper        ``tank`` (torso, straps, bare shoulders), ``tshirt`` (sleeves end above the elbow),
             ``longsleeve`` (sleeves to the wrist)
lower        ``shorts`` (hem above the knee), ``trousers`` (to the ankle), ``skirt`` (a flared band from
             the waist towards the knees, mini to midi)
dresses      ``strap``, ``sleeveless``, ``short_sleeve``: a bodice on the torso plus a skirt
===========  ========================================================================================

**Print.** The garment's texture is a canvas the size of its product photo. The product photo is the
garment laid flat in a fixed *mannequin* pose, front view, on white (:func:`product_image`); each piece
has a *canonical* band there. A worn piece's pixel with chart ``(u, v)`` shows the texture at the
canonical band's ``point(u, v)``, so the print the shop photo shows is the print on the body and it moves
with the body. :func:`envelope_pieces` gives, per category, pieces at least as large as every garment of
that category can be: the agnostic mask is drawn from them, so it never leaks the worn garment's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vvt.data.synth.body import WAIST_V
from vvt.data.synth.raster import Segment, rasterize
from vvt.data.synth.textures import make_texture

GARMENT_KINDS = {
    "upper": ("tank", "tshirt", "longsleeve"),
    "lower": ("shorts", "trousers", "skirt"),
    "dresses": ("strap", "sleeveless", "short_sleeve"),
}
#: white of the product photo background
WHITE = 255


@dataclass(frozen=True)
class Cut:
    """Cut-outs of a piece's chart: a neckline (V or round) and shoulder straps (tank tops, strap dresses)."""

    neck_depth: float = 0.0
    neck_half: float = 0.0
    round_neck: bool = True
    strap_depth: float = 0.0
    strap_half: float = 0.5

    def removed(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        x = np.abs(u - 0.5)
        out = np.zeros(u.shape, bool)
        if self.neck_depth > 0:
            r = np.clip(x / self.neck_half, 0, 1)
            edge = self.neck_depth * (np.sqrt(1 - r * r) if self.round_neck else 1 - r)
            out |= (x < self.neck_half) & (v < edge)
        if self.strap_depth > 0:
            out |= (x > self.strap_half) & (v < self.strap_depth)
        return out


@dataclass(frozen=True)
class Piece:
    """A garment piece on body band ``anchor`` over its chart positions ``v0..v1``."""

    anchor: str
    v0: float
    v1: float
    scale: float = 1.0
    flare: float = 0.0
    cap_a: bool = False
    cap_b: bool = False
    cut: Cut | None = None

    def on(self, bands: dict[str, Segment]) -> Segment:
        """This piece's band on a body whose bands are ``bands``."""
        return bands[self.anchor].sub(self.v0, self.v1, self.scale, self.flare, self.cap_a, self.cap_b)


@dataclass(frozen=True)
class Garment:
    """A garment: its pieces, texture canvas ``(H, W, 3)`` uint8 and the pieces' bands on that canvas."""

    name: str
    category: str
    kind: str
    family: str
    pieces: tuple[Piece, ...]
    texture: np.ndarray
    canonical: tuple[Segment, ...]


def _pairs(anchor: str, **kw) -> list[Piece]:
    return [Piece(f"{anchor}_{s}", **kw) for s in ("R", "L")]


def garment_pieces(category: str, kind: str, rng: np.random.Generator) -> tuple[Piece, ...]:
    """Draw the pieces of a garment of ``kind`` (``category`` one of :data:`GARMENT_KINDS`)."""
    u = rng.uniform
    if category == "upper":
        loose = u(1.03, 1.12)
        neck = Cut(u(0.05, 0.16), u(0.16, 0.28), bool(rng.random() < 0.6))
        if kind == "tank":
            neck = Cut(u(0.1, 0.2), u(0.16, 0.24), bool(rng.random() < 0.5), u(0.1, 0.18), u(0.3, 0.4))
        pieces = [Piece("torso", 0.0, u(0.9, 1.08), loose, cut=neck)]
        if kind == "tshirt":
            pieces += _pairs("upper_arm", v0=0.0, v1=u(0.3, 0.55), scale=u(1.35, 1.6), cap_a=True)
        elif kind == "longsleeve":
            s = u(1.25, 1.4)
            pieces += _pairs("upper_arm", v0=0.0, v1=1.0, scale=s, cap_a=True, cap_b=True)
            pieces += _pairs("forearm", v0=0.0, v1=u(0.8, 0.95), scale=s * 0.95, cap_a=True)
        return tuple(pieces)
    if category == "lower":
        if kind == "skirt":
            return (Piece("skirt", 0.0, u(0.55, 1.25), u(1.02, 1.06), flare=u(0.1, 0.5)),)
        pelvis = Piece("torso", WAIST_V, 1.0, u(1.03, 1.08))
        s = u(1.15, 1.35)
        if kind == "shorts":
            return (pelvis, *_pairs("thigh", v0=0.0, v1=u(0.35, 0.75), scale=s, cap_a=True))
        return (
            pelvis,
            *_pairs("thigh", v0=0.0, v1=1.0, scale=s, cap_a=True, cap_b=True),
            *_pairs("shin", v0=0.0, v1=u(0.9, 1.0), scale=s * 0.95, cap_a=True),
        )
    if category == "dresses":
        cut = Cut(u(0.06, 0.18), u(0.16, 0.28), bool(rng.random() < 0.6))
        if kind == "strap":
            cut = Cut(cut.neck_depth + 0.05, cut.neck_half, cut.round_neck, u(0.12, 0.2), u(0.3, 0.4))
        pieces = [
            Piece("torso", 0.0, WAIST_V + 0.02, u(1.02, 1.08), cut=cut),
            Piece("skirt", 0.0, u(0.8, 1.4), u(1.02, 1.06), flare=u(0.1, 0.5)),
        ]
        if kind == "short_sleeve":
            pieces += _pairs("upper_arm", v0=0.0, v1=u(0.25, 0.5), scale=u(1.35, 1.6), cap_a=True)
        return tuple(pieces)
    raise ValueError(f"unknown category {category!r}")


def envelope_pieces(category: str) -> tuple[Piece, ...]:
    """Pieces covering every garment :func:`garment_pieces` can draw for ``category`` (on any body)."""
    arms = [
        *_pairs("upper_arm", v0=0.0, v1=1.0, scale=1.8, cap_a=True, cap_b=True),
        *_pairs("forearm", v0=0.0, v1=1.0, scale=1.7, cap_a=True, cap_b=True),
    ]
    legs = [
        *_pairs("thigh", v0=0.0, v1=1.0, scale=1.5, cap_a=True, cap_b=True),
        *_pairs("shin", v0=0.0, v1=1.0, scale=1.45, cap_a=True, cap_b=True),
    ]
    skirt = Piece("skirt", 0.0, 1.45, 1.1, flare=0.55)
    if category == "upper":
        return (Piece("torso", 0.0, 1.12, 1.2), *arms)
    if category == "lower":
        return (Piece("torso", WAIST_V - 0.06, 1.0, 1.15), skirt, *legs)
    if category == "dresses":
        return (
            Piece("torso", 0.0, 1.0, 1.15),
            skirt,
            *legs,
            *_pairs("upper_arm", v0=0.0, v1=0.7, scale=1.8, cap_a=True, cap_b=True),
        )
    raise ValueError(f"unknown category {category!r}")


def fit_bands(bands: list[Segment], height: int, width: int, fill: float = 0.86) -> list[Segment]:
    """Scale and centre ``bands`` so that together they fill ``fill`` of an ``height x width`` canvas."""
    bounds = np.array([b.bounds() for b in bands])
    x0, y0 = bounds[:, 0].min(), bounds[:, 1].min()
    x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
    s = fill * min(height / (y1 - y0), width / (x1 - x0))
    c_src = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    c_dst = np.array([width / 2, height / 2])
    return [
        Segment(
            c_dst + s * (b.a - c_src),
            c_dst + s * (b.b - c_src),
            b.knots,
            b.widths * s,
            b.cap_a,
            b.cap_b,
            b.gain0,
            b.gain1,
        )
        for b in bands
    ]


def make_garment(
    name: str,
    category: str,
    kind: str,
    family: str,
    rng: np.random.Generator,
    mannequin_bands: dict[str, Segment],
    height: int,
    width: int,
) -> Garment:
    """Draw a garment: its pieces (shape) and a ``family`` texture on its ``height x width`` product canvas.

    ``mannequin_bands``: the bands of the fixed flat-lay pose (:func:`vvt.data.synth.render.mannequin`).
    """
    pieces = garment_pieces(category, kind, rng)
    canonical = tuple(fit_bands([p.on(mannequin_bands) for p in pieces], height, width))
    main = canonical[0]  # the emblem of a logo print sits on the chest / the front of the first piece
    logo_at = main.point(0.5, 0.35 if category != "lower" else 0.5)
    texture = make_texture(family, rng, height, width, logo_center=(float(logo_at[0]), float(logo_at[1])))
    return Garment(name, category, kind, family, pieces, texture, canonical)


def piece_colors(garment: Garment, index: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Texture colours ``(..., 3)`` float32 of piece ``index`` at chart coordinates ``u, v``."""
    x, y = garment.canonical[index].point_xy(u.astype(np.float32), v.astype(np.float32))
    return cv2.remap(garment.texture, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).astype(
        np.float32
    )


def product_image(garment: Garment) -> tuple[np.ndarray, np.ndarray]:
    """The shop photo: the garment flat, front view, on white, ``(H, W, 3)`` uint8; mask ``(H, W)`` bool."""
    h, w = garment.texture.shape[:2]
    img = np.full((h, w, 3), WHITE, np.uint8)
    mask = np.zeros((h, w), bool)
    for i, (piece, band) in enumerate(zip(garment.pieces, garment.canonical)):
        patch = rasterize(band, h, w)
        if patch is None:
            continue
        m = patch.mask
        if piece.cut is not None:
            m = m & ~piece.cut.removed(patch.u, patch.v)
        shade = 0.9 + 0.1 * np.sin(np.pi * patch.u)
        colors = piece_colors(garment, i, patch.u, patch.v) * shade[..., None]
        sl = patch.slices
        img[sl][m] = np.clip(colors[m], 0, 255).astype(np.uint8)
        mask[sl] |= m
    edge = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    img[edge] = (img[edge].astype(np.float32) * 0.7).astype(np.uint8)  # seams read as a garment outline
    return img, mask
