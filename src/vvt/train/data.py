"""A resumable, multi-process, weighted stream of training batches.

Exact resume needs the data position to be a number: the stream here is a pure function of
``(seed, global batch index)``, so a run restarted at step ``k`` continues with the very batches (same
samples, same augmentation randomness) an uninterrupted run would have used, whatever the number of
DataLoader workers.

* Global batch ``g`` comes from source ``s(g)``, drawn with the sources' weights (chunks of
  :data:`CHUNK` draws, each seeded by ``(seed, chunk)``). A batch never mixes sources.
* Source ``s`` is read along its own endless stream of epochs, each a fresh permutation seeded by
  ``(seed, s, epoch)``; batch ``g`` takes the next ``batch_size`` positions of that stream (positions are
  counted over the earlier global batches of the same source).
* Process ``r`` of ``W`` takes global batches ``r, r + W, r + 2W, ...``: a two-process run with batch ``B``
  sees exactly the batches of a one-process run with ``B`` and 2 gradient-accumulation micro-steps.
* Each sample is loaded with Python's, NumPy's and torch's global RNGs seeded from ``(seed, s, position)``
  (and restored afterwards), so datasets that draw their crops/flips from the global RNGs are reproducible;
  datasets with ``set_epoch`` (:class:`vvt.data.datasets.TryOnDataset`, which draws from a generator seeded by
  ``(its seed, epoch, index)``) are told the epoch of the position first, so each epoch gets new clips.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import count
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

#: source choices are drawn in chunks of this many global batches
CHUNK = 1024
Key = tuple[int, int, int, int]  # (source, index in source, epoch of the source stream, item seed)


@contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """Seed ``random``, ``numpy.random`` and torch's CPU RNG inside the block; restore them after it."""
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002 (the global RNG is the point)
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed % 2**32)  # noqa: NPY002
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002


class BatchStream(Sampler[list[Key]]):
    """Endless batches of keys ``(source, index, epoch, item_seed)`` for :class:`KeyedDataset`.

    Args:
        sizes: number of samples of each source.
        weights: relative probability that a batch comes from each source.
        batch_size: samples per batch.
        seed: the run's seed.
        rank, world_size: this process and the number of processes.
        start: the first per-process batch to yield (``step * gradient_accumulation_steps`` on resume).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        weights: Sequence[float],
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start: int = 0,
    ):
        if not sizes or min(sizes) < 1:
            raise ValueError(f"every source needs at least one sample, got sizes {list(sizes)}")
        if len(weights) != len(sizes) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(
                f"need one non-negative weight per source with a positive sum, got {list(weights)}"
            )
        self.sizes = list(sizes)
        self.p = np.asarray(weights, dtype=np.float64) / float(sum(weights))
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size, self.start = rank, world_size, start
        self._chunks: dict[int, np.ndarray] = {}
        self._prefix: list[np.ndarray] = [np.zeros(len(sizes), dtype=np.int64)]  # counts before chunk c
        self._perms: dict[tuple[int, int], np.ndarray] = {}

    def _chunk(self, c: int) -> np.ndarray:
        if c not in self._chunks:
            rng = np.random.default_rng([self.seed, 0xC4A2, c])
            self._chunks = {c: rng.choice(len(self.sizes), size=CHUNK, p=self.p)}
        return self._chunks[c]

    def _earlier(self, g: int) -> tuple[int, int]:
        """Source of global batch ``g`` and how many earlier global batches came from that source."""
        if len(self.sizes) == 1:
            return 0, g
        c, i = divmod(g, CHUNK)
        while len(self._prefix) <= c:
            k = len(self._prefix) - 1
            self._prefix.append(self._prefix[k] + np.bincount(self._chunk(k), minlength=len(self.sizes)))
        choices = self._chunk(c)
        s = int(choices[i])
        return s, int(self._prefix[c][s] + np.count_nonzero(choices[:i] == s))

    def _index(self, s: int, epoch: int, i: int) -> int:
        if (s, epoch) not in self._perms:
            if len(self._perms) > 8:
                self._perms.clear()
            self._perms[s, epoch] = np.random.default_rng([self.seed, s, epoch]).permutation(self.sizes[s])
        return int(self._perms[s, epoch][i])

    def global_batch(self, g: int) -> list[Key]:
        """The keys of global batch ``g`` (the same on every process and every run with this seed)."""
        s, earlier = self._earlier(g)
        keys = []
        for position in range(earlier * self.batch_size, (earlier + 1) * self.batch_size):
            epoch, i = divmod(position, self.sizes[s])
            item_seed = int(np.random.SeedSequence([self.seed, s, position]).generate_state(1)[0])
            keys.append((s, self._index(s, epoch, i), epoch, item_seed))
        return keys

    def __iter__(self) -> Iterator[list[Key]]:
        for b in count(self.start):
            yield self.global_batch(b * self.world_size + self.rank)


class KeyedDataset(Dataset):
    """Several map-style datasets addressed by :class:`BatchStream` keys."""

    def __init__(self, sources: Sequence[Dataset]):
        self.sources = list(sources)

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def __getitem__(self, key: Key):
        s, index, epoch, item_seed = key
        source = self.sources[s]
        if hasattr(source, "set_epoch"):
            source.set_epoch(epoch)
        with seeded_global_rngs(item_seed):
            return source[index]


#: the seed of :func:`limited`'s draw, fixed so that a curriculum's stages see the same samples
LIMIT_SEED = 0


def limited(samples: Sequence[Any], limit: int) -> list[Any]:
    """``limit`` of ``samples`` (all of them if there are fewer), drawn without replacement with the fixed
    :data:`LIMIT_SEED` and kept in their original order: a source's ``limit`` (a curriculum on a few garments)."""
    if limit >= len(samples):
        return list(samples)
    keep = sorted(np.random.default_rng(LIMIT_SEED).choice(len(samples), size=limit, replace=False).tolist())
    return [samples[i] for i in keep]


def build_sources(
    data: Any,
    streams: Sequence[str],
    seed: int,
    dataset_cls: type[Dataset] | None = None,
    **clip: Any,
) -> list[tuple[Dataset, float]]:
    """The training datasets of a :class:`~vvt.train.config.DataConfig` with their mixing weights.

    Every source is read with :func:`vvt.data.layouts.read_layout` (paired training samples, streams checked
    for matching lengths and sizes; a sample that cannot be read is skipped, or with ``strict`` (the source's,
    else ``data.strict``) raises) and wrapped in ``dataset_cls`` at ``data.size`` loading ``streams``, with
    random clip starts, centre crops and (``data.flip``) random flips seeded from ``seed``. The default is a
    :class:`vvt.data.datasets.TryOnDataset` of ``data.frames``-frame clips with ``data.frame_stride``
    (images: 1-frame clips); another class (e.g. :class:`~vvt.data.datasets.FrameSequenceDataset`) gets its
    clip arguments as ``clip``. A missing or malformed dataset raises :class:`~vvt.errors.LayoutError` here,
    before any training.
    """
    from vvt.data.datasets import TryOnDataset
    from vvt.data.layouts import read_layout
    from vvt.errors import ConfigError

    if not data.sources:
        raise ConfigError(
            "data.sources is empty: list at least one dataset, e.g. "
            "data.sources=[{root: DATA_DIR}] (a SynthVVT or ViViD folder)"
        )
    if dataset_cls is None:
        dataset_cls, clip = TryOnDataset, {"clip_len": data.frames, "stride": data.frame_stride}
    built = []
    for source in data.sources:
        strict = data.strict if source.strict is None else source.strict
        samples = read_layout(source.root, source.layout, split=source.split, pairs="paired", strict=strict)
        if source.limit is not None:
            samples = limited(samples, source.limit)
        dataset = dataset_cls(
            samples,
            tuple(data.size),
            streams=streams,
            random_start=True,
            crop="center",
            flip_prob=0.5 if data.flip else 0.0,
            seed=seed,
            label=str(source.root),
            **clip,
        )
        if source.task == "garment_inpainting":
            from vvt.train.garment_inpainting import GarmentInpaintingDataset

            if "garment" not in streams:
                raise ConfigError(f"data.sources {source.root}: task garment_inpainting needs the garment stream")
            dataset = GarmentInpaintingDataset(dataset, data.frames)
        built.append((dataset, float(source.weight)))
    return built
