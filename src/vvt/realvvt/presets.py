"""RealVVT component shapes (``tiny``, ``small``, ``full``); building the parts from local directories or at
random.

* ``full``: the shapes of SVD-XT (spatio-temporal U-Net, temporal-decoder VAE, CLIP ViT-H/14 image encoder
  with projection to 1024) and SD 2.1 (Reference U-Net, cross-attention width 1024 = the CLIP image
  embedding), plus the pose guider of Sec. 3.2 (16-32-96-256 channels, output 320 = SVD's ``conv_in`` width).
* ``tiny``: the same architecture at toy width (two U-Net levels of 32/64 channels, a 2-layer CLIP) so every
  forward, a training step and a 2-step sampling run take seconds on a CPU.
* ``small``: the CPU-trainable model that learns SynthVVT at 64x48 (the bundled ``tiny-synth`` model was trained
  with this preset's earlier 2x-latent, 3-level shapes, which its saved configs keep). A 64x48
  frame is the size of the full model's *latent* grid at 512x384, so the small VAE does not downsample (1x)
  and keeps SVD's 4 latent channels (the U-Net input stays 4 noisy + 4 agnostic + 1 mask = 9 channels); its
  four-level U-Nets (32/32/64/96 channels) then see 64x48, 32x24, 16x12 and 8x6 token grids, exactly the full
  model's at 512x384, with spatial attention (C&T) at 16x12 and 8x6 only and the agnostic loss at 16x12 (the
  paper's 1/32 of the image; ``agn_level`` 4, the default). Why not downsample: an 8x VAE turns a 64x48 frame
  into 8x6 latents (a colourless ghost, 0.03-0.06 MSE, when trained on SynthVVT), and a small 2x VAE trained
  for 25 minutes on 2 cores reached only 23.9 dB, which capped the try-on at 0.72 SSIM in the mask; the 1x
  VAE reaches the issue's 28 dB in minutes, and the U-Net step costs 1.26x the 2x design's (measured: 1.46 vs
  1.16 s for batch 2 x 8 frames on 2 cores). It is SVD's frame-wise image-decoder variant
  (``AutoencoderKL``), whose training on a CPU converges faster per second than the temporal decoder's.

Pretrained parts load only from local folders in the standard diffusers/transformers layouts
(:class:`~vvt.realvvt.config.RealVVTConfig`: ``svd_dir``, ``sd21_dir``, ``clip_dir``, ``vae_dir``); nothing is
ever downloaded. A part without a folder is built from the preset's shapes with random weights (seeded).

**Variants and dtypes.** The public repositories ship each part twice: full precision
(``diffusion_pytorch_model.safetensors``, ``model.safetensors``) and the ``fp16`` variant
(``diffusion_pytorch_model.fp16.safetensors``, ``model.fp16.safetensors``); many local copies hold only the
latter. :func:`weight_file` picks the file (``variant``: ``auto`` takes the fp16 file when the requested dtype
is 16-bit or when it is the only one, ``fp16`` or ``none`` force one) and :func:`load_part` loads it with
diffusers'/transformers' low-memory path (parameters created on the meta device and filled from the file in
``torch_dtype``: ``auto`` keeps the file's dtype, so an fp16 checkpoint never makes an fp32 copy). Random parts
are created directly in ``torch_dtype`` (``auto``: float32).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderKLTemporalDecoder,
    EulerDiscreteScheduler,
    UNet2DConditionModel,
    UNetSpatioTemporalConditionModel,
)
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

from vvt.errors import ConfigError, WeightsNotFoundError
from vvt.realvvt.config import RealVVTConfig
from vvt.realvvt.pose_guider import PoseGuider

logger = logging.getLogger(__name__)

# SVD-XT's scheduler_config.json: EDM Euler sampling with v-prediction, continuous timesteps c_noise = 0.25 ln
# sigma, Karras sigmas from 700 down to 0.002.
SVD_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "sigma_max": 700.0,
    "sigma_min": 0.002,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "timestep_type": "continuous",
    "use_karras_sigmas": True,
}

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        # stabilityai/stable-video-diffusion-img2vid-xt unet/config.json (8 input channels as shipped)
        "unet": {
            "in_channels": 8,
            "out_channels": 4,
            "down_block_types": ["CrossAttnDownBlockSpatioTemporal"] * 3 + ["DownBlockSpatioTemporal"],
            "up_block_types": ["UpBlockSpatioTemporal"] + ["CrossAttnUpBlockSpatioTemporal"] * 3,
            "block_out_channels": [320, 640, 1280, 1280],
            "addition_time_embed_dim": 256,
            "projection_class_embeddings_input_dim": 768,
            "layers_per_block": 2,
            "cross_attention_dim": 1024,
            "transformer_layers_per_block": 1,
            "num_attention_heads": [5, 10, 20, 20],
            "num_frames": 25,
            "sample_size": 96,
        },
        # stabilityai/stable-diffusion-2-1 unet/config.json
        "reference_unet": {
            "in_channels": 4,
            "out_channels": 4,
            "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
            "block_out_channels": [320, 640, 1280, 1280],
            "layers_per_block": 2,
            "attention_head_dim": [5, 10, 20, 20],
            "cross_attention_dim": 1024,
            "use_linear_projection": True,
            "upcast_attention": True,
            "sample_size": 96,
        },
        # SVD-XT vae/config.json
        "vae": {
            "in_channels": 3,
            "out_channels": 3,
            "down_block_types": ["DownEncoderBlock2D"] * 4,
            "block_out_channels": [128, 256, 512, 512],
            "layers_per_block": 2,
            "latent_channels": 4,
            "sample_size": 768,
            "scaling_factor": 0.18215,
            "force_upcast": True,
        },
        # CLIP ViT-H/14 vision tower with projection (SVD-XT image_encoder/config.json)
        "image_encoder": {
            "hidden_size": 1280,
            "intermediate_size": 5120,
            "num_attention_heads": 16,
            "num_hidden_layers": 32,
            "patch_size": 14,
            "image_size": 224,
            "projection_dim": 1024,
            "hidden_act": "gelu",
        },
        "feature_extractor": {"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}},
        "pose_guider": {"block_out_channels": [16, 32, 96, 256]},
    },
    "tiny": {
        "unet": {
            "in_channels": 8,
            "out_channels": 4,
            "down_block_types": ["CrossAttnDownBlockSpatioTemporal"] * 2,
            "up_block_types": ["CrossAttnUpBlockSpatioTemporal"] * 2,
            "block_out_channels": [32, 64],
            "addition_time_embed_dim": 8,
            "projection_class_embeddings_input_dim": 24,
            "layers_per_block": 1,
            "cross_attention_dim": 32,
            "transformer_layers_per_block": 1,
            "num_attention_heads": [2, 4],
            "num_frames": 8,
        },
        "reference_unet": {
            "in_channels": 4,
            "out_channels": 4,
            "down_block_types": ["CrossAttnDownBlock2D"] * 2,
            "up_block_types": ["CrossAttnUpBlock2D"] * 2,
            "block_out_channels": [32, 64],
            "layers_per_block": 1,
            "attention_head_dim": [2, 4],
            "cross_attention_dim": 32,
            "use_linear_projection": True,
            "sample_size": 8,
        },
        "vae": {
            "in_channels": 3,
            "out_channels": 3,
            "down_block_types": ["DownEncoderBlock2D"] * 4,
            "block_out_channels": [32, 32, 32, 32],
            "layers_per_block": 1,
            "latent_channels": 4,
            "sample_size": 64,
            "scaling_factor": 0.18215,
            "force_upcast": False,
        },
        "image_encoder": {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_hidden_layers": 2,
            "patch_size": 8,
            "image_size": 32,
            "projection_dim": 32,
        },
        "feature_extractor": {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}},
        "pose_guider": {"block_out_channels": [8, 16, 16, 32]},
    },
    "small": {
        # 64x48 frames with a 1x latent: the U-Net's four levels are 64x48, 32x24, 16x12 and 8x6, the token
        # grids of the full model's 8x latent of 512x384 (see the module docstring).
        "unet": {
            "in_channels": 8,
            "out_channels": 4,
            "down_block_types": ["DownBlockSpatioTemporal"] * 2 + ["CrossAttnDownBlockSpatioTemporal"] * 2,
            "up_block_types": ["CrossAttnUpBlockSpatioTemporal"] * 2 + ["UpBlockSpatioTemporal"] * 2,
            # SVD's spatio-temporal blocks use 32 GroupNorm groups: widths are multiples of 32
            "block_out_channels": [32, 32, 64, 96],
            "addition_time_embed_dim": 8,
            "projection_class_embeddings_input_dim": 24,
            "layers_per_block": 1,
            "cross_attention_dim": 32,
            "transformer_layers_per_block": 1,
            "num_attention_heads": [1, 1, 2, 3],
            "num_frames": 8,
        },
        "reference_unet": {
            "in_channels": 4,
            "out_channels": 4,
            "down_block_types": ["DownBlock2D"] * 2 + ["CrossAttnDownBlock2D"] * 2,
            "up_block_types": ["CrossAttnUpBlock2D"] * 2 + ["UpBlock2D"] * 2,
            "block_out_channels": [32, 32, 64, 96],
            "layers_per_block": 1,
            "attention_head_dim": [1, 1, 2, 3],
            "cross_attention_dim": 32,
            "use_linear_projection": True,
            "sample_size": 64,
        },
        # SVD's frame-wise image decoder variant (AutoencoderKL) with one encoder block: no downsampling (1x).
        # 8 groups of 4 channels: with diffusers' default 32 groups at 32 channels each GroupNorm would be an
        # instance norm, which erases every frame's mean colour. No mid-block attention (4,096 tokens a frame
        # would cost more than the rest of the VAE for nothing a 1x latent needs).
        "vae": {
            "_class": "AutoencoderKL",
            "in_channels": 3,
            "out_channels": 3,
            "down_block_types": ["DownEncoderBlock2D"],
            "up_block_types": ["UpDecoderBlock2D"],
            "block_out_channels": [32],
            "layers_per_block": 1,
            "latent_channels": 4,
            "norm_num_groups": 8,
            "mid_block_add_attention": False,
            "sample_size": 64,
            "scaling_factor": 0.18215,
            "force_upcast": False,
        },
        "image_encoder": {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_hidden_layers": 2,
            "patch_size": 8,
            "image_size": 32,
            "projection_dim": 32,
        },
        "feature_extractor": {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}},
        # no stride-2 stage: pixels are the 1x latent's grid
        "pose_guider": {"block_out_channels": [16]},
    },
}


def preset(name: str) -> dict[str, dict[str, Any]]:
    """The component configs of preset ``name`` (``tiny``, ``small`` or ``full``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown RealVVT preset {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name]


def svd_scheduler() -> EulerDiscreteScheduler:
    """diffusers' ``EulerDiscreteScheduler`` configured as SVD-XT's."""
    return EulerDiscreteScheduler.from_config(SVD_SCHEDULER_CONFIG)


VAE_CLASSES = {"AutoencoderKLTemporalDecoder": AutoencoderKLTemporalDecoder, "AutoencoderKL": AutoencoderKL}


def vae_class(config: dict[str, Any]) -> type:
    """The VAE class a preset's ``vae`` shapes (key ``_class``, default SVD's temporal decoder) or a saved
    ``config.json`` (``_class_name``) name: ``AutoencoderKLTemporalDecoder`` or, for SVD's frame-wise image
    decoder variant, ``AutoencoderKL``."""
    name = config.get("_class", config.get("_class_name", "AutoencoderKLTemporalDecoder"))
    if name not in VAE_CLASSES:
        raise ConfigError(f"unsupported VAE class {name!r} (supported: {', '.join(VAE_CLASSES)})")
    return VAE_CLASSES[name]


def vae_decode(vae: Any, latents: Any, num_frames: int) -> Any:
    """Decode ``(B * num_frames, C, h, w)`` unscaled latents with either VAE class: the temporal decoder mixes
    the ``num_frames`` consecutive frames of each clip, the image decoder decodes frame by frame."""
    if isinstance(vae, AutoencoderKLTemporalDecoder):
        return vae.decode(latents, num_frames=num_frames).sample
    return vae.decode(latents).sample


def load_vae(path: Path, what: str, hint: str, variant: str = "auto", torch_dtype: str = "auto") -> Any:
    """Load the VAE folder ``path`` with the class its ``config.json`` names (see :func:`vae_class`), as
    :func:`load_part`."""
    _need_dir(path, what, hint)
    try:
        cls = vae_class(json.loads((path / "config.json").read_text()))
    except ValueError as exc:
        raise WeightsNotFoundError(what, path, f"{hint}; unreadable config.json: {exc}") from None
    return load_part(cls, path, what, hint, variant, torch_dtype)


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype | None) -> Iterator[None]:
    """Create floating-point parameters in ``dtype`` inside the block (None: leave torch's default)."""
    if dtype is None:
        yield
        return
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def random_component(name: str, part: str, dtype: torch.dtype | None = None) -> Any:
    """Preset ``name``'s part ``part`` with random weights (uses the global torch RNG: seed it), as shipped
    upstream: the spatio-temporal U-Net ``unet`` still has SVD's 8 input channels. ``dtype``: create the
    parameters directly in it (no float32 copy; None: float32).

    ``part`` is one of ``unet``, ``reference_unet``, ``vae``, ``image_encoder``, ``feature_extractor``,
    ``scheduler``.
    """
    with default_dtype(dtype):
        return _random_component(name, part)


def _random_component(name: str, part: str) -> Any:
    shapes = preset(name)
    builders = {
        "unet": lambda: UNetSpatioTemporalConditionModel(**shapes["unet"]),
        "reference_unet": lambda: UNet2DConditionModel(**shapes["reference_unet"]),
        "vae": lambda: vae_class(shapes["vae"])(**{k: v for k, v in shapes["vae"].items() if k != "_class"}),
        "image_encoder": lambda: CLIPVisionModelWithProjection(CLIPVisionConfig(**shapes["image_encoder"])),
        "feature_extractor": lambda: CLIPImageProcessor(
            image_mean=CLIP_MEAN, image_std=CLIP_STD, **shapes["feature_extractor"]
        ),
        "scheduler": svd_scheduler,
    }
    if part not in builders:
        raise ConfigError(f"unknown RealVVT part {part!r} (known: {', '.join(builders)})")
    return builders[part]()


def widen_conv_in(
    unet: UNetSpatioTemporalConditionModel, in_channels: int = 9
) -> UNetSpatioTemporalConditionModel:
    """Widen SVD's 8-channel ``conv_in`` to ``[noisy 4, agnostic 4, mask 1]`` = 9 channels (Sec. 3.2), in
    place.

    The pretrained weights are copied for the first 8 channels (SVD's noisy latents and conditioning latents,
    whose place the agnostic latents take) and the new mask channel is zero-initialised, so the widened U-Net
    computes exactly what SVD computed. A U-Net that already has ``in_channels`` is returned unchanged.
    """
    old = unet.conv_in
    if old.in_channels == in_channels:
        return unet
    if old.in_channels > in_channels:
        raise ConfigError(
            f"the spatio-temporal U-Net's conv_in has {old.in_channels} input channels, "
            f"more than RealVVT's {in_channels}"
        )
    new = torch.nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding)
    new.to(device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels].copy_(old.weight)
        new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=in_channels)
    return unet


def _need_dir(path: Path, what: str, hint: str) -> Path:
    if not (path / "config.json").is_file() and not (path / "preprocessor_config.json").is_file():
        raise WeightsNotFoundError(what, path, hint)
    return path


#: ``torch_dtype`` choices of :func:`load_part` (``auto``: the dtype stored in the weight file)
DTYPES: dict[str, torch.dtype] = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
VARIANTS = ("auto", "fp16", "none")
_SAFETENSORS_DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32}


def _weights_name(cls: Any) -> str:
    """The safetensors file a class saves: diffusers models ``diffusion_pytorch_model``, transformers ``model``."""
    from diffusers import ModelMixin

    return "diffusion_pytorch_model" if issubclass(cls, ModelMixin) else "model"


def _candidates(path: Path, stem: str, variant: str | None) -> list[Path]:
    """The weight files of ``stem`` in ``path`` for ``variant``: a single file or a sharded index."""
    name = f"{stem}.{variant}" if variant else stem
    return [path / f"{name}.safetensors", path / f"{name}.safetensors.index.json"]


def weight_file(cls: Any, path: Path, what: str, variant: str = "auto", torch_dtype: str = "auto") -> str | None:
    """The diffusers/transformers ``variant`` argument for loading ``cls`` from ``path``: ``None`` (the files
    without suffix) or ``"fp16"``.

    ``variant``: ``fp16`` or ``none`` require that file; ``auto`` takes the fp16 file when ``torch_dtype`` is
    ``fp16``/``bf16`` and it exists (half the bytes to read), else the full-precision file, else the fp16
    file. Raises :class:`~vvt.errors.WeightsNotFoundError` listing the files expected and those found.
    """
    if variant not in VARIANTS:
        raise ConfigError(f"variant={variant!r}: choose among {', '.join(VARIANTS)}")
    stem = _weights_name(cls)
    present = {v: any(p.is_file() for p in _candidates(path, stem, v)) for v in (None, "fp16")}
    if variant == "auto":
        order = ["fp16", None] if torch_dtype in ("fp16", "bf16") else [None, "fp16"]
    else:
        order = ["fp16" if variant == "fp16" else None]
    for choice in order:
        if present[choice]:
            return choice
    expected = [p.name for v in order for p in _candidates(path, stem, v)]
    found = sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []
    raise WeightsNotFoundError(
        what,
        path,
        f"variant={variant}: expected {' or '.join(expected)}; found {', '.join(found) or 'no files'}",
    )


def _stored_dtype(path: Path, stem: str, variant: str | None) -> torch.dtype:
    """The dtype of the first floating-point tensor in a weight file (read from its header only)."""
    single, index = _candidates(path, stem, variant)
    if not single.is_file():
        single = path / next(iter(json.loads(index.read_text())["weight_map"].values()))
    with single.open("rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    for key, info in header.items():
        if key != "__metadata__" and info["dtype"] in _SAFETENSORS_DTYPES:
            return _SAFETENSORS_DTYPES[info["dtype"]]
    return torch.float32


def load_part(
    cls: Any, path: Path, what: str, hint: str, variant: str = "auto", torch_dtype: str = "auto"
) -> Any:
    """Load one part from a local folder in the diffusers/transformers layout, without downloading.

    ``variant`` picks the weight file (:func:`weight_file`); ``torch_dtype`` (``auto``, ``fp16``, ``bf16``,
    ``fp32``) the parameters' dtype, ``auto`` being the file's. The low-memory path is used (parameters on the
    meta device, filled from the file in the target dtype), so an fp16 file loaded in fp16 or bf16 never
    exists in fp32. An image processor has no weights and ignores both.
    """
    _need_dir(path, what, hint)
    if torch_dtype != "auto" and torch_dtype not in DTYPES:
        raise ConfigError(f"torch_dtype={torch_dtype!r}: choose among auto, {', '.join(DTYPES)}")
    if cls is CLIPImageProcessor:
        return cls.from_pretrained(path, local_files_only=True)
    chosen = weight_file(cls, path, what, variant, torch_dtype)
    dtype = DTYPES[torch_dtype] if torch_dtype != "auto" else _stored_dtype(path, _weights_name(cls), chosen)
    # diffusers spells the dtype argument torch_dtype, transformers (5.x) dtype
    dtype_arg = {"dtype": dtype} if issubclass(cls, CLIPVisionModelWithProjection) else {"torch_dtype": dtype}
    try:
        return cls.from_pretrained(
            path, local_files_only=True, variant=chosen, low_cpu_mem_usage=True, use_safetensors=True, **dtype_arg
        )
    except (OSError, ValueError) as exc:
        raise WeightsNotFoundError(what, path, f"{hint}; loading failed: {exc}") from None


def build_components(config: RealVVTConfig) -> dict[str, Any]:
    """Every RealVVT part for ``config``: loaded from its local directory when one is configured, otherwise
    the preset's shape with random weights drawn from ``config.seed`` (the global RNG is left untouched).

    Returns a dict with ``unet`` (widened to 9 input channels), ``reference_unet``, ``vae``,
    ``image_encoder``, ``feature_extractor``, ``scheduler`` and ``pose_guider`` (zero-initialised output).
    """
    shapes = preset(config.preset)
    parts: dict[str, Any] = {}
    how = {"variant": config.variant, "torch_dtype": config.torch_dtype}

    def _load(cls: Any, path: Path, what: str, hint: str) -> Any:
        return load_part(cls, path, what, hint, **how)

    if config.svd_dir is not None:
        svd = Path(config.svd_dir)
        hint = "a Stable Video Diffusion folder with unet/ vae/ image_encoder/ feature_extractor/"
        parts["unet"] = _load(UNetSpatioTemporalConditionModel, svd / "unet", "svd_dir unet", hint)
        if config.vae_dir is None:
            parts["vae"] = load_vae(svd / "vae", "svd_dir vae", hint, **how)
        if config.clip_dir is None:
            parts["image_encoder"] = _load(
                CLIPVisionModelWithProjection, svd / "image_encoder", "svd_dir image_encoder", hint
            )
        parts["feature_extractor"] = _load(
            CLIPImageProcessor, svd / "feature_extractor", "svd_dir feature_extractor", hint
        )
        if (svd / "scheduler" / "scheduler_config.json").is_file():
            parts["scheduler"] = EulerDiscreteScheduler.from_pretrained(svd / "scheduler")
    if config.sd21_dir is not None:
        parts["reference_unet"] = _load(
            UNet2DConditionModel,
            Path(config.sd21_dir) / "unet",
            "sd21_dir unet",
            "a Stable Diffusion 2.1 folder in the diffusers layout (unet/)",
        )
    elif config.svd_dir is not None:
        logger.warning(
            "no sd21_dir: the Reference U-Net starts from random weights (preset %s)", config.preset
        )
    if config.clip_dir is not None:
        clip = Path(config.clip_dir)
        hint = "a CLIPVisionModelWithProjection folder (config.json + model.safetensors)"
        parts["image_encoder"] = _load(CLIPVisionModelWithProjection, clip, "clip_dir", hint)
        if (clip / "preprocessor_config.json").is_file():
            parts["feature_extractor"] = _load(CLIPImageProcessor, clip, "clip_dir preprocessor", hint)
    if config.vae_dir is not None:
        parts["vae"] = load_vae(
            Path(config.vae_dir),
            "vae_dir",
            "an AutoencoderKLTemporalDecoder or AutoencoderKL folder (config.json + "
            "diffusion_pytorch_model.safetensors)",
            **how,
        )
    dtype = DTYPES.get(config.torch_dtype)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        for part in ("unet", "reference_unet", "vae", "image_encoder", "feature_extractor", "scheduler"):
            if part not in parts:
                parts[part] = random_component(config.preset, part, dtype)
        widen_conv_in(parts["unet"])
        with default_dtype(dtype or parts["unet"].dtype):
            parts["pose_guider"] = PoseGuider(
                out_channels=parts["unet"].conv_in.out_channels, **shapes["pose_guider"]
            )
    return parts
