"""EDM preconditioning, noise levels and the denoising score-matching loss (RealVVT Sec. 3.1, Eqs. 1-2).

RealVVT trains its spatio-temporal U-Net ``U_theta`` inside the EDM framework of Karras et al. (2022) the way
Stable Video Diffusion does. The denoiser of Eq. (1) is::

    D_theta(x; sigma, c) = c_skip(sigma) x + c_out(sigma) U_theta(c_in(sigma) x; c_noise(sigma), c)

with SVD's *v-scaling* preconditioning (``VScalingWithEDMcNoise`` in Stability-AI/generative-models)::

    c_skip  = sigma_data^2 / (sigma^2 + sigma_data^2)
    c_out   = -sigma sigma_data / sqrt(sigma^2 + sigma_data^2)
    c_in    = 1 / sqrt(sigma^2 + sigma_data^2)
    c_noise = 0.25 ln(sigma)

which for ``sigma_data = 1`` is exactly what diffusers' ``EulerDiscreteScheduler`` does when configured as
SVD's (``prediction_type="v_prediction"``, ``timestep_type="continuous"``): ``scale_model_input`` multiplies
by ``c_in``, the timestep it hands the U-Net is ``c_noise`` and ``step`` forms ``c_skip x + c_out U``.

Eq. (2) is trained with ``sigma`` drawn log-normally, ``ln sigma ~ N(P_mean, P_std^2)``, and the EDM loss
weight ``lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2``. The defaults ``P_mean = 0.7``,
``P_std = 1.6`` and ``sigma_data = 1.0`` are those of the authors' released training configuration.

Style after NVlabs/edm ``training/loss.py``: one concept per small class, the paper's symbols as names.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers.utils.torch_utils import randn_tensor

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def append_dims(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """Append trailing singleton dimensions so a per-sample ``(B,)`` tensor broadcasts against ``ndim``
    dims."""
    return x.reshape(x.shape + (1,) * (ndim - x.ndim))


class EDMPrecond:
    """SVD's EDM preconditioning of Eq. (1) (v-scaling, ``c_noise = 0.25 ln sigma``), general ``sigma_data``.

    Every coefficient takes ``sigma`` of any shape and returns a tensor of the same shape.
    """

    def __init__(self, sigma_data: float = 1.0):
        self.sigma_data = sigma_data

    def c_skip(self, sigma: torch.Tensor) -> torch.Tensor:
        return self.sigma_data**2 / (sigma**2 + self.sigma_data**2)

    def c_out(self, sigma: torch.Tensor) -> torch.Tensor:
        return -sigma * self.sigma_data / (sigma**2 + self.sigma_data**2).sqrt()

    def c_in(self, sigma: torch.Tensor) -> torch.Tensor:
        return 1.0 / (sigma**2 + self.sigma_data**2).sqrt()

    def c_noise(self, sigma: torch.Tensor) -> torch.Tensor:
        return 0.25 * sigma.log()

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, unet_output: torch.Tensor) -> torch.Tensor:
        """Eq. (1) given the U-Net output ``U_theta(c_in x; c_noise, c)``: ``c_skip x + c_out U``.

        ``x``, ``unet_output``: ``(B, ...)``; ``sigma``: ``(B,)``.
        """
        sigma = append_dims(sigma, x.ndim)
        return self.c_skip(sigma) * x + self.c_out(sigma) * unet_output

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        """EDM's ``lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2`` (the weight of Eq. 2)."""
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2


class LogNormalSigma:
    """The training noise-level distribution ``ln sigma ~ N(P_mean, P_std^2)`` of EDM (Sec. 3.1, Eq. 2)."""

    def __init__(self, P_mean: float = 0.7, P_std: float = 1.6):
        self.P_mean = P_mean
        self.P_std = P_std

    def __call__(
        self, batch_size: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """``(batch_size,)`` float32 noise levels."""
        rnd_normal = randn_tensor((batch_size,), generator=generator, device=torch.device(device))
        return (rnd_normal * self.P_std + self.P_mean).exp()


class EDMLoss:
    """Denoising score matching of Eq. (2): ``E[lambda(sigma) ||D_theta(x0 + n; sigma) - x0||^2]``.

    ``denoiser(x_noisy, sigma)`` is ``D_theta`` of Eq. (1) with the conditioning ``c`` already bound. The
    squared error is averaged over every element of a sample, weighted per sample, then averaged over the
    batch.
    """

    def __init__(self, P_mean: float = 0.7, P_std: float = 1.6, sigma_data: float = 1.0):
        self.sigma_sampler = LogNormalSigma(P_mean, P_std)
        self.precond = EDMPrecond(sigma_data)

    def __call__(
        self, denoiser: Denoiser, x0: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``x0``: clean latents ``(B, ...)``; returns the scalar loss."""
        sigma = self.sigma_sampler(x0.shape[0], generator, x0.device)
        weight = self.precond.loss_weight(sigma)
        n = randn_tensor(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype) * append_dims(
            sigma, x0.ndim
        )
        D_x = denoiser(x0 + n, sigma)
        return (weight * (D_x.float() - x0.float()).square().flatten(1).mean(1)).mean()
