"""``RealVVTPipeline``: video virtual try-on sampling with a RealVVT model (Secs. 3.1-3.4).

The recipe (after diffusers' ``StableVideoDiffusionPipeline``): check and convert the inputs; encode the
garment (CLIP embedding, Reference U-Net bank - once per video, both classifier-free-guidance branches in one
batch), the noise-augmented agnostic video, the mask and the DensePose frames (pose guider, once per video);
EDM Euler sampling with diffusers' ``EulerDiscreteScheduler`` configured as SVD's; classifier-free guidance on
the garment with SVD's per-frame scale ``linspace(min_guidance_scale, max_guidance_scale, N)``; VAE decoding
in chunks; optional paste-back of the agnostic pixels outside the feathered agnostic mask. The unconditional
branch keeps the person (agnostic video, mask, pose) and drops the garment (zero CLIP embedding, zero garment
latent: :mod:`vvt.realvvt.model`).

Inputs are one video at a time:

* ``agnostic``, ``densepose``: a list of PIL images, a ``(N, H, W, 3)`` uint8 array or a ``(N, 3, H, W)``
  float tensor in [-1, 1];
* ``agnostic_mask``: a list of PIL images, a ``(N, H, W)`` uint8/bool array (non-zero = inpaint) or a
  ``(N, 1, H, W)`` tensor in {0, 1};
* ``garment``: a PIL image, a ``(H, W, 3)`` uint8 array or a ``(3, H, W)`` tensor in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from vvt.errors import ShapeMismatchError, VVTError, WeightsNotFoundError
from vvt.realvvt.config import RealVVTConfig
from vvt.realvvt.edm import append_dims
from vvt.realvvt.model import RealVVT
from vvt.realvvt.presets import vae_decode


class PipelineInputError(VVTError, ValueError):
    """An input of :class:`RealVVTPipeline` has the wrong type, range or content."""


@dataclass
class RealVVTPipelineOutput(BaseOutput):
    """``frames``: the try-on video - a list of PIL images, a float32 ``(N, H, W, 3)`` array in [0, 1] or a
    float32 ``(N, 3, H, W)`` tensor in [0, 1], as ``output_type`` asked."""

    frames: list[PIL.Image.Image] | np.ndarray | torch.Tensor


def _to_uint8_stack(value: Any, name: str, channels: int | None) -> np.ndarray:
    """PIL list / ndarray -> uint8 ``(N, H, W, C)`` (``channels=None``: masks, any of L / RGB / bool)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise PipelineInputError(f"{name}: empty list of frames")
        if not all(isinstance(v, PIL.Image.Image) for v in value):
            raise PipelineInputError(f"{name}: a list must hold PIL images, got {type(value[0]).__name__}")
        sizes = sorted({v.size for v in value})
        if len(sizes) > 1:
            raise ShapeMismatchError(f"{name}: the PIL frames differ in size (W, H): {sizes}")
        mode = "RGB" if channels == 3 else "L"
        value = np.stack([np.asarray(v.convert(mode)) for v in value])
    if value.dtype == np.bool_:
        value = value.astype(np.uint8) * 255
    if value.dtype != np.uint8:
        raise PipelineInputError(f"{name}: numpy frames must be uint8 (or bool for masks), got {value.dtype}")
    if channels is None:
        if value.ndim == 4 and value.shape[-1] in (1, 3):
            value = value[..., :1]
        elif value.ndim == 3:
            value = value[..., None]
        else:
            raise PipelineInputError(f"{name}: expected (N, H, W) mask frames, got shape {value.shape}")
    elif value.ndim != 4 or value.shape[-1] != channels:
        raise PipelineInputError(f"{name}: expected (N, H, W, {channels}) frames, got shape {value.shape}")
    return value


def _video_tensor(value: Any, name: str, mask: bool = False) -> torch.Tensor:
    """One input video -> float ``(N, C, H, W)``: [-1, 1] for images, {0, 1} for masks."""
    if isinstance(value, torch.Tensor):
        x = value.detach().float().cpu()
        if mask and x.ndim == 3:
            x = x.unsqueeze(1)
        want = 1 if mask else 3
        if x.ndim != 4 or x.shape[1] != want:
            raise PipelineInputError(
                f"{name}: expected a (N, {want}, H, W) tensor, got shape {tuple(x.shape)}"
            )
        lo, hi = (0.0, 1.0) if mask else (-1.0, 1.0)
        if x.numel() and (x.min() < lo - 1e-3 or x.max() > hi + 1e-3):
            raise PipelineInputError(
                f"{name}: tensor values must lie in [{lo:g}, {hi:g}], got [{x.min():.3g}, {x.max():.3g}]"
            )
        return (x > 0.5).float() if mask else x
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise PipelineInputError(
            f"{name}: expected a list of PIL images, a numpy array or a tensor, got {type(value).__name__}"
        )
    # astype copies: read-only arrays (np.asarray of a PIL image) never reach torch.from_numpy
    frames = torch.from_numpy(_to_uint8_stack(value, name, None if mask else 3).astype(np.float32))
    frames = frames.permute(0, 3, 1, 2)
    return (frames > 127).float() if mask else frames / 127.5 - 1


def _image_tensor(value: Any, name: str) -> torch.Tensor:
    """The garment -> float ``(3, H, W)`` in [-1, 1]."""
    if isinstance(value, PIL.Image.Image):
        return _video_tensor([value], name)[0]
    if isinstance(value, np.ndarray):
        return _video_tensor(value[None], name)[0]
    if isinstance(value, torch.Tensor):
        if value.ndim != 3:
            raise PipelineInputError(f"{name}: expected a (3, H, W) tensor, got shape {tuple(value.shape)}")
        return _video_tensor(value[None], name)[0]
    raise PipelineInputError(
        f"{name}: expected a PIL image, a numpy array or a tensor, got {type(value).__name__}"
    )


def _resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest-exact")
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True).clamp(-1, 1)


def feathered_alpha(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Blend weight of the generated pixels for paste-back: ``mask * blur(mask)``, 0 exactly outside the mask
    and ramping up to 1 over about ``radius`` pixels inside its border. ``mask``: ``(N, 1, H, W)`` in {0,
    1}."""
    if radius <= 0:
        return mask
    from torchvision.transforms.functional import gaussian_blur

    blurred = gaussian_blur(mask, kernel_size=2 * radius + 1, sigma=radius / 2)
    return mask * blurred


@contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Run a block with ``modules`` in eval mode (no dropout), then give every submodule back its own mode.

    A pipeline built on a model being trained (:meth:`vvt.realvvt.model.RealVVT.pipeline`) shares its
    modules, which are in train mode; the training continues in train mode after sampling. Each submodule's
    flag is restored as it was, so a mixed state (e.g. a frozen part kept in eval inside a training model)
    survives.
    """
    modes = [(m, m.training) for root in modules for m in root.modules()]
    for root in modules:
        root.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


class RealVVTPipeline(DiffusionPipeline):
    """Video virtual try-on with RealVVT (a diffusers ``DiffusionPipeline``).

    Components: ``vae`` (``AutoencoderKLTemporalDecoder``), ``image_encoder``
    (``CLIPVisionModelWithProjection``), ``feature_extractor`` (``CLIPImageProcessor``), ``unet`` (9-channel
    ``UNetSpatioTemporalConditionModel``), ``reference_unet`` (``UNet2DConditionModel``), ``pose_guider``
    (:class:`~vvt.realvvt.pose_guider.PoseGuider`), ``scheduler`` (``EulerDiscreteScheduler`` as SVD's).
    ``cnt_attention`` (saved in ``model_index.json``): C&T attention with partner frame
    ``j = (i + N // 2) % N`` (on) or garment tokens only (the ablation).

    **Settings that travel with the model** (saved in ``model_index.json`` and read back by
    ``from_pretrained``): the micro-conditioning the model was trained with (``fps``, ``motion_bucket_id``,
    ``noise_aug_strength``: SVD's added time ids, and the noise added to the agnostic frames), the training
    size ``height`` x ``width`` and clip length ``num_frames`` (None when unknown; :mod:`vvt.realvvt.tryon`
    uses them as the working size and clip length), and the sampling defaults ``num_inference_steps``,
    ``min_guidance_scale``, ``max_guidance_scale``. Every ``__call__`` argument left at ``None`` takes the
    saved value, so a model trained with ``fps=12`` samples with ``fps=12`` unless told otherwise.

    ``save_pretrained`` / ``from_pretrained`` round-trip every part in safetensors; ``from_pretrained`` reads
    local folders only. Sampling runs every module in eval mode and then gives each its own mode back
    (:func:`eval_mode`), so a pipeline sharing the modules of a model in training
    (:meth:`vvt.realvvt.model.RealVVT.pipeline`) leaves the training as it found it.
    """

    #: the order in which :meth:`_sample` first calls each part (encode: CLIP then the VAE encoder on the garment
    #: and the agnostic video; reference; pose; denoise); with ``enable_model_cpu_offload`` each part sends the
    #: previous one back to the CPU, and the U-Net leaves the GPU before the VAE decodes (:meth:`decode_latents`)
    model_cpu_offload_seq = "image_encoder->vae->reference_unet->pose_guider->unet"

    def __init__(
        self,
        vae,
        image_encoder,
        feature_extractor,
        unet,
        reference_unet,
        pose_guider,
        scheduler,
        cnt_attention: bool = True,
        fps: int = 7,
        motion_bucket_id: int = 40,
        noise_aug_strength: float = 0.02,
        height: int | None = None,
        width: int | None = None,
        num_frames: int | None = None,
        num_inference_steps: int = 25,
        min_guidance_scale: float = 1.0,
        max_guidance_scale: float = 3.0,
    ):
        super().__init__()
        self.register_modules(
            vae=vae,
            image_encoder=image_encoder,
            feature_extractor=feature_extractor,
            unet=unet,
            reference_unet=reference_unet,
            pose_guider=pose_guider,
            scheduler=scheduler,
        )
        self.register_to_config(
            cnt_attention=cnt_attention,
            fps=fps,
            motion_bucket_id=motion_bucket_id,
            noise_aug_strength=noise_aug_strength,
            height=height,
            width=width,
            num_frames=num_frames,
            num_inference_steps=num_inference_steps,
            min_guidance_scale=min_guidance_scale,
            max_guidance_scale=max_guidance_scale,
        )
        self.model = RealVVT(
            **self.components,
            config=RealVVTConfig(
                cnt_attention=cnt_attention,
                fps=fps,
                motion_bucket_id=motion_bucket_id,
                noise_aug_strength=noise_aug_strength,
            ),
        )

    @property
    def trained_size(self) -> tuple[int, int] | None:
        """``(height, width)`` the model was trained at, or None when the folder does not say."""
        h, w = self.config.get("height"), self.config.get("width")
        return (int(h), int(w)) if h and w else None

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> RealVVTPipeline:
        """Load a folder written by :meth:`save_pretrained` (``model_index.json`` and one folder per part), or
        a model shipped with vvt by its name (``"tiny-synth"``, :mod:`vvt.models`); ``kwargs`` go to diffusers'
        ``DiffusionPipeline.from_pretrained`` (e.g. ``dtype``). Never a hub repository: a folder without
        ``model_index.json`` is a :class:`~vvt.errors.WeightsNotFoundError`."""
        from vvt.models import resolve

        path = resolve(pretrained_model_name_or_path)
        if not (path / "model_index.json").is_file():
            raise WeightsNotFoundError(
                "RealVVT pipeline", path, "a folder written by RealVVTPipeline.save_pretrained (model_index.json)"
            )
        return super().from_pretrained(path, **kwargs)

    def check_inputs(
        self,
        agnostic: Any,
        agnostic_mask: Any,
        densepose: Any,
        garment: Any,
        height: int | None,
        width: int | None,
    ) -> dict[str, torch.Tensor]:
        """Validate and convert the inputs (see the module docstring) before any work.

        Returns ``agnostic`` ``(N, 3, H, W)`` and ``densepose`` in [-1, 1], ``agnostic_mask`` ``(N, 1, H, W)``
        in {0, 1}, ``garment`` ``(3, H, W)`` in [-1, 1], all at the working size ``height x width`` (default:
        the agnostic video's size). Raises :class:`PipelineInputError` (types, ranges, empty mask, size not a
        multiple of 8) or :class:`~vvt.errors.ShapeMismatchError` (frame counts or frame sizes that differ).
        """
        videos = {
            "agnostic": _video_tensor(agnostic, "agnostic"),
            "agnostic_mask": _video_tensor(agnostic_mask, "agnostic_mask", mask=True),
            "densepose": _video_tensor(densepose, "densepose"),
        }
        garment = _image_tensor(garment, "garment")
        lengths = {k: v.shape[0] for k, v in videos.items()}
        if len(set(lengths.values())) != 1:
            raise ShapeMismatchError(f"the input videos differ in length: {lengths} frames")
        sizes = {k: tuple(v.shape[-2:]) for k, v in videos.items()}
        if len(set(sizes.values())) != 1:
            raise ShapeMismatchError(f"the input videos differ in frame size (H, W): {sizes}")
        if not videos["agnostic_mask"].any():
            raise PipelineInputError(
                "agnostic_mask: the mask is empty in every frame; there is nothing to try on"
            )
        size = (height or sizes["agnostic"][0], width or sizes["agnostic"][1])
        if size[0] % 8 or size[1] % 8:
            raise PipelineInputError(
                f"the working size {size[0]}x{size[1]} must be a multiple of 8: pass height= "
                "and width= (the inputs are resized)"
            )
        return {
            "agnostic": _resize(videos["agnostic"], size, "bilinear"),
            "agnostic_mask": _resize(videos["agnostic_mask"], size, "nearest"),
            "densepose": _resize(videos["densepose"], size, "nearest"),
            "garment": _resize(garment[None], size, "bicubic")[0],
        }

    @torch.no_grad()
    def __call__(
        self,
        agnostic: Any,
        agnostic_mask: Any,
        densepose: Any,
        garment: Any,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int | None = None,
        min_guidance_scale: float | None = None,
        max_guidance_scale: float | None = None,
        fps: int | None = None,
        motion_bucket_id: int | None = None,
        noise_aug_strength: float | None = None,
        decode_chunk_size: int = 8,
        paste_back: bool = True,
        feather_radius: int = 4,
        generator: torch.Generator | None = None,
        output_type: Literal["pil", "np", "pt"] = "pil",
        return_dict: bool = True,
        guidance_scales: Any = None,
        fixed_latents: Any = None,
    ) -> RealVVTPipelineOutput | tuple:
        """Try ``garment`` on the person of the agnostic video.

        Args:
            agnostic: the clothing-agnostic video (``N`` frames; formats in the module docstring).
            agnostic_mask: the region to inpaint, ``N`` frames (not empty).
            densepose: vvt IUV DensePose frames, ``N`` frames.
            garment: the garment product image (any size; resized to the working size).
            height, width: working and output size, multiples of 8 (default: the agnostic video's size).
            num_inference_steps: Euler steps (None: the saved default, 25 unless the model says otherwise).
            min_guidance_scale, max_guidance_scale: per-frame classifier-free guidance on the garment, from
                the first to the last frame (SVD's schedule); ``max_guidance_scale <= 1`` runs the conditional
                branch only (None: the saved defaults, 1 and 3 unless the model says otherwise).
            fps, motion_bucket_id, noise_aug_strength: SVD's micro-conditioning; ``noise_aug_strength`` is
                also the noise added to the agnostic frames before encoding (None: the values the model was
                trained with, saved in ``model_index.json``; 7, 40, 0.02 for the paper's settings).
            decode_chunk_size: frames per VAE decoder call (default 8).
            paste_back: keep the agnostic video's pixels outside the agnostic mask (exactly) and blend across
                a ``feather_radius``-pixel band inside its border.
            generator: the seed of the initial noise and the noise augmentation.
            output_type: ``"pil"``, ``"np"`` or ``"pt"`` (see :class:`RealVVTPipelineOutput`).
            return_dict: return a :class:`RealVVTPipelineOutput` (else a 1-tuple).
            guidance_scales: ``N`` per-frame guidance scales replacing SVD's
                ``linspace(min_guidance_scale, max_guidance_scale, N)`` (e.g. a ramp over a whole long video,
                :mod:`vvt.realvvt.long_video`); classifier-free guidance runs when any exceeds 1.
            fixed_latents: ``N`` bools: frames to keep as given in *latent* space. At every Euler step the
                latents of these frames are replaced by the clean latents of their agnostic frames (the mode
                of the VAE posterior) plus noise at the step's level, ``z_0 + sigma_i * eps`` (one ``eps`` per
                call, from ``generator``), and by ``z_0`` itself at the end: RealVVT Algorithm 1's "replace
                agnostic latents with keyframe latents" taken into the sampled latents as well as the
                conditions. Give these frames an empty agnostic mask too.
        """
        saved = self.config
        num_inference_steps = saved.num_inference_steps if num_inference_steps is None else num_inference_steps
        min_guidance_scale = saved.min_guidance_scale if min_guidance_scale is None else min_guidance_scale
        max_guidance_scale = saved.max_guidance_scale if max_guidance_scale is None else max_guidance_scale
        fps = saved.fps if fps is None else fps
        motion_bucket_id = saved.motion_bucket_id if motion_bucket_id is None else motion_bucket_id
        noise_aug_strength = saved.noise_aug_strength if noise_aug_strength is None else noise_aug_strength
        if output_type not in ("pil", "np", "pt"):
            raise PipelineInputError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        if num_inference_steps < 1 or decode_chunk_size < 1:
            raise PipelineInputError("num_inference_steps and decode_chunk_size must be at least 1")
        inputs = self.check_inputs(agnostic, agnostic_mask, densepose, garment, height, width)
        num_frames = inputs["agnostic"].shape[0]
        if guidance_scales is None:
            guidance_scales = torch.linspace(min_guidance_scale, max_guidance_scale, num_frames)
        guidance_scales = torch.as_tensor(np.asarray(guidance_scales, dtype=np.float32))
        if guidance_scales.shape != (num_frames,):
            raise PipelineInputError(
                f"guidance_scales must hold {num_frames} values, got {tuple(guidance_scales.shape)}"
            )
        if fixed_latents is not None:
            fixed_latents = torch.as_tensor(np.asarray(fixed_latents, dtype=bool))
            if fixed_latents.shape != (num_frames,):
                raise PipelineInputError(
                    f"fixed_latents must hold {num_frames} bools, got {tuple(fixed_latents.shape)}"
                )
        # SVD's VAE overflows in float16 (force_upcast): run it in float32 for this call, as SVD's pipeline
        # does
        upcast_vae = self.vae.dtype == torch.float16 and self.vae.config.force_upcast
        if upcast_vae:
            self.vae.to(dtype=torch.float32)
        # sample in eval mode even with modules shared with a training model (RealVVT.pipeline())
        modules = [m for m in self.components.values() if isinstance(m, torch.nn.Module)]
        try:
            with eval_mode(*modules):
                frames = self._sample(
                    inputs,
                    num_inference_steps,
                    guidance_scales,
                    fixed_latents,
                    fps,
                    motion_bucket_id,
                    noise_aug_strength,
                    decode_chunk_size,
                    paste_back,
                    feather_radius,
                    generator,
                )
        finally:
            if upcast_vae:
                self.vae.to(dtype=torch.float16)
        self.maybe_free_model_hooks()
        frames = self._convert(frames, output_type)
        return RealVVTPipelineOutput(frames=frames) if return_dict else (frames,)

    def _sample(
        self,
        inputs: dict[str, torch.Tensor],
        num_inference_steps: int,
        guidance_scales: torch.Tensor,
        fixed_latents: torch.Tensor | None,
        fps: int,
        motion_bucket_id: int,
        noise_aug_strength: float,
        decode_chunk_size: int,
        paste_back: bool,
        feather_radius: int,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """The recipe of :meth:`__call__` on checked inputs; returns ``(N, 3, H, W)`` frames in [0, 1]."""
        model, device = self.model, self._execution_device
        num_frames = inputs["agnostic"].shape[0]
        do_cfg = bool((guidance_scales > 1.0).any())
        branches = 2 if do_cfg else 1

        # 1. conditions, encoded once per video
        garment_px = inputs["garment"][None].to(device)
        keep = torch.tensor([False, True] if do_cfg else [True], device=device)
        clip_embeds, garment_latents = model.encode_garment(garment_px.expand(branches, -1, -1, -1), keep)
        agnostic_px = inputs["agnostic"][None].to(device)
        agnostic_latents = model.encode_agnostic(agnostic_px, noise_aug_strength, generator)
        tokens = model.reference_tokens(garment_latents, clip_embeds)
        latent_size = tuple(agnostic_latents.shape[-2:])
        mask = model.mask_latents(inputs["agnostic_mask"][None].to(device), latent_size)
        cond = torch.cat([agnostic_latents, mask], dim=2).repeat(branches, 1, 1, 1, 1)
        pose = model.pose_guider(inputs["densepose"][None].to(device, self.pose_guider.dtype))
        model.set_conditions(
            tokens, model.inference_partners(branches, num_frames, device), pose.repeat(branches, 1, 1, 1)
        )
        time_ids = model.added_time_ids(
            branches, fps, motion_bucket_id, noise_aug_strength, device, torch.float32
        )

        # 2. EDM Euler sampling
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        latent_channels = self.vae.config.latent_channels
        latents = (
            randn_tensor(
                (1, num_frames, latent_channels, *latent_size),
                generator=generator,
                device=device,
                dtype=torch.float32,
            )
            * self.scheduler.init_noise_sigma
        )
        guidance = append_dims(guidance_scales.to(device)[None], latents.ndim)
        replace = None
        if fixed_latents is not None and fixed_latents.any():
            # clean latents of the fixed frames (posterior mode, scaled like the sampled latents) and one noise
            clean = model.encode_frames(agnostic_px.float(), scale=True).float()
            eps = randn_tensor(latents.shape, generator=generator, device=device, dtype=torch.float32)
            replace = fixed_latents.to(device).view(1, -1, 1, 1, 1)
            sigmas = self.scheduler.sigmas.to(device)
            latents = torch.where(replace, clean + sigmas[0] * eps, latents)
        try:
            with self.progress_bar(total=len(self.scheduler.timesteps)) as progress:
                for t in self.scheduler.timesteps:
                    model_in = self.scheduler.scale_model_input(latents.repeat(branches, 1, 1, 1, 1), t)
                    out = model.unet_output(
                        torch.cat([model_in, cond], dim=2), t, clip_embeds, time_ids
                    ).float()
                    if do_cfg:
                        uncond, cond_out = out.chunk(2)
                        out = uncond + guidance * (cond_out - uncond)
                    latents = self.scheduler.step(out, t, latents).prev_sample
                    if replace is not None:
                        sigma = sigmas[self.scheduler.step_index]
                        latents = torch.where(replace, clean + sigma * eps, latents)
                    progress.update()
        finally:
            model.clear_conditions()

        # 3. decode in chunks, paste back, convert
        frames = self.decode_latents(latents[0], decode_chunk_size)
        if paste_back:
            alpha = feathered_alpha(inputs["agnostic_mask"], feather_radius).to(device)
            original = ((inputs["agnostic"].to(device) + 1) / 2).clamp(0, 1)
            original = (original * 255).round() / 255
            frames = alpha * frames + (1 - alpha) * original
        return frames

    def decode_latents(self, latents: torch.Tensor, decode_chunk_size: int = 8) -> torch.Tensor:
        """``(N, C, h, w)`` scaled latents -> ``(N, 3, H, W)`` float32 frames in [0, 1], ``decode_chunk_size``
        frames per VAE decoder call."""
        latents = latents / self.vae.config.scaling_factor
        self._offload("unet")
        frames = []
        for start in range(0, latents.shape[0], decode_chunk_size):
            chunk = latents[start : start + decode_chunk_size].to(self.vae.dtype)
            frames.append(vae_decode(self.vae, chunk, chunk.shape[0]).float())
        return ((torch.cat(frames) + 1) / 2).clamp(0, 1)

    def _offload(self, name: str) -> None:
        """Under ``enable_model_cpu_offload``, send part ``name`` back to the CPU now (its accelerate hook would
        only do so when the next part of :attr:`model_cpu_offload_seq` runs; the VAE decoder comes after the
        last one)."""
        from accelerate.hooks import CpuOffload

        module = getattr(self, name)
        if isinstance(getattr(module, "_hf_hook", None), CpuOffload):
            module.to("cpu")

    @staticmethod
    def _convert(frames: torch.Tensor, output_type: str) -> list[PIL.Image.Image] | np.ndarray | torch.Tensor:
        if output_type == "pt":
            return frames.cpu()
        array = frames.permute(0, 2, 3, 1).cpu().numpy().astype(np.float32)
        if output_type == "np":
            return array
        return [PIL.Image.fromarray(f) for f in (array * 255).round().astype(np.uint8)]
