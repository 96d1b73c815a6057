"""The pose guider: DensePose frames -> features added after the U-Net's ``conv_in`` (RealVVT Sec. 3.2).

Sec. 3.2: after the 9-channel ``conv_in`` "the model assimilates dense pose from the pose estimator". As in
the authors' release (and Animate Anyone's pose guider), a small per-frame conv encoder takes the DensePose
frames in pixel space down to latent resolution with three stride-2 stages and a **zero-initialised** output
conv, so an untrained guider changes nothing. The encoder is diffusers' ``ControlNetConditioningEmbedding``
(conv, then a 3x3 conv and a stride-2 3x3 conv per stage, SiLU, zero-initialised ``conv_out``) wrapped as a
``ModelMixin`` so it saves and loads like every other part.

The features reach the U-Net through a seam, :class:`PoseFeatureInjection`: a forward hook on ``unet.conv_in``
that adds the features given for the current forward pass. The U-Net's code and its state dict stay diffusers'
own.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.controlnets.controlnet import ControlNetConditioningEmbedding
from diffusers.models.modeling_utils import ModelMixin

from vvt.errors import ShapeMismatchError


class PoseGuider(ModelMixin, ConfigMixin):
    """Per-frame DensePose encoder (Sec. 3.2).

    Args:
        out_channels: channels of the U-Net's ``conv_in`` output (320 for SVD).
        in_channels: DensePose image channels (3: vvt IUV RGB in [-1, 1]).
        block_out_channels: channels of the input conv and the three stride-2 stages' inputs/outputs
            (``(16, 32, 96, 256)`` in full: 1/8 resolution after three stages).
    """

    @register_to_config
    def __init__(
        self,
        out_channels: int = 320,
        in_channels: int = 3,
        block_out_channels: tuple[int, ...] = (16, 32, 96, 256),
    ):
        super().__init__()
        self.embedding = ControlNetConditioningEmbedding(
            conditioning_embedding_channels=out_channels,
            conditioning_channels=in_channels,
            block_out_channels=tuple(block_out_channels),
        )

    def forward(self, densepose: torch.Tensor) -> torch.Tensor:
        """``densepose``: ``(B, N, 3, H, W)`` in [-1, 1] -> features ``(B * N, out_channels, H / 8, W / 8)``
        in the U-Net's frame order (the ``N`` frames of a clip consecutive)."""
        return self.embedding(densepose.flatten(0, 1))


class PoseFeatureInjection:
    """Forward hook on ``unet.conv_in`` adding the pose-guider features of the current forward pass.

    Set :attr:`features` (``(B * N, C, h, w)``, matching ``conv_in``'s output) before a forward pass; ``None``
    adds nothing. The features stay set until replaced (see
    :class:`~vvt.realvvt.attention.CnTAttentionState`).
    """

    def __init__(self) -> None:
        self.features: torch.Tensor | None = None

    def __call__(self, module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if self.features is None:
            return output
        if self.features.shape != output.shape:
            raise ShapeMismatchError(
                f"pose-guider features of shape {tuple(self.features.shape)} do not match the U-Net's "
                f"conv_in output {tuple(output.shape)}; the DensePose frames must have the video's size and "
                "frame count"
            )
        return output + self.features.to(output.dtype)


def attach_pose_injection(unet: torch.nn.Module) -> PoseFeatureInjection:
    """Register (once) a :class:`PoseFeatureInjection` hook on ``unet.conv_in`` and return it."""
    injection = getattr(unet, "vvt_pose_injection", None)
    if injection is None:
        injection = PoseFeatureInjection()
        unet.conv_in.register_forward_hook(injection)
        unet.vvt_pose_injection = injection
    return injection
