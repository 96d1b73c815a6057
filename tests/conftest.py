"""Shared fixtures: the real ViViD samples, seeded generators, small temporary trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def vivid_samples_dir() -> Path:
    """``../shared/data/vivid-samples`` beside the checkout (or ``$VVT_VIVID_SAMPLES``)."""
    return Path(os.environ.get("VVT_VIVID_SAMPLES", REPO.parent / "shared" / "data" / "vivid-samples"))


@pytest.fixture(scope="session")
def vivid_samples() -> Path:
    root = vivid_samples_dir()
    if not (root / "videos").is_dir():
        pytest.skip(f"real ViViD samples not found at {root} (set VVT_VIVID_SAMPLES)")
    return root


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models run far faster on one thread than on two oversubscribed ones, and results stay identical
    from machine to machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
