"""Folders laid out like the public pretrained repositories RealVVT starts from, with random weights.

The ``config.json`` / ``model_index.json`` / ``preprocessor_config.json`` contents below are those of the
published repositories (as diffusers and transformers read them; copied from the repositories' files as
of their diffusers-format releases):

* ``stabilityai/stable-video-diffusion-img2vid-xt`` (SVD-XT): ``model_index.json`` (a
  ``StableVideoDiffusionPipeline``), ``unet/`` (``UNetSpatioTemporalConditionModel``: 320/640/1280/1280
  channels, 5/10/20/20 heads of 64, 2 layers per block, 8 input channels, 25 frames, added-time embedding 256
  -> 768), ``vae/`` (``AutoencoderKLTemporalDecoder``: 128/256/512/512, 4 latent channels, scaling 0.18215,
  ``force_upcast``), ``image_encoder/`` (``CLIPVisionModelWithProjection``: ViT-H/14, width 1280, 32 layers,
  16 heads, MLP 5120, projection 1024), ``feature_extractor/`` (``CLIPImageProcessor``, 224, OpenAI CLIP
  mean/std, bicubic), ``scheduler/`` (EDM Euler, v-prediction; vvt's ``SVD_SCHEDULER_CONFIG``). Weight files:
  ``diffusion_pytorch_model.safetensors`` and ``diffusion_pytorch_model.fp16.safetensors`` for the diffusers
  models, ``model.safetensors`` and ``model.fp16.safetensors`` for the image encoder.
* ``stabilityai/stable-diffusion-2-1``: ``model_index.json`` (a ``StableDiffusionPipeline``) and ``unet/``
  (``UNet2DConditionModel``: 320/640/1280/1280, head dims 5/10/20/20 as the config spells
  ``attention_head_dim``, cross-attention 1024 = OpenCLIP ViT-H text width, linear projections, upcast
  attention, sample size 96 = 768 px). Only ``unet/`` is written of its parts: vvt reads nothing else.
* a standalone CLIP ViT-H/14 image encoder (the ``image_encoder`` folder of ``h94/IP-Adapter``, the same
  ViT-H/14 tower with projection as SVD-XT's): ``config.json``, ``model.safetensors``, ``model.fp16.safetensors``
  and ``preprocessor_config.json``.

The configs are written exactly as published unless a test asks for ``shrink=True``: then the widths, depths
and head counts in :data:`SHRINK` replace the published values so that the random weights take kilobytes
(every other key, the file names and the variants stay the published ones). The real sizes are tested on the
meta device.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

SVD_XT_MODEL_INDEX = {
    "_class_name": "StableVideoDiffusionPipeline",
    "_diffusers_version": "0.24.0.dev0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
    "scheduler": ["diffusers", "EulerDiscreteScheduler"],
    "unet": ["diffusers", "UNetSpatioTemporalConditionModel"],
    "vae": ["diffusers", "AutoencoderKLTemporalDecoder"],
}
SVD_XT_UNET = {
    "_class_name": "UNetSpatioTemporalConditionModel",
    "_diffusers_version": "0.24.0.dev0",
    "addition_time_embed_dim": 256,
    "block_out_channels": [320, 640, 1280, 1280],
    "cross_attention_dim": 1024,
    "down_block_types": ["CrossAttnDownBlockSpatioTemporal"] * 3 + ["DownBlockSpatioTemporal"],
    "in_channels": 8,
    "layers_per_block": 2,
    "num_attention_heads": [5, 10, 20, 20],
    "num_frames": 25,
    "out_channels": 4,
    "projection_class_embeddings_input_dim": 768,
    "sample_size": 96,
    "transformer_layers_per_block": 1,
    "up_block_types": ["UpBlockSpatioTemporal"] + ["CrossAttnUpBlockSpatioTemporal"] * 3,
}
SVD_XT_VAE = {
    "_class_name": "AutoencoderKLTemporalDecoder",
    "_diffusers_version": "0.24.0.dev0",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "force_upcast": True,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "out_channels": 3,
    "sample_size": 768,
    "scaling_factor": 0.18215,
}
CLIP_VIT_H_14 = {
    "architectures": ["CLIPVisionModelWithProjection"],
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "hidden_act": "gelu",
    "hidden_size": 1280,
    "image_size": 224,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 5120,
    "layer_norm_eps": 1e-05,
    "model_type": "clip_vision_model",
    "num_attention_heads": 16,
    "num_channels": 3,
    "num_hidden_layers": 32,
    "patch_size": 14,
    "projection_dim": 1024,
    "torch_dtype": "float16",
    "transformers_version": "4.34.0.dev0",
}
CLIP_PREPROCESSOR = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 224},
}
SD21_MODEL_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.10.0.dev0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "requires_safety_checker": False,
    "safety_checker": [None, None],
    "scheduler": ["diffusers", "DDIMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
SD21_UNET = {
    "_class_name": "UNet2DConditionModel",
    "_diffusers_version": "0.10.0.dev0",
    "act_fn": "silu",
    "attention_head_dim": [5, 10, 20, 20],
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 1024,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "num_class_embeds": None,
    "only_cross_attention": False,
    "out_channels": 4,
    "sample_size": 96,
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "upcast_attention": True,
    "use_linear_projection": True,
}

#: the keys a ``shrink=True`` folder overrides (toy widths; SVD's and SD's GroupNorm needs multiples of 32)
SHRINK: dict[str, dict[str, Any]] = {
    "unet": {
        "block_out_channels": [32, 32, 32, 32],
        "num_attention_heads": [1, 1, 1, 1],
        "layers_per_block": 1,
        "cross_attention_dim": 32,
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 24,
    },
    "vae": {"block_out_channels": [32, 32, 32, 32], "layers_per_block": 1},
    "image_encoder": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "projection_dim": 32,
    },
    "reference_unet": {
        "block_out_channels": [32, 32, 32, 32],
        "attention_head_dim": [1, 1, 1, 1],
        "layers_per_block": 1,
        "cross_attention_dim": 32,
    },
}


def _config(published: dict[str, Any], part: str, shrink: bool) -> dict[str, Any]:
    config = copy.deepcopy(published)
    if shrink:
        config.update(SHRINK[part])
    return config


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _write_weights(model: torch.nn.Module, folder: Path, stem: str, variants: tuple[str | None, ...]) -> None:
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    for variant in variants:
        dtype = torch.float16 if variant == "fp16" else torch.float32
        name = f"{stem}.{variant}.safetensors" if variant else f"{stem}.safetensors"
        save_file({k: v.to(dtype) for k, v in state.items()}, str(folder / name), metadata={"format": "pt"})


def _diffusers_part(cls: Any, config: dict[str, Any], folder: Path, variants: tuple[str | None, ...]) -> None:
    model = cls.from_config({k: v for k, v in config.items() if not k.startswith("_")})
    _write_json(folder / "config.json", config)
    _write_weights(model, folder, "diffusion_pytorch_model", variants)


def _clip_part(config: dict[str, Any], folder: Path, variants: tuple[str | None, ...]) -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    keys = {k: v for k, v in config.items() if k not in ("architectures", "model_type", "transformers_version")}
    model = CLIPVisionModelWithProjection(CLIPVisionConfig(**keys))
    _write_json(folder / "config.json", config)
    _write_weights(model, folder, "model", variants)


def write_svd_xt(root: Path, variants: tuple[str | None, ...] = (None, "fp16"), shrink: bool = True) -> Path:
    """An SVD-XT folder at ``root``: ``model_index.json``, ``unet/ vae/ image_encoder/ feature_extractor/
    scheduler/`` with the weight files of ``variants`` (``None``: full precision; ``"fp16"``)."""
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel

    from vvt.realvvt.presets import SVD_SCHEDULER_CONFIG

    torch.manual_seed(0)
    _write_json(root / "model_index.json", SVD_XT_MODEL_INDEX)
    _diffusers_part(UNetSpatioTemporalConditionModel, _config(SVD_XT_UNET, "unet", shrink), root / "unet", variants)
    _diffusers_part(AutoencoderKLTemporalDecoder, _config(SVD_XT_VAE, "vae", shrink), root / "vae", variants)
    _clip_part(_config(CLIP_VIT_H_14, "image_encoder", shrink), root / "image_encoder", variants)
    _write_json(root / "feature_extractor" / "preprocessor_config.json", CLIP_PREPROCESSOR)
    scheduler = {"_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.24.0.dev0"}
    _write_json(root / "scheduler" / "scheduler_config.json", {**scheduler, **SVD_SCHEDULER_CONFIG})
    return root


def write_sd21(root: Path, variants: tuple[str | None, ...] = (None, "fp16"), shrink: bool = True) -> Path:
    """An SD 2.1 folder at ``root``: ``model_index.json`` and ``unet/`` (see the module docstring)."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(1)
    _write_json(root / "model_index.json", SD21_MODEL_INDEX)
    _diffusers_part(UNet2DConditionModel, _config(SD21_UNET, "reference_unet", shrink), root / "unet", variants)
    return root


def write_clip(root: Path, variants: tuple[str | None, ...] = (None, "fp16"), shrink: bool = True) -> Path:
    """A standalone CLIP ViT-H/14 image-encoder folder at ``root``."""
    torch.manual_seed(2)
    _clip_part(_config(CLIP_VIT_H_14, "image_encoder", shrink), root, variants)
    _write_json(root / "preprocessor_config.json", CLIP_PREPROCESSOR)
    return root
