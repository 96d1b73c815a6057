"""Agnostic mask-guided attention loss (RealVVT Sec. 3.3, Eqs. 3-4).

``T_i^a`` is the attention probability that query location ``a`` of frame ``i`` puts on the target garment. We
read it from the C&T consistency attention of Eq. (8): the sum of the softmax probabilities over the garment
tokens ``c_attn`` among the keys ``[x_i, x_j, c_attn]``, averaged over heads (:func:`garment_attention_mass`),
at one resolution level of the spatio-temporal U-Net - by default 1/32 of the image (latent / 4: 16x12 tokens
for 512x384; the paper's "19x12" is a typo) - and averaged over every spatial self-attention at that level
(two in the down path and three in the up path of SVD). The authors' released code reads the map from the
*cross*-attention instead, but SVD's cross-attention has a single CLIP token, where the softmax is identically
1 and the loss carries no signal; the garment tokens of Eq. (8) are the meaningful reading.

The agnostic mask is brought to that level with max pooling (:func:`resize_mask`): a token belongs to ``A``
when any pixel of its cell is to be inpainted, so garment attention is never penalised on a cell that holds
mask pixels.

Eq. (4) (``form="max"``, the default)::

    L_agn = sum_i (1 - max_{a in A} T_i^a)^2 + lambda_N sum_i sum_{a in A-bar} (T_i^a)^2

Eq. (3) (``form="init"``) replaces the max by ``sum_{a in A} (1 - T_i^a)^2``. Frames whose mask is empty at
that level contribute only the negative term. The per-frame terms are averaged over frames
(``frame_reduction="mean"``, so that 1-frame image clips and N-frame videos trained jointly weigh alike) or
summed as written in the equations (``"sum"``), then averaged over the samples that take part (a sample whose
garment was dropped for classifier-free guidance has no garment to attend to and is left out).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


def garment_attention_mass(probs: torch.Tensor, num_garment_tokens: int) -> torch.Tensor:
    """``T``: the attention probability each query puts on the garment tokens, averaged over heads.

    Args:
        probs: ``(rows, heads, L_q, L_k)`` softmax attention probabilities whose last ``num_garment_tokens``
            keys are the garment tokens ``c_attn`` (as :class:`~vvt.realvvt.attention.CnTAttnProcessor` orders
            them).
    Returns:
        ``(rows, L_q)``.
    """
    return probs[..., -num_garment_tokens:].sum(dim=-1).mean(dim=1)


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Max-pool a ``(..., H, W)`` {0, 1} mask to ``(..., h, w)``: a cell is 1 when any of its pixels is 1."""
    lead = mask.shape[:-2]
    out = F.adaptive_max_pool2d(mask.reshape(-1, 1, *mask.shape[-2:]).float(), size)
    return out.reshape(*lead, *size)


class AgnosticAttentionLoss:
    """Eq. (4) (or Eq. 3) on garment-attention maps ``T`` and the agnostic mask at the same level."""

    def __init__(
        self,
        lambda_N: float = 0.01,
        form: Literal["max", "init"] = "max",
        frame_reduction: Literal["mean", "sum"] = "mean",
    ):
        if form not in ("max", "init") or frame_reduction not in ("mean", "sum"):
            raise ValueError(
                f"form must be 'max' or 'init' and frame_reduction 'mean' or 'sum', got {form!r}, "
                f"{frame_reduction!r}"
            )
        self.lambda_N = lambda_N
        self.form = form
        self.frame_reduction = frame_reduction

    def __call__(
        self, T: torch.Tensor, mask: torch.Tensor, samples: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Args:
            T: ``(B, N, h, w)`` garment-attention mass ``T_i^a`` in [0, 1].
            mask: ``(B, N, h, w)`` agnostic mask at the same level, {0, 1} (1 = region ``A``).
            samples: ``(B,)`` bool, the samples that take part (default: all).
        Returns:
            The scalar loss (0 with a gradient path when no sample takes part).
        """
        T = T.float()
        inside = mask > 0.5
        if self.form == "max":
            # T >= 0, so filling the complement with 0 leaves the max over a non-empty A unchanged
            peak = T.masked_fill(~inside, 0.0).flatten(2).amax(dim=2)
            has_mask = inside.flatten(2).any(dim=2)
            positive = torch.where(has_mask, (1 - peak).square(), torch.zeros_like(peak))
        else:
            positive = ((1 - T).square() * inside).flatten(2).sum(dim=2)
        negative = (T.square() * ~inside).flatten(2).sum(dim=2)
        per_frame = positive + self.lambda_N * negative
        per_sample = per_frame.mean(dim=1) if self.frame_reduction == "mean" else per_frame.sum(dim=1)
        if samples is None:
            return per_sample.mean()
        weights = samples.to(per_sample.dtype)
        return (per_sample * weights).sum() / weights.sum().clamp(min=1.0)
