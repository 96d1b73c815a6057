"""FashionMirror: the whole generator (CMN + SFE + HSG, Eq. 7) and its two-stage training step.

:class:`FashionMirror` is a diffusers ``ModelMixin``/``ConfigMixin`` (``save_pretrained``/``from_pretrained``,
safetensors). :class:`FashionMirrorTraining` wraps it with the loss networks (frozen VGG19, a PatchGAN
discriminator) and exposes the trainer protocol: ``trainable_modules(stage)``, ``frozen_modules()`` and
``training_step(batch, stage, generator) -> {"loss": ..., <each term>: ...}``.

**Training batch** (the shared tensor contract, sequences of ``N`` frames, ``N >= 2``; the paper generates 6
frames per iteration, i.e. ``N = 7``, with random skips of 0-2 frames drawn by the dataset):
``"person"`` ``(B, N, 3, H, W)`` [-1, 1] (frame 0 is the source ``h^s``, frames 1.. the targets);
``"skeleton"`` ``(B, N, 3, H, W)`` [-1, 1] (``p^t``); ``"garment"`` ``(B, 3, H, W)``; ``"worn_mask"``
``(B, N, 1, H, W)`` {0, 1} (ground truth of both ``M_r`` and ``M_c``: in paired training the garment worn is
``C``); optional ``"garment_mask"`` ``(B, 1, H, W)``.

**Stages** (Sec. 4.1): ``"cmn"`` trains the CMN alone with Eq. 2 on ``M_r`` (every frame), ``M_c`` (frames 0-1
single-frame, then multi-frame) and the garment-side mask. ``"end2end"`` trains everything with Eq. 9 plus
the CMN loss. Training is teacher-forced, the paper's footnote 3: the current frame ``h^t`` is the *real*
frame ``t`` masked by its predicted removed mask, ``h_m^t = h^t * (1 - M_r^t)``, so all ``N - 1`` steps run as
one batch. At inference (:meth:`FashionMirror.generate`) the sequence is autoregressive from ``h^0 = h^s``:
``h_m^t = h_g^t * (1 - M_c^t)`` removes the (generated) try-on garment, so the HSG sees the same kind of
garment-free input as in training and the garment always comes from ``C``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from torch.func import functional_call

from vvt.fashionmirror.cmn import CoAttentionMaskNetwork
from vvt.fashionmirror.hsg import HumanSequenceGenerator
from vvt.fashionmirror.losses import (
    CMNLoss,
    PatchDiscriminator,
    SampleCorrectness,
    VGG19Features,
    hinge_d_loss,
    hinge_g_loss,
    perceptual_loss,
    style_loss,
    temporal_loss,
)
from vvt.fashionmirror.sfe import SkeletonFlowExtractor

STAGES = ("cmn", "end2end")


class FashionMirror(ModelMixin, ConfigMixin):
    """The FashionMirror generator ``G_h`` with its CMN (Eq. 7).

    Args:
        sample_size: ``(H, W)`` the model works at (inputs are resized to it by :mod:`.inference`).
        cmn_layers / cmn_width_per_group / cmn_aspp_channels / cmn_atrous_rates / cmn_head_channels /
            cmn_output_stride: the CMN
            (:class:`~vvt.fashionmirror.cmn.CoAttentionMaskNetwork`; ``(3, 4, 6, 3)`` = ResNet-50).
        base_channels / max_channels / attn_strides: widths and attentive strides of SFE and HSG.
        lambda_hs / lambda_c: Eq. 8 weights (``lambda_ci`` schedule in :mod:`.hsg`).
        kernel_size / sigma: Gaussian sampling.
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        sample_size: tuple[int, int] = (256, 192),
        cmn_layers: tuple[int, ...] = (3, 4, 6, 3),
        cmn_width_per_group: int = 64,
        cmn_aspp_channels: int = 256,
        cmn_atrous_rates: tuple[int, ...] = (6, 12, 18),
        cmn_head_channels: int = 128,
        cmn_output_stride: int = 8,
        base_channels: int = 32,
        max_channels: int = 256,
        attn_strides: tuple[int, ...] = (8, 4),
        lambda_hs: float = 1.0,
        lambda_c: float = 1.0,
        kernel_size: int = 3,
        sigma: float = 1.0,
    ):
        super().__init__()
        self.cmn = CoAttentionMaskNetwork(
            tuple(cmn_layers),
            cmn_width_per_group,
            cmn_aspp_channels,
            tuple(cmn_atrous_rates),
            cmn_head_channels,
            cmn_output_stride,
        )
        self.sfe = SkeletonFlowExtractor(base_channels, max_channels, tuple(attn_strides))
        self.hsg = HumanSequenceGenerator(
            base_channels, max_channels, tuple(attn_strides), lambda_hs, lambda_c, kernel_size, sigma
        )

    def step(
        self,
        source_masked: torch.Tensor,
        current_masked: torch.Tensor,
        garment: torch.Tensor,
        tryon_mask: torch.Tensor,
        pose_t: torch.Tensor,
        pose_next: torch.Tensor,
    ):
        """One HSG step ``t -> t+1`` (Eqs. 4 and 8). All images ``(B, C, H, W)``; masks in [0, 1].

        Returns ``(h_g^{t+1} (B, 3, H, W), flows {stride: (B, 2, h, w)}, selection {stride: (B, 1, h, w)})``.
        """
        flows, selection = self.sfe(pose_t, pose_next)
        frame = self.hsg(source_masked, current_masked, garment, tryon_mask, pose_next, flows, selection)
        return frame, flows, selection

    @torch.no_grad()
    def iter_generate(
        self,
        source: torch.Tensor,
        source_pose: torch.Tensor,
        garment: torch.Tensor,
        guides: Iterable[tuple[torch.Tensor, torch.Tensor]],
    ) -> Iterator[torch.Tensor]:
        """Autoregressive try-on (Eq. 7), one frame per guiding frame, starting from ``h^0 = h^s``.

        Args:
            source: source human ``h^s`` ``(B, 3, H, W)`` in [-1, 1].
            source_pose: its skeleton image ``p^0`` ``(B, 3, H, W)``.
            garment: ``C`` ``(B, 3, H, W)``.
            guides: pairs ``(h^{t+1}, p^{t+1})`` of guiding frame and its skeleton, each ``(B, 3, H, W)``.

        Yields:
            ``h_g^{t+1}`` ``(B, 3, H, W)`` in [-1, 1].
        """
        eps_c = self.cmn.encode(garment)
        first = self.cmn(source, garment, garment_features=eps_c)
        source_masked = source * (1 - torch.sigmoid(first.removed))
        current, pose_t = source_masked, source_pose
        tryon_masks = [torch.sigmoid(first.tryon)]
        for guide, pose_next in guides:
            previous = torch.cat(tryon_masks[-2:], 1) if len(tryon_masks) >= 2 else None
            mask_next = torch.sigmoid(self.cmn(guide, garment, previous, garment_features=eps_c).tryon)
            frame, _, _ = self.step(source_masked, current, garment, mask_next, pose_t, pose_next)
            yield frame
            current, pose_t = frame * (1 - mask_next), pose_next
            tryon_masks = [tryon_masks[-1], mask_next]

    def generate(
        self, source: torch.Tensor, garment: torch.Tensor, guides: torch.Tensor, skeletons: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`iter_generate` on whole tensors.

        Args:
            source: ``(B, 3, H, W)``; garment: ``(B, 3, H, W)``.
            guides: guiding frames ``(B, N, 3, H, W)`` (frame 0 = the source's own frame slot).
            skeletons: ``(B, N, 3, H, W)``, ``skeletons[:, 0]`` the source's.

        Returns:
            ``(B, N - 1, 3, H, W)`` generated frames 1..N-1.
        """
        pairs = zip(guides[:, 1:].unbind(1), skeletons[:, 1:].unbind(1))
        return torch.stack(list(self.iter_generate(source, skeletons[:, 0], garment, pairs)), 1)


@dataclass
class LossWeights:
    """Weights of the CMN loss (Eq. 2) and the try-on loss (Eqs. 9-11); see :mod:`.losses` for the terms."""

    cmn_l1: float = 1.0
    cmn_bce: float = 1.0
    cmn_patch: float = 1.0
    cmn_garment: float = 0.5  # garment-side mask head (our addition, see cmn.py)
    cmn_in_end2end: float = 1.0
    l1: float = 1.0
    perceptual: float = 1.0
    style: float = 100.0
    adversarial: float = 0.1
    clothes: float = 1.0
    flow: float = 1.0
    temporal: float = 1.0


class FashionMirrorTraining(nn.Module):
    """Training wrapper: generator + frozen VGG19 + PatchGAN; one ``training_step`` for both stages.

    The discriminator trains in the same backward pass as the generator: its hinge loss uses detached
    fakes, and the generator's adversarial term calls it with detached parameters
    (``torch.func.functional_call``), so each network only receives its own gradient.

    Args:
        model: the :class:`FashionMirror` to train.
        weights: loss weights.
        vgg_weights: local torchvision VGG19 state dict (file or folder); None = random (tests only).
        disc_channels: discriminator width.
    """

    def __init__(
        self,
        model: FashionMirror,
        weights: LossWeights | None = None,
        vgg_weights=None,
        disc_channels: int = 64,
    ):
        super().__init__()
        self.model = model
        self.w = weights or LossWeights()
        self.cmn_loss = CMNLoss(self.w.cmn_l1, self.w.cmn_bce, self.w.cmn_patch)
        self.vgg = VGG19Features(weights=vgg_weights)
        k, s = model.config.kernel_size, model.config.sigma
        self.correctness = SampleCorrectness(self.vgg, k, s)
        self.discriminator = PatchDiscriminator(6, disc_channels)

    def trainable_modules(self, stage: str) -> dict[str, nn.Module]:
        """Modules the optimiser updates in ``stage`` (``"cmn"`` or ``"end2end"``)."""
        _check_stage(stage)
        if stage == "cmn":
            return {"cmn": self.model.cmn}
        return {
            "cmn": self.model.cmn,
            "sfe": self.model.sfe,
            "hsg": self.model.hsg,
            "discriminator": self.discriminator,
        }

    def frozen_modules(self) -> dict[str, nn.Module]:
        """Modules that never train."""
        return {"vgg19": self.vgg}

    @torch.no_grad()
    def write_sample(self, batch: dict, path) -> None:
        """Write the autoregressive try-on of the batch's first sequence to ``path`` (a video).

        Each frame ``t = 1..N-1`` shows, left to right: the real frame, the generated frame (Eq. 7 from
        ``h^0 = h^s``), the skeleton ``p^t`` and the predicted try-on mask ``M_c^t``. The model runs in eval
        mode here and its previous mode is restored.
        """
        from vvt.train.sample_video import write_grid

        was_training = self.model.training
        self.model.eval()
        try:
            person, skeleton, garment = batch["person"][:1], batch["skeleton"][:1], batch["garment"][:1]
            generated = self.model.generate(person[:, 0], garment, person, skeleton)[0]
            tryon = torch.sigmoid(self.model.cmn.sequence(person, garment).tryon[0, 1:])
        finally:
            self.model.train(was_training)
        write_grid(path, [[person[0, 1:], generated, skeleton[0, 1:], tryon]])

    def cmn_losses(self, batch: dict, masks) -> torch.Tensor:
        """Eq. 2 on ``M_r`` and ``M_c`` of every frame, plus the garment-side mask when the batch has one."""
        loss = self.cmn_loss(masks.removed, batch["worn_mask"]) + self.cmn_loss(
            masks.tryon, batch["worn_mask"]
        )
        if "garment_mask" in batch and self.w.cmn_garment > 0:
            loss = loss + self.w.cmn_garment * self.cmn_loss(masks.garment, batch["garment_mask"])
        return loss

    def training_step(self, batch: dict, stage: str, generator: torch.Generator | None = None) -> dict:
        """One step of ``stage``: ``{"loss": total, <term>: value, ...}``, every value a scalar tensor.

        ``generator`` is accepted for the trainer protocol; the step itself draws no random numbers.
        """
        _check_stage(stage)
        _check_batch(batch)
        person, garment, worn = batch["person"], batch["garment"], batch["worn_mask"]
        masks = self.model.cmn.sequence(person, garment)
        cmn = self.cmn_losses(batch, masks)
        if stage == "cmn":
            return {"loss": cmn, "cmn": cmn.detach()}

        b, n = person.shape[:2]
        flat = lambda x: x.flatten(0, 1)  # noqa: E731
        removed = torch.sigmoid(masks.removed)
        current = flat(person[:, :-1] * (1 - removed[:, :-1]))
        source = flat((person[:, :1] * (1 - removed[:, :1])).expand(-1, n - 1, -1, -1, -1))
        garments = garment.repeat_interleave(n - 1, dim=0)
        tryon_next = flat(torch.sigmoid(masks.tryon)[:, 1:])
        pose_t, pose_next = flat(batch["skeleton"][:, :-1]), flat(batch["skeleton"][:, 1:])
        fake, flows, _ = self.model.step(source, current, garments, tryon_next, pose_t, pose_next)
        real, worn_next = flat(person[:, 1:]), flat(worn[:, 1:])

        with torch.no_grad():
            f_real_all = self.vgg(flat(person))
            f_real_masked = self.vgg(real * worn_next)
        f_real = {k: v.unflatten(0, (b, n))[:, 1:].flatten(0, 1) for k, v in f_real_all.items()}
        f_prev = {k: v.unflatten(0, (b, n))[:, :-1].flatten(0, 1) for k, v in f_real_all.items()}
        f_fake, f_fake_masked = self.vgg(fake), self.vgg(fake * worn_next)

        d_params = {k: p.detach() for k, p in self.discriminator.named_parameters()}
        adv_g = hinge_g_loss(
            functional_call(self.discriminator, d_params, (torch.cat([fake, pose_next], 1),))
        )
        adv_d = hinge_d_loss(
            self.discriminator(torch.cat([real, pose_next], 1)),
            self.discriminator(torch.cat([fake.detach(), pose_next], 1)),
        )
        w = self.w
        human_s = (
            w.l1 * (fake - real).abs().mean()
            + w.perceptual * perceptual_loss(f_fake, f_real)
            + w.style * style_loss(f_fake, f_real)
            + w.adversarial * adv_g
        )
        clothes_s = w.clothes * (
            w.l1 * ((fake - real) * worn_next).abs().mean()
            + w.perceptual * perceptual_loss(f_fake_masked, f_real_masked)
        )
        flow = w.flow * self.correctness(f_prev, f_real, flows)
        seq_fake, seq_real = fake.unflatten(0, (b, n - 1)), real.unflatten(0, (b, n - 1))
        if n >= 3:
            human_t = w.temporal * temporal_loss(seq_fake, seq_real)
            clothes_t = w.temporal * w.clothes * temporal_loss(seq_fake, seq_real, worn[:, 1:])
        else:
            human_t = clothes_t = fake.new_zeros(())
        total = (human_s + clothes_s) + (flow + human_t + clothes_t) + w.cmn_in_end2end * cmn + adv_d
        terms = {
            "cmn": cmn,
            "human_spatial": human_s,
            "clothes_spatial": clothes_s,
            "flow": flow,
            "human_temporal": human_t,
            "clothes_temporal": clothes_t,
            "adv_g": adv_g,
            "adv_d": adv_d,
        }
        return {"loss": total, **{k: v.detach() for k, v in terms.items()}}


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise ValueError(f"unknown FashionMirror stage {stage!r} (stages: {', '.join(STAGES)})")


def _check_batch(batch: dict) -> None:
    missing = [k for k in ("person", "skeleton", "garment", "worn_mask") if k not in batch]
    if missing:
        raise KeyError(
            f"FashionMirror batch lacks {missing}: it needs person, skeleton, garment and worn_mask "
            "(SynthVVT provides worn_mask)"
        )
    person = batch["person"]
    if person.ndim != 5 or person.shape[1] < 2:
        raise ValueError(f"person must be (B, N>=2, 3, H, W), got {tuple(person.shape)}")
    for key in ("skeleton", "worn_mask"):
        if batch[key].shape[:2] != person.shape[:2] or batch[key].shape[-2:] != person.shape[-2:]:
            raise ValueError(f"{key} {tuple(batch[key].shape)} does not match person {tuple(person.shape)}")
