"""A trivial training task for the trainer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import Dataset

from vvt.io import write_video


class ToyDataset(Dataset):
    """``n`` fixed regression samples; ``__getitem__`` adds global-RNG noise like a random augmentation."""

    def __init__(self, n: int = 10):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.3

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i] + 0.01 * torch.randn(4), "y": self.y[i], "name": f"toy{i}"}


class ToyTask:
    """Linear regression through a frozen layer, with dropout (global RNG) and generator noise.

    ``interrupt_at`` / ``nan_at``: raise KeyboardInterrupt / return a NaN loss at that training_step call
    (1-based).
    """

    def __init__(
        self,
        n: int = 10,
        dropout: float = 0.2,
        interrupt_at: int | None = None,
        nan_at: int | None = None,
        data: Dataset | None = None,
    ):
        torch.manual_seed(0)
        self.frozen = nn.Linear(4, 4)
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 1))
        self.data = data if data is not None else ToyDataset(n)
        self.interrupt_at, self.nan_at = interrupt_at, nan_at
        self.calls = 0
        self.samples: list[Path] = []

    def trainable_modules(self):
        return {"net": self.net}

    def frozen_modules(self):
        return {"frozen": self.frozen}

    def datasets(self):
        return [(self.data, 1.0)]

    def training_step(self, batch, generator):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        x = self.frozen(batch["x"]) + 0.05 * torch.randn(
            batch["x"].shape, generator=generator, device=batch["x"].device
        )
        mse = ((self.net(x).squeeze(-1) - batch["y"]) ** 2).mean()
        if self.calls == self.nan_at:
            mse = mse * float("nan")
        return {"loss": mse, "mse": mse.detach(), "abs": mse.detach().sqrt()}

    def write_sample(self, batch, path):
        value = int(torch.sigmoid(self.net(self.frozen(batch["x"]))).mean() * 255)
        write_video(path, np.full((2, 16, 16, 3), value, np.uint8))
        self.samples.append(Path(path))

    def save_pretrained(self, directory):
        Path(directory).mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in self.net.state_dict().items()},
            str(Path(directory) / "net.safetensors"),
        )
