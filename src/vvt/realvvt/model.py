"""RealVVT: Reference U-Net, spatio-temporal U-Net, pose guider, CLIP image encoder, VAE (Secs. 3.1-3.4).

:class:`RealVVT` is the ``torch.nn.Module`` the trainer optimises; its ``forward(batch, generator)`` is the
training step of Eq. (5) (:meth:`RealVVT.training_step` is the same call). The sampling pipeline
(:class:`vvt.realvvt.pipeline.RealVVTPipeline`) wraps the same modules, so conditioning is encoded one way for
training and inference:

* **Agnostic video** ``x_a`` (Sec. 3.2): Gaussian noise of std ``noise_aug_strength`` is added to the agnostic
  frames in pixel space, then they are VAE-encoded with the posterior mode and *without* the latent scaling
  factor - the convention of SVD's conditioning image, whose place (input channels 4-7 of ``conv_in``) they
  take. The same ``noise_aug_strength`` is SVD's third added time id.
* **Agnostic mask** ``m``: max-pooled to latent size (a latent cell is inside when any of its pixels is),
  channel 8.
* **Target video** ``x``: VAE posterior sample times the latent scaling factor (the EDM ``x0``).
* **Garment** ``c``: CLIP image embedding ``(B, 1, D)`` as the cross-attention context of both U-Nets (SVD's
  first frame embedding is replaced); its VAE latent (mode, scaled) goes through the Reference U-Net once, at
  timestep 0, and the bank of spatial self-attention inputs becomes ``c_attn`` of Eq. (8). A **dropped
  garment** (classifier-free guidance; ``garment_dropout`` of training samples, the unconditional branch at
  inference) is a zero CLIP embedding and an all-zero garment latent into the Reference U-Net - SVD's own
  unconditional convention.
* **DensePose** ``p``: the pose guider's features, added to ``conv_in``'s output.
* Added time ids: ``[fps - 1, motion_bucket_id, noise_aug_strength]`` as SVD.

The garment is resized to the CLIP encoder's input size directly (aspect ratio not kept, as SVD does with its
conditioning frame) with antialiased bicubic interpolation and normalised with the feature extractor's mean
and std.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from diffusers.utils.torch_utils import randn_tensor

from vvt.errors import ConfigError, ShapeMismatchError
from vvt.realvvt.attention import (
    check_pairing,
    inference_partners,
    install_cnt_attention,
    install_reference_capture,
    random_partners,
    spatial_self_attentions,
)
from vvt.realvvt.config import RealVVTConfig
from vvt.realvvt.edm import EDMLoss, EDMPrecond, append_dims
from vvt.realvvt.losses import AgnosticAttentionLoss, resize_mask
from vvt.realvvt.pose_guider import attach_pose_injection

COMPONENTS = (
    "vae",
    "image_encoder",
    "feature_extractor",
    "unet",
    "reference_unet",
    "pose_guider",
    "scheduler",
)
BATCH_KEYS = ("person", "agnostic", "agnostic_mask", "densepose", "garment")
ENCODE_CHUNK = 16  # frames per VAE encoder call


def _uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    gen_device = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=gen_device).to(device)


def agnostic_level(levels: list[int], requested: int | None) -> int:
    """The U-Net level where the agnostic loss reads ``T``: ``requested``, or 4 (1/32 of the image, Sec. 4)
    when the U-Net has spatial self-attention there, else its coarsest level."""
    if requested is not None:
        if requested not in levels:
            raise ConfigError(
                f"agn_level={requested}: the spatio-temporal U-Net has spatial self-attention only at "
                f"levels {sorted(set(levels))}"
            )
        return requested
    return 4 if 4 in levels else max(levels)


class RealVVT(torch.nn.Module):
    """All RealVVT parts and the training step.

    Submodules: ``vae`` (``AutoencoderKLTemporalDecoder``, frozen), ``image_encoder``
    (``CLIPVisionModelWithProjection``, frozen), ``unet`` (``UNetSpatioTemporalConditionModel`` with a
    9-channel ``conv_in``), ``reference_unet`` (``UNet2DConditionModel``), ``pose_guider``
    (:class:`PoseGuider`). Plain attributes: ``feature_extractor`` (``CLIPImageProcessor``), ``scheduler``
    (SVD's ``EulerDiscreteScheduler``), ``config`` (:class:`RealVVTConfig`).

    Build with :meth:`from_config` (local pretrained directories or random ``tiny``/``full``) or
    :meth:`from_pretrained` (a folder written by :meth:`save_pretrained`).
    """

    def __init__(
        self,
        *,
        vae,
        image_encoder,
        feature_extractor,
        unet,
        reference_unet,
        pose_guider,
        scheduler,
        config: RealVVTConfig | None = None,
    ):
        super().__init__()
        self.config = config or RealVVTConfig()
        self.vae = vae
        self.image_encoder = image_encoder
        self.unet = unet
        self.reference_unet = reference_unet
        self.pose_guider = pose_guider
        self.feature_extractor = feature_extractor
        self.scheduler = scheduler
        self._check_components()
        self.vae.requires_grad_(False).eval()
        self.image_encoder.requires_grad_(False).eval()

        unet_layers = spatial_self_attentions(unet)
        check_pairing(unet_layers, spatial_self_attentions(reference_unet))
        self.agn_level = agnostic_level([layer.level for layer in unet_layers], self.config.agn_level)
        self.cnt_state = install_cnt_attention(unet)
        self.reference_bank = install_reference_capture(reference_unet)
        self.pose_injection = attach_pose_injection(unet)

        self.precond = EDMPrecond(self.config.sigma_data)
        self.dsm_loss = EDMLoss(self.config.P_mean, self.config.P_std, self.config.sigma_data)
        self.agn_loss = AgnosticAttentionLoss(
            self.config.lambda_n, self.config.agn_form, self.config.agn_frame_reduction
        )
        if self.config.gradient_checkpointing:
            self.set_gradient_checkpointing(True)

    def _check_components(self) -> None:
        unet, ref = self.unet, self.reference_unet
        latent = self.vae.config.latent_channels
        if unet.config.in_channels != 2 * latent + 1:
            raise ConfigError(
                f"the spatio-temporal U-Net takes {unet.config.in_channels} input channels; RealVVT needs "
                f"{2 * latent + 1} (noisy {latent} + agnostic {latent} + mask 1; see widen_conv_in)"
            )
        if ref.config.in_channels != latent:
            raise ConfigError(
                f"the Reference U-Net takes {ref.config.in_channels} channels, the VAE latent has {latent}"
            )
        dim = self.image_encoder.config.projection_dim
        for name, cross in (
            ("spatio-temporal", unet.config.cross_attention_dim),
            ("Reference", ref.config.cross_attention_dim),
        ):
            if cross != dim:
                raise ConfigError(
                    f"the {name} U-Net's cross-attention width {cross} differs from the CLIP image "
                    f"embedding's {dim}"
                )
        if self.pose_guider.config.out_channels != unet.conv_in.out_channels:
            raise ConfigError(
                f"the pose guider outputs {self.pose_guider.config.out_channels} channels, the U-Net's "
                f"conv_in {unet.conv_in.out_channels}"
            )

    # ----------------------------------------------------------------------------------------------- building
    @classmethod
    def from_config(cls, config: RealVVTConfig) -> RealVVT:
        """Build from ``config``: its local pretrained directories and preset (see
        :mod:`vvt.realvvt.presets`)."""
        from vvt.realvvt.presets import build_components

        return cls(**build_components(config), config=config)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, config: RealVVTConfig | None = None, dtype: torch.dtype | None = None
    ) -> RealVVT:
        """Load a folder written by :meth:`save_pretrained` (or ``RealVVTPipeline.save_pretrained``), its
        parts in ``dtype`` when given; raises :class:`~vvt.errors.WeightsNotFoundError` when
        ``path`` holds no such folder. ``config`` (default: the saved ``cnt_attention`` and the default
        losses) sets the training options."""
        from vvt.realvvt.pipeline import RealVVTPipeline

        pipe = RealVVTPipeline.from_pretrained(path, dtype=dtype)
        config = config or RealVVTConfig(
            cnt_attention=pipe.config.cnt_attention,
            fps=pipe.config.fps,
            motion_bucket_id=pipe.config.motion_bucket_id,
            noise_aug_strength=pipe.config.noise_aug_strength,
        )
        return cls(**pipe.components, config=config)

    def components(self) -> dict[str, Any]:
        """The seven parts by name (the :class:`RealVVTPipeline` constructor's arguments)."""
        return {name: getattr(self, name) for name in COMPONENTS}

    def pipeline(self, **settings: Any):
        """A :class:`~vvt.realvvt.pipeline.RealVVTPipeline` sharing this model's modules (no copy). It samples
        in eval mode and gives every module its mode back afterwards, so it can run during training.

        The pipeline carries this model's micro-conditioning (``fps``, ``motion_bucket_id``,
        ``noise_aug_strength``) and ``settings``: the pipeline's other saved settings (``height``, ``width``,
        ``num_frames``, ``num_inference_steps``, ``min_guidance_scale``, ``max_guidance_scale``)."""
        from vvt.realvvt.pipeline import RealVVTPipeline

        cfg = self.config
        return RealVVTPipeline(
            **self.components(),
            cnt_attention=cfg.cnt_attention,
            fps=cfg.fps,
            motion_bucket_id=cfg.motion_bucket_id,
            noise_aug_strength=cfg.noise_aug_strength,
            **settings,
        )

    def save_pretrained(self, path: str | Path, **settings: Any) -> None:
        """Save every part (pose guider and Reference U-Net included) in safetensors, in the pipeline
        layout, with the micro-conditioning and ``settings`` (see :meth:`pipeline`) in ``model_index.json``."""
        self.pipeline(**settings).save_pretrained(path, safe_serialization=True)

    def trainable_modules(self) -> dict[str, torch.nn.Module]:
        """The parts trained by default (Sec. 3.2): both U-Nets and the pose guider."""
        return {"unet": self.unet, "reference_unet": self.reference_unet, "pose_guider": self.pose_guider}

    def frozen_modules(self) -> dict[str, torch.nn.Module]:
        """The parts kept frozen: the VAE and the CLIP image encoder."""
        return {"vae": self.vae, "image_encoder": self.image_encoder}

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        """Activation checkpointing in both U-Nets (the C&T inputs stay set for the backward recompute)."""
        for unet in (self.unet, self.reference_unet):
            if enabled:
                unet.enable_gradient_checkpointing()
            else:
                unet.disable_gradient_checkpointing()

    # ----------------------------------------------------------------------------------------------- encoders
    @torch.no_grad()
    def encode_frames(
        self,
        pixels: torch.Tensor,
        generator: torch.Generator | None = None,
        sample: bool = False,
        scale: bool = True,
    ) -> torch.Tensor:
        """VAE-encode ``(B, N, 3, H, W)`` pixels in [-1, 1] to ``(B, N, C, H/8, W/8)`` latents.

        ``sample``: posterior sample (from ``generator``) instead of its mode; ``scale``: multiply by the
        VAE's latent scaling factor.
        """
        b, n = pixels.shape[:2]
        flat = pixels.flatten(0, 1).to(self.vae.dtype)
        out = []
        for start in range(0, flat.shape[0], ENCODE_CHUNK):
            dist = self.vae.encode(flat[start : start + ENCODE_CHUNK]).latent_dist
            out.append(dist.sample(generator) if sample else dist.mode())
        latents = torch.cat(out)
        if scale:
            latents = latents * self.vae.config.scaling_factor
        return latents.reshape(b, n, *latents.shape[1:])

    def encode_agnostic(
        self, agnostic: torch.Tensor, noise_aug_strength: float, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, N, 3, H, W)`` agnostic frames -> noise-augmented, unscaled mode latents
        ``(B, N, C, h, w)``."""
        noise = randn_tensor(
            agnostic.shape, generator=generator, device=agnostic.device, dtype=agnostic.dtype
        )
        return self.encode_frames(agnostic + noise_aug_strength * noise, scale=False)

    def mask_latents(self, mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``(B, N, 1, H, W)`` agnostic mask -> ``(B, N, 1, h, w)`` at latent size (max pooling)."""
        return resize_mask(mask, size)

    def clip_pixels(self, garment: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` garment in [-1, 1] -> the CLIP encoder's normalised ``(B, 3, S, S)`` input."""
        crop = self.feature_extractor.crop_size
        x = F.interpolate(
            garment.float(),
            size=(crop["height"], crop["width"]),
            mode="bicubic",
            align_corners=False,
            antialias=True,
        )
        x = ((x + 1) / 2).clamp(0, 1)
        mean = torch.tensor(self.feature_extractor.image_mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.feature_extractor.image_std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def encode_garment(
        self, garment: torch.Tensor, keep: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The garment's CLIP embedding ``(B, 1, D)`` and scaled VAE latent ``(B, C, h, w)``.

        ``garment``: ``(B, 3, H, W)`` in [-1, 1] at the video's size. ``keep``: ``(B,)`` bool; dropped samples
        (``False``) get a zero embedding and a zero latent (the unconditional garment).
        """
        pixels = self.clip_pixels(garment).to(self.image_encoder.dtype)
        embeds = self.image_encoder(pixels).image_embeds.unsqueeze(1)
        latents = self.encode_frames(garment.unsqueeze(1))[:, 0]
        if keep is not None:
            embeds = embeds * append_dims(keep.to(embeds.dtype), embeds.ndim)
            latents = latents * append_dims(keep.to(latents.dtype), latents.ndim)
        return embeds, latents

    def reference_tokens(
        self, garment_latents: torch.Tensor, clip_embeds: torch.Tensor
    ) -> list[torch.Tensor]:
        """Run the Reference U-Net once at timestep 0 and return its bank: one ``(B, L, C)`` per spatial
        layer.

        ``garment_latents``: ``(B, C, h, w)``; ``clip_embeds``: ``(B, 1, D)``.
        """
        dtype = self.reference_unet.dtype
        timestep = torch.zeros(garment_latents.shape[0], device=garment_latents.device)
        self.reference_unet(garment_latents.to(dtype), timestep, encoder_hidden_states=clip_embeds.to(dtype))
        return self.reference_bank.collect()

    def added_time_ids(
        self,
        batch_size: int,
        fps: int,
        motion_bucket_id: int,
        noise_aug_strength: float,
        device: torch.device,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """SVD's micro-conditioning ``[fps - 1, motion_bucket_id, noise_aug_strength]`` as ``(B, 3)``."""
        ids = torch.tensor([[fps - 1, motion_bucket_id, noise_aug_strength]], device=device, dtype=dtype)
        return ids.repeat(batch_size, 1)

    def set_conditions(
        self,
        garment_tokens: list[torch.Tensor] | None,
        partners: torch.Tensor | None,
        pose_features: torch.Tensor | None,
        capture_level: int | None = None,
    ) -> None:
        """Set the inputs the spatio-temporal U-Net's seams use in its next forward passes.

        Args:
            garment_tokens: the Reference U-Net bank (:meth:`reference_tokens`) or ``None``.
            partners: ``(B, N)`` partner frame indices (C&T attention) or ``None`` (C&T off).
            pose_features: ``(B * N, C, h, w)`` pose-guider output or ``None``.
            capture_level: record the garment-attention mass at this level (agnostic loss) or ``None``.
        """
        self.cnt_state.set(garment_tokens, partners, capture_level)
        self.pose_injection.features = pose_features

    def clear_conditions(self) -> None:
        """Switch the seams off: plain self-attention and no pose features (the plain SVD U-Net)."""
        self.set_conditions(None, None, None)

    def unet_output(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        clip_embeds: torch.Tensor,
        added_time_ids: torch.Tensor,
    ) -> torch.Tensor:
        """``U_theta`` of Eq. (1) with the conditions set by :meth:`set_conditions`.

        Args:
            sample: ``(B, N, 2C + 1, h, w)`` = ``[c_in x, agnostic latents, mask]``.
            timestep: ``(B,)`` or scalar ``c_noise(sigma)``.
            clip_embeds: ``(B, 1, D)``; added_time_ids: ``(B, 3)``.
        Returns:
            ``(B, N, C, h, w)``.
        """
        dtype = self.unet.dtype
        return self.unet(
            sample.to(dtype),
            timestep,
            encoder_hidden_states=clip_embeds.to(dtype),
            added_time_ids=added_time_ids.to(dtype),
        ).sample

    # ----------------------------------------------------------------------------------------------- training
    def forward(
        self, batch: dict[str, Any], generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """The training step of Eq. (5): ``loss = DSM (Eq. 2) + lambda_agn L_agn (Eq. 4)``.

        Args:
            batch: the shared tensor contract with a batch dimension: ``person``, ``agnostic``, ``densepose``
                ``(B, N, 3, H, W)`` in [-1, 1]; ``agnostic_mask`` ``(B, N, 1, H, W)`` in {0, 1}; ``garment``
                ``(B, 3, H, W)`` in [-1, 1] (the video's ``H, W``). Other keys are ignored.
            generator: every random draw of the step (garment dropout, partner frames, VAE posterior, noise
                augmentation, sigma, noise) comes from it.
        Returns:
            ``{"loss", "dsm", "agn"}``: the total (with gradient) and its two terms (detached).

        The C&T inputs stay set after the call (gradient checkpointing recomputes blocks during ``backward``):
        call ``backward`` before the next step.
        """
        missing = [k for k in BATCH_KEYS if k not in batch]
        if missing:
            raise KeyError(f"RealVVT training batch lacks {missing} (has {sorted(batch)})")
        person = batch["person"]
        b, n, _, h, w = person.shape
        for key in ("agnostic", "agnostic_mask", "densepose"):
            if batch[key].shape[:2] != (b, n) or batch[key].shape[-2:] != (h, w):
                raise ShapeMismatchError(
                    f"batch[{key!r}] has shape {tuple(batch[key].shape)}, batch['person'] "
                    f"{tuple(person.shape)}"
                )
        if batch["garment"].shape != (b, 3, h, w):
            raise ShapeMismatchError(
                f"batch['garment'] has shape {tuple(batch['garment'].shape)}; expected "
                f"{(b, 3, h, w)} (the garment is resized to the frame size)"
            )
        device, cfg = person.device, self.config

        x0 = self.encode_frames(person, generator, sample=True)
        latent_size = tuple(x0.shape[-2:])
        agnostic = self.encode_agnostic(batch["agnostic"], cfg.noise_aug_strength, generator)
        mask = self.mask_latents(batch["agnostic_mask"], latent_size)
        keep = _uniform((b,), generator, device) >= cfg.garment_dropout
        clip_embeds, garment_latents = self.encode_garment(batch["garment"], keep)
        tokens = self.reference_tokens(garment_latents, clip_embeds)
        partners = random_partners(b, n, generator, device) if cfg.cnt_attention else None
        capture = cfg.lambda_agn > 0 and bool(keep.any())
        pose = self.pose_guider(batch["densepose"].to(self.pose_guider.dtype))
        self.set_conditions(tokens, partners, pose, self.agn_level if capture else None)

        cond = torch.cat([agnostic, mask], dim=2)
        time_ids = self.added_time_ids(
            b, cfg.fps, cfg.motion_bucket_id, cfg.noise_aug_strength, device, x0.dtype
        )

        def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            c_in = self.precond.c_in(append_dims(sigma, x.ndim))
            out = self.unet_output(
                torch.cat([c_in * x, cond], dim=2), self.precond.c_noise(sigma), clip_embeds, time_ids
            )
            return self.precond.denoise(x, sigma, out.float())

        dsm = self.dsm_loss(denoiser, x0, generator)
        if capture:
            T = self.cnt_state.captured()
            level_size = self._level_size(latent_size, T.shape[1])
            T = T.reshape(b, n, *level_size)
            agn = self.agn_loss(T, resize_mask(mask[:, :, 0], level_size), keep)
        else:
            agn = torch.zeros((), device=device)
        return {"loss": dsm + cfg.lambda_agn * agn, "dsm": dsm.detach(), "agn": agn.detach()}

    training_step = forward

    @property
    def vae_scale_factor(self) -> int:
        """Pixels per latent cell along each axis (8 for SVD's VAE, 2 for the ``small`` preset's)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    def level_size(self, latent_size: tuple[int, int], level: int | None = None) -> tuple[int, int]:
        """The token grid ``(h, w)`` of U-Net level ``level`` (default :attr:`agn_level`) for a latent of
        ``latent_size``: stride-2 convs with padding 1 halve with ceiling."""
        h, w = latent_size
        for _ in range((level or self.agn_level).bit_length() - 1):
            h, w = (h + 1) // 2, (w + 1) // 2
        return h, w

    def agn_probability_bytes(self, size: tuple[int, int], frames: int, batch_size: int) -> int:
        """Memory of the explicit attention probabilities the agnostic loss needs in one training step.

        For every spatial self-attention at :attr:`agn_level`: ``B * N`` rows x heads x ``L_q`` queries x
        ``L_k`` keys in float32, with ``L_q = h * w`` tokens of the level and ``L_k = L_q`` (frame ``i``) +
        ``L_q`` (partner frame ``j``, with C&T) + ``L_q`` (garment tokens), counted twice (the probabilities
        kept for the backward pass and their gradient). ``size``: the frame ``(H, W)`` in pixels.
        """
        factor = self.vae_scale_factor
        h, w = self.level_size((size[0] // factor, size[1] // factor))
        queries = h * w
        keys = queries * (3 if self.config.cnt_attention else 2)
        layers = [layer for layer in spatial_self_attentions(self.unet) if layer.level == self.agn_level]
        return sum(2 * 4 * batch_size * frames * layer.module.heads * queries * keys for layer in layers)

    def check_agn_memory(self, size: tuple[int, int], frames: int, batch_size: int) -> None:
        """Raise :class:`~vvt.errors.ConfigError` before training when the agnostic loss's explicit attention
        probabilities (:meth:`agn_probability_bytes`) would exceed ``config.agn_max_gib``."""
        if self.config.lambda_agn <= 0:
            return
        gib = self.agn_probability_bytes(size, frames, batch_size) / 2**30
        if gib > self.config.agn_max_gib:
            raise ConfigError(
                f"model.agn_level={self.agn_level}: the agnostic loss's attention probabilities at "
                f"{size[0]}x{size[1]}, {frames} frames, batch {batch_size} need about {gib:.1f} GiB "
                f"(limit model.agn_max_gib={self.config.agn_max_gib:g}); choose a coarser agn_level "
                "(4 is the paper's 1/32 of the image) or raise agn_max_gib"
            )

    def _level_size(self, latent_size: tuple[int, int], tokens: int) -> tuple[int, int]:
        h, w = self.level_size(latent_size)
        if h * w != tokens:
            raise ShapeMismatchError(
                f"{tokens} tokens at level {self.agn_level} do not match the latent {latent_size}"
            )
        return h, w

    @torch.no_grad()
    def inference_partners(
        self, batch_size: int, num_frames: int, device: torch.device
    ) -> torch.Tensor | None:
        """The deterministic partner frames used at inference (see
        :func:`~vvt.realvvt.attention.inference_partners`), or ``None`` with C&T switched off."""
        return inference_partners(batch_size, num_frames, device) if self.config.cnt_attention else None
