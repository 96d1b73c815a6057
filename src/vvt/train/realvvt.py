"""``vvt train realvvt``: the RealVVT training task (Secs. 3.1-3.4, 4).

The model, its losses and its training step are :class:`vvt.realvvt.model.RealVVT` (Eq. 5:
``loss = DSM (Eq. 2) + lambda_agn * L_agn (Eq. 4)``, logged as ``loss``, ``dsm``, ``agn``). This module only
decides what trains and on what data:

* ``trainable``: the parts the optimiser updates; by default the paper's choice (Sec. 3.2 / 4): the
  spatio-temporal U-Net, the Reference U-Net and the pose guider. The VAE and the CLIP image encoder stay
  frozen; any part left out of ``trainable`` is frozen too (e.g. ``trainable=[unet,pose_guider]``).
* ``data``: video datasets (ViViD layout, SynthVVT) and image datasets (VITON-HD, Dress Code) as 1-frame
  clips, mixed per batch by weight (RealVVT Sec. 4 trains jointly on images and videos).
* ``model``: :class:`vvt.realvvt.config.RealVVTConfig`, including the ablation switches of Table 6
  (``cnt_attention``, ``lambda_agn``, ``lambda_n``), garment dropout, and ``vae_dir`` (e.g. the output of
  ``vvt train vae``).

The sample video every ``train.sample_every`` steps runs :class:`~vvt.realvvt.pipeline.RealVVTPipeline` on the
first sample of the fixed sample batch: ``agnostic | try-on | ground truth | garment``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vvt.errors import ConfigError
from vvt.realvvt.config import RealVVTConfig
from vvt.train.config import DataConfig, TrainerConfig
from vvt.train.data import build_sources
from vvt.train.sample_video import write_grid

STREAMS = ("person", "agnostic", "agnostic_mask", "densepose", "garment")
PARTS = ("unet", "reference_unet", "pose_guider", "vae", "image_encoder")
DEFAULT_TRAINABLE = ["unet", "reference_unet", "pose_guider"]


@dataclass
class SampleConfig:
    """Sampling settings of the periodic sample video (:class:`~vvt.realvvt.pipeline.RealVVTPipeline`)."""

    num_inference_steps: int = 25
    min_guidance_scale: float = 1.0
    max_guidance_scale: float = 3.0
    seed: int = 0


@dataclass
class RealVVTRunConfig:
    """``vvt train realvvt`` config: ``train``, ``data``, ``model``, ``trainable`` parts, ``sample`` video."""

    # Sec. 4: batch size 2 (per GPU, limited by the video resolution), AdamW lr 5e-5 (the TrainerConfig default)
    train: TrainerConfig = field(
        default_factory=lambda: TrainerConfig(output_dir=Path("runs/realvvt"), batch_size=2)
    )
    data: DataConfig = field(default_factory=DataConfig)
    model: RealVVTConfig = field(default_factory=RealVVTConfig)
    trainable: list[str] = field(default_factory=lambda: list(DEFAULT_TRAINABLE))
    sample: SampleConfig = field(default_factory=SampleConfig)


def check_trainable(trainable: list[str]) -> None:
    unknown = sorted(set(trainable) - set(PARTS))
    if unknown or not trainable:
        raise ConfigError(
            f"trainable: {unknown or 'empty'}; choose among {', '.join(PARTS)} "
            f"(default {', '.join(DEFAULT_TRAINABLE)})"
        )


def try_on(
    model: Any,
    item: dict[str, torch.Tensor],
    config: RealVVTRunConfig,
    num_inference_steps: int | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Sample the try-on of one item (tensor contract, no batch dim) with ``model``'s pipeline and the run's
    ``sample`` settings: ``(N, 3, H, W)`` in [-1, 1]."""
    cfg = config.sample
    device = item["agnostic"].device
    generator = torch.Generator(device=device).manual_seed(cfg.seed if seed is None else seed)
    pipeline = model.pipeline()
    pipeline.set_progress_bar_config(disable=True)  # callers (sample videos, reports) show their own bar
    frames = pipeline(
        agnostic=item["agnostic"],
        agnostic_mask=item["agnostic_mask"],
        densepose=item["densepose"],
        garment=item["garment"],
        num_inference_steps=num_inference_steps or cfg.num_inference_steps,
        min_guidance_scale=cfg.min_guidance_scale,
        max_guidance_scale=cfg.max_guidance_scale,
        fps=config.model.fps,
        motion_bucket_id=config.model.motion_bucket_id,
        noise_aug_strength=config.model.noise_aug_strength,
        generator=generator,
        output_type="pt",
    ).frames
    return frames.to(device) * 2 - 1


class RealVVTTask:
    """The RealVVT training task (:class:`vvt.train.trainer.Task`); builds (so validates) the data first."""

    name = "realvvt"
    find_unused_parameters = True  # the Reference U-Net's output layers never reach the loss

    def __init__(self, config: RealVVTRunConfig):
        from vvt.realvvt.model import RealVVT

        check_trainable(config.trainable)
        self.config = config
        self.sources = build_sources(config.data, STREAMS, config.train.seed)
        self.model = RealVVT.from_config(config.model)
        self.model.check_agn_memory(tuple(config.data.size), config.data.frames, config.train.batch_size)

    def trainable_modules(self) -> dict[str, nn.Module]:
        return {name: getattr(self.model, name) for name in self.config.trainable}

    def frozen_modules(self) -> dict[str, nn.Module]:
        return {name: getattr(self.model, name) for name in PARTS if name not in self.config.trainable}

    def datasets(self) -> list[tuple[Any, float]]:
        return self.sources

    def training_step(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Eq. (5) on a batch of the tensor contract (see :meth:`vvt.realvvt.model.RealVVT.forward`)."""
        return self.model(batch, generator)

    def write_sample(self, batch: dict[str, Any], path: Path) -> None:
        """``agnostic | try-on | ground truth | garment`` of the first sample of ``batch``."""
        item = {k: v[0] for k, v in batch.items() if isinstance(v, torch.Tensor)}
        write_grid(
            path, [[item["agnostic"], try_on(self.model, item, self.config), item["person"], item["garment"]]]
        )

    def save_pretrained(self, directory: Path) -> None:
        """The whole model in the :class:`~vvt.realvvt.pipeline.RealVVTPipeline` layout (safetensors), with
        the settings that travel with it: the micro-conditioning it trained with, its training size and clip
        length, and the run's sampling settings (see :class:`~vvt.realvvt.pipeline.RealVVTPipeline`)."""
        self.model.save_pretrained(directory, **pipeline_settings(self.config))


def pipeline_settings(config: RealVVTRunConfig) -> dict[str, Any]:
    """The run's training size, clip length and sampling defaults, as :class:`RealVVTPipeline` settings."""
    height, width = config.data.size
    return {
        "height": int(height),
        "width": int(width),
        "num_frames": int(config.data.frames),
        "num_inference_steps": config.sample.num_inference_steps,
        "min_guidance_scale": config.sample.min_guidance_scale,
        "max_guidance_scale": config.sample.max_guidance_scale,
    }
