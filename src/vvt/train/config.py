"""Typed training configs shared by every task (``vvt train TASK --config CONFIG.yaml``).

A run config has three sections: ``train`` (:class:`TrainerConfig`, the generic loop), ``data``
(:class:`DataConfig`, the datasets and how they are mixed) and ``model`` (the task's own dataclass). The
defaults follow RealVVT Sec. 4 ("Implementation details"): AdamW with learning rate 5e-5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from vvt.checks import Bound

Positive = Annotated[float, Bound(gt=0)]
Count = Annotated[int, Bound(ge=1)]
NonNegative = Annotated[int, Bound(ge=0)]
OpenUnit = Annotated[float, Bound(ge=0, lt=1)]
#: frame sizes: the VAE downsamples by 8
Side = Annotated[int, Bound(gt=0, multiple_of=8)]


@dataclass
class EMAConfig:
    """Exponential moving average of the trained weights (diffusers' ``EMAModel``).

    The effective decay at optimisation step ``t`` is ``min(decay, (1 + t) / (10 + t))`` (or the
    ``1 - (1 + t / inv_gamma) ** -power`` warm-up when ``use_warmup``), so early averages are not dominated by
    the random initialisation.
    """

    enabled: bool = True
    decay: Annotated[float, Bound(ge=0, le=1)] = 0.9999
    update_after_step: NonNegative = 0
    use_warmup: bool = False
    inv_gamma: Positive = 1.0
    power: Positive = 2 / 3


@dataclass
class TrainerConfig:
    """The generic accelerate training loop.

    ``optimizer``: ``adamw`` (``torch.optim.AdamW``, the authors') or ``adamw8bit`` (bitsandbytes'
    ``AdamW8bit``: the two moments in 8 bits, 2 instead of 8 bytes per parameter; needs ``pip install
    bitsandbytes`` and a GPU), with the same learning rate, betas, epsilon and weight decay.
    ``batch_size`` is per process and per micro-step: one optimiser step sees
    ``batch_size * gradient_accumulation_steps * num_processes`` samples. ``mixed_precision`` None defers to
    ``accelerate launch`` (``--mixed_precision``), otherwise overrides it. Checkpoints go to
    ``output_dir/checkpoints/step-NNNNNNN``, sample videos to ``output_dir/samples``, TensorBoard events to
    ``output_dir/logs``, the final (EMA) weights to ``output_dir/final``; ``keep_last`` 0 keeps every
    checkpoint. ``num_threads`` sets torch's
    intra-op threads for the run (None: torch's default, one per core); on a small or busy CPU, 1 thread
    per process with ``num_workers`` DataLoader processes is often several times faster than
    oversubscribed threads. ``init_from``: a run folder or one of its checkpoints whose trained weights this
    run starts from, with a fresh optimiser, schedule, EMA and step count
    (:func:`vvt.train.checkpoint.init_weights`; ignored when resuming this run's own checkpoint).
    """

    output_dir: Path = Path("runs/train")
    seed: NonNegative = 0
    optimizer: Literal["adamw", "adamw8bit"] = "adamw"
    max_steps: Count = 1000
    batch_size: Count = 1
    gradient_accumulation_steps: Count = 1
    learning_rate: Positive = 5e-5
    adam_beta1: OpenUnit = 0.9
    adam_beta2: OpenUnit = 0.999
    weight_decay: Annotated[float, Bound(ge=0)] = 1e-2
    adam_epsilon: Positive = 1e-8
    lr_scheduler: Literal["constant", "constant_with_warmup", "linear", "cosine"] = "constant_with_warmup"
    lr_warmup_steps: NonNegative = 0
    max_grad_norm: Positive | None = 1.0
    mixed_precision: Literal["no", "fp16", "bf16"] | None = None
    gradient_checkpointing: bool = False
    ema: EMAConfig = field(default_factory=EMAConfig)
    checkpoint_every: Count = 500
    keep_last: NonNegative = 3
    sample_every: Count = 500
    log_every: Count = 10
    num_workers: NonNegative = 2
    num_threads: Count | None = None
    init_from: Path | None = None


@dataclass
class DataSourceConfig:
    """One dataset of a (possibly mixed) training set.

    ``root`` is read with :func:`vvt.data.layouts.read_layout` (``layout`` "auto" detects it). Image layouts
    (VITON-HD, DressCode) give 1-frame clips. ``weight`` is the probability (after normalisation over the
    sources) that a *batch* comes from this source: a batch never mixes sources, because image batches
    (N = 1) and video batches (N = ``frames``) cannot be stacked together. ``strict`` (None: ``data.strict``)
    makes a sample that cannot be read fail the run instead of being skipped with a warning. ``task``
    "garment_inpainting" turns the source's samples into garment self-inpainting clips
    (:mod:`vvt.train.garment_inpainting`, an auxiliary task of the tiny presets, not the paper's). ``limit``
    keeps only that many of the source's samples, drawn with a fixed seed (the same ones for every run and
    process): a curriculum that starts on a few garments (the ``tiny-synth-warmup-*`` configs).
    """

    root: Path = Path("data")
    layout: str = "auto"
    split: str = "train"
    weight: Positive = 1.0
    strict: bool | None = None
    task: Literal["tryon", "garment_inpainting"] = "tryon"
    limit: Count | None = None


@dataclass
class DataConfig:
    """What the task trains on: sources, output size ``(H, W)`` (multiples of 8: the VAE downsamples by 8), clip
    length and stride. ``strict``: a sample of a partial download that cannot be read (missing or unreadable
    person video or garment, malformed pair line, streams that disagree) fails the run, listing every one,
    instead of being skipped with a warning (:func:`vvt.data.layouts.read_layout`); a source may override it."""

    sources: list[DataSourceConfig] = field(default_factory=list)
    strict: bool = False
    size: tuple[Side, Side] = (512, 384)
    frames: Count = 8
    frame_stride: Count = 1
    # Off by default: a mirrored DensePose / skeleton frame keeps its part colours, so its left/right labels would
    # contradict the image (the paper does not flip); enable it only for conditions without sided labels.
    flip: bool = False
