"""Shared helpers of the evaluation tests: random-initialised metric networks saved in the weights layout,
and tiny videos written on the fly."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import torch

from vvt.io import write_video


@cache
def _weights_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="vvt-eval-weights-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


class ScriptedInceptionStandIn(torch.nn.Module):
    """Stands in for NVIDIA's TorchScript ``inception-2015-12-05.pt`` (clean-fid's network) with its interface:
    a ``layers`` sub-module taking ``(B, 3, 299, 299)`` in [-1, 1] to ``(B, 2048, 1, 1)`` pool features, and
    ``forward(img, return_features)`` on [0, 255] images of any size (resizing inside, as the real one)."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 7, stride=8),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Conv2d(8, 2048, 1),
        )

    def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = torch.nn.functional.interpolate(img, size=(299, 299), mode="bilinear", align_corners=False)
        features = self.layers((x - 128) / 128).flatten(1)
        return features if return_features else features[:, :1008]


def _build(key: str):
    """(network, object saved to its file) for a weights key, seeded so every run saves the same weights."""
    from torchvision import models

    from vvt.eval.i3d import InceptionI3d
    from vvt.eval.inception import fid_inception_v3, imagenet_inception_v3
    from vvt.eval.resnext3d import resnext101

    torch.manual_seed(0)
    if key == "squeeze":
        net = models.squeezenet1_1()
    elif key == "alex":
        net = models.alexnet()
    elif key == "fid_inception":
        net = fid_inception_v3()
    elif key == "inception_v3":
        net = imagenet_inception_v3()
    elif key == "i3d":
        net = InceptionI3d()
    elif key == "resnext101":
        net = resnext101()
    elif key == "clean_fid_inception":
        with warnings.catch_warnings():  # torch marks TorchScript deprecated; NVIDIA's file is TorchScript
            warnings.simplefilter("ignore", FutureWarning)
            scripted = torch.jit.script(ScriptedInceptionStandIn().eval())
        return scripted, scripted  # saved with torch.jit.save, as NVIDIA's file is a TorchScript archive
    else:
        raise KeyError(key)
    _randomise_batchnorm(net)
    if key == "resnext101":
        # the 3D-ResNets-PyTorch checkpoint format: DataParallel prefixes inside {"state_dict": ...}
        return net.eval(), {"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()},
                            "arch": "resnext-101", "epoch": 200}
    return net.eval(), net.state_dict()


def _randomise_batchnorm(net: torch.nn.Module) -> None:
    """Give batch norms non-trivial running statistics so a wrong key mapping cannot go unnoticed."""
    g = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


@cache
def saved_network(key: str) -> torch.nn.Module:
    """The random network of ``key`` (as built before saving); its file is in :func:`weights_dir`."""
    from vvt.eval.weights import WEIGHT_FILES

    net, obj = _build(key)
    path = _weights_root() / WEIGHT_FILES[key].name
    if isinstance(obj, torch.jit.ScriptModule):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(obj, str(path))
    else:
        torch.save(obj, path)
    return net


def weights_dir(*keys: str) -> Path:
    """A weights folder holding random networks for ``keys`` (files shared by every test of the session)."""
    for key in keys:
        saved_network(key)
    return _weights_root()


def smooth_frames(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """``(n, h, w, 3)`` uint8: a smooth random colour texture drifting 1 pixel right per frame (survives H.264,
    textured enough for optical flow, with a coherent motion)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, h // 6), max(2, (w + n) // 6), 3), dtype=np.uint8)
    wide = cv2.resize(small, (w + n, h), interpolation=cv2.INTER_CUBIC)
    return np.stack([wide[:, n - t: n - t + w] for t in range(n)])


def write_lossless(path: Path, frames: np.ndarray) -> Path:
    """Write frames as a PNG-frame folder (lossless, so values are known exactly)."""
    return write_video(path, frames)
