"""``vvt train fashionmirror``: the FashionMirror training task (Sec. 4.1), staged as the paper trains it.

"We train our network in stages. The co-attention mask network is first trained. Then, we train the whole
model end-to-end with batch size of 4 [...]. Every iteration generates 6 frames and the consecutive frames
randomly skip 0 - 2 frames in the source video [...]. We apply the Adam optimizer with learning rate of
0.0001." (Sec. 4.1)

* **Stages** (:meth:`FashionMirrorTask.stages`): ``cmn`` for the first ``stages.cmn_steps`` optimisation steps
  (the CMN alone, Eq. 2), then ``end2end`` to ``train.max_steps`` (CMN + SFE + HSG + the PatchGAN
  discriminator, Eq. 9 plus the CMN loss); the losses and the rolled-out steps are
  :meth:`vvt.fashionmirror.model.FashionMirrorTraining.training_step`. The shared trainer
  (:mod:`vvt.train.trainer`) switches stages with a fresh optimiser, LR schedule and EMA, and resumes exactly
  across the switch. The paper gives no step counts; ``cmn_steps`` is ours to choose.
* **Optimiser**: the trainer's AdamW with ``train.weight_decay: 0`` is Adam; ``learning_rate`` 1e-4 as the
  paper.
* **Data** (:class:`FashionMirrorDataConfig`): :class:`vvt.data.datasets.FrameSequenceDataset` sequences of
  ``data.frames`` frames (7 = the source frame + 6 generated frames), consecutive frames
  ``1 + U{0..max_skip}`` apart, with the streams ``person``, ``skeleton``, ``garment``, ``worn_mask`` (the
  ground truth of both masks; the paper takes it from a human parser, SynthVVT writes it exactly) and
  ``garment_mask`` (when the garment-side mask loss is on). Paired samples only: the worn garment is ``C``.
* **ImageNet initialisation** (Sec. 3.1, "a siamese ResNet"): ``model.cmn_weights`` names a local torchvision
  ResNet-50 state dict (file or folder) loaded into the CMN trunk before training (needs the ResNet-50 trunk,
  ``cmn_layers: [3, 4, 6, 3]``, ``cmn_width_per_group: 64``); null keeps the random trunk (the tiny recipe).
* **Rollouts** (``model.rollout``, :class:`~vvt.fashionmirror.model.Rollout`): own outputs fed back from a
  random step of each sequence and large first pose gaps, so training sees what inference does.
* **Loss networks**: VGG19 from ``model.vgg_weights`` (a local torchvision state dict); without it the VGG19
  is randomly initialised from ``model.seed`` (a fixed random feature extractor: enough for SynthVVT, not for
  the paper's perceptual and style losses).

The export (``OUTPUT_DIR/final``) is the generator alone, a :class:`~vvt.fashionmirror.model.FashionMirror`
folder that ``vvt tryon --method fashionmirror --weights`` and :func:`vvt.fashionmirror.inference.load_model`
read. The sample video every ``train.sample_every`` steps is
:meth:`~vvt.fashionmirror.model.FashionMirrorTraining.write_sample`: real frame | autoregressive try-on |
skeleton | predicted try-on mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vvt.errors import ConfigError
from vvt.fashionmirror.cmn import load_resnet_weights
from vvt.fashionmirror.model import STAGES, FashionMirror, FashionMirrorTraining, LossWeights, Rollout
from vvt.train.config import DataSourceConfig, TrainerConfig
from vvt.train.data import build_sources

#: streams every training sequence loads (plus ``garment_mask`` when ``model.loss.cmn_garment > 0``)
STREAMS = ("person", "skeleton", "garment", "worn_mask")


@dataclass
class FashionMirrorDataConfig:
    """Training sequences: sources (ViViD layout with skeleton/ and worn_mask/, e.g. SynthVVT), output size
    ``(H, W)``, ``frames`` per sequence (source + generated), the largest skip between consecutive frames;
    ``strict`` as in :class:`vvt.train.config.DataConfig`."""

    sources: list[DataSourceConfig] = field(default_factory=list)
    size: tuple[int, int] = (256, 256)
    frames: int = 7
    max_skip: int = 2
    flip: bool = False
    strict: bool = False


@dataclass
class FashionMirrorModelConfig:
    """The generator's architecture (:class:`FashionMirror`; the defaults are the paper's: ResNet-50 CMN
    trunk at output stride 8), its initialisation seed, the loss networks and the loss weights."""

    seed: int = 0
    cmn_layers: tuple[int, ...] = (3, 4, 6, 3)
    cmn_width_per_group: int = 64
    cmn_aspp_channels: int = 256
    cmn_atrous_rates: tuple[int, ...] = (6, 12, 18)
    cmn_head_channels: int = 128
    cmn_output_stride: int = 8
    base_channels: int = 32
    max_channels: int = 256
    attn_strides: tuple[int, ...] = (8, 4)
    lambda_hs: float = 1.0
    lambda_c: float = 1.0
    kernel_size: int = 4
    sigma: float = 2.0
    disc_channels: int = 64
    vgg_weights: Path | None = None
    cmn_weights: Path | None = None
    loss: LossWeights = field(default_factory=LossWeights)
    rollout: Rollout = field(default_factory=Rollout)


@dataclass
class FashionMirrorStagesConfig:
    """``cmn_steps``: optimisation steps of the CMN-only stage before end-to-end training (0: end to end
    from the start)."""

    cmn_steps: int = 2000


@dataclass
class FashionMirrorRunConfig:
    """``vvt train fashionmirror`` config: ``train`` (the loop), ``data``, ``model``, ``stages``."""

    train: TrainerConfig = field(
        default_factory=lambda: TrainerConfig(
            output_dir=Path("runs/fashionmirror"),
            batch_size=4,
            learning_rate=1e-4,
            weight_decay=0.0,
            lr_scheduler="constant",
        )
    )
    data: FashionMirrorDataConfig = field(default_factory=FashionMirrorDataConfig)
    model: FashionMirrorModelConfig = field(default_factory=FashionMirrorModelConfig)
    stages: FashionMirrorStagesConfig = field(default_factory=FashionMirrorStagesConfig)


def build_training(config: FashionMirrorRunConfig) -> FashionMirrorTraining:
    """The run's step-0 generator with its VGG19 and discriminator, initialised from ``model.seed`` (the
    global RNG is left untouched), at ``data.size``."""
    m = config.model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(m.seed)
        model = FashionMirror(
            sample_size=tuple(config.data.size),
            cmn_layers=tuple(m.cmn_layers),
            cmn_width_per_group=m.cmn_width_per_group,
            cmn_aspp_channels=m.cmn_aspp_channels,
            cmn_atrous_rates=tuple(m.cmn_atrous_rates),
            cmn_head_channels=m.cmn_head_channels,
            cmn_output_stride=m.cmn_output_stride,
            base_channels=m.base_channels,
            max_channels=m.max_channels,
            attn_strides=tuple(m.attn_strides),
            lambda_hs=m.lambda_hs,
            lambda_c=m.lambda_c,
            kernel_size=m.kernel_size,
            sigma=m.sigma,
        )
        if m.cmn_weights is not None:
            load_resnet_weights(model.cmn.trunk, m.cmn_weights)
        return FashionMirrorTraining(
            model, m.loss, vgg_weights=m.vgg_weights, disc_channels=m.disc_channels, rollout=m.rollout
        )


def sequence_streams(config: FashionMirrorRunConfig) -> tuple[str, ...]:
    """The streams a training sequence loads."""
    return STREAMS + (("garment_mask",) if config.model.loss.cmn_garment > 0 else ())


def build_sequence_sources(config: FashionMirrorRunConfig) -> list[tuple[Any, float]]:
    """One :class:`~vvt.data.datasets.FrameSequenceDataset` per ``data.sources`` entry, with its weight.

    Raises :class:`~vvt.errors.LayoutError` for a missing or malformed dataset (a missing skeleton or
    worn_mask stream included), before any training.
    """
    from vvt.data.datasets import FrameSequenceDataset

    data = config.data
    if not data.sources:
        raise ConfigError(
            "data.sources is empty: list at least one dataset with skeleton/ and worn_mask/ streams, "
            "e.g. data.sources=[{root: DATA_DIR}] (a SynthVVT folder)"
        )
    if data.frames < 2 or data.max_skip < 0:
        raise ConfigError(
            f"data.frames must be >= 2 (the source frame + generated frames) and data.max_skip >= 0, "
            f"got {data.frames} and {data.max_skip}"
        )
    return build_sources(
        data,
        sequence_streams(config),
        config.train.seed,
        FrameSequenceDataset,
        num_frames=data.frames,
        max_skip=data.max_skip,
    )


class FashionMirrorTask:
    """The FashionMirror training task (:class:`vvt.train.trainer.Task` with stages); builds (so validates)
    the data first."""

    name = "fashionmirror"

    def __init__(self, config: FashionMirrorRunConfig):
        if config.stages.cmn_steps < 0:
            raise ConfigError(f"stages.cmn_steps must be >= 0, got {config.stages.cmn_steps}")
        self.config = config
        self.sources = build_sequence_sources(config)
        self.training = build_training(config)
        self.stage = self.stages()[0][0]
        # DDP must allow parameters without a gradient when a CMN head has no input: the multi-frame head
        # below 3 frames, the garment-side head without its loss
        self.find_unused_parameters = config.data.frames < 3 or config.model.loss.cmn_garment <= 0

    def stages(self) -> list[tuple[str, int]]:
        """``[("cmn", 0), ("end2end", cmn_steps)]``, or only ``end2end`` when ``cmn_steps`` is 0."""
        cmn_steps = self.config.stages.cmn_steps
        return [("cmn", 0), ("end2end", cmn_steps)] if cmn_steps > 0 else [("end2end", 0)]

    def set_stage(self, name: str) -> None:
        """Make ``name`` the stage of :meth:`trainable_modules` and :meth:`training_step`."""
        if name not in STAGES:
            raise ValueError(f"unknown FashionMirror stage {name!r} (stages: {', '.join(STAGES)})")
        self.stage = name

    def trainable_modules(self) -> dict[str, nn.Module]:
        return self.training.trainable_modules(self.stage)

    def frozen_modules(self) -> dict[str, nn.Module]:
        return self.training.frozen_modules()

    def datasets(self) -> list[tuple[Any, float]]:
        return self.sources

    def training_step(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The current stage's losses (Eq. 2, or Eq. 9 + Eq. 2) on a batch of sequences: person, skeleton
        ``(B, N, 3, H, W)``, worn_mask ``(B, N, 1, H, W)``, garment ``(B, 3, H, W)``, garment_mask
        ``(B, 1, H, W)``."""
        return self.training.training_step(batch, self.stage, generator)

    def write_sample(self, batch: dict[str, Any], path: Path) -> None:
        """:meth:`FashionMirrorTraining.write_sample` of the batch's first sequence (module docstring)."""
        self.training.write_sample(batch, path)

    def save_pretrained(self, directory: Path) -> None:
        """The generator (CMN + SFE + HSG) as a :class:`FashionMirror` folder (safetensors)."""
        self.training.model.save_pretrained(directory, safe_serialization=True)
