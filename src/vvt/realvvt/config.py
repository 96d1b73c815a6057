"""The RealVVT model configuration (the ``model:`` section of a RealVVT YAML config).

Defaults are the paper's (Sec. 4) and the authors' released training configuration; every field can be set in
YAML or overridden on the command line (``model.cnt_attention=false``, ``model.lambda_agn=0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vvt.errors import ConfigError


@dataclass
class RealVVTConfig:
    """RealVVT architecture source, losses and conditioning.

    Architecture (see :mod:`vvt.realvvt.presets`):
        preset: ``"tiny"`` (CPU-sized, random weights), ``"small"`` (1x VAE, the bundled SynthVVT model's shapes)
            or ``"full"`` (SVD-XT + SD 2.1 + CLIP ViT-H/14 shapes)
            - the shapes of every part that is not loaded from a directory below.
        svd_dir: a local Stable Video Diffusion (XT) folder in the diffusers layout: ``unet/ vae/
            image_encoder/ feature_extractor/`` and optionally ``scheduler/``. Its 8-channel U-Net is widened
            to 9 channels.
        sd21_dir: a local Stable Diffusion 2.1 folder with ``unet/`` (initialises the Reference U-Net).
        clip_dir: a local ``CLIPVisionModelWithProjection`` folder (config.json + weights, optionally
            preprocessor_config.json) replacing ``svd_dir/image_encoder``.
        vae_dir: a local ``AutoencoderKLTemporalDecoder`` folder (e.g. from ``vvt train vae``) replacing the
            VAE.
        seed: initialisation seed of every part built with random weights.
        variant: which weight files a folder's parts load from: ``auto`` (the ``fp16`` variant files when
            ``torch_dtype`` is 16-bit or when they are the only ones, else the full-precision files), ``fp16``
            (``*.fp16.safetensors`` only, as most SVD-XT copies hold) or ``none`` (the files without suffix).
        torch_dtype: dtype of every part, loaded or random: ``auto`` (a loaded part keeps its file's dtype, a
            random one is float32), ``fp16``, ``bf16`` or ``fp32``. Parts are created directly in it (no
            float32 copy of an fp16 checkpoint; see :func:`vvt.realvvt.presets.load_part`). Training keeps the
            trainable parts in ``fp32`` (the optimiser's master weights) and runs bf16 autocast.

    Losses (Sec. 3.1, 3.3, Eqs. 2-5):
        P_mean, P_std, sigma_data: EDM log-normal noise levels and data scale (released config: 0.7, 1.6,
            1.0). ``sigma_data`` must be 1: sampling runs diffusers' ``EulerDiscreteScheduler`` with
            v-prediction, whose ``c_in`` and x0 formulas are EDM's (Eq. 1) with ``sigma_data = 1``; a model
            trained with another value would be sampled with the wrong preconditioning, so it is refused
            (the VAE's latent scaling factor gives the latents unit variance instead).
        lambda_agn: weight of the agnostic attention loss in Eq. (5) (0 switches it off and skips its
            probabilities).
        lambda_n: ``lambda_N`` of Eqs. (3)-(4).
        agn_form: ``"max"`` (Eq. 4) or ``"init"`` (Eq. 3).
        agn_level: U-Net level (downsampling factor of the latent) where ``T`` is read; ``None`` = 4 (1/32 of
            the image, 16x12 for 512x384, Sec. 4) when the U-Net has spatial attention there, else its
            coarsest level.
        agn_frame_reduction: ``"mean"`` or ``"sum"`` over frames (see :mod:`vvt.realvvt.losses`).
        agn_max_gib: the most memory (GiB) the explicit attention probabilities of the ``agn_level`` layers
            may take in one training step (:func:`vvt.realvvt.model.agn_probability_bytes`); a run whose
            estimate is larger is refused before it starts (at 512x384, levels 1-2 need tens of GB).

    Conditioning:
        cnt_attention: C&T attention (Eq. 8); ``False`` = the ablation with garment tokens only.
        garment_dropout: fraction of training samples whose garment is dropped for classifier-free guidance.
        fps, motion_bucket_id, noise_aug_strength: SVD's micro-conditioning (added time ids ``[fps - 1,
            motion_bucket_id, noise_aug_strength]``); ``noise_aug_strength`` is also the std of the Gaussian
            noise added to the agnostic frames before they are encoded.
        gradient_checkpointing: activation checkpointing in both U-Nets.
    """

    preset: Literal["tiny", "small", "full"] = "tiny"
    svd_dir: Path | None = None
    sd21_dir: Path | None = None
    clip_dir: Path | None = None
    vae_dir: Path | None = None
    seed: int = 0
    variant: Literal["auto", "fp16", "none"] = "auto"
    torch_dtype: Literal["auto", "fp16", "bf16", "fp32"] = "auto"
    P_mean: float = 0.7
    P_std: float = 1.6
    sigma_data: float = 1.0
    lambda_agn: float = 0.5
    lambda_n: float = 0.01
    agn_form: Literal["max", "init"] = "max"
    agn_level: int | None = None
    agn_frame_reduction: Literal["mean", "sum"] = "mean"
    agn_max_gib: float = 16.0
    cnt_attention: bool = True
    garment_dropout: float = 0.05
    fps: int = 7
    motion_bucket_id: int = 40
    noise_aug_strength: float = 0.02
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.garment_dropout <= 1.0:
            problems.append(f"garment_dropout={self.garment_dropout} must lie in [0, 1]")
        for name in ("lambda_agn", "lambda_n", "noise_aug_strength"):
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)} must not be negative")
        if self.P_std <= 0:
            problems.append(f"P_std={self.P_std} must be positive")
        if self.sigma_data != 1.0:
            problems.append(
                f"sigma_data={self.sigma_data} is not supported: the sampler (diffusers' EulerDiscreteScheduler, "
                "v-prediction) assumes sigma_data = 1; scale the latents instead (the VAE's scaling_factor)"
            )
        if self.agn_max_gib <= 0:
            problems.append(f"agn_max_gib={self.agn_max_gib} must be positive")
        if self.agn_level is not None and (self.agn_level < 1 or self.agn_level & (self.agn_level - 1)):
            problems.append(f"agn_level={self.agn_level} must be a power of two (1, 2, 4, ...)")
        if problems:
            raise ConfigError("RealVVT model config: " + "; ".join(problems))
