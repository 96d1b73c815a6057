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

**Stages** (Sec. 4.1): ``"cmn"`` trains the CMN alone with Eq. 2 on ``M_r`` (every frame), ``M_c`` (single-frame
on frame 0, then multi-frame, each read from the frame before, Eq. 7) and the garment-side mask. ``"end2end"``
trains everything with Eq. 9 plus the CMN loss.

**Training as inference runs** (issue 19; our additions to the paper's teacher-forced training, footnote 3):

* **No path from a target to its own prediction.** The try-on mask fed to step ``t -> t+1`` is ``M_c^{t+1}``
  read by the CMN from frame ``t`` (Eq. 7: ``CMN(h^{t-1}, C)`` for output ``t``, ``h^0 = h^s``), and each
  frame is normalised in its own batch, so the generated frame ``t+1`` has an exactly zero gradient with
  respect to the real frames ``t+1, t+2, ...`` (tested).
* **Rollouts** (:meth:`FashionMirrorTraining.rollout`): the steps run one after another; from a step
  ``k ~ U{1..N-1}`` of each batch on, the current frame is the model's own previous output masked by its
  try-on mask, ``h_g^t (1 - M_c^t)`` (detached), exactly what :meth:`FashionMirror.iter_generate` feeds back;
  before it, the real frame masked by its removed mask, ``h^t (1 - M_r^t)`` (footnote 3).
* **Large first pose gaps** (:meth:`FashionMirrorTraining.arrange`): on half the batches the source is a later
  frame of the clip, so the first step jumps over up to ``(N - 2)(1 + max_skip)`` frames, as inference jumps from
  the person photo's pose to the first driving pose.

At inference (:meth:`FashionMirror.generate`) the sequence is autoregressive from ``h^0 = h^s``: the CMN reads
the model's own previous frame and ``h_m^t = h_g^t * (1 - M_c^t)`` removes the (generated) try-on garment, so
the HSG sees the same kind of garment-free input as in training and the garment always comes from ``C``.
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
        kernel_size: int = 4,
        sigma: float = 2.0,
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
        poses: Iterable[torch.Tensor],
    ) -> Iterator[torch.Tensor]:
        """Autoregressive try-on (Eq. 7), one frame per driving pose, starting from ``h^0 = h^s``.

        The CMN reads the frame before the one generated (Eq. 7, ``CMN(h^{t-1}, C)``): ``h^s`` for the first
        two masks, then the model's own previous output (:mod:`.cmn`); the driving video's frames are never
        read, only their skeletons. ``h_m^t = h_g^t * (1 - M_c^t)`` removes the generated try-on garment from
        the frame fed back.

        Args:
            source: source human ``h^s`` ``(B, 3, H, W)`` in [-1, 1].
            source_pose: its skeleton image ``p^0`` ``(B, 3, H, W)``.
            garment: ``C`` ``(B, 3, H, W)``.
            poses: skeleton images ``p^{t+1}`` ``(B, 3, H, W)`` of the driving poses.

        Yields:
            ``h_g^{t+1}`` ``(B, 3, H, W)`` in [-1, 1].
        """
        first = self.cmn(source, garment)
        source_masked = source * (1 - torch.sigmoid(first.removed))
        current, pose_t, frame = source_masked, source_pose, source
        masks = [torch.sigmoid(first.tryon)] * 2  # M_c^0 = M_c^1 = single(h^0)
        for t, pose_next in enumerate(poses):
            if t > 0:
                masks.append(torch.sigmoid(self.cmn(frame, garment, torch.cat(masks[-2:], 1)).tryon))
            frame, _, _ = self.step(source_masked, current, garment, masks[-1], pose_t, pose_next)
            yield frame
            current, pose_t = frame * (1 - masks[-1]), pose_next

    def generate(self, source: torch.Tensor, garment: torch.Tensor, skeletons: torch.Tensor) -> torch.Tensor:
        """:meth:`iter_generate` on whole tensors.

        Args:
            source: ``(B, 3, H, W)``; garment: ``(B, 3, H, W)``.
            skeletons: ``(B, N, 3, H, W)``, ``skeletons[:, 0]`` the source's, ``1..N-1`` the driving poses.

        Returns:
            ``(B, N - 1, 3, H, W)`` generated frames 1..N-1.
        """
        return torch.stack(list(self.iter_generate(source, skeletons[:, 0], garment, skeletons[:, 1:].unbind(1))), 1)


@dataclass
class LossWeights:
    """Weights of the CMN loss (Eq. 2) and the try-on loss (Eqs. 9-11); see :mod:`.losses` for the terms.

    The paper prints no weight (Eq. 2's lambdas and Eqs. 9-11's terms are named, not valued; Appendix A is not
    in the text we have). The source of each value: "paper" where the printed equation has no weight (1),
    "GFLA" where Ren et al.'s released pose-transfer config sets it, "ours" where we chose it.
    """

    cmn_l1: float = 1.0  # ours: Eq. 2 lambda_L1, value not printed
    cmn_bce: float = 1.0  # ours: Eq. 2 lambda_BCE, value not printed
    cmn_patch: float = 1.0  # ours: Eq. 2 lambda_Patch, value not printed
    cmn_garment: float = 0.5  # ours: the garment-side mask head is our addition (cmn.py)
    cmn_in_end2end: float = 1.0  # ours: Sec. 4.1 trains the CMN first, then "the whole model end-to-end"
    l1: float = 1.0  # GFLA: lambda_l1 = 1 (Ren et al. 2020, pose transfer)
    perceptual: float = 1.0  # ours: GFLA's lambda_content is 0.5; 1 keeps Eq. 10's human/clothes terms equal
    style: float = 100.0  # GFLA: lambda_style = 500 for 256x256 DeepFashion; ours 100 for the random VGG19 at 64x48
    adversarial: float = 0.1  # ours: GFLA's lambda_g = 2 with its spectral-norm D; 0.1 keeps the tiny model stable
    clothes: float = 1.0  # paper: Eq. 10 adds L_clothes^s to L_human^s without a weight
    flow: float = 1.0  # ours: Eq. 11 L_flow is "the weighted version of L_corr", weight not printed (GFLA 5)
    temporal: float = 1.0  # paper: Eq. 11 adds the temporal terms without a weight


@dataclass
class Rollout:
    """Training as inference runs (:meth:`FashionMirrorTraining.arrange`), our addition to Sec. 4.1's
    teacher-forced training (footnote 3).

    ``enabled``: feed the model's own outputs back from a step ``k ~ U{1..N-1}`` of each batch on (the
    schedule: a uniform share of teacher-forced prefix lengths, so every step index is trained both ways).
    ``first_gap``: probability that a batch starts from a later frame of the clip than its first target, so the
    first step learns pose gaps as large as inference's person-photo -> first-driving-pose jump.
    """

    enabled: bool = True
    first_gap: float = 0.5


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
        rollout: the rollout schedule (:class:`Rollout`).
    """

    def __init__(
        self,
        model: FashionMirror,
        weights: LossWeights | None = None,
        vgg_weights=None,
        disc_channels: int = 64,
        rollout: Rollout | None = None,
    ):
        super().__init__()
        self.model = model
        self.w = weights or LossWeights()
        self.schedule = rollout or Rollout()
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
            generated = self.model.generate(person[:, 0], garment, skeleton)[0]
            tryon = torch.sigmoid(self.model.cmn.sequence(person, garment).tryon[0, 1:])
        finally:
            self.model.train(was_training)
        write_grid(path, [[person[0, 1:], generated, skeleton[0, 1:], tryon]])

    def cmn_losses(self, batch: dict, masks) -> torch.Tensor:
        """Eq. 2 on ``M_r`` and ``M_c`` of every frame (``M_c^t`` read from frame ``t - 1``, Eq. 7), plus the
        garment-side mask when the batch has one."""
        loss = self.cmn_loss(masks.removed, batch["worn_mask"]) + self.cmn_loss(masks.tryon, batch["worn_mask"])
        if "garment_mask" in batch and self.w.cmn_garment > 0:
            loss = loss + self.w.cmn_garment * self.cmn_loss(masks.garment, batch["garment_mask"])
        return loss

    def arrange(self, batch: dict, generator: torch.Generator | None) -> tuple[dict, int]:
        """Training as inference runs (module docstring): ``(batch, k)`` with, on a coin flip of probability
        ``rollout.first_gap``, the source frame replaced by a later frame ``j ~ U{2..N-1}`` of the same clip (a
        first pose gap of up to ``(N - 2) (1 + max_skip)`` frames), and ``k ~ U{1..N-1}`` the first step whose
        current frame is the model's own previous output (``k = N - 1``: teacher-forced throughout). Without a
        ``generator`` (held-out losses) nothing changes and ``k = N - 1``."""
        n = batch["person"].shape[1]
        r = self.schedule
        if generator is None or n < 3:
            return batch, n - 1
        draw = lambda hi: int(torch.randint(hi, (1,), generator=generator))  # noqa: E731
        gap, j = float(torch.rand((), generator=generator)) < r.first_gap, 2 + draw(n - 2)
        k = 1 + draw(n - 1) if r.enabled else n - 1
        if gap:
            batch = dict(batch)
            for key in ("person", "skeleton", "worn_mask"):
                seq = batch[key]
                batch[key] = torch.cat([seq[:, j : j + 1], seq[:, 1:]], 1)
        return batch, k

    def rollout(self, batch: dict, masks, feedback_from: int) -> tuple[torch.Tensor, list[dict]]:
        """The generated frames ``h_g^1 .. h_g^{N-1}`` ``(B, N-1, 3, H, W)`` and the SFE flows of each step.

        Step ``t -> t+1`` reads ``h_m^t``: the real frame ``t`` without its predicted removed mask,
        ``h^t (1 - M_r^t)`` (footnote 3), for ``t < feedback_from``, and from step ``feedback_from`` on the
        model's own previous output without its try-on mask, ``h_g^t (1 - M_c^t)`` (detached: no
        backpropagation through time), as at inference. ``M_c^{t+1}`` comes from the CMN on the same frame
        ``h^t`` the step reads (Eq. 7): ``masks.tryon`` (the real-frame chain) while teacher-forced, the CMN on
        the generated frame once fed back. Nothing in step ``t`` reads the real frame ``t + 1``.
        """
        person, skeleton, garment = batch["person"], batch["skeleton"], batch["garment"]
        n = person.shape[1]
        removed, tryon = torch.sigmoid(masks.removed), torch.sigmoid(masks.tryon)
        source = person[:, 0] * (1 - removed[:, 0])
        current, history = source, [tryon[:, 0], tryon[:, 1]]
        fakes, flows = [], []
        for t in range(n - 1):
            if t >= feedback_from:
                history.append(
                    torch.sigmoid(self.model.cmn(fakes[-1].detach(), garment, torch.cat(history[-2:], 1)).tryon)
                )
            elif t > 0:
                history.append(tryon[:, t + 1])
            fake, flow, _ = self.model.step(source, current, garment, history[-1], skeleton[:, t], skeleton[:, t + 1])
            fakes.append(fake)
            flows.append(flow)
            if t + 1 >= feedback_from:
                current = fake.detach() * (1 - history[-1])
            else:
                current = person[:, t + 1] * (1 - removed[:, t + 1])
        return torch.stack(fakes, 1), flows

    def training_step(self, batch: dict, stage: str, generator: torch.Generator | None = None) -> dict:
        """One step of ``stage``: ``{"loss": total, <term>: value, ...}``, every value a scalar tensor.

        ``generator`` draws the first-step pose gap and the rollout schedule (:meth:`arrange`); without one
        the step is teacher-forced on the batch as given.
        """
        _check_stage(stage)
        _check_batch(batch)
        if stage == "end2end":
            batch, feedback_from = self.arrange(batch, generator)
        person, garment, worn = batch["person"], batch["garment"], batch["worn_mask"]
        masks = self.model.cmn.sequence(person, garment)
        cmn = self.cmn_losses(batch, masks)
        if stage == "cmn":
            return {"loss": cmn, "cmn": cmn.detach()}

        b, n = person.shape[:2]
        seq_fake, step_flows = self.rollout(batch, masks, feedback_from)
        flows = {s: torch.cat([f[s] for f in step_flows]) for s in step_flows[0]}
        pose_next = torch.cat(batch["skeleton"][:, 1:].unbind(1))
        real_steps, worn_steps = person[:, 1:], worn[:, 1:]
        real, worn_next = torch.cat(real_steps.unbind(1)), torch.cat(worn_steps.unbind(1))
        fake = torch.cat(seq_fake.unbind(1))  # step-major, as the flows

        with torch.no_grad():
            f_real = self.vgg(real)
            f_prev = self.vgg(torch.cat(person[:, :-1].unbind(1)))
            f_real_masked = self.vgg(real * worn_next)
        f_fake, f_fake_masked = self.vgg(fake), self.vgg(fake * worn_next)

        d_params = {k: p.detach() for k, p in self.discriminator.named_parameters()}
        adv_g = hinge_g_loss(functional_call(self.discriminator, d_params, (torch.cat([fake, pose_next], 1),)))
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
        if n >= 3:
            human_t = w.temporal * temporal_loss(seq_fake, real_steps)
            clothes_t = w.temporal * w.clothes * temporal_loss(seq_fake, real_steps, worn_steps)
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
