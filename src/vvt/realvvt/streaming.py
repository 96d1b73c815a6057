"""Long videos in bounded host memory: conditions decoded a window at a time, output encoded as produced.

:func:`vvt.realvvt.long_video.iter_long_video` reads its conditions through a
:data:`~vvt.realvvt.long_video.ClipSource` (the frames of one call) and yields the try-on frames in order.
This module gives it video files as sources and :func:`vvt.io.write_video` a frame iterator:

- :class:`FrameWindows`: the frames of one stream (a video file or a frame folder) by index, decoded on
  demand with :func:`vvt.io.iter_frames`. Consecutive windows (Step 2 of Algorithm 1) are read in one
  forward pass that holds only the frames of the current window; a sparse set of indices (the keyframes,
  Step 1) is read in one pass of its own that keeps only those frames.
- :class:`StreamConditions`: the prepared streams of one video (agnostic, mask, DensePose, person), with the
  interface :mod:`vvt.realvvt.tryon` uses (also offered by the in-memory
  :class:`~vvt.realvvt.tryon.VideoConditions`): ``num_frames``, ``size``, ``fps``, ``name``,
  ``load(indices)``, ``iter_densepose()`` (the one cheap pass of keyframe selection) and ``iter_paste()``
  (the person frame and mask of each output frame, in order).

Host memory then holds the keyframes, one clip's conditions and a frame of output, whatever the video's
length (measured by ``vvt bench longvideo``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vvt.errors import InputFileError, ShapeMismatchError

logger = logging.getLogger(__name__)


class FrameWindows:
    """The frames of the stream at ``path`` by index, decoded on demand (see the module docstring).

    Args:
        path: a video file or a folder of frames (:func:`vvt.io.iter_frames`).
        num_frames: frames of the stream to use (the first ``num_frames``).
        convert: applied to each decoded ``(H, W, 3)`` uint8 frame (e.g. a mask threshold).
    """

    def __init__(self, path: str | Path, num_frames: int, convert: Callable[[np.ndarray], np.ndarray] | None = None):
        self.path = Path(path)
        self.num_frames = num_frames
        self.convert = convert or (lambda frame: frame)
        self._frames: Iterator[np.ndarray] | None = None
        self._next = 0  # index of the next frame self._frames yields
        self._window: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.num_frames

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame, in order, one at a time (its own decoder)."""
        from vvt.io import iter_frames

        for i, frame in enumerate(iter_frames(self.path)):
            if i >= self.num_frames:
                return
            yield self.convert(frame)

    def __getitem__(self, indices: np.ndarray) -> np.ndarray:
        """The frames ``indices`` (sorted ints) stacked. Consecutive indices continue the forward pass of the
        window reader (restarted when they go back before its window); any other set is read in a pass of
        its own."""
        indices = [int(i) for i in np.asarray(indices).ravel()]
        if not indices:
            raise ShapeMismatchError(f"{self.path}: no frame indices asked for")
        if indices[0] < 0 or indices[-1] >= self.num_frames or indices != sorted(set(indices)):
            raise ShapeMismatchError(f"{self.path}: frame indices must be sorted and in [0, {self.num_frames})")
        if indices != list(range(indices[0], indices[-1] + 1)):
            return self._sparse(indices)
        if indices[0] < self._next and indices[0] not in self._window:
            self._frames, self._next, self._window = None, 0, {}
        if self._frames is None:
            self._frames = iter(self)
        self._window = {i: f for i, f in self._window.items() if i >= indices[0]}
        while self._next <= indices[-1]:
            frame = next(self._frames)
            if self._next >= indices[0]:
                self._window[self._next] = frame
            self._next += 1
        return np.stack([self._window[i] for i in indices])

    def _sparse(self, indices: list[int]) -> np.ndarray:
        wanted = set(indices)
        kept = []
        for i, frame in enumerate(self):
            if i in wanted:
                kept.append(frame)
            if i >= indices[-1]:
                break
        return np.stack(kept)


def mask_from_grey(frame: np.ndarray) -> np.ndarray:
    """A mask stream's frame ``(H, W, 3)`` uint8 -> ``(H, W)`` bool, True where its grey level is >= 128."""
    return frame.mean(axis=-1) >= 128


class StreamConditions:
    """The prepared streams of one video, decoded a window at a time (see the module docstring).

    Made by :func:`vvt.realvvt.tryon.read_conditions`, which checks that the streams agree in frame count
    and size. ``agnostic``, ``agnostic_mask``, ``densepose``, ``person`` are :class:`FrameWindows` (``person``
    None when not given); indexing them with an index array decodes those frames only.
    """

    def __init__(
        self,
        paths: dict[str, Path],
        densepose_format: str,
        num_frames: int,
        size: tuple[int, int],
        fps: float,
    ) -> None:
        from vvt.pose.densepose import to_vvt_iuv

        self.name = str(paths["agnostic"])
        self.fps = fps
        self.num_frames = num_frames
        self.size = size
        self.agnostic = FrameWindows(paths["agnostic"], num_frames)
        self.agnostic_mask = FrameWindows(paths["agnostic_mask"], num_frames, mask_from_grey)
        self.densepose = FrameWindows(paths["densepose"], num_frames, lambda f: to_vvt_iuv(f, densepose_format))
        self.person = FrameWindows(paths["person"], num_frames) if "person" in paths else None
        self._check_mask()

    def _check_mask(self) -> None:
        """The mask must mark something in some frame (one pass over the mask stream)."""
        anything, everything = False, True
        for mask in self.agnostic_mask:
            anything |= bool(mask.any())
            everything &= bool(mask.all())
            if anything and not everything:
                return
        if not anything:
            raise InputFileError(
                self.agnostic_mask.path,
                "the agnostic mask is black in every frame: nothing to try on (white = replace)",
            )
        logger.warning(
            "%s: the agnostic mask is white in every frame: the whole frame is generated and nothing of the "
            "person video is kept (is it inverted? white = replace)",
            self.agnostic_mask.path,
        )

    def load(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(agnostic, agnostic_mask, densepose)`` of the frames ``indices`` at the input size."""
        return self.agnostic[indices], self.agnostic_mask[indices], self.densepose[indices]

    def iter_densepose(self) -> Iterator[np.ndarray]:
        """The DensePose frames in order, one at a time."""
        return iter(self.densepose)

    def iter_paste(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(base, mask)`` of each frame in order: the frame whose pixels are kept outside the mask (the
        person frame, else the agnostic frame) and the agnostic mask."""
        return zip(self.person if self.person is not None else self.agnostic, self.agnostic_mask)

    def in_memory(self) -> Any:
        """Every frame decoded: the :class:`~vvt.realvvt.tryon.VideoConditions` of these streams (for short
        clips, e.g. the bundled example)."""
        from vvt.realvvt.tryon import VideoConditions

        every = np.arange(self.num_frames)
        agnostic, mask, densepose = self.load(every)
        person = None if self.person is None else self.person[every]
        return VideoConditions(agnostic, mask, densepose, self.fps, person, self.name)
