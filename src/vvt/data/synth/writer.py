"""SynthVVT dataset writer (issue 3, items 1, 6, 10): the ViViD folder layout plus exact ground truth.

:func:`generate` plans people, garments and splits from one seed, renders every stream with
:class:`vvt.data.synth.render.Scene` and writes, per category folder (``upper_body/``, ``lower_body/``,
``dresses/``)::

    videos/<vid>  agnostic/<vid>  agnostic_mask/<vid>  densepose/<vid>  skeleton/<vid>  worn_mask/<vid>
    keypoints/<vid>.json  cloth/<garment>.jpg  cloth_mask/<garment>.jpg
    train_pairs.txt  test_pairs.txt  test_pairs_unpaired.txt     ("<vid entry> <garment>.jpg" per line)

and ``ROOT/ground_truth/<category dir>/{videos,worn_mask}/<vid>__<garment>`` for every unpaired test pair:
the same person, same motion, same camera, wearing the other garment. ``ROOT/layout.json`` records the
configuration, splits, garments, texture families and the DensePose part table.

A ``<vid>`` stream is ``<vid>.mp4`` (``video_format="mp4"``: H.264 in RGB, lossless, so frames read back
bit-exact) or a folder ``<vid>/`` of PNG frames (``"png"``). Names: people ``s00000``, garments ``g00000``,
numbered across categories. Person ``i`` wears garment ``i`` of its category; a test person's unpaired
garment is the next test person's garment (or an extra, unworn garment when a category has one test person).
Train garments use the texture families that are not held out; test garments alternate between held-out
and seen families, so a test set measures generalisation to unseen prints (layout.json lists each
garment's family).

Each person and garment draws from its own seed (``[seed, category, index, stream]``), so the same seed
gives byte-identical files, and changing the number of frames or videos does not change the others.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vvt.data.sample import CATEGORIES, CATEGORY_DIRS
from vvt.data.synth.body import sample_body
from vvt.data.synth.garments import GARMENT_KINDS, Garment, make_garment, product_image
from vvt.data.synth.motion import sample_motion
from vvt.data.synth.render import (
    DENSEPOSE_PARTS,
    HEAD_LEFT,
    HEAD_RIGHT,
    LABELS,
    Background,
    Scene,
    mannequin,
)
from vvt.data.synth.textures import TEXTURE_FAMILIES
from vvt.errors import ConfigError, VVTError
from vvt.io import atomic_path, atomic_write_text, write_image, write_video
from vvt.pose.densepose import encode_iuv
from vvt.pose.openpose import Keypoints, render_skeleton_video, save_keypoints
from vvt.preprocess.masks import agnostic_frame

log = logging.getLogger(__name__)

VIDEO_FORMATS = ("mp4", "png")
STREAMS = ("videos", "agnostic", "agnostic_mask", "densepose", "skeleton", "worn_mask")
_OTHER_FAMILIES = ("solid", "solid", "gradient", "stripes", "checks")


@dataclass(frozen=True)
class SynthConfig:
    """What :func:`generate` makes.

    Attributes:
        videos: person videos per category.
        frames: frames per video.
        height, width: frame size in pixels (also the size of the garment product photos).
        seed: the one seed everything is drawn from.
        categories: any of ``upper``, ``lower``, ``dresses``.
        texture_families: garment print families to draw from (:data:`TEXTURE_FAMILIES`).
        held_out_families: families never used by training garments (must be in ``texture_families``).
        test_fraction: share of each category's people in the test split (at least one person).
        fps: frame rate; motion is defined in seconds, so a higher fps samples the same motion more finely.
        speed: motion speed multiplier.
        video_format: ``mp4`` (lossless RGB H.264) or ``png`` (folders of PNG frames).
        preview: also write ``ROOT/preview.png``, a contact sheet of every stream.
    """

    videos: int = 4
    frames: int = 16
    height: int = 256
    width: int = 192
    seed: int = 0
    categories: tuple[str, ...] = CATEGORIES
    texture_families: tuple[str, ...] = TEXTURE_FAMILIES
    held_out_families: tuple[str, ...] = ("glyphs",)
    test_fraction: float = 0.5
    fps: float = 24.0
    speed: float = 1.0
    video_format: str = "mp4"
    preview: bool = False

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field."""
        if self.videos < 1:
            raise ConfigError(f"synth: videos must be >= 1 (got {self.videos})")
        if self.frames < 1:
            raise ConfigError(f"synth: frames must be >= 1 (got {self.frames})")
        if self.height < 32 or self.width < 24:
            raise ConfigError(f"synth: size {self.height}x{self.width} is too small (at least 32x24)")
        bad = [c for c in self.categories if c not in CATEGORIES]
        if bad or not self.categories:
            raise ConfigError(
                f"synth: unknown categories {bad or '(none given)'}; choose from {', '.join(CATEGORIES)}"
            )
        bad = [f for f in (*self.texture_families, *self.held_out_families) if f not in TEXTURE_FAMILIES]
        if bad:
            raise ConfigError(
                f"synth: unknown texture families {bad}; choose from {', '.join(TEXTURE_FAMILIES)}"
            )
        if not set(self.held_out_families) <= set(self.texture_families):
            raise ConfigError("synth: held-out texture families must be among the texture families")
        if not self.train_families:
            raise ConfigError("synth: every texture family is held out; training garments need at least one")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ConfigError(f"synth: test_fraction must be in [0, 1] (got {self.test_fraction})")
        if self.fps <= 0 or self.speed < 0:
            raise ConfigError("synth: fps must be > 0 and speed >= 0")
        if self.video_format not in VIDEO_FORMATS:
            raise ConfigError(f"synth: video_format must be one of {', '.join(VIDEO_FORMATS)}")

    @property
    def train_families(self) -> tuple[str, ...]:
        return tuple(f for f in self.texture_families if f not in self.held_out_families)


@dataclass
class PersonPlan:
    vid: str
    category: str
    index: int
    split: str
    garment: Garment
    other: Garment | None
    unpaired: list[Garment] = field(default_factory=list)


def _rng(cfg: SynthConfig, category: str, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, CATEGORIES.index(category), index, stream])


def plan(cfg: SynthConfig) -> list[PersonPlan]:
    """People, garments and splits of a dataset (no rendering)."""
    cfg.validate()
    mann = mannequin()
    people: list[PersonPlan] = []
    g_count = 0
    for category in (c for c in CATEGORIES if c in cfg.categories):
        n_test = min(cfg.videos, max(1, round(cfg.videos * cfg.test_fraction)))
        kinds = GARMENT_KINDS[category]
        offset = int(_rng(cfg, category, 0, 9).integers(len(kinds)))
        group: list[PersonPlan] = []
        for i in range(cfg.videos + (1 if n_test == 1 else 0)):
            is_test = i >= cfg.videos - n_test
            rng = _rng(cfg, category, i, 1)
            if is_test and cfg.held_out_families and (i - (cfg.videos - n_test)) % 2 == 0:
                family = str(rng.choice(cfg.held_out_families))
            else:
                family = str(rng.choice(cfg.train_families if not is_test else cfg.texture_families))
            garment = make_garment(
                f"g{g_count:05d}",
                category,
                kinds[(i + offset) % len(kinds)],
                family,
                rng,
                mann,
                cfg.height,
                cfg.width,
            )
            g_count += 1
            if i == cfg.videos:  # the extra, unworn garment of a single test person
                group[-1].unpaired.append(garment)
                break
            other = None
            if category != "dresses":
                orng = _rng(cfg, category, i, 2)
                other_cat = "lower" if category == "upper" else "upper"
                other = make_garment(
                    "other",
                    other_cat,
                    str(orng.choice(GARMENT_KINDS[other_cat])),
                    str(orng.choice(_OTHER_FAMILIES)),
                    orng,
                    mann,
                    cfg.height,
                    cfg.width,
                )
            group.append(PersonPlan("", category, i, "test" if is_test else "train", garment, other))
        tests = [p for p in group if p.split == "test"]
        if len(tests) >= 2:
            for j, p in enumerate(tests):
                p.unpaired.append(tests[(j + 1) % len(tests)].garment)
        people.extend(group)
    for k, p in enumerate(people):
        p.vid = f"s{k:05d}"
    return people


def outfit(person: PersonPlan, garment: Garment) -> list[tuple[Garment, int]]:
    """What ``person`` wears with ``garment`` as try-on garment: lower garments are drawn under upper ones."""
    target = (garment, LABELS["target_garment"])
    if person.other is None:
        return [target]
    other = (person.other, LABELS["other_garment"])
    return [other, target] if person.category == "upper" else [target, other]


def make_scene(cfg: SynthConfig, person: PersonPlan) -> Scene:
    rng = _rng(cfg, person.category, person.index, 0)
    return Scene(
        sample_body(rng),
        sample_motion(rng, cfg.speed),
        Background.sample(rng),
        cfg.height,
        cfg.width,
        cfg.fps,
    )


@dataclass
class RenderedClip:
    """All streams of one clip, in memory: videos ``(N, H, W, 3)`` uint8, masks ``(N, H, W)`` bool."""

    person: np.ndarray
    agnostic: np.ndarray
    agnostic_mask: np.ndarray
    densepose: np.ndarray
    skeleton: np.ndarray
    worn_mask: np.ndarray
    keypoints: Keypoints
    ground_truth: dict[str, tuple[np.ndarray, np.ndarray]]  # garment name -> (person video, worn mask)

    def streams(self) -> dict[str, np.ndarray]:
        """The per-frame streams by their folder names (:data:`STREAMS` order)."""
        arrays = (self.person, self.agnostic, self.agnostic_mask, self.densepose, self.skeleton, self.worn_mask)
        return dict(zip(STREAMS, arrays))


def render_clip(cfg: SynthConfig, person: PersonPlan) -> RenderedClip:
    """Render every stream of ``person`` (and the ground truth of its unpaired garments)."""
    scene = make_scene(cfg, person)
    n, h, w = cfg.frames, cfg.height, cfg.width
    rgb = np.empty((n, h, w, 3), np.uint8)
    dp = np.empty((n, h, w, 3), np.uint8)
    worn = np.empty((n, h, w), bool)
    agn_mask = np.empty((n, h, w), bool)
    kp = Keypoints.empty(n, w, h)
    gt = {g.name: (np.empty((n, h, w, 3), np.uint8), np.empty((n, h, w), bool)) for g in person.unpaired}
    for t in range(n):
        geom = scene.geometry(t)
        r = scene.render(geom, outfit(person, person.garment))
        rgb[t], worn[t] = r.rgb, r.label == LABELS["target_garment"]
        dp[t] = encode_iuv(r.part, r.u, r.v)
        agn_mask[t] = scene.agnostic_mask(geom, person.category)
        kp.body[t] = geom.keypoints
        for g in person.unpaired:
            rg = scene.render(geom, outfit(person, g))
            gt[g.name][0][t], gt[g.name][1][t] = rg.rgb, rg.label == LABELS["target_garment"]
    agn = np.stack([agnostic_frame(f, m) for f, m in zip(rgb, agn_mask)])
    return RenderedClip(rgb, agn, agn_mask, dp, render_skeleton_video(kp), worn, kp, gt)


def _video_entry(vid: str, cfg: SynthConfig) -> str:
    return f"{vid}.mp4" if cfg.video_format == "mp4" else vid


def _write_stream(path: Path, frames: np.ndarray, cfg: SynthConfig) -> None:
    """Write ``(N, H, W, 3)`` uint8 or ``(N, H, W)`` bool frames (``write_video`` expands masks)."""
    if cfg.video_format == "mp4":
        write_video(path, frames, cfg.fps, lossless=True)
    else:
        write_video(path, frames)


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        meta = out_dir / "layout.json"
        try:
            ours = json.loads(meta.read_text()).get("generator") == "synthvvt"
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise VVTError(
                f"{out_dir}: exists and is not a SynthVVT dataset; choose a new or empty folder "
                "(an earlier SynthVVT output is replaced)"
            )


def _layout_doc(cfg: SynthConfig, people: list[PersonPlan]) -> dict:
    garments = {}
    for p in people:
        for g, role in [(p.garment, "worn")] + [(g, "unpaired") for g in p.unpaired]:
            entry = garments.setdefault(
                g.name,
                {
                    "category": g.category,
                    "kind": g.kind,
                    "family": g.family,
                    "split": p.split,
                    "worn_by": None,
                    "unpaired_with": [],
                },
            )
            if role == "worn":
                entry["worn_by"] = p.vid
            else:
                entry["unpaired_with"].append(p.vid)
    return {
        "layout": "vivid",
        "densepose_format": "vvt_iuv",
        "generator": "synthvvt",
        "version": 1,
        "seed": cfg.seed,
        "size": [cfg.height, cfg.width],
        "frames": cfg.frames,
        "fps": cfg.fps,
        "video_format": cfg.video_format,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "categories": [CATEGORY_DIRS[c] for c in CATEGORIES if c in cfg.categories],
        "texture_families": {
            "all": list(cfg.texture_families),
            "train": list(cfg.train_families),
            "held_out": list(cfg.held_out_families),
            "rule": "train garments use train families only; test garments alternate between "
            "held-out and any family",
        },
        "densepose_parts": {
            **{k: v for k, v in sorted(DENSEPOSE_PARTS.items(), key=lambda kv: kv[1])},
            "head_R": HEAD_RIGHT,
            "head_L": HEAD_LEFT,
            "order": "detectron2 DensePose 24-part order; front charts only (figures face the camera)",
        },
        "keypoints": "openpose-body25 body points; hands and face are zero (not drawn)",
        "ground_truth": "ground_truth/<category dir>/{videos,worn_mask}/<vid>__<garment stem>: the person of "
        "<vid>, same motion and camera, wearing <garment>; equal to videos/<vid> outside agnostic_mask/<vid>",
        "videos": {
            p.vid: {
                "category": p.category,
                "split": p.split,
                "garment": p.garment.name,
                "unpaired": [g.name for g in p.unpaired],
            }
            for p in people
        },
        "garments": garments,
    }


def generate(out_dir: str | Path, cfg: SynthConfig = SynthConfig()) -> Path:
    """Write a SynthVVT dataset to ``out_dir`` (see the module docstring) and return its path.

    The whole tree is written to a temporary sibling and renamed at the end, so an interrupted run leaves
    nothing half-written. An existing SynthVVT dataset at ``out_dir`` is replaced; any other non-empty
    folder is refused.
    """
    cfg.validate()
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    people = plan(cfg)
    previews = []
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for category in (c for c in CATEGORIES if c in cfg.categories):
            folder = tmp / CATEGORY_DIRS[category]
            for name in (*STREAMS, "keypoints", "cloth", "cloth_mask"):
                (folder / name).mkdir(parents=True)
        for person in tqdm(people, desc="synth", unit="video", disable=None):
            folder = tmp / CATEGORY_DIRS[person.category]
            clip = render_clip(cfg, person)
            entry = _video_entry(person.vid, cfg)
            for name, frames in clip.streams().items():
                _write_stream(folder / name / entry, frames, cfg)
            save_keypoints(folder / "keypoints" / f"{person.vid}.json", clip.keypoints)
            for g in [person.garment, *person.unpaired]:
                if not (folder / "cloth" / f"{g.name}.jpg").exists():
                    img, mask = product_image(g)
                    write_image(folder / "cloth" / f"{g.name}.jpg", img)
                    write_image(folder / "cloth_mask" / f"{g.name}.jpg", mask)
            gt_dir = tmp / "ground_truth" / CATEGORY_DIRS[person.category]
            for gname, (video, worn) in clip.ground_truth.items():
                gt_entry = _video_entry(f"{person.vid}__{gname}", cfg)
                _write_stream(gt_dir / "videos" / gt_entry, video, cfg)
                _write_stream(gt_dir / "worn_mask" / gt_entry, worn, cfg)
            if cfg.preview:
                from vvt.data.synth.preview import preview_block

                previews.append(preview_block(person, clip))
        for category in (c for c in CATEGORIES if c in cfg.categories):
            folder = tmp / CATEGORY_DIRS[category]
            group = [p for p in people if p.category == category]
            lines = {
                "train_pairs.txt": [(p, p.garment) for p in group if p.split == "train"],
                "test_pairs.txt": [(p, p.garment) for p in group if p.split == "test"],
                "test_pairs_unpaired.txt": [(p, g) for p in group for g in p.unpaired],
            }
            for fname, pairs in lines.items():
                atomic_write_text(
                    folder / fname, "".join(f"{_video_entry(p.vid, cfg)} {g.name}.jpg\n" for p, g in pairs)
                )
        atomic_write_text(tmp / "layout.json", json.dumps(_layout_doc(cfg, people), indent=1) + "\n")
        if cfg.preview:
            from vvt.data.synth.preview import contact_sheet

            write_image(tmp / "preview.png", contact_sheet(previews))
    log.info(
        "SynthVVT: wrote %d videos (%d frames, %dx%d) to %s",
        len(people),
        cfg.frames,
        cfg.height,
        cfg.width,
        out_dir,
    )
    return out_dir
