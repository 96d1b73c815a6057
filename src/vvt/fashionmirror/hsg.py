"""Human sequence generation, HSG (FashionMirror Sec. 3.2, Eqs. 7-8).

One step generates frame ``t+1`` from the masked current frame ``h_m^t``, the masked source
``h_m^s = h^s * (1 - M_r)``, the garment ``C``, its try-on mask ``M_c^{t+1}`` and the next skeleton
``p^{t+1}``, with the SFE flows ``F^t`` and selection masks ``m^t``. At every attentive layer ``i``
(stride ``s``), Eq. 8:

    (eps_g^{t+1})_i = GaussianWarp((eps_m^t)_i, (F^t)_i) + lambda_hs (eps_m^s)_i * (m^t)_i
                      + lambda_ci STN((eps_c)_i) * (eps_{M_c^{t+1}})_i

implemented term for term as printed (the source term is not warped and the warped term carries no
``1 - m^t``; the selection mask only gates the source). Choices where the paper is silent:

- **Encoders.** Separate multi-scale encoders (:class:`~vvt.fashionmirror.layers.Encoder`) for the human
  (shared by ``h_m^s`` and ``h_m^t``), the garment, the mask ``M_c^{t+1}`` and the target pose ``p^{t+1}``.
- **STN.** One small affine spatial transformer per frame: ``theta`` (2x3, initialised to the identity)
  is regressed from the coarsest garment and ``M_c^{t+1}`` features, and applied with
  ``torch.nn.functional.affine_grid``/``grid_sample`` to the garment features of every attentive layer
  (an affine map in normalised coordinates is the same at every resolution).
- **lambda_ci schedule.** "lambda_ci increases as the receptive field decreases": ``lambda_ci = lambda_c *
  (s_max / s_i)``, i.e. doubling at each finer attentive layer (1x at stride 8, 2x at stride 4 by default).
- **Decoder.** Starts from the encoded target pose ``p^{t+1}`` at the coarsest attentive stride; at each
  attentive stride it concatenates ``eps_g^{t+1}`` and refines with a residual block; it then upsamples to
  full size and outputs ``h_g^{t+1}`` in [-1, 1] (tanh).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vvt.fashionmirror.layers import ConvBlock, Encoder, ResBlock, channels_at
from vvt.fashionmirror.warp import gaussian_warp


class AffineSTN(nn.Module):
    """Affine spatial transformer: ``theta`` from garment + mask features, identity at initialisation."""

    def __init__(self, in_channels: int, hidden: int):
        super().__init__()
        self.features = nn.Sequential(ConvBlock(in_channels, hidden), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.theta = nn.Linear(hidden, 6)
        nn.init.zeros_(self.theta.weight)
        with torch.no_grad():
            self.theta.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, garment_features: torch.Tensor, mask_features: torch.Tensor) -> torch.Tensor:
        """``theta`` ``(B, 2, 3)`` from ``(B, C1, h, w)`` and ``(B, C2, h, w)`` features."""
        return self.theta(self.features(torch.cat([garment_features, mask_features], 1))).view(-1, 2, 3)


def apply_affine(x: torch.Tensor, theta: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Warp ``x`` ``(B, C, h, w)`` by ``theta`` ``(B, 2, 3)`` onto a ``size`` grid (zero padding)."""
    grid = F.affine_grid(theta, [x.shape[0], x.shape[1], *size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class HumanSequenceGenerator(nn.Module):
    """G_h of Eq. 7, one step (Eq. 8); see the module docstring.

    Args:
        base_channels / max_channels: widths (``channels_at``), the same as the SFE's.
        attn_strides: attentive strides, coarse to fine (as the SFE's).
        lambda_hs: weight of the source-human term.
        lambda_c: weight of the garment term at the coarsest attentive layer (``lambda_ci`` schedule).
        kernel_size / sigma: Gaussian sampling parameters.
    """

    def __init__(
        self,
        base_channels: int = 32,
        max_channels: int = 256,
        attn_strides: tuple[int, ...] = (8, 4),
        lambda_hs: float = 1.0,
        lambda_c: float = 1.0,
        kernel_size: int = 4,
        sigma: float = 2.0,
    ):
        super().__init__()
        self.attn_strides = tuple(attn_strides)
        self.lambda_hs = lambda_hs
        s_max = max(attn_strides)
        self.lambda_ci = {s: lambda_c * s_max / s for s in attn_strides}
        self.kernel_size, self.sigma = kernel_size, sigma
        ch = lambda s: channels_at(s, base_channels, max_channels)  # noqa: E731
        self.ch = ch
        num_layers = s_max.bit_length()
        self.encode_human = Encoder(3, num_layers, base_channels, max_channels)
        self.encode_garment = Encoder(3, num_layers, base_channels, max_channels)
        self.encode_mask = Encoder(1, num_layers, base_channels, max_channels)
        self.encode_pose = Encoder(3, num_layers, base_channels, max_channels)
        self.stn = AffineSTN(2 * ch(s_max), ch(s_max))
        self.strides = [2**i for i in range(num_layers)][::-1]  # s_max ... 1
        self.fuse = nn.ModuleDict(
            {str(s): nn.Sequential(ConvBlock(2 * ch(s), ch(s)), ResBlock(ch(s))) for s in attn_strides}
        )
        self.up = nn.ModuleDict({str(s): ConvBlock(ch(2 * s), ch(s)) for s in self.strides[1:]})
        self.to_rgb = nn.Conv2d(ch(1), 3, 3, padding=1)

    def fuse_features(
        self,
        eps_t: torch.Tensor,
        eps_s: torch.Tensor,
        eps_c: torch.Tensor,
        eps_mask: torch.Tensor,
        flow: torch.Tensor,
        selection: torch.Tensor,
        theta: torch.Tensor,
        stride: int,
    ) -> torch.Tensor:
        """Eq. 8 at one attentive layer; every feature ``(B, C, h, w)``, ``flow`` ``(B, 2, h, w)``,
        ``selection`` ``(B, 1, h, w)``, ``theta`` ``(B, 2, 3)``."""
        warped = gaussian_warp(eps_t, flow, self.kernel_size, self.sigma)
        garment = apply_affine(eps_c, theta, tuple(eps_t.shape[-2:]))
        return warped + self.lambda_hs * eps_s * selection + self.lambda_ci[stride] * garment * eps_mask

    def forward(
        self,
        source_masked: torch.Tensor,
        current_masked: torch.Tensor,
        garment: torch.Tensor,
        tryon_mask: torch.Tensor,
        pose_next: torch.Tensor,
        flows: dict[int, torch.Tensor],
        selection: dict[int, torch.Tensor],
    ) -> torch.Tensor:
        """Generate ``h_g^{t+1}``.

        Args:
            source_masked: ``h_m^s`` ``(B, 3, H, W)`` in [-1, 1].
            current_masked: ``h_m^t`` ``(B, 3, H, W)``.
            garment: ``C`` ``(B, 3, H, W)``.
            tryon_mask: ``M_c^{t+1}`` ``(B, 1, H, W)`` in [0, 1].
            pose_next: ``p^{t+1}`` ``(B, 3, H, W)``.
            flows, selection: SFE outputs ``{stride: (B, 2|1, h, w)}`` for every attentive stride.

        Returns:
            ``h_g^{t+1}`` ``(B, 3, H, W)`` in [-1, 1].
        """
        s_max = self.strides[0]
        eps_s, eps_t = self.encode_human(source_masked), self.encode_human(current_masked)
        eps_c, eps_mask = self.encode_garment(garment), self.encode_mask(tryon_mask)
        theta = self.stn(F.interpolate(eps_c[s_max], size=eps_mask[s_max].shape[-2:]), eps_mask[s_max])
        x = self.encode_pose(pose_next)[s_max]
        for i, s in enumerate(self.strides):
            if i > 0:
                x = self.up[str(s)](F.interpolate(x, size=eps_t[s].shape[-2:], mode="nearest"))
            if s in self.attn_strides:
                eps_g = self.fuse_features(
                    eps_t[s], eps_s[s], eps_c[s], eps_mask[s], flows[s], selection[s], theta, s
                )
                x = self.fuse[str(s)](torch.cat([x, eps_g], 1))
        return torch.tanh(self.to_rgb(x))
