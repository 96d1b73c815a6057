"""Co-attention mask network, CMN (FashionMirror Sec. 3.1, Eq. 1, Fig. 3).

``M_r, M_c = CMN(h^s, C)``: from a human image and a garment image, predict the *removed mask* ``M_r``
(the clothing on the human to take off) and the *try-on clothing mask* ``M_c`` (where garment ``C``
goes on this body), both in ``[0, 1]^{1 x H x W}``.

Readings of the paper chosen here (it cites COSNet [26] and DeepLabv3 [7] and leaves details open):

- **Trunk.** "A siamese ResNet with first 5 layers": the five stages of a torchvision ResNet (``conv1``
  stem with max-pool, ``layer1`` ... ``layer4``, i.e. ResNet's conv1..conv5_x), Bottleneck blocks, with
  ``layer3``/``layer4`` strides replaced by dilation as in DeepLabv3/COSNet (output stride 8; 16, dilating
  ``layer4`` only, is the cheaper option), followed by torchvision's DeepLabv3 ``ASPP`` (its dropout
  removed, so training draws no hidden random numbers). One trunk, shared by human and garment
  (siamese). ``layers=(3, 4, 6, 3)`` is ResNet-50, which loads torchvision's ImageNet weights from a
  local file (:func:`load_resnet_weights`); otherwise the trunk is randomly initialised. Nothing is
  downloaded.
- **Co-attention.** ``S = eps_h^T W eps_c`` (``S[i, j]`` pairs human position ``i`` with garment position
  ``j``; ``W`` a learnable ``C x C`` matrix). The human co-attention feature lives on the garment grid:
  ``eps_hA = eps_h softmax(S)`` with the softmax column-wise (over human positions), exactly as printed.
  The clothing co-attention feature is its COSNet mirror on the human grid, ``eps_cA = eps_c softmax(S^T)``
  (column-wise over garment positions) - the printed ``eps_c softmax(S)`` only type-checks for equal grids
  and would mix garment features by human index.
- **Gates and heads.** A 1x1 convolution + sigmoid gate on each co-attended feature (COSNet),
  ``eps'_A = eps_A * sigmoid(conv(eps_A))``. ``[eps'_cA, eps_h]`` (human grid) feeds the ``M_r`` and
  ``M_c`` heads. ``[eps'_hA, eps_c]`` (garment grid) feeds a head predicting the garment's own mask on
  ``C``, supervised by the product mask when the data has one: the siamese second output of COSNet,
  which gives the garment-side co-attention a target (an addition to the paper, weight configurable).
- **Single- and multi-frame mechanisms, and which frame the CMN reads (Eq. 7).** Eq. 7 feeds the generator
  ``CMN({h^{t-1}}, C)`` with ``h^0 = h^s``: the try-on mask of frame ``t`` is predicted from the frame
  *before* it, never from frame ``t`` itself (which at inference does not exist yet, and in paired training is
  the answer). So ``M_c^0 = M_c^1 = single(h^0)`` (the single-frame head, "for the first two frames", both
  read ``h^0``), and from frame 2 on ``M_c^{t+1} = multi(h^t, M_c^{t-1}, M_c^t)``: the multi-frame head sees
  the human-grid features of the current frame ``h^t`` and the previous two predicted try-on masks and
  predicts the next-frame mask ("considers the previous two frames and the current-frame human image to
  predict the next-frame try-on clothing mask M_c^{t+1}", Sec. 3.1). The previous masks are detached inputs,
  resized to the feature grid. (An earlier version ran the multi-frame head on ``h^{t+1}``: in training the
  generated frame then depended on its own ground truth.)
- Masks are predicted at the output stride and upsampled bilinearly to the input size (COSNet/DeepLabv3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.models.segmentation.deeplabv3 import ASPP

from vvt.errors import VVTError
from vvt.fashionmirror.weights import read_state_dict

log = logging.getLogger(__name__)

RESNET_STAGES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


class ResNetTrunk(nn.Module):
    """The five stages of a torchvision Bottleneck ResNet (stem + ``layer1..4``), output stride 8 or 16.

    Attribute names match torchvision's, so an ImageNet ``state_dict`` loads as is (minus ``fc``).
    Output stride 8 dilates ``layer3`` and ``layer4`` (DeepLabv3/COSNet); 16 dilates ``layer4`` only
    (about 3x cheaper).
    """

    def __init__(self, layers: tuple[int, ...] = (3, 4, 6, 3), width_per_group: int = 64, output_stride: int = 8):
        super().__init__()
        if output_stride not in (8, 16):
            raise ValueError(f"output_stride must be 8 or 16, got {output_stride}")
        net = ResNet(
            Bottleneck,
            list(layers),
            width_per_group=width_per_group,
            replace_stride_with_dilation=[False, output_stride == 8, True],
        )
        for name in RESNET_STAGES:
            setattr(self, name, getattr(net, name))
        self.out_channels = 512 * Bottleneck.expansion

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [-1, 1] -> ``(B, 2048, ceil(H/s), ceil(W/s))``, ``s`` the output stride."""
        for name in RESNET_STAGES:
            x = getattr(self, name)(x)
        return x


def load_resnet_weights(trunk: ResNetTrunk, path: str | Path) -> None:
    """Load torchvision ResNet weights (``.safetensors``/``.pth`` state dict, or a folder with one).

    The ``fc`` keys are ignored; any other missing or unexpected key is an error naming the file.
    """
    path, state = read_state_dict(path, "CMN ResNet trunk", "resnet50")
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = trunk.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise VVTError(
            f"{path}: not a ResNet state dict matching the CMN trunk "
            f"(missing {missing[:3]}..., unexpected {unexpected[:3]}...)"
        )
    log.info("CMN trunk: loaded ResNet weights from %s", path)


class CoAttention(nn.Module):
    """``S = eps_h^T W eps_c``, co-attended features and their 1x1 sigmoid gates (Sec. 3.1)."""

    def __init__(self, channels: int):
        super().__init__()
        self.W = nn.Linear(channels, channels, bias=False)
        nn.init.eye_(self.W.weight)
        self.gate_c = nn.Conv2d(channels, 1, 1)
        self.gate_h = nn.Conv2d(channels, 1, 1)

    def similarity(self, eps_h: torch.Tensor, eps_c: torch.Tensor) -> torch.Tensor:
        """``S`` ``(B, HW_h, HW_c)`` from ``eps_h`` ``(B, C, h, w)`` and ``eps_c`` ``(B, C, h', w')``."""
        eh, ec = eps_h.flatten(2), eps_c.flatten(2)
        return torch.bmm(eh.transpose(1, 2), self.W(ec.transpose(1, 2)).transpose(1, 2))

    def forward(self, eps_h: torch.Tensor, eps_c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z_h = [eps'_cA, eps_h]`` ``(B, 2C, h, w)`` and ``z_c = [eps'_hA, eps_c]`` ``(B, 2C, h', w')``."""
        s = self.similarity(eps_h, eps_c)
        eh, ec = eps_h.flatten(2), eps_c.flatten(2)
        # garment grid, softmax column-wise over human positions
        eps_hA = torch.bmm(eh, s.softmax(dim=1)).view_as(eps_c)
        eps_cA = torch.bmm(ec, s.softmax(dim=2).transpose(1, 2)).view_as(eps_h)  # human grid
        eps_cA = eps_cA * torch.sigmoid(self.gate_c(eps_cA))
        eps_hA = eps_hA * torch.sigmoid(self.gate_h(eps_hA))
        return torch.cat([eps_cA, eps_h], 1), torch.cat([eps_hA, eps_c], 1)


def _head(in_channels: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(hidden, 1, 1))


@dataclass
class CMNOutput:
    """Mask *logits* (apply ``sigmoid`` for ``M_r``, ``M_c``), at the input resolution.

    ``removed`` and ``tryon`` are ``(B, 1, H, W)`` from :meth:`CoAttentionMaskNetwork.forward` or
    ``(B, N, 1, H, W)`` from :meth:`CoAttentionMaskNetwork.sequence`; ``garment`` is ``(B, 1, H, W)``.
    """

    removed: torch.Tensor
    tryon: torch.Tensor
    garment: torch.Tensor


class CoAttentionMaskNetwork(nn.Module):
    """CMN (Eq. 1): see the module docstring for the architecture and the readings chosen."""

    def __init__(
        self,
        layers: tuple[int, ...] = (3, 4, 6, 3),
        width_per_group: int = 64,
        aspp_channels: int = 256,
        atrous_rates: tuple[int, ...] = (6, 12, 18),
        head_channels: int = 128,
        output_stride: int = 8,
    ):
        super().__init__()
        self.trunk = ResNetTrunk(layers, width_per_group, output_stride)
        self.aspp = ASPP(self.trunk.out_channels, list(atrous_rates), aspp_channels)
        self.aspp.project[-1] = nn.Identity()  # no dropout: a training step is a function of its batch
        self.coattention = CoAttention(aspp_channels)
        self.head_removed = _head(2 * aspp_channels, head_channels)
        self.head_tryon = _head(2 * aspp_channels, head_channels)
        self.head_tryon_multi = _head(2 * aspp_channels + 2, head_channels)
        self.head_garment = _head(2 * aspp_channels, head_channels)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Siamese features ``eps`` ``(B, C_aspp, H/8, W/8)`` of images ``(B, 3, H, W)`` in [-1, 1]."""
        return self.aspp(self.trunk(x))

    def _multi(self, z_h: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        prev = F.interpolate(previous.detach(), size=z_h.shape[-2:], mode="bilinear", align_corners=False)
        return self.head_tryon_multi(torch.cat([z_h, prev], 1))

    def forward(
        self,
        human: torch.Tensor,
        garment: torch.Tensor,
        previous: torch.Tensor | None = None,
        garment_features: torch.Tensor | None = None,
    ) -> CMNOutput:
        """One frame.

        Args:
            human: human image ``(B, 3, H, W)`` in [-1, 1].
            garment: garment image ``(B, 3, H', W')`` in [-1, 1].
            previous: None for the single-frame mechanism, or the previous two try-on masks
                ``(B, 2, H, W)`` in [0, 1] (``M_c^{t-1}, M_c^t``) for the multi-frame one (``M_c^{t+1}``).
            garment_features: ``self.encode(garment)`` when already computed (reused along a video).
        """
        if garment_features is None and garment.shape == human.shape:
            eps_h, eps_c = self.encode(torch.cat([human, garment])).chunk(2)  # one batch: BatchNorm sees >1 image
        else:
            eps_h = self.encode(human)
            eps_c = self.encode(garment) if garment_features is None else garment_features
        z_h, z_c = self.coattention(eps_h, eps_c)
        tryon = self.head_tryon(z_h) if previous is None else self._multi(z_h, previous)
        up = lambda x, ref: F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)  # noqa: E731
        return CMNOutput(up(self.head_removed(z_h), human), up(tryon, human), up(self.head_garment(z_c), garment))

    def sequence(self, frames: torch.Tensor, garment: torch.Tensor) -> CMNOutput:
        """Masks of a sequence of frames ``h^0 .. h^{N-1}`` (module docstring, Eq. 7).

        ``removed[:, t]`` (``M_r^t``) reads frame ``t``; ``tryon[:, 0]`` and ``tryon[:, 1]`` are the
        single-frame mask of frame 0; ``tryon[:, t+1]`` for ``t >= 1`` is the multi-frame mask read from frame
        ``t`` and the two previous masks of this chain. Each frame is encoded in its own batch (with the
        garment), so no normalisation statistic mixes frames: ``tryon[:, t]`` is a function of frames
        ``< t`` only (``t >= 1``).

        Args:
            frames: human frames ``(B, N, 3, H, W)`` in [-1, 1] (frame 0 is the source ``h^s``).
            garment: garment image ``(B, 3, H', W')`` in [-1, 1].

        Returns:
            :class:`CMNOutput` with ``removed`` and ``tryon`` logits ``(B, N, 1, H, W)`` and the garment-side
            logits ``(B, 1, H', W')``.
        """
        n = frames.shape[1]
        first = self(frames[:, 0], garment)
        removed, tryon = [first.removed], [first.tryon, first.tryon]
        for t in range(1, n):
            out = self(frames[:, t], garment, torch.sigmoid(torch.cat([tryon[t - 1], tryon[t]], 1)))
            removed.append(out.removed)
            tryon.append(out.tryon)
        return CMNOutput(torch.stack(removed, 1), torch.stack(tryon[:n], 1), first.garment)
