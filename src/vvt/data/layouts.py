"""Readers for the released folder layouts of the try-on datasets, each mapped onto :class:`Sample`.

``read_layout(root)`` detects the layout and returns one :class:`~vvt.data.sample.Sample` per try-on
sample. Each reader's docstring gives the file naming it expects and the repository that naming was taken
from: :func:`read_vivid` (ViViD as released, and as vvt's own tools write it), :func:`read_vivid_s`
(CatV2TON's ViViD-S split), :func:`read_vitonhd`, :func:`read_dresscode`, :func:`read_vvt` and
:func:`read_fashionvideo`.

A partial download reads as far as it goes:

- A problem of the whole tree (no ``videos/`` folder, no pair list where one is needed, a flat ViViD folder
  of unknown category) raises ONE :class:`~vvt.errors.LayoutError` listing every such problem.
- A sample whose required file is missing or unreadable (its person stream, the garment its pair line
  names), whose pair line is malformed, or whose per-frame streams disagree in frame count or in aspect
  ratio is skipped. One warning gives how many were skipped and the first 10 with their reason;
  ``strict=True`` (the CLI's ``--strict``, or a ``with strict_layouts():`` block) raises a LayoutError listing
  them instead.
- An optional stream (agnostic video or mask, DensePose, keypoints, skeleton, garment mask, ...) that is
  missing or unreadable for some samples is None for those samples; one warning per stream gives the count.
- A per-frame stream stored at a proportional resolution (Dress Code's 512x384 skeletons beside 1024x768
  photos) is kept, with a log line: :mod:`vvt.data.datasets` resizes every stream of a sample to one size.

Readers run in linear time: every folder is listed once (``os.scandir``) and each sample's files are looked
up in those listings. The stream check (``check=True``) demuxes videos (no decoding) and reads image
headers, once per file. ``vvt bench layouts`` measures both on a VITON-HD-sized tree.

Paired and unpaired: in *paired* mode the garment is the one worn in the person stream (reconstruction,
the ground truth is the person stream); in *unpaired* mode it is another garment. Unpaired samples are
named ``<person>__<garment stem>``, the name SynthVVT uses for its unpaired ground truth.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import inspect
import itertools
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from vvt.data.sample import CATEGORIES, CATEGORY_DIRS, Category, Sample
from vvt.errors import LayoutError, VVTError
from vvt.io import video_info
from vvt.io.atomic import atomic_write_text
from vvt.io.image import IMAGE_SUFFIXES
from vvt.io.video import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

LAYOUTS = ("vivid", "vivid_s", "vitonhd", "dresscode", "vvt", "fashionvideo")
SPLITS = ("train", "test")
PAIR_MODES = ("paired", "unpaired")
#: ``Sample.extra`` keys that hold per-frame streams (checked for length and size like the main streams)
EXTRA_STREAMS = ("worn_mask", "gt_person", "gt_worn_mask")
#: how many skipped samples the summary warning lists
SHOWN = 10
#: the unpaired test list vvt writes into a ViViD folder that ships none (see :func:`read_vivid`)
DERIVED_UNPAIRED = "test_pairs_unpaired_vvt.txt"
_DERIVED_MARK = "# vvt: derived unpaired test list"
_DERIVED_RULE = (
    "# rule: within each category the test videos are sorted by name; video k of n takes the garment of\n"
    "# video (k + max(1, n // 2) + j) mod n for the first j = 0, 1, ... whose garment is known and is not\n"
    "# video k's own; failing that, garment (k mod m) of the m garments (by name) that no listed video wears.\n"
    "# Only test videos and their garments are used, never a train video's.\n"
)
_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("vvt_strict_layouts", default=False)
_DIR_CATEGORY: dict[str, Category] = {d: c for c, d in CATEGORY_DIRS.items()}
_CATEGORY_WORDS: dict[str, Category] = {"upper": "upper", "lower": "lower", "dress": "dresses", "dresses": "dresses",
                                         "overall": "dresses"}
#: ViViD's demo folder names each video after its category: ``upper1.mp4``, ``lower1.mp4``
_CATEGORY_NAMED = re.compile(r"(upper|lower|dress|dresses)[_-]?\d*", re.IGNORECASE)


# --------------------------------------------------------------------------------------------- the tree


class _Tree:
    """The folder listings of one read: each folder is listed at most once, later lookups are dict lookups."""

    def __init__(self) -> None:
        self._listed: dict[Path, dict[str, bool] | None] = {}
        self._indexes: dict[tuple[Path, str], dict[str, Path]] = {}

    def entries(self, folder: Path) -> dict[str, bool] | None:
        """``name -> is a folder`` for the visible entries of ``folder``; None when it is no folder."""
        if folder not in self._listed:
            try:
                with os.scandir(folder) as it:
                    found: dict[str, bool] | None = {e.name: e.is_dir() for e in it if not e.name.startswith(".")}
            except (FileNotFoundError, NotADirectoryError):
                found = None
            self._listed[folder] = found
        return self._listed[folder]

    def is_dir(self, folder: Path) -> bool:
        return self.entries(folder) is not None

    def file(self, folder: Path, name: str) -> Path | None:
        """``folder/name`` when it is a file of ``folder``."""
        got = self.entries(folder)
        return folder / name if got is not None and got.get(name) is False else None

    def subdir(self, folder: Path, name: str) -> Path | None:
        """``folder/name`` when it is a folder inside ``folder``."""
        got = self.entries(folder)
        return folder / name if got is not None and got.get(name) is True else None

    def index(self, folder: Path, kind: str) -> dict[str, Path]:
        """Stem -> path of the images (``kind="image"``), JSON files (``"json"``) or videos (files of a video
        suffix or folders of frames, ``"video"``) of ``folder`` in name order; {} when it is absent. A stem
        seen twice keeps its first file."""
        key = (folder, kind)
        if key not in self._indexes:
            out: dict[str, Path] = {}
            for name, is_dir in sorted((self.entries(folder) or {}).items()):
                stem, suffix = os.path.splitext(name)
                suffix = suffix.lower()
                if kind == "video" and is_dir:
                    out.setdefault(name, folder / name)
                elif not is_dir and (
                    (kind == "image" and suffix in IMAGE_SUFFIXES)
                    or (kind == "video" and suffix in VIDEO_SUFFIXES)
                    or (kind == "json" and suffix == ".json")
                ):
                    out.setdefault(stem, folder / name)
            self._indexes[key] = out
        return self._indexes[key]


class _Findings:
    """What a read found: problems of the tree (fatal), skipped samples, optional streams missing per sample."""

    def __init__(self, root: Path, strict: bool):
        self.root = root
        self.strict = strict
        self.problems: list[str] = []
        self.skipped: list[tuple[str, str]] = []
        self.gaps: dict[str, dict[str, str]] = {}
        self.rescaled: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append((name, reason))

    def gap(self, stream: str, name: str, why: str = "not found") -> None:
        self.gaps.setdefault(stream, {})[name] = why

    def raise_problems(self) -> None:
        if self.problems:
            raise LayoutError(self.root, self.problems)

    def finish(self, samples: list[Sample], what: str) -> list[Sample]:
        """``samples`` after the summary: raise on tree problems, on skips under ``strict``, on no samples;
        warn about skipped samples and about optional streams that are None for some samples."""
        self.raise_problems()
        listed = [f"{name}: {reason}" for name, reason in self.skipped]
        total = len(samples) + len(listed)
        more = [f"... and {len(listed) - SHOWN} more"] if len(listed) > SHOWN else []
        if listed and self.strict:
            raise LayoutError(self.root, [f"{len(listed)} of {total} {what} samples cannot be read (strict)"]
                              + listed)
        if not samples:
            head = f"no {what} samples found" + (f" ({len(listed)} skipped)" if listed else "")
            raise LayoutError(self.root, [head] + listed[:SHOWN] + more)
        if listed:
            log.warning("%s: skipped %d of %d %s samples (--strict / strict=True raises instead); first %d:\n%s",
                        self.root, len(listed), total, what, min(SHOWN, len(listed)),
                        "\n".join(f"  - {line}" for line in listed[:SHOWN] + more))
        kept = {s.name for s in samples}
        for stream, missing in sorted(self.gaps.items()):
            names = [n for n in missing if n in kept]
            if names:
                whys = sorted(set(missing[n] for n in names))
                log.warning("%s: %s is None for %d of %d samples (%s; e.g. %s)", self.root, stream, len(names),
                            len(samples), "; ".join(whys[:3]), ", ".join(names[:3]))
        if self.rescaled:
            log.info("%s: %d samples hold streams at a proportional resolution, resized to one size when loaded "
                     "(e.g. %s)", self.root, len(self.rescaled), self.rescaled[0])
        return samples


# --------------------------------------------------------------------------------------------- helpers


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _read_list(path: Path, columns: int, findings: _Findings) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of a whitespace-separated list (``#`` lines are comments); a line with fewer
    than ``columns`` fields is a skipped sample, extra fields are kept."""
    where = _rel(path, findings.root)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        findings.problem(f"{where}: not a readable text file ({exc})")
        return []
    rows = []
    for num, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < columns:
            findings.skip(f"{where} line {num}", f"expected {columns} names, got {line.strip()!r}")
            continue
        rows.append((num, fields))
    return rows


def _optional(tree: _Tree, folder: Path, name: str, stream: str, owner: str, findings: _Findings) -> Path | None:
    """``folder/name``, or None: silently when ``folder`` is absent, as a gap of ``stream`` for sample ``owner``
    when the folder is there without the file."""
    path = tree.file(folder, name)
    if path is None and tree.is_dir(folder):
        findings.gap(stream, owner, f"not in {_rel(folder, findings.root)}/")
    return path


def _pair_name(person: str, garment: Path | None, paired: bool) -> str:
    return person if paired or garment is None else f"{person}__{garment.stem}"


def _video_stem(name: str) -> str:
    path = Path(name)
    return path.stem if path.suffix.lower() in VIDEO_SUFFIXES else name


def _as_category(value: object, source: str, findings: _Findings) -> Category | None:
    if isinstance(value, str):
        key = value.lower()
        cat = _DIR_CATEGORY.get(key) or _CATEGORY_WORDS.get(key)
        if cat in CATEGORIES:
            return cat
    findings.problem(f"{source}: unknown category {value!r} (use one of {', '.join(CATEGORIES)})")
    return None


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (they hold the frame size); C4, C8 and CC are other segments
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _header_size(head: bytes, tail: bytes) -> tuple[int, int] | None:
    """``(h, w)`` of a complete PNG or JPEG from its first (up to 64 KiB) and last bytes: the PNG IHDR chunk or
    the JPEG start-of-frame segment, and the file's end (PNG's IEND chunk, JPEG's end-of-image marker), so a
    truncated download is caught; None for other formats, or anything unexpected (PIL then decides)."""
    if head.startswith(_PNG_MAGIC) and head[12:16] == b"IHDR":
        if tail[-8:-4] != b"IEND":
            return None
        return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")
    if not head.startswith(b"\xff\xd8") or not tail.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        return None
    i = 2
    while i + 9 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # segments without a length
            i += 2
        elif marker in _JPEG_SOF:
            return int.from_bytes(head[i + 5:i + 7], "big"), int.from_bytes(head[i + 7:i + 9], "big")
        else:
            i += 2 + int.from_bytes(head[i + 2:i + 4], "big")
    return None


def _image_size(path: Path) -> tuple[int, int]:
    """``(h, w)`` of an image file. PNG and JPEG are read from their header and checked to be complete (about
    20 us each); anything else, or a file that fails that check, is opened and decoded by PIL."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            head = os.read(fd, 65536)
            length = os.fstat(fd).st_size
            tail = head[-32:] if length <= len(head) else os.pread(fd, 32, length - 32)
        finally:
            os.close(fd)
        size = _header_size(head, tail)
        if size is not None:
            return size
        with Image.open(path) as im:
            im.load()
            return im.height, im.width
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise VVTError(f"{path}: not a readable image ({exc})") from None


def _proportional(size: tuple[int, int], ref: tuple[int, int]) -> bool:
    """Whether ``size`` (h, w) is ``ref`` scaled, up to a pixel of rounding."""
    (h, w), (rh, rw) = size, ref
    return abs(w * rh - rw * h) <= max(h, rh)


def _drop_stream(sample: Sample, name: str) -> None:
    if name in EXTRA_STREAMS:
        sample.extra.pop(name, None)
    else:
        setattr(sample, name, None)


def _check_streams(samples: list[Sample], findings: _Findings) -> list[Sample]:
    """The samples whose streams are readable and agree; the others are skipped (person or garment unreadable,
    frame counts or aspect ratios that differ) or lose an unreadable optional stream (a gap). Each file is
    probed once, however many samples share it (about 15 ms per video file, 0.1 ms per image header)."""
    probes: dict[tuple[Path, bool], tuple[int | None, tuple[int, int]] | str] = {}

    def probe(path: Path, video: bool) -> tuple[int | None, tuple[int, int]] | str:
        key = (path, video)
        if key not in probes:
            try:
                if video:
                    info = video_info(path)
                    probes[key] = (info.num_frames, (info.height, info.width))
                else:
                    probes[key] = (None, _image_size(path))
            except VVTError as exc:
                probes[key] = str(exc)
        return probes[key]

    kept = []
    for s in tqdm(samples, desc="checking streams", unit="sample", disable=len(samples) < 200):
        streams = {**s.streams(), **{k: v for k, v in s.extra.items() if k in EXTRA_STREAMS}}
        counts: dict[str, int] = {}
        sizes: dict[str, tuple[int, int]] = {}
        reason = None
        for name, path in streams.items():
            got = probe(path, s.is_video)
            if isinstance(got, str):
                if name == "person":
                    reason = f"person: {got}"
                    break
                _drop_stream(s, name)
                findings.gap(name, s.name, "unreadable")
                continue
            if got[0] is not None:
                counts[name] = got[0]
            sizes[name] = got[1]
        for name in ("garment", "garment_mask"):
            path = getattr(s, name)
            if reason is None and path is not None and isinstance(got := probe(path, False), str):
                if name == "garment":
                    reason = f"garment: {got}"
                else:
                    s.garment_mask = None
                    findings.gap(name, s.name, "unreadable")
        if reason is None and s.frame_ranges and "person" in counts and not any(
                a < min(b, counts["person"]) for a, b in s.frame_ranges):
            reason = (f"its frames ({', '.join(f'{a}-{b}' for a, b in s.frame_ranges)}) lie outside its "
                      f"{counts['person']} frame(s)")
        if reason is None and len(set(counts.values())) > 1:
            reason = "streams have different frame counts (" + ", ".join(f"{n} {v}" for n, v in counts.items()) + ")"
        if reason is None and len(set(sizes.values())) > 1:
            ref = sizes.get("person", next(iter(sizes.values())))
            if all(_proportional(size, ref) for size in sizes.values()):
                odd = next(n for n, size in sizes.items() if size != ref)
                findings.rescaled.append(f"{s.name}: {odd} {sizes[odd][0]}x{sizes[odd][1]} beside {ref[0]}x{ref[1]}")
            else:
                reason = "streams have different frame sizes, HxW (" + ", ".join(
                    f"{n} {h}x{w}" for n, (h, w) in sizes.items()) + ")"
        if reason is None:
            kept.append(s)
        else:
            findings.skip(s.name, reason)
    return kept


# --------------------------------------------------------------------------------------------- ViViD


def _vivid_meta(root: Path, findings: _Findings) -> dict:
    path = root / "layout.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        findings.problem(f"layout.json is not valid JSON ({exc})")
        return {}
    if not isinstance(meta, dict):
        findings.problem("layout.json must hold a JSON object")
        return {}
    return meta


def _flat_categories(folder: Path, videos: Iterable[str], category: object, meta: dict,
                     findings: _Findings) -> Callable[[str], Category | None]:
    """Category per stem (video or garment) of a flat ViViD folder, from (first that is given): the
    ``category`` argument (one category, or a mapping ``{stem: category}``), layout.json's ``"category"`` /
    ``"categories"``, the folder's own name, or, when every video is named after one category (ViViD's demo
    naming ``upper1.mp4``), that category, with a warning. Otherwise a problem of the tree: never a default."""
    given, source = category, "the category argument"
    if given is None and ("categories" in meta or "category" in meta):
        given, source = meta.get("categories", meta.get("category")), "layout.json"
    if isinstance(given, Mapping):
        table: dict[str, Category] = {}
        for stem, value in given.items():
            cat = _as_category(value, f"{source}[{stem!r}]", findings)
            if cat is not None:
                table[Path(str(stem)).stem] = cat
        return table.get
    one: Category | None = None
    if given is not None:
        one = _as_category(given, source, findings)
    elif folder.name in _DIR_CATEGORY:
        one = _DIR_CATEGORY[folder.name]
    else:
        videos = sorted(videos)
        named = [m for v in videos if (m := _CATEGORY_NAMED.fullmatch(v))]
        words = {_CATEGORY_WORDS[m.group(1).lower()] for m in named}
        if videos and len(named) == len(videos) and len(words) == 1:
            one = words.pop()
            log.warning("%s: no category given; %r is taken from the video names (%s; ViViD's demo naming). Pass "
                        "category= to set it", folder, one, ", ".join(videos[:3]))
        else:
            shown = ", ".join(videos[:5]) + (", ..." if len(videos) > 5 else "")
            findings.problem(
                f"{_rel(folder, findings.root) if folder != findings.root else folder.name}: a flat ViViD folder "
                f"(videos/ without upper_body/, lower_body/, dresses/) of unknown category ({shown}): pass "
                "category='upper', 'lower' or 'dresses', or a mapping {video: category}, to read_layout, or write "
                "\"category\" (or \"categories\") into layout.json")
    return lambda stem: one


def _vivid_garments(tree: _Tree, folder: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """``(garments, garment masks)`` of a ViViD folder, by stem. Garments lie in ``cloth/`` (ViViD's README)
    or ``images/`` (CatV2TON's loaders), aliases read together, ``cloth/`` first; masks in ``cloth_mask/`` or
    beside the garment as ``<stem>_mask.<ext>`` (not then counted as a garment)."""
    garments: dict[str, Path] = {}
    for sub in ("cloth", "images"):
        for stem, path in tree.index(folder / sub, "image").items():
            garments.setdefault(stem, path)
    masks = dict(tree.index(folder / "cloth_mask", "image"))
    for stem in [s for s in garments if s.endswith("_mask") and s[: -len("_mask")] in garments]:
        masks.setdefault(stem[: -len("_mask")], garments.pop(stem))
    return garments, masks


def _own_garment(vid: str, garments: Mapping[str, Path], by_id: Mapping[str, list[Path]]) -> Path | None:
    """The garment worn in video ``vid`` when no list says: the garment of the same stem, else the one garment
    whose product id (the stem up to its first ``_``) is the video's (``1057795_detail.mp4`` wears
    ``1057795_in_xl.jpg``); None when there is none or several."""
    if vid in garments:
        return garments[vid]
    found = by_id.get(vid.split("_", 1)[0], [])
    return found[0] if len(found) == 1 else None


def _derive_unpaired(test: list[tuple[str, Path | None]], unworn: list[Path],
                     cat_of: Callable[[str], Category | None]) -> tuple[list[tuple[str, Path]], list[str]]:
    """``(pairs, videos left without a garment)`` of the rule in :data:`_DERIVED_RULE`: ``test`` holds each test
    video with its own garment (or None), ``unworn`` the garments no listed video wears."""
    groups: dict[Category | None, list[tuple[str, Path | None]]] = {}
    for vid, own in sorted(test, key=lambda t: t[0]):
        groups.setdefault(cat_of(vid), []).append((vid, own))
    spare = {cat: sorted((g for g in unworn if cat_of(g.stem) == cat), key=lambda g: g.name) for cat in groups}
    pairs, left = [], []
    for cat, items in groups.items():
        n = len(items)
        shift = max(1, n // 2)
        known = [i for i, (_, garment) in enumerate(items) if garment is not None]  # ascending
        for k, (vid, own) in enumerate(items):
            choice = None
            start = bisect.bisect_left(known, (k + shift) % n)  # the first j with a known garment
            for pos in itertools.chain(range(start, len(known)), range(start)):
                i = known[pos]
                if i != k and items[i][1] != own:
                    choice = items[i][1]
                    break
            if choice is None and spare[cat]:
                choice = spare[cat][k % len(spare[cat])]
            if choice is None:
                left.append(vid)
            else:
                pairs.append((vid, choice))
    return pairs, left


def _writable(folder: Path) -> bool:
    """Whether vvt may add a file to ``folder``: writable to this user AND not marked read-only by its mode
    bits (a dataset folder set to ``r-x`` stays untouched even for root)."""
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False


def _write_derived(folder: Path, rows: list[tuple[Path, Path]], root: Path) -> None:
    """Write the derived unpaired list ``folder/DERIVED_UNPAIRED`` (rule in its header) unless it already says
    the same, the folder is read-only, or a file of that name that vvt did not write is in the way."""
    path = folder / DERIVED_UNPAIRED
    text = f"{_DERIVED_MARK} (this folder ships no test_pairs_unpaired.txt)\n{_DERIVED_RULE}" + "".join(
        f"{video.name} {garment.name}\n" for video, garment in rows)
    where = _rel(path, root)
    if path.is_file():
        current = path.read_text(errors="replace")
        if current == text:
            log.warning("%s: no test_pairs_unpaired.txt; using vvt's derived list %s (%d pairs; its header gives "
                        "the rule)", folder, where, len(rows))
            return
        if not current.startswith(_DERIVED_MARK):
            log.warning("%s: %s was not written by vvt; left as it is, the derived list (%d pairs) is used in "
                        "memory", folder, where, len(rows))
            return
    if not _writable(folder):
        log.warning("%s: no test_pairs_unpaired.txt and the folder is read-only; the derived list (%d pairs, rule "
                    "in vvt.data.layouts._DERIVED_RULE) is used in memory", folder, len(rows))
        return
    atomic_write_text(path, text)
    log.warning("%s: no test_pairs_unpaired.txt; wrote vvt's derived list %s (%d pairs): each test video with "
                "the garment of another test video of its category, never its own, never a train video's",
                folder, where, len(rows))


def _vivid_list(tree: _Tree, folder: Path, name: str, videos: Mapping[str, Path], garments: Mapping[str, Path],
                findings: _Findings | None) -> list[tuple[str, Path]] | None:
    """``(video stem, garment)`` of the pair list ``folder/name`` (None when absent); lines naming a missing
    video or garment are skipped samples (not recorded when ``findings`` is None: a list read only to know
    which videos it uses)."""
    path = tree.file(folder, name)
    if path is None:
        return None
    quiet = _Findings(findings.root if findings else folder, False)
    rows = []
    for num, (vid_name, garment_name, *_) in _read_list(path, 2, findings or quiet):
        vid, garment = _video_stem(vid_name), garments.get(Path(garment_name).stem)
        where = f"{_rel(path, (findings or quiet).root)} line {num}"
        if vid not in videos:
            if findings:
                findings.skip(where, f"video {vid_name!r} not found in {_rel(folder / 'videos', findings.root)}/")
        elif garment is None:
            if findings:
                findings.skip(where, f"garment {garment_name!r} not found in "
                                     f"{_rel(folder, findings.root)}/cloth/ or images/")
        else:
            rows.append((vid, garment))
    return rows


def _read_vivid(tree: _Tree, root: Path, split: str, pairs: str, findings: _Findings, *,
                category: str | Mapping[str, str] | None = None) -> list[Sample]:
    meta = _vivid_meta(root, findings)
    densepose_format = meta.get("densepose_format", "detectron2_parts")
    if tree.subdir(root, "videos"):
        folders = [(root, _flat_categories(root, tree.index(root / "videos", "video"), category, meta, findings))]
    else:
        wanted = None if category is None else _as_category(category, "the category argument", findings)
        folders = [(root / d, (lambda stem, c=c: c)) for c, d in CATEGORY_DIRS.items()
                   if tree.subdir(root / d, "videos") and wanted in (None, c)]
        if not folders:
            findings.problem("no videos/ folder, and no category folder (upper_body/, lower_body/, dresses/) "
                             "holding one" + (f" for category {category!r}" if category else ""))
    if split == "train" and len(folders) > 1 and any(tree.file(f, "train_pairs.txt") for f, _ in folders):
        for folder, _ in folders:
            if not tree.file(folder, "train_pairs.txt"):
                log.warning("%s: no %s/train_pairs.txt: no training samples from %s", root, folder.name, folder.name)
        folders = [(f, c) for f, c in folders if tree.file(f, "train_pairs.txt")]
    samples: list[Sample] = []
    if not findings.problems:
        for folder, cat_of in folders:
            samples += _vivid_folder(tree, root, folder, cat_of, split, pairs, densepose_format, findings)
    return samples


def _vivid_folder(tree: _Tree, root: Path, folder: Path, cat_of: Callable[[str], Category | None], split: str,
                  pairs: str, densepose_format: str, findings: _Findings) -> list[Sample]:
    videos = tree.index(folder / "videos", "video")
    if not videos:
        findings.problem(f"{_rel(folder / 'videos', root)}/ holds no videos")
        return []
    garments, garment_masks = _vivid_garments(tree, folder)
    mask_dir = next((folder / d for d in ("agnostic_mask", "agnostic_mask_smoothed") if tree.is_dir(folder / d)),
                    folder / "agnostic_mask")
    stream_dirs = {"agnostic": folder / "agnostic", "agnostic_mask": mask_dir, "densepose": folder / "densepose",
                   "skeleton": folder / "skeleton", "keypoints": folder / "keypoints"}
    indexes = {n: tree.index(d, "json" if n == "keypoints" else "video") for n, d in stream_dirs.items()}
    worn = tree.index(folder / "worn_mask", "video")
    paired = split == "train" or pairs == "paired"

    train = _vivid_list(tree, folder, "train_pairs.txt", videos, garments, findings if split == "train" else None)
    if split == "train":
        if train is None:
            findings.problem(f"no {_rel(folder / 'train_pairs.txt', root)} (without pair lists every video is a "
                             "test video; list training pairs as lines '<vid>.mp4 <garment>.jpg')")
            return []
        chosen: list[tuple[str, Path | None]] = list(train)
    else:
        listed_test = _vivid_list(tree, folder, "test_pairs.txt", videos, garments, findings if paired else None)
        if listed_test is None:
            by_id: dict[str, list[Path]] = {}
            for stem, path in garments.items():
                by_id.setdefault(stem.split("_", 1)[0], []).append(path)
            in_train = {vid for vid, _ in train or ()}
            test: list[tuple[str, Path | None]] = [(v, _own_garment(v, garments, by_id)) for v in videos
                                                    if v not in in_train]
        else:
            test = list(listed_test)
        if paired:
            chosen = test
        else:
            unpaired = _vivid_list(tree, folder, "test_pairs_unpaired.txt", videos, garments, findings)
            if unpaired is None:
                worn_garments = {g for _, g in (train or []) + test if g is not None}
                unworn = [g for g in garments.values() if g not in worn_garments]
                derived, left = _derive_unpaired([t for t in test if cat_of(t[0])], unworn, cat_of)
                for vid in left:
                    findings.skip(f"{folder.name}/videos/{videos[vid].name}", "no garment of another test video "
                                  "(or unworn garment) of its category to pair with")
                derived += [(vid, None) for vid, _ in test if cat_of(vid) is None]  # skipped below
                if any(g for _, g in derived):
                    _write_derived(folder, [(videos[v], g) for v, g in derived if g is not None], root)
                chosen = list(derived)
            else:
                chosen = list(unpaired)

    samples, seen = [], set()
    for vid, garment in chosen:
        cat = cat_of(vid)
        if cat is None:
            findings.skip(f"{folder.name}/videos/{videos[vid].name}", "no category for this video (give it one "
                          "in the category mapping)")
            continue
        name = f"{CATEGORY_DIRS[cat]}/{_pair_name(vid, garment, paired)}"
        if name in seen:
            findings.skip(name, "listed twice")
            continue
        seen.add(name)
        sample = Sample(name=name, dataset="vivid", category=cat, person=videos[vid], garment=garment,
                        densepose_format=densepose_format, paired=paired, split=split)
        if garment is None:
            findings.gap("garment", name, "no garment in cloth/ or images/ shares the video's stem or product id")
        else:
            sample.garment_mask = garment_masks.get(garment.stem)
            if sample.garment_mask is None and garment_masks:
                findings.gap("garment_mask", name)
        for stream, index in indexes.items():
            if vid in index:
                setattr(sample, stream, index[vid])
            elif tree.is_dir(stream_dirs[stream]):
                findings.gap(stream, name, f"not in {_rel(stream_dirs[stream], root)}/")
        if vid in worn:
            sample.extra["worn_mask"] = worn[vid]
        if garment is not None and not paired:  # SynthVVT's ground truth of the unpaired try-on
            gt_dir = root / "ground_truth" / CATEGORY_DIRS[cat]
            for key, sub in (("gt_person", "videos"), ("gt_worn_mask", "worn_mask")):
                found = tree.index(gt_dir / sub, "video").get(f"{vid}__{garment.stem}")
                if found is not None:
                    sample.extra[key] = found
        samples.append(sample)
    return samples


# --------------------------------------------------------------------------------------------- ViViD-S


def _front_seqs(value: object) -> tuple[tuple[int, int], ...] | None:
    """CatV2TON's ``front_seqs``: ``[start, end]`` (its test lists) or ``[[start, end], ...]`` (its train lists)."""
    if value is None:
        return ()
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        value = [value]
    if isinstance(value, list) and all(isinstance(r, list) and len(r) == 2 and all(isinstance(v, int) for v in r)
                                       and 0 <= r[0] < r[1] for r in value):
        return tuple((r[0], r[1]) for r in value)
    return None


def _read_vivid_s(tree: _Tree, root: Path, split: str, pairs: str, findings: _Findings) -> list[Sample]:
    if split == "test":
        name = "test_data_180.jsonl" if pairs == "paired" else "test_data_180_unpaired.jsonl"
        lists = [(tree.file(root, name), None)]
        if lists[0][0] is None:
            findings.problem(f"missing {name} (CatV2TON's ViViD-S test list)")
    else:
        lists = [(tree.file(root / d, "train_data.jsonl"), d) for d in CATEGORY_DIRS.values()]
        lists = [(p, d) for p, d in lists if p is not None]
        if not lists:
            findings.problem("no <category>/train_data.jsonl (CatV2TON's training lists); ViViD-S ships a test "
                             "split only")
    paired = split == "train" or pairs == "paired"
    samples, seen = [], set()
    for path, subdir_of_list in lists:
        if path is None:
            continue
        where_list = _rel(path, root)
        for num, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{where_list} line {num}"
            try:
                item = json.loads(line)
                subdir = subdir_of_list or item["subdir"]
                video, image = str(item["video"]), str(item["image"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                findings.skip(where, f"not a JSON object with subdir, video and image ({exc})")
                continue
            ranges = _front_seqs(item.get("front_seqs"))
            cat = _DIR_CATEGORY.get(subdir)
            if cat is None or ranges is None:
                findings.skip(where, f"unknown subdir {subdir!r}" if cat is None else
                              f"front_seqs must be [start, end] or a list of them, got {item.get('front_seqs')!r}")
                continue
            folder = root / subdir
            person, garment = tree.file(folder / "videos", video), tree.file(folder / "images", image)
            if person is None or garment is None:
                missing = (f"video {subdir}/videos/{video}" if person is None else f"garment {subdir}/images/{image}")
                findings.skip(where, f"{missing} not found")
                continue
            sample_name = f"{subdir}/{_pair_name(Path(video).stem, garment, paired)}"
            if sample_name in seen:
                findings.skip(where, f"{sample_name} listed twice")
                continue
            seen.add(sample_name)
            mask_dir = next((folder / d for d in ("agnostic_mask_smoothed", "agnostic_mask")
                             if tree.is_dir(folder / d)), folder / "agnostic_mask_smoothed")
            samples.append(Sample(
                name=sample_name, dataset="vivid_s", category=cat, person=person, garment=garment,
                agnostic_mask=_optional(tree, mask_dir, video, "agnostic_mask", sample_name, findings),
                densepose=_optional(tree, folder / "densepose", video, "densepose", sample_name, findings),
                densepose_format="detectron2_parts", paired=paired, split=split, frame_ranges=ranges,
            ))
    return samples


# --------------------------------------------------------------------------------------------- VITON-HD


def _read_vitonhd(tree: _Tree, root: Path, split: str, pairs: str, findings: _Findings) -> list[Sample]:
    base = root / split
    for name in ("image", "cloth"):
        if not tree.is_dir(base / name):
            findings.problem(f"missing folder {_rel(base / name, root)}/")
    pair_file = tree.file(root, f"{split}_pairs.txt")
    if pair_file is None:
        findings.problem(f"missing pair list {split}_pairs.txt")
    if findings.problems:
        return []
    paired = split == "train" or pairs == "paired"
    cloth_masks = tree.index(base / "cloth-mask", "image")
    optional = (("agnostic", "agnostic-v3.2", "{}.jpg"), ("agnostic_mask", "agnostic-mask", "{}_mask.png"),
                ("densepose", "image-densepose", "{}.jpg"), ("keypoints", "openpose_json", "{}_keypoints.json"),
                ("skeleton", "openpose_img", "{}_rendered.png"))
    samples = []
    for num, (person_name, cloth_name, *_) in _read_list(pair_file, 2, findings):
        where = f"{pair_file.name} line {num}"
        garment_name = person_name if paired else cloth_name
        person, garment = tree.file(base / "image", person_name), tree.file(base / "cloth", garment_name)
        if person is None or garment is None:
            what, sub, missing = ("person image", "image", person_name) if person is None else (
                "garment", "cloth", garment_name)
            findings.skip(where, f"{what} {_rel(base / sub / missing, root)} not found")
            continue
        stem = person.stem
        sample = Sample(name=_pair_name(stem, garment, paired), dataset="vitonhd", category="upper", person=person,
                        garment=garment, densepose_format="detectron2_parts", is_video=False, paired=paired,
                        split=split)
        for attr, sub, pattern in optional:
            setattr(sample, attr, _optional(tree, base / sub, pattern.format(stem), attr, sample.name, findings))
        sample.garment_mask = cloth_masks.get(garment.stem)
        if sample.garment_mask is None and tree.is_dir(base / "cloth-mask"):
            findings.gap("garment_mask", sample.name, f"not in {split}/cloth-mask/")
        parse = _optional(tree, base / "image-parse-v3", f"{stem}.png", "parse", sample.name, findings)
        if parse is not None:
            sample.extra["parse"] = parse
        samples.append(sample)
    return samples


# --------------------------------------------------------------------------------------------- DressCode


def _read_dresscode(tree: _Tree, root: Path, split: str, pairs: str, findings: _Findings, *,
                    category: str | None = None) -> list[Sample]:
    if tree.subdir(root, "images"):
        given = category or _DIR_CATEGORY.get(root.name)
        cat = _as_category(given, "the category argument", findings) if given else None
        if given is None:
            findings.problem(f"{root.name} is not a category folder (upper_body, lower_body, dresses): "
                             "pass category=")
        folders = [(root, cat)]
    else:
        wanted = _as_category(category, "the category argument", findings) if category else None
        folders = [(root / d, c) for c, d in CATEGORY_DIRS.items() if tree.is_dir(root / d) and wanted in (None, c)]
        if not folders:
            findings.problem("no images/ folder, and no category folder (upper_body/, lower_body/, dresses/)")
    paired = split == "train" or pairs == "paired"
    list_name = "train_pairs.txt" if split == "train" else f"test_pairs_{pairs}.txt"
    for folder, _ in folders:
        if not tree.is_dir(folder / "images"):
            findings.problem(f"missing folder {_rel(folder / 'images', root)}/")
        elif tree.file(folder, list_name) is None:
            findings.problem(f"missing pair list {_rel(folder / list_name, root)}")
    if findings.problems:
        return []
    samples = []
    for folder, cat in folders:
        images, pair_file = folder / "images", folder / list_name
        prefix = CATEGORY_DIRS[cat]
        for num, (person_name, garment_name, *_) in _read_list(pair_file, 2, findings):
            where = f"{_rel(pair_file, root)} line {num}"
            person, garment = tree.file(images, person_name), tree.file(images, garment_name)
            if person is None or garment is None:
                what, missing = ("person image", person_name) if person is None else ("garment", garment_name)
                findings.skip(where, f"{what} {_rel(images / missing, root)} not found")
                continue
            pid = person.stem.rsplit("_", 1)[0]
            name = f"{prefix}/{_pair_name(person.stem, garment, paired)}"

            def optional(sub: str, file: str, stream: str, folder: Path = folder, name: str = name) -> Path | None:
                return _optional(tree, folder / sub, file, stream, name, findings)

            sample = Sample(
                name=name, dataset="dresscode", category=cat, person=person, garment=garment,
                garment_mask=optional("masks", f"{garment.stem}.png", "garment_mask"),
                agnostic_mask=optional("agnostic_masks", f"{person.stem}.png", "agnostic_mask"),
                skeleton=optional("skeletons", f"{pid}_5.jpg", "skeleton"),
                densepose=optional("dense", f"{pid}_5.png", "densepose"),
                densepose_format="dresscode_parts", is_video=False, paired=paired, split=split,
            )
            for key, sub, file in (("dresscode_keypoints", "keypoints", f"{pid}_2.json"),
                                   ("label_map", "label_maps", f"{pid}_4.png"),
                                   ("densepose_uv", "dense", f"{pid}_5_uv.npz")):
                found = optional(sub, file, key)
                if found is not None:
                    sample.extra[key] = found
            samples.append(sample)
    return samples


# --------------------------------------------------------------------------------------------- VVT


def _first_dir(tree: _Tree, root: Path, names: Iterable[str]) -> Path | None:
    return next((root / n for n in names if tree.is_dir(root / n)), None)


def _read_vvt(tree: _Tree, root: Path, split: str, pairs: str, findings: _Findings) -> list[Sample]:
    frames = _first_dir(tree, root, (f"{split}_frames", f"lip_{split}_frames"))
    clothes = _first_dir(tree, root, ("lip_clothes_person", "clothes_person"))
    if frames is None:
        findings.problem(f"missing folder {split}_frames/ (or lip_{split}_frames/)")
    if clothes is None:
        findings.problem("missing folder lip_clothes_person/ (or clothes_person/)")
    paired = split == "train" or pairs == "paired"
    tuple_file = tree.file(root, f"{split}_person_clothes_pose_tuple.txt")
    if tuple_file is None and not paired:
        findings.problem(f"unpaired VVT needs {split}_person_clothes_pose_tuple.txt")
    if findings.problems:
        return []
    videos = {name: frames / name for name, is_dir in sorted(tree.entries(frames).items()) if is_dir}
    streams = {"keypoints": _first_dir(tree, root, (f"{split}_frames_keypoint", f"lip_{split}_frames_keypoint")),
               "agnostic_mask": _first_dir(tree, root, (f"{split}_agn_mask", f"{split}_agn_mask_new")),
               "densepose": _first_dir(tree, root, (f"{split}_densepose-magcianimate",))}
    if tuple_file is not None:
        rows = [(f"{tuple_file.name} line {n}", f[0], f[0] if paired else f[1])
                for n, f in _read_list(tuple_file, 3, findings)]
    else:
        rows = [(f"{frames.name}/{vid}", vid, vid) for vid in videos]

    def garment_files(vid: str) -> tuple[Path | None, Path | None]:
        folder = tree.subdir(clothes, vid) or tree.subdir(clothes, vid.upper())
        files = sorted(n for n, is_dir in (tree.entries(folder) or {}).items() if not is_dir and n.endswith(".jpg"))
        photo = next((f for f in files if f.endswith("cloth_front.jpg")), None)
        photo = photo or next((f for f in files if "mask" not in f), None)
        mask = next((f for f in files if f.endswith("cloth_front_mask.jpg")), None)
        return (folder / photo if photo else None), (folder / mask if mask else None)

    samples = []
    for where, vid, garment_vid in rows:
        garment, garment_mask = garment_files(garment_vid)
        if vid not in videos:
            findings.skip(where, f"video {vid!r} not found in {_rel(frames, root)}/")
            continue
        if garment is None:
            findings.skip(where, f"no garment photo (*cloth_front.jpg) in {_rel(clothes, root)}/{garment_vid}/")
            continue
        sample = Sample(name=vid if paired else f"{vid}__{garment_vid}", dataset="vvt", category="upper",
                        person=videos[vid], garment=garment, garment_mask=garment_mask, paired=paired, split=split,
                        densepose_format="detectron2_parts")
        for attr, folder in streams.items():
            if folder is not None:
                found = tree.subdir(folder, vid)
                setattr(sample, attr, found)
                if found is None:
                    findings.gap(attr, sample.name, f"no folder {vid} in {_rel(folder, root)}/")
        samples.append(sample)
    return samples


# --------------------------------------------------------------------------------------------- FashionVideo


def _read_fashionvideo(tree: _Tree, root: Path, split: str, pairs: str, findings: _Findings, *,
                       category: str = "dresses") -> list[Sample]:
    del pairs
    folder = root / split
    if not tree.is_dir(folder):
        findings.problem(f"missing folder {split}/")
    cat = _as_category(category, "the category argument", findings)
    if findings.problems:
        return []
    videos = tree.index(folder, "video")
    url_list = tree.file(root, f"fashion_{split}.txt")
    names: list[str] = []
    if url_list is not None:
        for num, (url, *_) in _read_list(url_list, 1, findings):
            stem = Path(url.rstrip("/").rsplit("/", 1)[-1]).stem
            if stem in videos:
                names.append(stem)
            else:
                findings.skip(f"{url_list.name} line {num}", f"{split}/{stem}.mp4 not found (download it with the "
                              "dataset's data_crowler.py)")
    else:
        names = list(videos)
    return [Sample(name=n, dataset="fashionvideo", category=cat, person=videos[n], garment=None, split=split,
                   paired=True) for n in dict.fromkeys(names)]


# --------------------------------------------------------------------------------------------- dispatch

_READERS: dict[str, Callable[..., list[Sample]]] = {
    "vivid": _read_vivid, "vivid_s": _read_vivid_s, "vitonhd": _read_vitonhd, "dresscode": _read_dresscode,
    "vvt": _read_vvt, "fashionvideo": _read_fashionvideo,
}


def detect_layout(root: str | Path) -> str:
    """Name of the layout of the tree at ``root`` (see :data:`LAYOUTS`); LayoutError when none fits."""
    return _detect(_Tree(), Path(root))


def _detect(tree: _Tree, root: Path) -> str:
    if not tree.is_dir(root):
        raise LayoutError(root, ["dataset folder not found"])
    cats = [root] + [root / d for d in CATEGORY_DIRS.values()]
    meta = tree.file(root, "layout.json")
    if meta is not None:
        try:
            name = json.loads(meta.read_text()).get("layout")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            name = None
        if name in LAYOUTS:
            return name
    if any(tree.file(root, f"test_data_180{s}.jsonl") for s in ("", "_unpaired")) or any(
            tree.file(c, "train_data.jsonl") and not tree.file(c, "train_pairs.txt") for c in cats[1:]):
        return "vivid_s"
    if any(tree.subdir(c, "videos") for c in cats):
        return "vivid"
    if any(tree.subdir(c, "images") for c in cats):
        return "dresscode"
    if any(tree.subdir(root / s, "image") for s in SPLITS):
        return "vitonhd"
    if any(tree.subdir(root, f"{p}{s}_frames") for p in ("", "lip_") for s in SPLITS) or \
            tree.subdir(root, "lip_clothes_person"):
        return "vvt"
    if any(tree.file(root, f"fashion_{s}.txt") for s in SPLITS) or \
            any(tree.index(root / s, "video") for s in SPLITS):
        return "fashionvideo"
    raise LayoutError(root, [
        "no known dataset layout: expected videos/ (ViViD), test_data_180.jsonl (CatV2TON's ViViD-S), images/ "
        "(Dress Code), train|test/image/ (VITON-HD), test_frames/ (VVT) or fashion_test.txt with test/*.mp4 "
        "(FashionVideo)"])


@contextlib.contextmanager
def strict_layouts(strict: bool = True) -> Iterator[None]:
    """Within the block, :func:`read_layout` calls that do not pass ``strict`` use this value: how the CLI's
    ``--strict`` reaches every dataset a command reads (as ``--allow-truncated`` does for videos)."""
    token = _STRICT.set(bool(strict))
    try:
        yield
    finally:
        _STRICT.reset(token)


def read_layout(root: str | Path, layout: str = "auto", split: str = "test", pairs: str = "paired", *,
                check: bool = True, strict: bool | None = None, **options) -> list[Sample]:
    """Read a dataset tree into :class:`Sample` records (see the module docstring for partial downloads).

    Args:
        root: dataset root folder.
        layout: ``"auto"`` (:func:`detect_layout`) or one of :data:`LAYOUTS`.
        split: ``"train"`` or ``"test"``.
        pairs: ``"paired"`` (the garment worn in the person stream) or ``"unpaired"`` (test only).
        check: verify that every sample's files are readable and its per-frame streams agree in frame count
            and aspect ratio (demuxing and image headers, no decoding: ~15 ms per video file, so a few minutes
            for the full ViViD; pass False to skip it on a tree already checked).
        strict: raise a LayoutError listing every sample that would be skipped, instead of a warning; None
            (default): False, or the value of the enclosing :func:`strict_layouts` block.
        options: reader-specific keywords: ``category=`` for ViViD (one category, or a mapping ``{video:
            category}`` for a flat folder; with category folders it picks one), Dress Code and FashionVideo.

    Raises:
        LayoutError: listing every problem of the tree, or (``strict``) every sample that cannot be read, or
            when no sample is left.
    """
    root = Path(root)
    if split not in SPLITS:
        raise LayoutError(root, [f"unknown split {split!r} (use {' or '.join(SPLITS)})"])
    if pairs not in PAIR_MODES:
        raise LayoutError(root, [f"unknown pairs mode {pairs!r} (use {' or '.join(PAIR_MODES)})"])
    if split == "train" and pairs == "unpaired":
        raise LayoutError(root, ["training samples are paired; use pairs='paired' with split='train'"])
    tree = _Tree()
    if layout == "auto":
        layout = _detect(tree, root)
    if layout not in _READERS:
        raise LayoutError(root, [f"unknown layout {layout!r} (use auto or one of {', '.join(LAYOUTS)})"])
    if not tree.is_dir(root):
        raise LayoutError(root, ["dataset folder not found"])
    reader = _READERS[layout]
    accepted = {p.name for p in inspect.signature(reader).parameters.values() if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise LayoutError(root, [f"the {layout} reader takes no option(s) {', '.join(unknown)}"])
    findings = _Findings(root, _STRICT.get() if strict is None else strict)
    samples = reader(tree, root, split, pairs, findings, **options)
    findings.raise_problems()
    if check:
        samples = _check_streams(samples, findings)
    samples = findings.finish(samples, f"{split} {pairs} {layout}")
    log.info("%s: %d %s %s samples (%s layout)", root, len(samples), split, pairs, layout)
    return samples


# --------------------------------------------------------------------------------------------- per-dataset entry points


def read_vivid(root: str | Path, split: str = "test", pairs: str = "paired", **options) -> list[Sample]:
    """Read ViViD (alibaba-yuanjing-aigclab/ViViD) as released and as vvt's tools write it.

    Expected tree: the repository's ``data/`` folder and README (one flat folder), the released dataset as
    CatV2TON's loaders read it (Zheng-Chong/CatV2TON ``data/video_dataset.py``: category folders, garments
    in ``images/``, pair lines ``1057795_detail.mp4 1057795_in_xl.jpg``), plus vvt's optional extras::

        ROOT/ (a flat folder holding videos/, or category folders upper_body/ lower_body/ dresses/)
          videos/<vid>.mp4                                            person video (required)
          agnostic/<vid>.mp4  agnostic_mask/<vid>.mp4  densepose/<vid>.mp4       (optional streams)
          agnostic_mask_smoothed/<vid>.mp4       alias of agnostic_mask/ (CatV2TON's smoothed masks)
          cloth/<garment>.jpg   or images/<garment>.jpg              garment photos (aliases, read together)
          cloth_mask/<garment>.jpg   or <garment>_mask.jpg beside the garment     garment masks (aliases)
          keypoints/<vid>.json  skeleton/<vid>.mp4  worn_mask/<vid>.mp4      (vvt, optional)
          train_pairs.txt  test_pairs.txt  test_pairs_unpaired.txt: lines "<vid>.mp4 <garment>.jpg"
        ROOT/layout.json      {"layout": "vivid", "densepose_format": ..., "category" or "categories": ...}
        ROOT/ground_truth/<category dir>/{videos,worn_mask}/<vid>__<garment stem>.mp4     (SynthVVT)

    A video and its garment need not share a stem. Without ``test_pairs.txt`` the test videos are those
    ``train_pairs.txt`` does not name (all, without it), each paired with the garment of its stem or, in the
    release's naming, of its product id (``1057795_detail.mp4`` wears ``1057795_in_xl.jpg``); a video with
    neither has ``garment=None`` (a warning counts them). Without ``test_pairs_unpaired.txt`` the unpaired
    list is derived deterministically: each test video takes the garment of another test video of its
    category, never its own, never a train video's (the rule, :data:`_DERIVED_RULE`, is written with the
    list to ``<folder>/test_pairs_unpaired_vvt.txt`` unless the folder is read-only, and logged).

    A flat folder has no category of its own: pass ``category=`` (one category, or ``{video stem:
    category}``; garments unlinked to a video may be listed too), or give layout.json a ``"category"`` /
    ``"categories"``; a folder named like a category folder, or whose videos are all named after one category
    (ViViD's demo ``upper1.mp4``, with a warning), needs neither. Otherwise the read fails: a wrong category
    would pair lower-body videos with upper-body garments. With category folders, ``category=`` reads one.

    Any video may be a file of any video suffix or a folder of frames. ``densepose_format`` comes from
    layout.json, else ViViD's own ``"detectron2_parts"``. ``worn_mask`` goes to ``extra["worn_mask"]``;
    SynthVVT ground truth of an unpaired sample to ``extra["gt_person"]`` / ``extra["gt_worn_mask"]``.
    Other keywords are those of :func:`read_layout`.
    """
    return read_layout(root, "vivid", split, pairs, **options)


def read_vivid_s(root: str | Path, split: str = "test", pairs: str = "paired", **options) -> list[Sample]:
    """Read ViViD-S, the ViViD test split of CatV2TON (Zheng-Chong/CatV2TON), on which later papers compare.

    Expected tree (CatV2TON's ``eval_video_try_on.py`` ``ViViDTestDataset``; the training lists as its
    ``data/video_dataset.py`` ``ImageVideoDataset`` reads them)::

        ROOT/test_data_180.jsonl            paired test list, one JSON object per line:
            {"subdir": "upper_body", "video": "<vid>.mp4", "image": "<garment>.jpg", "front_seqs": [start, end]}
        ROOT/test_data_180_unpaired.jsonl   unpaired test list, the same keys
        ROOT/<subdir>/videos/<vid>.mp4                  person video (required)
        ROOT/<subdir>/images/<garment>.jpg              garment photo (required)
        ROOT/<subdir>/agnostic_mask_smoothed/<vid>.mp4  agnostic mask (optional; agnostic_mask/ accepted)
        ROOT/<subdir>/densepose/<vid>.mp4               DensePose, detectron2 part colour map (optional)
        ROOT/<subdir>/train_data.jsonl      (split="train") {"video", "image", "front_seqs": [[start, end], ...]}

    ``<subdir>`` is ``upper_body``, ``lower_body`` or ``dresses`` (CatV2TON's ``overall``). Samples are named
    ``<subdir>/<vid>`` (unpaired: ``<subdir>/<vid>__<garment stem>``). ``front_seqs`` goes to
    ``Sample.frame_ranges``, the ``[start, end)`` frames (front-facing, ``end`` clipped to the video) that
    CatV2TON runs and scores: ``vvt eval`` and ``vvt bench quality`` score only those frames (the prediction
    holds only them; :mod:`vvt.eval.inputs`), and training draws its clips inside them
    (:class:`vvt.data.datasets.TryOnDataset`). With ``check``, a sample whose ranges lie wholly outside its
    video is skipped. The unpaired list has no ground truth: ``vvt eval --pairs unpaired`` scores it with
    VFID/FID/KID against the person videos, as CatV2TON's unpaired tables. ViViD-S has no agnostic video.
    Other keywords are those of :func:`read_layout`.
    """
    return read_layout(root, "vivid_s", split, pairs, **options)


def read_vitonhd(root: str | Path, split: str = "test", pairs: str = "paired", **options) -> list[Sample]:
    """Read VITON-HD (shadow2496/VITON-HD, the ``zalando-hd-resized`` release) with StableVITON's extras.

    Expected tree (naming of the release and of StableVITON's ``dataset.py``, rlawjdghek/StableVITON)::

        ROOT/train_pairs.txt, ROOT/test_pairs.txt      lines "<person>.jpg <cloth>.jpg"
        ROOT/{train,test}/image/<person>.jpg            person photo (required)
                         cloth/<cloth>.jpg              garment photo (required)
                         cloth-mask/<cloth>.jpg         garment mask (.jpg in the release, .png accepted)
                         agnostic-v3.2/<person>.jpg     clothing-agnostic person
                         agnostic-mask/<stem>_mask.png  agnostic mask, white = inpaint (StableVITON)
                         image-densepose/<person>.jpg   DensePose, detectron2 part colour map
                         openpose_json/<stem>_keypoints.json  OpenPose BODY_25 (``keypoints``)
                         openpose_img/<stem>_rendered.png     rendered skeleton (``skeleton``)
                         image-parse-v3/<stem>.png      human parsing (``extra["parse"]``)

    ``train_pairs.txt`` pairs each person with its own cloth; ``test_pairs.txt`` is the unpaired test list
    (a person with another cloth). As in StableVITON, the paired test garment is the cloth named like the
    person. Images are 1-frame samples (``is_video=False``), category upper. Other keywords are those of
    :func:`read_layout`.
    """
    return read_layout(root, "vitonhd", split, pairs, **options)


def read_dresscode(root: str | Path, split: str = "test", pairs: str = "paired", **options) -> list[Sample]:
    """Read Dress Code (aimagelab/dress-code) with LaDI-VTON's garment masks and CatVTON's agnostic masks.

    Expected tree (naming of the official ``data/dataset.py``; ``masks/`` as in LaDI-VTON's README;
    ``agnostic_masks/`` as CatVTON's ``preprocess_agnostic_mask.py`` writes it, for the persons of
    ``test_pairs_paired.txt`` only, so a train read has none)::

        ROOT/{upper_body,lower_body,dresses}/   (or ROOT is one category folder; else pass category=)
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

    Dress Code has no agnostic person image. Images are 1-frame samples (``is_video=False``); skeletons and
    label maps stored at half the photo's size are accepted (proportional). Other keywords are those of
    :func:`read_layout`.
    """
    return read_layout(root, "dresscode", split, pairs, **options)


def read_vvt(root: str | Path, split: str = "test", pairs: str = "paired", **options) -> list[Sample]:
    """Read the VVT dataset of FW-GAN (Dong et al., ICCV 2019) as released and as CatV2TON reads it.

    Expected tree (FW-GAN's release; naming from CatV2TON's ``VVTTestDataset`` in ``eval_video_try_on.py``
    and the VVT loaders of ShineOn / VVTON, which read the same folders)::

        ROOT/{train,test}_frames/<vid>/*.png            person frames (the competition release prefixes
                                                       every folder with ``lip_``; both are accepted)
        ROOT/{train,test}_frames_keypoint/<vid>/<frame>_keypoints.json   OpenPose COCO-18 per frame
        ROOT/lip_clothes_person/<vid>/<VID>@<n>=cloth_front.jpg          garment photo (also clothes_person/);
                                 ...=cloth_front_mask.jpg                garment mask, when present
        ROOT/test_person_clothes_pose_tuple.txt        lines "<person vid> <clothes vid> <pose vid>"
        ROOT/test_agn_mask[_new]/<vid>/                CatV2TON's agnostic masks (frame folders)
        ROOT/test_densepose-magcianimate/<vid>/        CatV2TON's DensePose (detectron2 part colour map)

    ``<vid>`` is a lower-case id such as ``4he21d00f-g11``. Paired: each video with the garment of its own
    folder in lip_clothes_person; unpaired (test only): the clothes column of the tuple list. All VVT
    garments are upper-body. Unpaired samples are named ``<vid>__<clothes vid>``. Frames are sorted in
    natural order; ``keypoints`` is the video's folder of per-frame OpenPose files
    (:func:`vvt.pose.openpose.load_keypoints` reads it). Other keywords are those of :func:`read_layout`.
    """
    return read_layout(root, "vvt", split, pairs, **options)


def read_fashionvideo(root: str | Path, split: str = "test", pairs: str = "paired", **options) -> list[Sample]:
    """Read the UBC FashionVideo dataset (DwNet, Zablotskaia et al., BMVC 2019) as its crawler writes it.

    Expected tree (the dataset page's ``fashion_train.txt`` / ``fashion_test.txt`` and its
    ``data_crowler.py``, which saves each URL's basename under ``train/`` or ``test/``)::

        ROOT/fashion_train.txt, ROOT/fashion_test.txt   one video URL per line
        ROOT/train/<name>.mp4, ROOT/test/<name>.mp4      e.g. 91D23ZVV6NS.mp4

    The dataset has person videos only: ``garment`` and all conditioning streams are None (FashionMirror
    Sec. 4.1 retrieves the garment from the frontal frame). Run ``vvt preprocess`` to add skeletons and
    agnostic videos; its output reads with ``layout="vivid"``. Without the URL list every video of the split
    folder is used; a listed video not downloaded (or, with ``check``, unreadable) is skipped. ``category``
    defaults to dresses (most FashionVideo outfits are dresses); ``pairs`` is accepted for a uniform API and
    ignored (there are no garments to pair). Other keywords are those of :func:`read_layout`.
    """
    return read_layout(root, "fashionvideo", split, pairs, **options)
