"""FID/KID features as clean-fid computes them (Parmar et al. 2022, "On Aliased Resizing and Surprising
Subtleties in GAN Evaluation"), the backend of CatVTON's and CatV2TON's image tables.

clean-fid's default ``mode="clean"`` (``cleanfid/resize.py``, ``features.py``, ``inception_torchscript.py``):

* each image, uint8 RGB, is resized to 299x299 one channel at a time as a 32-bit float PIL image (mode
  ``"F"``) with PIL's bicubic filter (antialiased when shrinking), clipped to [0, 255], never quantised;
* the network is NVIDIA's TorchScript port of TensorFlow's FID Inception (``inception-2015-12-05.pt``, the
  file StyleGAN2-ADA's metrics publish and clean-fid downloads), called as clean-fid calls it: its
  ``layers`` sub-module on ``(x - 128) / 128`` gives the 2048-d pool features.

The Fréchet distance and KID on these features are :mod:`vvt.eval.fid` (clean-fid's ``frechet_distance``
and ``kernel_distance`` are the same formulas; clean-fid draws KID's subsets from numpy's unseeded global
generator, vvt from a seeded one). The pytorch-fid backend (:mod:`vvt.eval.inception`) resizes bilinearly
inside the network instead (about 1.4% apart on VITON-HD, by one public report), so every report names
the backend.

The file is a TorchScript archive, loaded with ``torch.jit.load``: it holds TorchScript code and tensors,
not arbitrary pickled Python, and it is read from the weights directory only (never downloaded).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from vvt.errors import InputFileError
from vvt.eval.weights import weight_path

CLEAN_SIZE = 299
FEATURE_DIM = 2048


def clean_resize(image: np.ndarray) -> np.ndarray:
    """clean-fid's resize: ``(H, W, 3)`` uint8 -> ``(299, 299, 3)`` float32 in [0, 255] (per-channel float
    PIL bicubic)."""
    channels = []
    for c in range(image.shape[-1]):
        plane = Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32))  # mode "F"
        plane = plane.resize((CLEAN_SIZE, CLEAN_SIZE), resample=Image.BICUBIC)
        channels.append(np.asarray(plane).clip(0, 255))
    return np.stack(channels, axis=-1).astype(np.float32)


class CleanFIDFeatures(nn.Module):
    """clean-fid's features: frames ``(B, H, W, 3)`` uint8 RGB (numpy) -> ``(B, 2048)`` float32 tensor.

    Args:
        inception: the TorchScript Inception (``inception-2015-12-05.pt``), with its ``layers`` sub-module.
    """

    def __init__(self, inception: torch.jit.ScriptModule):
        super().__init__()
        self.inception = inception.eval()

    @property
    def device(self) -> torch.device:
        return next(iter(self.inception.parameters())).device

    @torch.no_grad()
    def forward(self, frames: np.ndarray) -> torch.Tensor:
        resized = np.stack([clean_resize(f) for f in frames])
        x = torch.from_numpy(resized).permute(0, 3, 1, 2).contiguous().to(self.device)
        return self.inception.layers.forward((x - 128) / 128).view(x.shape[0], FEATURE_DIM)


def load_clean_fid_features(weights_dir: str | Path | None) -> CleanFIDFeatures:
    """The clean-fid feature extractor with ``inception-2015-12-05.pt`` from the weights directory."""
    path = weight_path("clean_fid_inception", weights_dir)
    try:
        with warnings.catch_warnings():  # torch marks TorchScript deprecated; NVIDIA's file is one
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.*", category=FutureWarning)
            net = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(path, f"not a TorchScript archive ({str(exc).splitlines()[0]})") from None
    if not hasattr(net, "layers"):
        raise InputFileError(path, "a TorchScript module without the `layers` sub-module of NVIDIA's Inception")
    return CleanFIDFeatures(net.float())
