"""Torch datasets over :mod:`vvt.data.layouts` samples, yielding the shared tensor contract.

An item is a dict (no batch dimension; ``N`` frames at the target ``(H, W)``)::

    person, agnostic, skeleton, gt_person   (N, 3, H, W) float in [-1, 1]
    agnostic_mask, worn_mask, gt_worn_mask  (N, 1, H, W) float in {0, 1} (1 = inpaint / garment)
    densepose                               (N, 3, H, W) vvt IUV RGB in [-1, 1]
    garment                                 (3, H, W) float in [-1, 1]
    garment_mask                            (1, H, W) float in {0, 1}
    name, category, dataset                 str
    frame_indices                           (N,) int64, the source frames of the clip
    flipped                                 bool, whether the sample was mirrored

Only the streams named in ``streams=`` are read. A partial download (:mod:`vvt.data.layouts` leaves a
stream None for the samples that lack it) still trains: samples lacking a requested stream are left out
when the dataset is built, with a warning that counts them; ``strict=True`` raises instead, and so does a
stream that no sample has. Nothing is found missing in the middle of an epoch. Images (VITON-HD, Dress
Code) are 1-frame clips (``N = 1``), so image and video datasets train together (RealVVT Sec. 4, "we
jointly train using both image datasets and high-resolution video datasets"); :class:`MixedDataset` mixes
them with weights.

Geometry, the same for every per-frame stream of a sample: an aspect-preserving resize that covers the
target (bilinear with antialiasing for RGB; nearest for masks and DensePose, so labels stay labels), then
a centre or random crop to ``(H, W)``. A stream stored at a proportional lower resolution (Dress Code's
512x384 skeletons beside 1024x768 photos) is resized straight to the size the first stream was scaled to,
so every stream of a sample covers the same pixels. The garment photo is *fitted* inside ``(H, W)``
instead (resize so it fits, pad with white; its mask with 0) so no sleeve is cropped away. A random
horizontal flip mirrors every stream of the sample, garment and garment mask included: the mirrored
person wears the mirrored garment, so prints and asymmetric cuts stay consistent between them. Flipping
mirrors pixels only: a mirrored DensePose or skeleton frame keeps its part colours, so left/right labels
swap sides with the image (the usual practice of try-on training code).

Randomness (clip start, stride, crop, flip) comes from a generator seeded by ``(seed, epoch, index)``, so
a sample is reproducible from its index, the epoch (:meth:`TryOnDataset.set_epoch`) and the seed, in any
worker process. Video frames are decoded sequentially up to the last frame the clip needs and no further;
frame folders read only the needed files.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from vvt.data.layouts import EXTRA_STREAMS
from vvt.data.sample import Sample
from vvt.errors import ConfigError, LayoutError, VideoError
from vvt.io import frame_files, iter_frames, read_image, video_info
from vvt.pose.densepose import DENSEPOSE_FORMATS, to_vvt_iuv

log = logging.getLogger(__name__)

RGB_STREAMS = ("person", "agnostic", "skeleton", "gt_person")
MASK_STREAMS = ("agnostic_mask", "worn_mask", "gt_worn_mask")
FRAME_STREAMS = RGB_STREAMS + MASK_STREAMS + ("densepose",)
GARMENT_STREAMS = ("garment", "garment_mask")
ALL_STREAMS = FRAME_STREAMS + GARMENT_STREAMS
#: what RealVVT trains on (Sec. 3.2): person, agnostic video, agnostic mask, DensePose, garment
DEFAULT_STREAMS = ("person", "agnostic", "agnostic_mask", "densepose", "garment", "garment_mask")
#: what FashionMirror trains on (Sec. 4.1, FashionVideo): person frames and their skeletons
SEQUENCE_STREAMS = ("person", "skeleton")


def stream_path(sample: Sample, name: str) -> Path | None:
    """The file of stream ``name`` of ``sample`` (``worn_mask`` / ``gt_*`` live in ``sample.extra``)."""
    if name in EXTRA_STREAMS:
        return sample.extra.get(name)
    return getattr(sample, name)


def item_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator whose state depends only on ``(seed, epoch, index)`` (numpy SeedSequence mixing)."""
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)


def _randint(high: int, gen: torch.Generator) -> int:
    """Uniform integer in ``[0, high)``."""
    return int(torch.randint(high, (1,), generator=gen).item())


def read_clip(path: Path, indices: Sequence[int]) -> np.ndarray:
    """Frames ``indices`` (ascending or not) of a video file or frame folder as ``(len, H, W, 3)`` uint8.

    A frame folder reads only the needed files; a video file is decoded from the start up to the largest
    index and closed there (H.264 decodes forward from a keyframe anyway; clips are short).
    """
    path = Path(path)
    wanted = sorted(set(indices))
    if path.is_dir():
        files = frame_files(path)
        if wanted and wanted[-1] >= len(files):
            raise VideoError(path, f"has {len(files)} frames, frame {wanted[-1]} was requested")
        got = {i: read_image(files[i]) for i in wanted}
    else:
        got = {}
        last, needed = wanted[-1], set(wanted)
        with contextlib.closing(iter_frames(path)) as frames:
            for i, frame in enumerate(frames):
                if i in needed:
                    got[i] = frame
                if i >= last:
                    break
        if last not in got:
            raise VideoError(path, f"has fewer than {last + 1} frames (frame {last} was requested)")
    return np.stack([got[i] for i in indices])


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` float32 in [0, 255]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()


def _resize(x: torch.Tensor, size: tuple[int, int], nearest: bool) -> torch.Tensor:
    """Resize ``(N, C, h, w)`` to ``size``: nearest for labels/masks, antialiased bilinear otherwise."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if nearest:
        return F.interpolate(x, size=size, mode="nearest-exact")
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def cover_size(src: tuple[int, int], dst: tuple[int, int]) -> tuple[int, int]:
    """Size of ``src`` (h, w) scaled, aspect preserved, to the smallest size that covers ``dst``."""
    scale = max(dst[0] / src[0], dst[1] / src[1])
    return max(dst[0], round(src[0] * scale)), max(dst[1], round(src[1] * scale))


def fit_size(src: tuple[int, int], dst: tuple[int, int]) -> tuple[int, int]:
    """Size of ``src`` (h, w) scaled, aspect preserved, to the largest size that fits inside ``dst``."""
    scale = min(dst[0] / src[0], dst[1] / src[1])
    return min(dst[0], max(1, round(src[0] * scale))), min(dst[1], max(1, round(src[1] * scale)))


class TryOnDataset(Dataset):
    """Clips (or 1-frame image samples) of try-on samples at a target size, as the tensor contract says.

    Args:
        samples: records from :func:`vvt.data.layouts.read_layout`.
        size: target ``(H, W)``, e.g. ``(512, 384)`` (RealVVT Sec. 4 trains at 512x384).
        clip_len: frames per video clip ``N`` (images always give ``N = 1``).
        stride: frame step inside a clip, an int or an inclusive ``(low, high)`` range drawn per item.
            When the clip does not fit at that stride, the largest stride that fits is used; a video shorter
            than ``clip_len`` repeats its last frame.
        streams: streams to load (see :data:`ALL_STREAMS`); default :data:`DEFAULT_STREAMS`.
        random_start: draw the clip start uniformly (training); False starts at frame 0 (evaluation).
            A sample with ``frame_ranges`` (CatV2TON's ViViD-S ``front_seqs``: the front-facing stretches of
            a video) draws its clip inside one of them, picked uniformly (the first when not ``random_start``),
            as CatV2TON's ``ImageVideoDataset`` does; a clip longer than the range repeats its last frame.
        crop: ``"center"`` or ``"random"`` crop after the covering resize.
        flip_prob: probability of mirroring the whole sample.
        seed: base seed of the per-item generators.
        label: name used in error messages (default: the samples' dataset).
        strict: raise when a sample lacks a requested stream, instead of leaving it out with a warning.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        size: tuple[int, int] = (512, 384),
        *,
        clip_len: int = 16,
        stride: int | tuple[int, int] = 1,
        streams: Sequence[str] = DEFAULT_STREAMS,
        random_start: bool = True,
        crop: str = "center",
        flip_prob: float = 0.0,
        seed: int = 0,
        label: str | None = None,
        strict: bool = False,
    ):
        self.samples = list(samples)
        self.strict = bool(strict)
        self.size = (int(size[0]), int(size[1]))
        self.clip_len = int(clip_len)
        self.stride = (stride, stride) if isinstance(stride, int) else (int(stride[0]), int(stride[1]))
        self.streams = tuple(streams)
        self.random_start = random_start
        self.crop = crop
        self.flip_prob = float(flip_prob)
        self.seed = int(seed)
        self.epoch = 0
        self.label = label or (self.samples[0].dataset if self.samples else "dataset")
        self._lengths: dict[int, int] = {}
        self._check_arguments()
        self._check_samples()

    # ------------------------------------------------------------------ validation

    def _check_arguments(self) -> None:
        unknown = [s for s in self.streams if s not in ALL_STREAMS]
        if unknown:
            raise ConfigError(f"unknown stream(s) {', '.join(unknown)}; known: {', '.join(ALL_STREAMS)}")
        if not any(s in FRAME_STREAMS for s in self.streams):
            raise ConfigError(f"streams {self.streams} name no per-frame stream (e.g. person)")
        if self.crop not in ("center", "random"):
            raise ConfigError(f"crop must be 'center' or 'random', got {self.crop!r}")
        if self.clip_len < 1 or not 1 <= self.stride[0] <= self.stride[1]:
            raise ConfigError(f"need clip_len >= 1 and 1 <= stride low <= high, "
                              f"got {self.clip_len}, {self.stride}")
        if min(self.size) < 1 or not 0.0 <= self.flip_prob <= 1.0:
            raise ConfigError(f"bad size {self.size} or flip_prob {self.flip_prob}")

    def _check_samples(self) -> None:
        """Leave out (with one warning) the samples lacking a requested stream; one error listing, per stream,
        the samples that lack it when that leaves none, or under ``strict``."""
        if not self.samples:
            raise LayoutError(self.label, ["no samples"])
        problems = []
        lacking = {name: [s.name for s in self.samples if stream_path(s, name) is None] for name in self.streams}
        for name, names in lacking.items():
            if names:
                shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
                problems.append(f"stream {name!r} is missing for {len(names)} of {len(self.samples)} "
                                f"samples ({shown}); load fewer streams (streams=) or preprocess the data")
        left_out = set().union(*lacking.values())
        if problems and not self.strict and len(left_out) < len(self.samples):
            log.warning("%s: %d of %d samples left out, they lack requested streams:\n%s", self.label,
                        len(left_out), len(self.samples), "\n".join(f"  - {p}" for p in problems))
            self.samples = [s for s in self.samples if s.name not in left_out]
            problems = []
        if "densepose" in self.streams:
            formats = sorted({s.densepose_format for s in self.samples} - set(DENSEPOSE_FORMATS))
            if formats:
                problems.append(f"DensePose format(s) {', '.join(formats)} cannot be converted to vvt IUV "
                                f"(known: {', '.join(DENSEPOSE_FORMATS)}); run vvt preprocess for DensePose")
        if problems:
            raise LayoutError(self.label, problems)

    # ------------------------------------------------------------------ sampling

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch, so every epoch draws new clips, crops and flips (reproducibly)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def num_frames(self, index: int) -> int:
        """Frame count of sample ``index`` (1 for images), read once from the first per-frame stream."""
        sample = self.samples[index]
        if not sample.is_video:
            return 1
        if index not in self._lengths:
            first = next(s for s in self.streams if s in FRAME_STREAMS)
            self._lengths[index] = video_info(stream_path(sample, first)).num_frames
        return self._lengths[index]

    def clip_indices(self, index: int, gen: torch.Generator) -> list[int]:
        """Source frames of a clip of video sample ``index``: :meth:`frame_indices` of the whole video, or of
        one of its ``frame_ranges`` (ends clipped to the video; ranges outside it are ignored, and a sample
        with none left uses the whole video)."""
        num_frames = self.num_frames(index)
        ranges = [(a, min(b, num_frames)) for a, b in self.samples[index].frame_ranges if a < min(b, num_frames)]
        if not ranges:
            return self.frame_indices(num_frames, gen)
        start, end = ranges[_randint(len(ranges), gen) if self.random_start and len(ranges) > 1 else 0]
        return [start + i for i in self.frame_indices(end - start, gen)]

    def frame_indices(self, num_frames: int, gen: torch.Generator) -> list[int]:
        """Source frames of a clip: ``clip_len`` frames at a (drawn) stride from a (drawn) start."""
        n = self.clip_len
        stride = self.stride[0] + _randint(self.stride[1] - self.stride[0] + 1, gen)
        if n > 1 and (n - 1) * stride + 1 > num_frames:
            stride = max(1, (num_frames - 1) // (n - 1))
        span = (n - 1) * stride + 1
        start = _randint(num_frames - span + 1, gen) if self.random_start and span <= num_frames else 0
        return [min(start + k * stride, num_frames - 1) for k in range(n)]

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        gen = item_generator(self.seed, self.epoch, index)
        if sample.is_video:
            indices = self.clip_indices(index, gen)
        else:
            indices = [0]
        item: dict = {"name": sample.name, "category": sample.category, "dataset": sample.dataset,
                      "frame_indices": torch.tensor(indices, dtype=torch.long)}
        geometry: tuple[tuple[int, int], int, int] | None = None
        flip = None
        for name in self.streams:
            if name in GARMENT_STREAMS:
                continue
            path = stream_path(sample, name)
            frames = read_clip(path, indices) if sample.is_video else read_image(path)[None]
            if geometry is None:
                geometry = self._draw_geometry(frames.shape[1:3], gen)
                flip = bool(torch.rand((), generator=gen).item() < self.flip_prob)
            item[name] = self._frame_stream(name, frames, sample, geometry, flip)
        item["flipped"] = bool(flip)
        for name in GARMENT_STREAMS:
            if name in self.streams:
                item[name] = self._garment_stream(name, stream_path(sample, name), bool(flip))
        return item

    def _draw_geometry(self, src: tuple[int, int], gen: torch.Generator) -> tuple[tuple[int, int], int, int]:
        scaled = cover_size(tuple(src), self.size)
        if self.crop == "random":
            top = _randint(scaled[0] - self.size[0] + 1, gen)
            left = _randint(scaled[1] - self.size[1] + 1, gen)
        else:
            top, left = (scaled[0] - self.size[0]) // 2, (scaled[1] - self.size[1]) // 2
        return scaled, top, left

    # ------------------------------------------------------------------ per-stream conversion

    def _frame_stream(self, name: str, frames: np.ndarray, sample: Sample,
                      geometry: tuple[tuple[int, int], int, int], flip: bool) -> torch.Tensor:
        scaled, top, left = geometry  # a stream of another size is resized straight to the same `scaled`
        h, w = self.size
        if name in MASK_STREAMS:
            x = (_to_tensor(frames).mean(dim=1, keepdim=True) >= 128).float()
            x = _resize(x, scaled, nearest=True)
        elif name == "densepose":
            x = _resize(_to_tensor(to_vvt_iuv(frames, sample.densepose_format)), scaled, nearest=True)
            x = x / 127.5 - 1.0
        else:
            x = _resize(_to_tensor(frames), scaled, nearest=False).clamp(0, 255) / 127.5 - 1.0
        x = x[..., top:top + h, left:left + w]
        return x.flip(-1).contiguous() if flip else x.contiguous()

    def _garment_stream(self, name: str, path: Path, flip: bool) -> torch.Tensor:
        image = read_image(path)
        fitted = fit_size(image.shape[:2], self.size)
        if name == "garment_mask":
            binary = (_to_tensor(image[None]).mean(dim=1, keepdim=True) >= 128).float()
            x = _resize(binary, fitted, nearest=True)
            fill = 0.0
        else:
            x = _resize(_to_tensor(image[None]), fitted, nearest=False).clamp(0, 255) / 127.5 - 1.0
            fill = 1.0
        h, w = self.size
        top, left = (h - fitted[0]) // 2, (w - fitted[1]) // 2
        x = F.pad(x, (left, w - fitted[1] - left, top, h - fitted[0] - top), value=fill)[0]
        return x.flip(-1).contiguous() if flip else x.contiguous()


class FrameSequenceDataset(TryOnDataset):
    """FashionMirror training sequences: ``num_frames`` frames with a random skip of 0..``max_skip`` frames
    between consecutive ones (FashionMirror Sec. 3.2 and Sec. 4.1: "every iteration generates 6 frames and
    the consecutive frames randomly skip 0 - 2 frames in the source video").

    Each gap is drawn independently per item. When the drawn gaps do not fit the video, the gaps are
    shrunk to the largest uniform skip that fits (down to 0); a video shorter than ``num_frames``
    repeats its last frame. Defaults load :data:`SEQUENCE_STREAMS` (person + skeleton), which
    FashionVideo provides after ``vvt preprocess``; other arguments are those of :class:`TryOnDataset`.
    """

    def __init__(self, samples: Sequence[Sample], size: tuple[int, int] = (256, 256), *, num_frames: int = 6,
                 max_skip: int = 2, streams: Sequence[str] = SEQUENCE_STREAMS, **kwargs):
        if max_skip < 0:
            raise ConfigError(f"max_skip must be >= 0, got {max_skip}")
        self.max_skip = int(max_skip)
        super().__init__(samples, size, clip_len=num_frames, streams=streams, **kwargs)

    def frame_indices(self, num_frames: int, gen: torch.Generator) -> list[int]:
        """Frames ``start, start + 1 + s_1, ...`` with skips ``s_k`` uniform in ``0..max_skip``."""
        n = self.clip_len
        steps = (1 + torch.randint(self.max_skip + 1, (max(n - 1, 0),), generator=gen)).tolist()
        if sum(steps) + 1 > num_frames:
            step = max(1, (num_frames - 1) // max(n - 1, 1))
            steps = [step] * (n - 1)
        offsets = np.concatenate([[0], np.cumsum(steps)]).astype(int)
        span = int(offsets[-1]) + 1
        start = _randint(num_frames - span + 1, gen) if self.random_start and span <= num_frames else 0
        return [min(start + int(o), num_frames - 1) for o in offsets]


class MixedDataset(Dataset):
    """A weighted mix of datasets (e.g. ViViD videos with VITON-HD / Dress Code images, RealVVT Sec. 4).

    Item ``i`` belongs to batch ``i // batch_size``; the dataset of a batch is drawn with probability
    proportional to ``weights`` from a generator seeded by ``(seed, epoch, batch)``, and the item inside it
    uniformly from ``(seed, epoch, i)``. Every batch therefore comes from ONE dataset, so its clips share
    ``N`` and the default collate works: use it with ``DataLoader(mixed, batch_size=batch_size,
    shuffle=False)``. ``length`` is the number of items per epoch.
    """

    def __init__(self, datasets: Sequence[Dataset], weights: Sequence[float], length: int, *,
                 batch_size: int = 1, seed: int = 0):
        if len(datasets) != len(weights) or not datasets:
            raise ConfigError(f"need one weight per dataset, got {len(datasets)} datasets and "
                              f"{len(weights)} weights")
        w = torch.tensor([float(x) for x in weights], dtype=torch.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ConfigError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
        empty = [i for i, d in enumerate(datasets) if len(d) == 0]
        if empty:
            raise ConfigError(f"dataset(s) {empty} of the mix are empty")
        if length < 1 or batch_size < 1:
            raise ConfigError(f"need length >= 1 and batch_size >= 1, got {length}, {batch_size}")
        self.datasets = list(datasets)
        self.weights = w / w.sum()
        self.length = int(length)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch here and in every mixed dataset that has ``set_epoch``."""
        self.epoch = int(epoch)
        for d in self.datasets:
            if hasattr(d, "set_epoch"):
                d.set_epoch(epoch)

    def __len__(self) -> int:
        return self.length

    def locate(self, index: int) -> tuple[int, int]:
        """``(dataset number, index inside it)`` of item ``index`` this epoch, without loading anything."""
        batch_gen = item_generator(self.seed, self.epoch, index // self.batch_size)
        which = int(torch.multinomial(self.weights, 1, generator=batch_gen).item())
        inner = _randint(len(self.datasets[which]), item_generator(self.seed + 1, self.epoch, index))
        return which, inner

    def __getitem__(self, index: int) -> dict:
        which, inner = self.locate(index)
        return self.datasets[which][inner]
