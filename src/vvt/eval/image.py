"""Per-frame full-reference metrics: PSNR, SSIM, SSIM inside a mask, LPIPS.

PSNR and SSIM take frames ``(N, H, W, 3)`` as float arrays in [0, 1] (a video's frames, or N images), LPIPS
takes ``(N, 3, H, W)`` tensors in [0, 1]; each returns one value per frame ``(N,)``; the evaluation averages
frames within an item and then items.

* SSIM (Wang et al. 2004, Eq. 13 with the Gaussian window of Sec. III-C): data range 1.0, an 11x11 Gaussian
  window of sigma 1.5, K1 = 0.01, K2 = 0.03, local statistics on the reflection-padded frame (variances
  clamped at 0), the map averaged over channels and over every pixel: the definition of torchmetrics'
  ``structural_similarity_index_measure``, which CatV2TON's ``eval_video_metrics.py`` uses. It is computed
  here with OpenCV's separable ``GaussianBlur`` in float64 (same kernel, same border), because torchmetrics'
  dense 2D convolution needs ~1 s and 2 GB per 832x624 frame on a CPU; the tests check both give the same
  value, and that scikit-image's ``structural_similarity(gaussian_weights=True,
  use_sample_covariance=False)``, which averages only the interior 5 pixels in from each border, agrees there.
* SSIM border rule (``border``): ``"full"`` averages the whole reflection-padded map, as torchmetrics does
  since its PR #2721 (merged September 2024); ``"crop5"`` drops the 5 pixels (the window radius) on
  each side before averaging, as torchmetrics did before it and as scikit-image does. The two differ by
  the border's share of the map: 0.95610 (full) against 0.95587 (crop5) on frame 0 of the ViViD sample
  ``upper1`` (agnostic against person, 832x624); more on small images and where the borders differ. Papers
  rarely say which torchmetrics they ran, so the report names the rule.
* masked SSIM: the same SSIM map averaged over the mask's pixels only (e.g. the agnostic mask: how well the
  try-on region is reconstructed, not diluted by the untouched background). A frame whose mask is empty has no
  value (NaN) and is left out of the averages.
* PSNR: ``10 log10(1 / MSE)`` per frame on [0, 1] (identical to 255-range PSNR of the uint8 frames); the MSE
  is floored at 1e-10, so identical frames give 100 dB instead of infinity.
* LPIPS (Zhang et al. 2018, Eq. 1): the ``lpips`` package (v0.1 linear layers shipped in its wheel), inputs
  scaled to [-1, 1]; the backbone is a choice: ``squeeze`` (CatV2TON's video protocol) or ``alex`` (most image
  try-on papers) or ``vgg``. Its ImageNet backbone weights come from the weights directory
  (:mod:`vvt.eval.weights`), never from a download.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from vvt.eval.weights import load_into, load_torch_file, weight_path

LPIPS_NETS = ("squeeze", "alex", "vgg")
PSNR_MSE_FLOOR = 1e-10
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03
SSIM_BORDERS = ("full", "crop5")
_CROP5 = (SSIM_WINDOW - 1) // 2


def psnr(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """PSNR in dB per frame ``(N,)`` of frames ``(N, H, W, 3)`` in [0, 1]."""
    diff = pred.astype(np.float64) - gt.astype(np.float64)
    mse = np.maximum((diff**2).reshape(diff.shape[0], -1).mean(axis=1), PSNR_MSE_FLOOR)
    return 10 * np.log10(1.0 / mse)


def _blur(a: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(a, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT_101)


def ssim_map(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """SSIM map ``(N, H, W)`` (channel mean) of frames ``(N, H, W, 3)`` in [0, 1]."""
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    maps = []
    for x, y in zip(pred.astype(np.float64), gt.astype(np.float64)):
        mu_x, mu_y = _blur(x), _blur(y)
        var_x = np.maximum(_blur(x * x) - mu_x**2, 0)
        var_y = np.maximum(_blur(y * y) - mu_y**2, 0)
        cov = _blur(x * y) - mu_x * mu_y
        s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
        maps.append(s.mean(axis=-1))
    return np.stack(maps)


def frame_means(maps: np.ndarray, border: str = "full") -> np.ndarray:
    """Mean of each frame's map ``(N, H, W)`` -> ``(N,)``: the whole map (``"full"``) or without the 5-pixel
    border (``"crop5"``, torchmetrics before its PR #2721; a map of 10 pixels or less across is averaged whole)."""
    if border not in SSIM_BORDERS:
        raise ValueError(f"unknown SSIM border rule {border!r} (choose from {', '.join(SSIM_BORDERS)})")
    if border == "crop5" and min(maps.shape[1:3]) > 2 * _CROP5:
        maps = maps[:, _CROP5:-_CROP5, _CROP5:-_CROP5]
    return maps.reshape(maps.shape[0], -1).mean(axis=1)


def masked_frame_means(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of each frame's map ``(N, H, W)`` inside ``mask`` ``(N, H, W)`` bool -> ``(N,)``; NaN if empty."""
    inside = mask.astype(bool).reshape(mask.shape[0], -1)
    count = inside.sum(axis=1)
    total = (maps.reshape(maps.shape[0], -1) * inside).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def ssim(pred: np.ndarray, gt: np.ndarray, border: str = "full") -> np.ndarray:
    """SSIM per frame ``(N,)`` of frames ``(N, H, W, 3)`` in [0, 1], with the ``border`` rule (module doc)."""
    return frame_means(ssim_map(pred, gt), border)


def masked_ssim(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """SSIM averaged inside ``mask`` ``(N, H, W)`` bool -> ``(N,)``; a frame with an empty mask gives NaN."""
    return masked_frame_means(ssim_map(pred, gt), mask)


class LPIPS(nn.Module):
    """LPIPS distance per frame with a backbone loaded from the weights directory.

    Args:
        net: ``"squeeze"``, ``"alex"`` or ``"vgg"``.
        weights_dir: folder with the torchvision ImageNet file of that backbone (:mod:`vvt.eval.weights`).
    """

    def __init__(self, net: str = "squeeze", weights_dir: str | Path | None = None):
        super().__init__()
        import lpips

        if net not in LPIPS_NETS:
            raise ValueError(f"unknown LPIPS backbone {net!r} (choose from {', '.join(LPIPS_NETS)})")
        path = weight_path(net, weights_dir)
        # pnet_rand: build the backbone without torchvision's download; its weights come from `path` below.
        with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=False`
            warnings.simplefilter("ignore", UserWarning)
            self.model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
        load_into(self.model.net, backbone_state_dict(self.model.net, load_torch_file(path)), path)
        self.model.eval()
        self.net = net

    @torch.no_grad()
    def forward(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """LPIPS per frame ``(N,)`` of frames ``(N, 3, H, W)`` in [0, 1]."""
        return self.model(pred * 2 - 1, gt * 2 - 1).flatten()


def backbone_state_dict(backbone: nn.Module, torchvision_state: dict) -> dict:
    """Map a torchvision ``features.<i>.*`` state dict onto lpips' sliced backbone (``slice<k>.<i>.*``).

    lpips splits torchvision's ``features`` Sequential into slices whose children keep their index as name,
    so ``features.3.weight`` becomes ``slice2.3.weight`` (for whichever slice holds child 3).
    """
    mapped = {}
    for key in backbone.state_dict():
        source = "features." + key.split(".", 1)[1]
        if source in torchvision_state:
            mapped[key] = torchvision_state[source]
    return mapped  # a key left out here is reported by the strict load as missing from the file
