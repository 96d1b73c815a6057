"""Side-by-side sample videos written during training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vvt.io import write_video


def to_uint8_frames(video: torch.Tensor) -> np.ndarray:
    """``(N, 3, H, W)`` in [-1, 1] -> ``(N, H, W, 3)`` uint8."""
    x = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def write_grid(path: str | Path, rows: list[list[torch.Tensor]], fps: float = 8.0) -> Path:
    """Write a video whose frame ``t`` is a grid: one row per list, one column per ``(N, 3, H, W)`` video.

    Videos in [-1, 1]; masks ``(N, 1, H, W)`` in [0, 1] are shown in grey levels (1 white); a ``(3, H, W)``
    image or a ``(1, H, W)`` mask is repeated over the ``N`` frames.
    """
    n = max(v.shape[0] for row in rows for v in row if v.ndim == 4)

    def frames(v: torch.Tensor) -> np.ndarray:
        if v.ndim == 3:
            v = v.unsqueeze(0)
        if v.shape[1] == 1:
            v = v.float() * 2 - 1
        return to_uint8_frames(v.expand(n, 3, *v.shape[-2:]))

    grid = np.concatenate([np.concatenate([frames(v) for v in row], axis=2) for row in rows], axis=1)
    return write_video(path, grid, fps=fps)
