"""Readers for the released folder layouts of the try-on datasets, each mapped onto :class:`Sample`.

``read_layout(root)`` detects the layout and returns one :class:`~vvt.data.sample.Sample` per try-on
sample; the per-dataset readers (:func:`read_vivid`, :func:`read_vitonhd`, :func:`read_dresscode`,
:func:`read_vvt`, :func:`read_fashionvideo`) document the file naming each expects and where that naming
comes from. Every reader checks the whole tree before returning: missing folders, pair lists that name
missing files, and per-sample streams whose frame counts or frame sizes disagree are collected and raised
as ONE :class:`~vvt.errors.LayoutError` listing every problem. Frame counts and sizes are read with
:func:`vvt.io.video_info` (demuxing, no decoding) and image headers, so the check is cheap.

Paired and unpaired: in *paired* mode the garment is the one worn in the person stream (reconstruction,
the ground truth is the person stream); in *unpaired* mode it is another garment. Unpaired samples are
named ``<person>__<garment stem>``, the name SynthVVT uses for its unpaired ground truth.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from vvt.data.sample import CATEGORIES, CATEGORY_DIRS, Category, Sample
from vvt.errors import LayoutError, VVTError
from vvt.io import VideoInfo, video_info
from vvt.io.image import IMAGE_SUFFIXES
from vvt.io.video import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

LAYOUTS = ("vivid", "vitonhd", "dresscode", "vvt", "fashionvideo")
SPLITS = ("train", "test")
PAIR_MODES = ("paired", "unpaired")
#: ``Sample.extra`` keys that hold per-frame streams (checked for length and size like the main streams)
EXTRA_STREAMS = ("worn_mask", "gt_person", "gt_worn_mask")
_DIR_CATEGORY: dict[str, Category] = {d: c for c, d in CATEGORY_DIRS.items()}


class _Problems:
    """Collects every problem of a tree so the user sees them all at once."""

    def __init__(self, root: Path):
        self.root = root
        self.items: list[str] = []

    def add(self, problem: str) -> None:
        self.items.append(problem)

    def raise_if_any(self) -> None:
        if self.items:
            raise LayoutError(self.root, self.items)


# --------------------------------------------------------------------------------------------- helpers


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _index(folder: Path, kind: str) -> dict[str, Path]:
    """Stem -> path of the videos (files or frame folders) or images in ``folder`` ({} if it is absent)."""
    if not folder.is_dir():
        return {}
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if kind == "image" and p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            out.setdefault(p.stem, p)
        elif kind == "video" and (p.is_dir() or (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)):
            out.setdefault(p.stem if p.is_file() else p.name, p)
    return out


def _read_pairs(path: Path, columns: int, problems: _Problems) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of a whitespace-separated list; lines with fewer than ``columns`` fields
    are problems, extra fields are kept."""
    rows = []
    for num, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < columns:
            problems.add(f"{path.name} line {num}: expected {columns} names, got {line.strip()!r}")
            continue
        rows.append((num, fields))
    return rows


def _optional(folder: Path, name: str, owner: str, root: Path, problems: _Problems) -> Path | None:
    """``folder/name``, or None when ``folder`` is absent; a present folder that lacks the file is a problem
    of ``owner`` (an optional stream of a layout)."""
    if not folder.is_dir():
        return None
    path = folder / name
    if not path.is_file():
        problems.add(f"{owner}: {_rel(path, root)} not found")
        return None
    return path


def _pair_name(person: str, garment: Path | None, paired: bool) -> str:
    return person if paired or garment is None else f"{person}__{garment.stem}"


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.height, im.width
    except (UnidentifiedImageError, OSError) as exc:
        raise VVTError(f"{path}: not a readable image ({exc})") from None


def check_streams(samples: Iterable[Sample], root: Path) -> list[str]:
    """Problems with the streams of ``samples``: unreadable files, or per-frame streams of one sample whose
    frame counts (videos) or sizes differ. Each video is inspected once, however many samples share it
    (about 15 ms per video file on one core: a progress bar shows for large trees)."""
    samples = list(samples)
    problems: list[str] = []
    infos: dict[Path, VideoInfo | str] = {}

    def info(path: Path) -> VideoInfo | str:
        if path not in infos:
            try:
                infos[path] = video_info(path)
            except VVTError as exc:
                infos[path] = str(exc)
        return infos[path]

    for s in tqdm(samples, desc="checking streams", unit="sample", disable=len(samples) < 200):
        streams = dict(s.streams())
        streams.update({k: v for k, v in s.extra.items() if k in EXTRA_STREAMS})
        lengths: dict[str, int] = {}
        sizes: dict[str, tuple[int, int]] = {}
        for name, path in streams.items():
            if s.is_video:
                got = info(path)
                if isinstance(got, str):
                    problems.append(f"{s.name}: {name}: {got}")
                    continue
                lengths[name], sizes[name] = got.num_frames, (got.height, got.width)
            else:
                try:
                    sizes[name] = _image_size(path)
                except VVTError as exc:
                    problems.append(f"{s.name}: {name}: {exc}")
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{n} {v}" for n, v in lengths.items())
            problems.append(f"{s.name}: streams have different frame counts ({listed})")
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{n} {h}x{w}" for n, (h, w) in sizes.items())
            problems.append(f"{s.name}: streams have different frame sizes, HxW ({listed})")
    return problems


# --------------------------------------------------------------------------------------------- ViViD


def _vivid_meta(root: Path, problems: _Problems) -> dict:
    path = root / "layout.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        problems.add(f"layout.json is not valid JSON ({exc})")
        return {}
    if not isinstance(meta, dict):
        problems.add("layout.json must hold a JSON object")
        return {}
    return meta


def _vivid_category(folder: Path, meta: dict, category: str | None, problems: _Problems) -> Category:
    """Category of a single-category ViViD root: argument, layout.json, folder name, else ``upper``."""
    for given, source in ((category, "the category argument"), (meta.get("category"), "layout.json")):
        if given is not None:
            given = _DIR_CATEGORY.get(given, given)
            if given not in CATEGORIES:
                problems.add(f"{source}: unknown category {given!r} (use one of {', '.join(CATEGORIES)})")
                return "upper"
            return given
    if folder.name in _DIR_CATEGORY:
        return _DIR_CATEGORY[folder.name]
    log.info("%s: no category given and the folder is not a category folder; assuming 'upper'", folder)
    return "upper"


def read_vivid(root: str | Path, split: str = "test", pairs: str = "paired", *,
               category: str | None = None) -> list[Sample]:
    """Read the ViViD layout (vvt's shared data contract; see the project's COMMON data contract).

    Expected tree, as released by ViViD (alibaba-yuanjing-aigclab/ViViD, ``data/`` and the dataset on
    the hub) plus vvt's optional extras::

        ROOT/ (one category folder holding videos/, or category folders upper_body/ lower_body/ dresses/)
          videos/<vid>.mp4  agnostic/<vid>.mp4  agnostic_mask/<vid>.mp4  densepose/<vid>.mp4   (required)
          cloth/<garment>.jpg  cloth_mask/<garment>.jpg                                        (optional)
          keypoints/<vid>.json  skeleton/<vid>.mp4  worn_mask/<vid>.mp4                   (vvt, optional)
          train_pairs.txt  test_pairs.txt  test_pairs_unpaired.txt: lines "<vid>.mp4 <garment>.jpg"
        ROOT/layout.json                       {"layout": "vivid", "densepose_format": ..., "category": ...}
        ROOT/ground_truth/<category dir>/{videos,worn_mask}/<vid>__<garment stem>.mp4     (SynthVVT)

    Any video may be a file of any video suffix or a folder of frames. ``densepose_format`` comes from
    layout.json, else ViViD's own ``"detectron2_parts"``. Without pair lists every video is a test video:
    paired with the cloth of the same stem (``garment=None`` when there is none), unpaired with every other
    cloth of its category. ``worn_mask`` goes to ``extra["worn_mask"]``; SynthVVT ground truth of an
    unpaired sample to ``extra["gt_person"]`` / ``extra["gt_worn_mask"]``.

    Args:
        root: dataset root.
        split: ``"train"`` (``train_pairs.txt``) or ``"test"``.
        pairs: ``"paired"`` (``test_pairs.txt``) or ``"unpaired"`` (``test_pairs_unpaired.txt``);
            training samples are always paired.
        category: category of a single-category root (default: layout.json, the folder name, else upper).
    """
    root = Path(root)
    problems = _Problems(root)
    meta = _vivid_meta(root, problems)
    densepose_format = meta.get("densepose_format", "detectron2_parts")
    if (root / "videos").is_dir():
        folders = [(root, _vivid_category(root, meta, category, problems))]
    else:
        folders = [(root / d, c) for c, d in CATEGORY_DIRS.items() if (root / d / "videos").is_dir()]
        if not folders:
            problems.add("no videos/ folder, and no category folder (upper_body/, lower_body/, dresses/) "
                         "holding one")
    samples: list[Sample] = []
    for folder, cat in folders:
        samples += _vivid_folder(root, folder, cat, split, pairs, densepose_format, problems)
    problems.raise_if_any()
    return samples


def _vivid_folder(root: Path, folder: Path, category: Category, split: str, pairs: str,
                  densepose_format: str, problems: _Problems) -> list[Sample]:
    prefix = CATEGORY_DIRS[category]
    videos = _index(folder / "videos", "video")
    cloth = _index(folder / "cloth", "image")
    streams = {n: _index(folder / n, "video") for n in ("agnostic", "agnostic_mask", "densepose")}
    extras = {n: _index(folder / n, "video") for n in ("skeleton", "worn_mask")}
    keypoints = {p.stem: p for p in sorted((folder / "keypoints").glob("*.json"))}
    cloth_masks = _index(folder / "cloth_mask", "image")
    gt_dir = root / "ground_truth" / prefix
    gt_videos, gt_masks = _index(gt_dir / "videos", "video"), _index(gt_dir / "worn_mask", "video")
    for name in ("agnostic", "agnostic_mask", "densepose"):
        if not (folder / name).is_dir():
            problems.add(f"missing folder {_rel(folder / name, root)}/")
    if not videos:
        problems.add(f"{_rel(folder / 'videos', root)}/ holds no videos")

    list_name = "train_pairs.txt" if split == "train" else (
        "test_pairs.txt" if pairs == "paired" else "test_pairs_unpaired.txt")
    paired = split == "train" or pairs == "paired"
    pair_file = folder / list_name
    chosen: list[tuple[str, Path | None]] = []
    if pair_file.is_file():
        for num, (vid_name, garment_name, *_) in _read_pairs(pair_file, 2, problems):
            vid = Path(vid_name).stem if Path(vid_name).suffix.lower() in VIDEO_SUFFIXES else vid_name
            garment = cloth.get(Path(garment_name).stem)
            where = f"{_rel(pair_file, root)} line {num}"
            if vid not in videos:
                problems.add(f"{where}: video {vid_name!r} not found in {_rel(folder / 'videos', root)}/")
            if garment is None:
                problems.add(f"{where}: garment {garment_name!r} not found in "
                             f"{_rel(folder / 'cloth', root)}/")
            if vid in videos and garment is not None:
                chosen.append((vid, garment))
    elif split == "train":
        problems.add(f"no {_rel(pair_file, root)} (without pair lists every video is a test video; "
                     "list training pairs as lines '<vid>.mp4 <garment>.jpg')")
    elif paired:
        chosen = [(vid, cloth.get(vid)) for vid in videos]
    else:
        if not cloth:
            problems.add(f"unpaired samples need garments: {_rel(folder / 'cloth', root)}/ holds none")
        chosen = [(vid, g) for vid in videos for stem, g in cloth.items() if stem != vid]

    samples = []
    for vid, garment in chosen:
        sample = Sample(
            name=f"{prefix}/{_pair_name(vid, garment, paired)}", dataset="vivid", category=category,
            person=videos[vid], garment=garment,
            garment_mask=cloth_masks.get(garment.stem) if garment is not None else None,
            keypoints=keypoints.get(vid), skeleton=extras["skeleton"].get(vid),
            densepose_format=densepose_format, paired=paired, split=split,
        )
        for name, index in streams.items():
            if vid in index:
                setattr(sample, name, index[vid])
            elif (folder / name).is_dir():
                problems.add(f"{sample.name}: {_rel(folder / name, root)}/ has no video {vid!r}")
        if vid in extras["worn_mask"]:
            sample.extra["worn_mask"] = extras["worn_mask"][vid]
        if garment is not None and not paired:
            key = f"{vid}__{garment.stem}"
            if key in gt_videos:
                sample.extra["gt_person"] = gt_videos[key]
            if key in gt_masks:
                sample.extra["gt_worn_mask"] = gt_masks[key]
        samples.append(sample)
    return samples


# --------------------------------------------------------------------------------------------- VITON-HD


def read_vitonhd(root: str | Path, split: str = "test", pairs: str = "paired") -> list[Sample]:
    """Read VITON-HD (shadow2496/VITON-HD, the ``zalando-hd-resized`` release) with StableVITON's extras.

    Expected tree (naming of the release and of StableVITON's ``dataset.py``, rlawjdghek/StableVITON)::

        ROOT/train_pairs.txt, ROOT/test_pairs.txt      lines "<person>.jpg <cloth>.jpg"
        ROOT/{train,test}/image/<person>.jpg            person photo (required)
                         cloth/<cloth>.jpg              garment photo (required)
                         cloth-mask/<cloth>.jpg         garment mask (.jpg in the release, .png accepted)
                         agnostic-v3.2/<person>.jpg     clothing-agnostic person
                         agnostic-mask/<stem>_mask.png  agnostic mask, white = inpaint (StableVITON)
                         image-densepose/<person>.jpg   DensePose, detectron2 part colour map
                         openpose_json/<stem>_keypoints.json, openpose_img/<stem>_rendered.png
                         image-parse-v3/<stem>.png      human parsing (``extra["parse"]``)

    ``train_pairs.txt`` pairs each person with its own cloth; ``test_pairs.txt`` is the unpaired test list
    (a person with another cloth). As in StableVITON, the paired test garment is the cloth named like the
    person. Images are 1-frame samples (``is_video=False``), category upper. Optional folders may be
    absent; a present folder that lacks a sample's file is a problem.
    """
    root = Path(root)
    problems = _Problems(root)
    base = root / split
    for name in ("image", "cloth"):
        if not (base / name).is_dir():
            problems.add(f"missing folder {_rel(base / name, root)}/")
    pair_file = root / f"{split}_pairs.txt"
    rows = _read_pairs(pair_file, 2, problems) if pair_file.is_file() else []
    if not pair_file.is_file():
        problems.add(f"missing pair list {pair_file.name}")
    paired = split == "train" or pairs == "paired"

    def cloth_mask(stem: str) -> Path | None:
        folder = base / "cloth-mask"
        if not folder.is_dir():
            return None
        found = _index(folder, "image").get(stem)
        if found is None:
            problems.add(f"{stem}: no cloth mask {_rel(folder, root)}/{stem}.jpg")
        return found

    samples = []
    for num, (person_name, cloth_name, *_) in rows:
        garment_name = person_name if paired else cloth_name
        person, garment = base / "image" / person_name, base / "cloth" / garment_name
        where = f"{pair_file.name} line {num}"
        missing = False
        for path, what in ((person, "person image"), (garment, "garment")):
            if not path.is_file():
                problems.add(f"{where}: {what} {_rel(path, root)} not found")
                missing = True
        if not person.is_file():
            continue
        stem = person.stem  # the person's own streams are checked even when the garment is missing

        def optional(folder: str, name: str, owner: str = stem) -> Path | None:
            return _optional(base / folder, name, owner, root, problems)

        sample = Sample(
            name=_pair_name(stem, garment, paired), dataset="vitonhd", category="upper",
            person=person, garment=garment, garment_mask=None if missing else cloth_mask(garment.stem),
            agnostic=optional("agnostic-v3.2", f"{stem}.jpg"),
            agnostic_mask=optional("agnostic-mask", f"{stem}_mask.png"),
            densepose=optional("image-densepose", f"{stem}.jpg"),
            keypoints=optional("openpose_json", f"{stem}_keypoints.json"),
            skeleton=optional("openpose_img", f"{stem}_rendered.png"),
            densepose_format="detectron2_parts", is_video=False, paired=paired, split=split,
        )
        parse = optional("image-parse-v3", f"{stem}.png")
        if parse is not None:
            sample.extra["parse"] = parse
        if not missing:
            samples.append(sample)
    problems.raise_if_any()
    return samples


# --------------------------------------------------------------------------------------------- DressCode


def read_dresscode(root: str | Path, split: str = "test", pairs: str = "paired", *,
                   category: str | None = None) -> list[Sample]:
    """Read Dress Code (aimagelab/dress-code) with LaDI-VTON's garment masks and CatVTON's agnostic masks.

    Expected tree (naming of the official ``data/dataset.py``; ``masks/`` as in LaDI-VTON's README,
    ``agnostic_masks/`` as in CatVTON's evaluation, both from the Dress Code authors' circle)::

        ROOT/{upper_body,lower_body,dresses}/   (or ROOT is one category folder)
          images/<id>_0.jpg   person photo;  images/<id>_1.jpg  garment photo   (required)
          masks/<id>_1.png    garment mask
          agnostic_masks/<id>_0.png   agnostic mask, white = inpaint
          keypoints/<id>_2.json       Dress Code's 18 COCO keypoints  (``extra["dresscode_keypoints"]``)
          label_maps/<id>_4.png       human parsing                   (``extra["label_map"]``)
          skeletons/<id>_5.jpg        rendered skeleton               (``skeleton``)
          dense/<id>_5.png            DensePose part-index labels     (``densepose``, format
                                        ``"dresscode_parts"``; the U, V charts in dense/<id>_5_uv.npz go
                                        to ``extra["densepose_uv"]``)
          train_pairs.txt, test_pairs_paired.txt, test_pairs_unpaired.txt: "<id>_0.jpg <id2>_1.jpg"

    Dress Code has no agnostic person image. Images are 1-frame samples (``is_video=False``).
    """
    root = Path(root)
    problems = _Problems(root)
    if (root / "images").is_dir():
        given = category or _DIR_CATEGORY.get(root.name)
        given = _DIR_CATEGORY.get(given, given) if given else None
        if given not in CATEGORIES:
            problems.add(f"{root.name} is not a category folder (upper_body, lower_body, dresses): "
                         "pass category=")
            given = "upper"
        folders = [(root, given)]
    else:
        folders = [(root / d, c) for c, d in CATEGORY_DIRS.items() if (root / d).is_dir()]
        if not folders:
            problems.add("no images/ folder, and no category folder (upper_body/, lower_body/, dresses/)")
    paired = split == "train" or pairs == "paired"
    list_name = "train_pairs.txt" if split == "train" else f"test_pairs_{pairs}.txt"
    samples = []
    for folder, cat in folders:
        images = folder / "images"
        if not images.is_dir():
            problems.add(f"missing folder {_rel(images, root)}/")
            continue
        pair_file = folder / list_name
        if not pair_file.is_file():
            problems.add(f"missing pair list {_rel(pair_file, root)}")
            continue

        for num, (person_name, garment_name, *_) in _read_pairs(pair_file, 2, problems):
            person, garment = images / person_name, images / garment_name
            missing = False
            for path, what in ((person, "person image"), (garment, "garment")):
                if not path.is_file():
                    problems.add(f"{_rel(pair_file, root)} line {num}: {what} {_rel(path, root)} not found")
                    missing = True
            if not person.is_file():
                continue
            pid = person.stem.rsplit("_", 1)[0]  # the person's streams are checked even without a garment
            owner = f"{CATEGORY_DIRS[cat]}/{person.stem}"

            def optional(sub: str, name: str, folder: Path = folder, owner: str = owner) -> Path | None:
                return _optional(folder / sub, name, owner, root, problems)

            sample = Sample(
                name=f"{CATEGORY_DIRS[cat]}/{_pair_name(person.stem, garment, paired)}", dataset="dresscode",
                category=cat, person=person, garment=garment,
                garment_mask=None if missing else optional("masks", f"{garment.stem}.png"),
                agnostic_mask=optional("agnostic_masks", f"{person.stem}.png"),
                skeleton=optional("skeletons", f"{pid}_5.jpg"),
                densepose=optional("dense", f"{pid}_5.png"),
                densepose_format="dresscode_parts", is_video=False, paired=paired, split=split,
            )
            for key, sub, name in (("dresscode_keypoints", "keypoints", f"{pid}_2.json"),
                                   ("label_map", "label_maps", f"{pid}_4.png"),
                                   ("densepose_uv", "dense", f"{pid}_5_uv.npz")):
                found = optional(sub, name)
                if found is not None:
                    sample.extra[key] = found
            if not missing:
                samples.append(sample)
    problems.raise_if_any()
    return samples


# --------------------------------------------------------------------------------------------- VVT


def _first_dir(root: Path, names: Iterable[str]) -> Path | None:
    return next((root / n for n in names if (root / n).is_dir()), None)


def read_vvt(root: str | Path, split: str = "test", pairs: str = "paired") -> list[Sample]:
    """Read the VVT dataset of FW-GAN (Dong et al., ICCV 2019) as released and as CatV2TON reads it.

    Expected tree (FW-GAN's release; naming from CatV2TON's ``VVTTestDataset`` in ``eval_video_try_on.py``
    and the VVT loaders of ShineOn / VVTON, which read the same folders)::

        ROOT/{train,test}_frames/<vid>/*.png            person frames (the competition release prefixes
                                                       every folder with ``lip_``; both are accepted)
        ROOT/{train,test}_frames_keypoint/<vid>/<frame>_keypoints.json   OpenPose per frame (``keypoints``)
        ROOT/lip_clothes_person/<vid>/<VID>@<n>=cloth_front.jpg          garment photo (also clothes_person/);
                                 ...=cloth_front_mask.jpg                garment mask, when present
        ROOT/test_person_clothes_pose_tuple.txt        lines "<person vid> <clothes vid> <pose vid>"
        ROOT/test_agn_mask[_new]/<vid>/                CatV2TON's agnostic masks (frame folders)
        ROOT/test_densepose-magcianimate/<vid>/        CatV2TON's DensePose (detectron2 part colour map)

    ``<vid>`` is a lower-case id such as ``4he21d00f-g11``. Paired: each video with the garment of its own
    folder in lip_clothes_person; unpaired (test only): the clothes column of the tuple list. All VVT
    garments are upper-body. Unpaired samples are named ``<vid>__<clothes vid>``. Frames are sorted in
    natural order.
    """
    root = Path(root)
    problems = _Problems(root)
    frames = _first_dir(root, (f"{split}_frames", f"lip_{split}_frames"))
    clothes = _first_dir(root, ("lip_clothes_person", "clothes_person"))
    if frames is None:
        problems.add(f"missing folder {split}_frames/ (or lip_{split}_frames/)")
    if clothes is None:
        problems.add("missing folder lip_clothes_person/ (or clothes_person/)")
    if frames is None or clothes is None:
        problems.raise_if_any()
    keypoints = _first_dir(root, (f"{split}_frames_keypoint", f"lip_{split}_frames_keypoint"))
    agn_masks = _first_dir(root, (f"{split}_agn_mask", f"{split}_agn_mask_new"))
    densepose = _first_dir(root, (f"{split}_densepose-magcianimate",))
    videos = {p.name: p for p in sorted(frames.iterdir()) if p.is_dir()}
    paired = split == "train" or pairs == "paired"

    tuple_file = root / f"{split}_person_clothes_pose_tuple.txt"
    if tuple_file.is_file():
        rows = [(n, f[0], f[0] if paired else f[1]) for n, f in _read_pairs(tuple_file, 3, problems)]
    elif paired:
        rows = [(0, vid, vid) for vid in videos]
    else:
        problems.add(f"unpaired VVT needs {tuple_file.name}")
        rows = []

    def garment_files(vid: str) -> tuple[Path | None, Path | None]:
        folder = clothes / vid
        if not folder.is_dir():
            folder = clothes / vid.upper()
        files = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
        photo = next((f for f in files if f.name.endswith("cloth_front.jpg")), None)
        photo = photo or next((f for f in files if "mask" not in f.name), None)
        mask = next((f for f in files if f.name.endswith("cloth_front_mask.jpg")), None)
        return photo, mask

    samples = []
    for num, vid, garment_vid in rows:
        where = f"{tuple_file.name} line {num}: " if num else ""
        garment, garment_mask = garment_files(garment_vid)
        if vid not in videos:
            problems.add(f"{where}video {vid!r} not found in {_rel(frames, root)}/")
        if garment is None:
            problems.add(f"{where}no garment photo (*cloth_front.jpg) in "
                         f"{_rel(clothes, root)}/{garment_vid}/")
        if vid not in videos or garment is None:
            continue
        sample = Sample(
            name=vid if paired else f"{vid}__{garment_vid}",
            dataset="vvt", category="upper", person=videos[vid], garment=garment, garment_mask=garment_mask,
            paired=paired, split=split, densepose_format="detectron2_parts",
        )
        for attr, folder in (("keypoints", keypoints), ("agnostic_mask", agn_masks),
                             ("densepose", densepose)):
            if folder is None:
                continue
            if (folder / vid).is_dir():
                setattr(sample, attr, folder / vid)
            else:
                problems.add(f"{sample.name}: {_rel(folder, root)}/ has no folder {vid!r}")
        samples.append(sample)
    problems.raise_if_any()
    return samples


# --------------------------------------------------------------------------------------------- FashionVideo


def read_fashionvideo(root: str | Path, split: str = "test", pairs: str = "paired", *,
                      category: str = "dresses") -> list[Sample]:
    """Read the UBC FashionVideo dataset (DwNet, Zablotskaia et al., BMVC 2019) as its crawler writes it.

    Expected tree (the dataset page's ``fashion_train.txt`` / ``fashion_test.txt`` and its
    ``data_crowler.py``, which saves each URL's basename under ``train/`` or ``test/``)::

        ROOT/fashion_train.txt, ROOT/fashion_test.txt   one video URL per line
        ROOT/train/<name>.mp4, ROOT/test/<name>.mp4      e.g. 91D23ZVV6NS.mp4

    The dataset has person videos only: ``garment`` and all conditioning streams are None (FashionMirror
    Sec. 4.1 retrieves the garment from the frontal frame). Run ``vvt preprocess`` to add skeletons and
    agnostic videos; its output reads with ``layout="vivid"``. Without the URL list every video of the split
    folder is used. ``category`` defaults to dresses (most FashionVideo outfits are dresses); ``pairs`` is
    accepted for a uniform API and ignored (there are no garments to pair).
    """
    del pairs
    root = Path(root)
    problems = _Problems(root)
    folder = root / split
    if not folder.is_dir():
        problems.add(f"missing folder {split}/")
        problems.raise_if_any()
    videos = _index(folder, "video")
    url_list = root / f"fashion_{split}.txt"
    names: list[str] = []
    if url_list.is_file():
        for num, (url, *_) in _read_pairs(url_list, 1, problems):
            stem = Path(url.rstrip("/").rsplit("/", 1)[-1]).stem
            if stem not in videos:
                problems.add(f"{url_list.name} line {num}: {split}/{stem}.mp4 not found (download it with "
                             "the dataset's data_crowler.py)")
            else:
                names.append(stem)
    else:
        names = list(videos)
        if not names:
            problems.add(f"{split}/ holds no videos")
    cat = _DIR_CATEGORY.get(category, category)
    if cat not in CATEGORIES:
        problems.add(f"unknown category {category!r}")
        cat = "dresses"
    samples = [Sample(name=n, dataset="fashionvideo", category=cat, person=videos[n], garment=None,
                      split=split, paired=True) for n in names]
    problems.raise_if_any()
    return samples


# --------------------------------------------------------------------------------------------- dispatch

_READERS: dict[str, Callable[..., list[Sample]]] = {
    "vivid": read_vivid, "vitonhd": read_vitonhd, "dresscode": read_dresscode, "vvt": read_vvt,
    "fashionvideo": read_fashionvideo,
}


def detect_layout(root: str | Path) -> str:
    """Name of the layout of the tree at ``root`` (see :data:`LAYOUTS`); LayoutError when none fits."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(root, ["dataset folder not found"])
    cats = [root] + [root / d for d in CATEGORY_DIRS.values()]
    meta = root / "layout.json"
    if meta.is_file():
        try:
            name = json.loads(meta.read_text()).get("layout")
        except (json.JSONDecodeError, AttributeError):
            name = None
        if name in LAYOUTS:
            return name
    if any((c / "videos").is_dir() for c in cats):
        return "vivid"
    if any((c / "images").is_dir() for c in cats):
        return "dresscode"
    if any((root / s / "image").is_dir() for s in SPLITS):
        return "vitonhd"
    if any((root / f"{p}{s}_frames").is_dir() for p in ("", "lip_") for s in SPLITS) or \
            (root / "lip_clothes_person").is_dir():
        return "vvt"
    if any((root / f"fashion_{s}.txt").is_file() for s in SPLITS) or \
            any(_index(root / s, "video") for s in SPLITS):
        return "fashionvideo"
    raise LayoutError(root, [
        "no known dataset layout: expected videos/ (ViViD), images/ (Dress Code), train|test/image/ "
        "(VITON-HD), test_frames/ (VVT) or fashion_test.txt with test/*.mp4 (FashionVideo)"])


def read_layout(root: str | Path, layout: str = "auto", split: str = "test", pairs: str = "paired", *,
                check: bool = True, **options) -> list[Sample]:
    """Read a dataset tree into :class:`Sample` records.

    Args:
        root: dataset root folder.
        layout: ``"auto"`` (:func:`detect_layout`) or one of :data:`LAYOUTS`.
        split: ``"train"`` or ``"test"``.
        pairs: ``"paired"`` (the garment worn in the person stream) or ``"unpaired"`` (test only).
        check: verify that every sample's per-frame streams agree in frame count and size (demux and
            image headers, no decoding: ~15 ms per video file, so a few minutes for the full ViViD; pass
            False to skip it on a tree already checked).
        options: reader-specific keywords (``category=`` for single-category ViViD / Dress Code roots and
            for FashionVideo).

    Raises:
        LayoutError: listing every problem of the tree.
    """
    root = Path(root)
    if split not in SPLITS:
        raise LayoutError(root, [f"unknown split {split!r} (use {' or '.join(SPLITS)})"])
    if pairs not in PAIR_MODES:
        raise LayoutError(root, [f"unknown pairs mode {pairs!r} (use {' or '.join(PAIR_MODES)})"])
    if split == "train" and pairs == "unpaired":
        raise LayoutError(root, ["training samples are paired; use pairs='paired' with split='train'"])
    if layout == "auto":
        layout = detect_layout(root)
    if layout not in _READERS:
        raise LayoutError(root, [f"unknown layout {layout!r} (use auto or one of {', '.join(LAYOUTS)})"])
    if not root.is_dir():
        raise LayoutError(root, ["dataset folder not found"])
    reader = _READERS[layout]
    unknown = sorted(set(options) - set(inspect.signature(reader).parameters))
    if unknown:
        raise LayoutError(root, [f"the {layout} reader takes no option(s) {', '.join(unknown)}"])
    samples = reader(root, split=split, pairs=pairs, **options)
    if not samples:
        raise LayoutError(root, [f"no {split} samples found for layout {layout} ({pairs})"])
    if check:
        problems = check_streams(samples, root)
        if problems:
            raise LayoutError(root, problems)
    log.info("%s: %d %s %s samples (%s layout)", root, len(samples), split, pairs, layout)
    return samples
