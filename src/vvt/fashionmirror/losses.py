"""FashionMirror losses: CMN (Eq. 2), sample correctness (Eqs. 5-6), spatial and temporal try-on (Eqs. 9-11).

The paper defers the details of Eqs. 2 and 9-11 to an appendix we do not have; the terms chosen here are
the standard ones of the works it builds on and each is documented where it is defined:

- Eq. 2, ``L_CMN = l_L1 L_L1 + l_BCE L_BCE + l_Patch L_Patch``: L1 on the mask probabilities, BCE on the
  logits, and the *clothing patch loss* :func:`clothing_patch_loss` (L1 inside the ground-truth garment's
  bounding box, so the errors on the garment outweigh the easy background).
- Eqs. 5-6, :func:`sample_correctness_loss`, exactly as printed (cosine similarity of VGG19 features,
  normalised per target location by ``mu_l^max`` = its best match over all source locations).
- Eq. 10, spatial terms: ``L^s_human`` = L1 + VGG19 perceptual + style (Gram) + hinge adversarial (a
  PatchGAN on frame + target skeleton) on whole frames; ``L^s_clothes`` = L1 + perceptual on the frames
  masked by the ground-truth garment mask.
- Eq. 11, temporal terms: ``L_flow`` = ``lambda_flow * L_corr`` summed over the attentive layers (the
  "weighted version of L_corr"); ``L^t_human`` = L1 between consecutive-frame differences of the generated
  and real sequences; ``L^t_clothes`` = the same inside the union of the two frames' garment masks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from vvt.errors import VVTError
from vvt.fashionmirror.warp import gaussian_warp, resize_flow
from vvt.fashionmirror.weights import read_state_dict

log = logging.getLogger(__name__)

#: index of each ReLU after ``conv<a>_<b>`` in torchvision's ``vgg19().features``
VGG19_LAYERS = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu5_1": 29}
#: VGG19 layer whose stride matches each attentive stride (GFLA's choice for the sample correctness loss)
CORRECTNESS_LAYERS = {4: "relu3_1", 8: "relu4_1"}


# ---------------------------------------------------------------- Eq. 2: CMN loss


def clothing_patch_loss(prob: torch.Tensor, target: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """Clothing patch loss: mean L1 between ``prob`` and ``target`` inside the target garment's bounding box.

    The box is the ground-truth mask's bounding box grown by ``margin`` of its size on every side (clipped
    to the image). A sample whose ground truth is empty uses the whole image.

    Args:
        prob: predicted mask ``(B, 1, H, W)`` in [0, 1].
        target: ground-truth mask ``(B, 1, H, W)`` in {0, 1}.
    """
    h, w = target.shape[-2:]
    losses = []
    for p, t in zip(prob, target):
        ys, xs = torch.nonzero(t[0] > 0.5, as_tuple=True)
        if len(ys) == 0:
            losses.append((p - t).abs().mean())
            continue
        y0, y1, x0, x1 = ys.min().item(), ys.max().item() + 1, xs.min().item(), xs.max().item() + 1
        my, mx = round(margin * (y1 - y0)), round(margin * (x1 - x0))
        y0, y1, x0, x1 = max(0, y0 - my), min(h, y1 + my), max(0, x0 - mx), min(w, x1 + mx)
        losses.append((p[:, y0:y1, x0:x1] - t[:, y0:y1, x0:x1]).abs().mean())
    return torch.stack(losses).mean()


@dataclass
class CMNLoss:
    """Eq. 2 on mask logits ``(..., 1, H, W)`` against ground truth of the same shape."""

    lambda_l1: float = 1.0
    lambda_bce: float = 1.0
    lambda_patch: float = 1.0
    patch_margin: float = 0.1

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target = logits.reshape(-1, 1, *logits.shape[-2:]), target.reshape(-1, 1, *target.shape[-2:])
        prob = torch.sigmoid(logits)
        return (
            self.lambda_l1 * F.l1_loss(prob, target)
            + self.lambda_bce * F.binary_cross_entropy_with_logits(logits, target)
            + self.lambda_patch * clothing_patch_loss(prob, target, self.patch_margin)
        )


# ---------------------------------------------------------------- VGG19 features


class VGG19Features(nn.Module):
    """Frozen torchvision VGG19 ``features`` up to the deepest requested ReLU.

    Weights load from a local torchvision ``vgg19`` state dict (``.safetensors``/``.pth``, or a folder holding
    one); without ``weights`` the network is randomly initialised (tests) and a warning is logged.
    Inputs are images in [-1, 1]; ImageNet normalisation is applied inside.
    """

    def __init__(
        self,
        layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
        weights: str | Path | None = None,
    ):
        super().__init__()
        unknown = set(layers) - set(VGG19_LAYERS)
        if unknown:
            raise ValueError(f"unknown VGG19 layers {sorted(unknown)} (known: {list(VGG19_LAYERS)})")
        self.layers = tuple(layers)
        last = max(VGG19_LAYERS[n] for n in layers)
        self.features = make_layers(cfgs["E"])[: last + 1]
        if weights is not None:
            self._load(Path(weights))
        else:
            log.warning("VGG19 loss network is randomly initialised (no weights given)")
        self.requires_grad_(False)
        self.eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def _load(self, path: Path) -> None:
        path, state = read_state_dict(path, "VGG19 loss network", "vgg19")
        n = len(self.features)
        state = {
            k[len("features.") :]: v
            for k, v in state.items()
            if k.startswith("features.") and int(k.split(".")[1]) < n
        }
        missing, unexpected = self.features.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise VVTError(f"{path}: not a torchvision VGG19 state dict (missing {missing[:3]})")
        log.info("VGG19 loss network: weights from %s", path)

    def train(self, mode: bool = True) -> VGG19Features:
        return super().train(False)  # always frozen, always eval

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, 3, H, W)`` in [-1, 1] -> ``{layer: (B, C_l, H_l, W_l)}``."""
        x = ((x + 1) / 2 - self.mean) / self.std
        out, wanted = {}, {VGG19_LAYERS[n]: n for n in self.layers}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in wanted:
                out[wanted[i]] = x
        return out


def perceptual_loss(fa: dict[str, torch.Tensor], fb: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean L1 between VGG features."""
    return sum(F.l1_loss(fa[k], fb[k]) for k in fa)


def gram(x: torch.Tensor) -> torch.Tensor:
    """Gram matrix ``(B, C, C)`` of ``(B, C, H, W)`` features, normalised by ``C*H*W``."""
    b, c, h, w = x.shape
    f = x.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def style_loss(fa: dict[str, torch.Tensor], fb: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean L1 between Gram matrices."""
    return sum(F.l1_loss(gram(fa[k]), gram(fb[k])) for k in fa)


# ---------------------------------------------------------------- Eqs. 5-6: sample correctness


def sample_correctness_loss(
    feat_t: torch.Tensor,
    feat_next: torch.Tensor,
    flow: torch.Tensor,
    kernel_size: int = 4,
    sigma: float = 2.0,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Eqs. 5-6: ``1/N sum_l exp(-mu(eps^t_{l,F}, eps^{t+1}_l) / mu_l^max)``, averaged over the batch.

    ``mu`` is the cosine similarity over channels, ``eps^t_{l,F}`` the frame-t features Gaussian-warped by
    the flow (:func:`~vvt.fashionmirror.warp.gaussian_warp`), and ``mu_l^max = max_{l'} mu(eps^t_{l'},
    eps^{t+1}_l)`` (Eq. 6, as printed: the best possible similarity at target location ``l``), clamped to
    ``eps`` from below (VGG ReLU features make cosines non-negative).

    Args:
        feat_t: features of ``h^t`` ``(B, C, h, w)``.
        feat_next: features of ``h^{t+1}`` ``(B, C, h, w)``.
        flow: ``F^t`` ``(B, 2, h, w)`` in pixels of this feature map.
    """
    warped = gaussian_warp(feat_t, flow, kernel_size, sigma)
    mu = F.cosine_similarity(warped, feat_next, dim=1, eps=eps).flatten(1)  # (B, N)
    src = F.normalize(feat_t.flatten(2), dim=1, eps=eps)  # (B, C, N)
    dst = F.normalize(feat_next.flatten(2), dim=1, eps=eps)
    mu_max = torch.bmm(src.transpose(1, 2), dst).amax(dim=1).clamp_min(eps)  # (B, N): max over l'
    return torch.exp(-mu / mu_max).mean()


class SampleCorrectness(nn.Module):
    """``L_corr`` of Eq. 5 over the attentive layers: VGG19 features of the matching stride (relu3_1 at 4,
    relu4_1 at 8), the flow resized to the feature grid when sizes differ (odd image sizes)."""

    def __init__(self, vgg: VGG19Features, kernel_size: int = 4, sigma: float = 2.0):
        super().__init__()
        self.vgg = vgg
        self.kernel_size, self.sigma = kernel_size, sigma

    def forward(
        self,
        feats_t: dict[str, torch.Tensor],
        feats_next: dict[str, torch.Tensor],
        flows: dict[int, torch.Tensor],
    ) -> torch.Tensor:
        """Sum of Eq. 5 over strides; ``feats_*`` from :class:`VGG19Features`, ``flows[s]`` ``(B, 2, h, w)``.

        Args:
            feats_t, feats_next: VGG19 features of ``h^t`` and ``h^{t+1}``.
            flows: ``F^t`` per attentive stride.
        """
        total = 0.0
        for stride, flow in flows.items():
            if stride not in CORRECTNESS_LAYERS:
                raise ValueError(
                    f"no VGG19 layer matches attentive stride {stride} (have {list(CORRECTNESS_LAYERS)})"
                )
            layer = CORRECTNESS_LAYERS[stride]
            ft, fn = feats_t[layer], feats_next[layer]
            total = total + sample_correctness_loss(
                ft, fn, resize_flow(flow, tuple(ft.shape[-2:])), self.kernel_size, self.sigma
            )
        return total


# ---------------------------------------------------------------- adversarial (PatchGAN, hinge)


class PatchDiscriminator(nn.Module):
    """pix2pix-style PatchGAN, spectral norm: ``(B, in_channels, H, W)`` -> patch scores ``(B, 1, h, w)``."""

    def __init__(self, in_channels: int = 6, base_channels: int = 64, num_layers: int = 3):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        layers, ch = (
            [sn(nn.Conv2d(in_channels, base_channels, 4, 2, 1)), nn.LeakyReLU(0.2, True)],
            base_channels,
        )
        for i in range(1, num_layers):
            nxt = base_channels * min(2**i, 8)
            layers += [sn(nn.Conv2d(ch, nxt, 4, 2 if i < num_layers - 1 else 1, 1)), nn.LeakyReLU(0.2, True)]
            ch = nxt
        layers.append(sn(nn.Conv2d(ch, 1, 4, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss ``E[relu(1 - D(real))] + E[relu(1 + D(fake))]``."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss ``-E[D(fake)]``."""
    return -fake_scores.mean()


# ---------------------------------------------------------------- Eq. 11: temporal terms


def temporal_loss(
    generated: torch.Tensor, real: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean L1 between consecutive-frame differences of two sequences ``(B, N, C, H, W)`` (N >= 2).

    With ``mask`` ``(B, N, 1, H, W)`` the differences are taken inside ``max(mask_t, mask_{t+1})``.
    """
    dg, dr = generated[:, 1:] - generated[:, :-1], real[:, 1:] - real[:, :-1]
    if mask is not None:
        union = torch.maximum(mask[:, 1:], mask[:, :-1])
        dg, dr = dg * union, dr * union
    return F.l1_loss(dg, dr)
