"""``vvt train vae``: train a (tiny) ``AutoencoderKLTemporalDecoder`` or ``AutoencoderKL`` on try-on videos.

RealVVT works in the latent space of SVD's VAE (Sec. 3.1). Without SVD's weights - on a laptop, in CI, for the
tiny model that learns on SynthVVT - that latent space must still be *real*: a random VAE's latents carry no
information and a diffusion model trained on them learns nothing meaningful. This task trains the VAE of the
``tiny`` RealVVT preset (:mod:`vvt.realvvt.presets`, the same architecture as SVD's, 8x downsampling, 4 latent
channels) or any other shape, or fine-tunes an existing one (``model.init_dir``). The result
(``OUTPUT_DIR/final``, a diffusers folder) is what ``model.vae_dir`` of a RealVVT config loads.

What is reconstructed: each sample contributes either its person clip or its agnostic clip (share
``agnostic_prob``; RealVVT encodes both, Sec. 3.2) decoded with the temporal decoder over its ``N``
frames, and its garment photo as a 1-frame clip (the Reference U-Net's input, Sec. 3.4).

``crop``: each training clip (and garment) is cut to a random ``(h, w)`` window, the same for every frame of
a clip, before encoding - the VAE is convolutional, so it learns the same mapping from crops at a fraction of
the cost per image (SD's VAE was trained on 256x256 crops of larger images). Sample videos and the exported
scaling factor use whole frames.

Loss per frame: ``l1_weight |x - D(z)| + mse_weight (x - D(z))^2`` averaged over pixels, plus
``kl_weight`` times the KL divergence of the posterior to N(0, I) averaged over latent elements, with ``z`` a
posterior sample. (SD's VAE adds LPIPS and a patch discriminator; their pretrained networks are not available
offline, so this is the plain reconstruction + KL objective of Kingma & Welling.) At export the latent scaling
factor is set to ``1 / std`` of the posterior means of the first ``SCALE_CLIPS`` training clips, the rule SD
used to pick 0.18215, so scaled latents have unit variance as EDM's ``sigma_data = 1`` assumes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from vvt.errors import ConfigError
from vvt.train.config import DataConfig, TrainerConfig
from vvt.train.data import build_sources
from vvt.train.sample_video import write_grid

logger = logging.getLogger(__name__)

STREAMS = ("person", "agnostic", "garment")
#: clips whose latents set the exported scaling factor
SCALE_CLIPS = 16


@dataclass
class VAEModelConfig:
    """The VAE to train and its loss (see the module docstring).

    preset: architecture of the RealVVT preset (``tiny``: 4 blocks of 32 channels, 1 layer each;
        ``full``: SVD's).
    init_dir: an ``AutoencoderKLTemporalDecoder`` folder to fine-tune instead of random weights.
    seed: initialisation seed.
    init_logvar: a random VAE's posterior log-variance at the start: its ``quant_conv`` maps every input to this
        constant (diffusers initialises it near 0, a posterior std of ~1 that drowns the latent in sampling noise
        until the encoder has learnt to shrink it; with the small KL weight the posterior stays nearly
        deterministic anyway). None keeps diffusers' initialisation.
    crop: ``[h, w]`` random training crop (see the module docstring) or None for whole frames; multiples of
        the VAE's downsampling factor.
    """

    preset: Literal["tiny", "small", "full"] = "tiny"
    init_dir: Path | None = None
    seed: int = 0
    l1_weight: float = 1.0
    mse_weight: float = 1.0
    kl_weight: float = 1e-4
    agnostic_prob: float = 0.5
    garment: bool = True
    crop: tuple[int, int] | None = None
    init_logvar: float | None = None


@dataclass
class VAERunConfig:
    """``vvt train vae`` config: ``train`` (the loop), ``data`` (what to reconstruct), ``model``."""

    train: TrainerConfig = field(
        default_factory=lambda: TrainerConfig(output_dir=Path("runs/vae"), learning_rate=1e-4)
    )
    data: DataConfig = field(default_factory=DataConfig)
    model: VAEModelConfig = field(default_factory=VAEModelConfig)


def build_vae(config: VAEModelConfig) -> nn.Module:
    """A random VAE of the preset's shape (seeded, global RNG untouched) or the one in ``init_dir``."""
    from vvt.realvvt.presets import load_vae, random_component

    if config.init_dir is not None:
        return load_vae(
            Path(config.init_dir),
            "model.init_dir",
            "an AutoencoderKLTemporalDecoder or AutoencoderKL folder "
            "(config.json + diffusion_pytorch_model.safetensors), e.g. SVD's vae/",
        )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        vae = random_component(config.preset, "vae")
    if config.init_logvar is not None:
        set_posterior_logvar(vae, config.init_logvar)
    return vae


@torch.no_grad()
def set_posterior_logvar(vae: nn.Module, logvar: float) -> None:
    """Make ``vae``'s posterior log-variance the constant ``logvar``: zero the log-variance rows of its
    ``quant_conv`` (the second half of its output channels: diffusers' ``DiagonalGaussianDistribution`` splits
    moments into mean, logvar) and set their bias."""
    conv = getattr(vae, "quant_conv", None)
    if conv is None:
        raise ConfigError("model.init_logvar needs a VAE with a quant_conv (use_quant_conv=True)")
    half = conv.out_channels // 2
    conv.weight[half:].zero_()
    conv.bias[half:].fill_(logvar)


def random_crop(video: torch.Tensor, size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """A random ``size = (h, w)`` window of ``(B, N, C, H, W)`` videos: one window per clip, the same for all
    its frames (drawn from ``generator``)."""
    h, w = size
    height, width = video.shape[-2:]
    if h > height or w > width:
        raise ConfigError(f"model.crop={list(size)} is larger than the training frames {height}x{width}")
    out = []
    for clip in video:
        top = int(torch.randint(0, height - h + 1, (1,), generator=generator, device=generator.device))
        left = int(torch.randint(0, width - w + 1, (1,), generator=generator, device=generator.device))
        out.append(clip[..., top : top + h, left : left + w])
    return torch.stack(out)


class VAETask:
    """The VAE training task (:class:`vvt.train.trainer.Task`). Builds (and so validates) the data first."""

    name = "vae"
    #: with layers_per_block=1 diffusers' MidBlockTemporalDecoder never calls its attention (it zips the
    #: attentions with resnets[1:]), so DDP must allow parameters without gradients
    find_unused_parameters = True

    def __init__(self, config: VAERunConfig):
        self.config = config
        self.sources = build_sources(
            config.data, STREAMS if config.model.garment else STREAMS[:2], config.train.seed
        )
        self.vae = build_vae(config.model)

    def trainable_modules(self) -> dict[str, nn.Module]:
        return {"vae": self.vae}

    def frozen_modules(self) -> dict[str, nn.Module]:
        return {}

    def datasets(self) -> list[tuple[Any, float]]:
        return self.sources

    def _clips(self, batch: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
        """``(B, N, 3, H, W)``: per sample its person or (with ``agnostic_prob``) its agnostic clip."""
        person = batch["person"]
        use_agnostic = torch.rand(person.shape[0], generator=generator, device=generator.device)
        use_agnostic = (use_agnostic < self.config.model.agnostic_prob).to(person.device)
        return torch.where(use_agnostic.view(-1, 1, 1, 1, 1), batch["agnostic"], person)

    def reconstruct(
        self, video: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode and decode ``(B, N, 3, H, W)`` in [-1, 1]: ``(reconstruction, KL per latent element)``.

        A posterior sample from ``generator``, or the posterior mean when it is None.
        """
        from vvt.realvvt.presets import vae_decode

        b, n = video.shape[:2]
        dist = self.vae.encode(video.flatten(0, 1)).latent_dist
        z = dist.sample(generator) if generator is not None else dist.mode()
        recon = vae_decode(self.vae, z, n)
        kl = 0.5 * (dist.mean.pow(2) + dist.var - 1.0 - dist.logvar)
        return recon.reshape(video.shape), kl.mean()

    def training_step(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Reconstruction + KL losses of one batch (see the module docstring). ``batch``: person, agnostic
        ``(B, N, 3, H, W)`` and garment ``(B, 3, H, W)`` in [-1, 1]."""
        cfg = self.config.model
        targets = [self._clips(batch, generator)]
        if cfg.garment:
            targets.append(batch["garment"].unsqueeze(1))
        if cfg.crop is not None:
            targets = [random_crop(t, tuple(cfg.crop), generator) for t in targets]
        l1 = mse = kl = 0.0
        frames = sum(t.shape[1] for t in targets)
        for target in targets:
            recon, kl_t = self.reconstruct(target, generator)
            share = target.shape[1] / frames
            l1 = l1 + share * F.l1_loss(recon.float(), target.float())
            mse = mse + share * F.mse_loss(recon.float(), target.float())
            kl = kl + share * kl_t.float()
        loss = cfg.l1_weight * l1 + cfg.mse_weight * mse + cfg.kl_weight * kl
        return {"loss": loss, "l1": l1.detach(), "mse": mse.detach(), "kl": kl.detach()}

    def write_sample(self, batch: dict[str, Any], path: Path) -> None:
        """Rows of ``person | reconstruction | agnostic | reconstruction`` for the first two samples."""
        rows = []
        for i in range(min(2, batch["person"].shape[0])):
            person, agnostic = batch["person"][i : i + 1], batch["agnostic"][i : i + 1]
            rows.append(
                [person[0], self.reconstruct(person)[0][0], agnostic[0], self.reconstruct(agnostic)[0][0]]
            )
        write_grid(path, rows)

    @torch.no_grad()
    def latent_std(self, clips: int = SCALE_CLIPS) -> float:
        """Std of the posterior means of the first ``clips`` clips of the first source (person videos)."""
        dataset = self.sources[0][0]
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(0)
        device = next(self.vae.parameters()).device
        was_training = self.vae.training
        self.vae.eval()
        means = [
            self.vae.encode(dataset[i]["person"].to(device)).latent_dist.mode().float()
            for i in range(min(clips, len(dataset)))
        ]
        self.vae.train(was_training)
        return float(torch.cat([m.flatten() for m in means]).std())

    def save_pretrained(self, directory: Path) -> None:
        """Save the VAE (diffusers folder) with ``scaling_factor = 1 / std`` of its latents."""
        std = self.latent_std()
        self.vae.register_to_config(scaling_factor=1.0 / std)
        logger.info("latent std %.4f: scaling_factor %.5f", std, 1.0 / std)
        self.vae.save_pretrained(directory, safe_serialization=True)
