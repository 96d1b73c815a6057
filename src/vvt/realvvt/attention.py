"""C&T (Clothing & Temporal) consistency attention (RealVVT Sec. 3.4, Eqs. 6-8) and the reference bank.

Both are diffusers *attention processors* installed with ``set_attn_processor`` on the **spatial
self-attentions** of the two U-Nets (``attn1`` of the ``BasicTransformerBlock`` s: in the spatio-temporal
U-Net those of ``TransformerSpatioTemporalModel.transformer_blocks``, never its
``temporal_transformer_blocks``; in the Reference U-Net those of ``Transformer2DModel.transformer_blocks``).
No U-Net code is copied.

* :class:`ReferenceCaptureProcessor` (Reference U-Net): records what each spatial self-attention receives (the
  block's hidden states after ``norm1``) into a :class:`ReferenceFeatureBank`, then attends as diffusers'
  stock processor. These are the garment tokens ``c_attn`` of Eq. (8).
* :class:`CnTAttnProcessor` (spatio-temporal U-Net): frame ``i`` attends to the keys/values built from
  ``Concat(x_attn_i, x_attn_j, c_attn)`` (Eq. 8), projected with the layer's own ``to_k``/``to_v``; ``j`` is
  another frame of the same clip (:func:`random_partners` in training, :func:`inference_partners` at
  inference; a 1-frame clip uses ``j = i``), ``c_attn`` the tokens of the paired Reference U-Net layer. With
  C&T switched off (ablation: no partners) the keys/values are ``Concat(x_attn_i, c_attn)``, a plain
  reference-net attention; with no garment tokens either it is ordinary self-attention. Attention runs through
  ``F.scaled_dot_product_attention``, except on the layers whose garment-attention probabilities the agnostic
  loss of Eq. (4) reads (:mod:`vvt.realvvt.losses`), where the probabilities are formed explicitly - only when
  a ``capture_level`` is set (training with ``lambda_agn > 0``).

The two U-Nets' spatial self-attentions are paired one to one in forward order (down blocks, mid block, up
blocks); :func:`check_pairing` verifies the channels when the model is built, and the processor verifies the
token count and channels of every garment-token tensor at run time.

The per-forward inputs (garment tokens, partner frames, capture switch) live in a :class:`CnTAttentionState`
shared by all processors of one U-Net, because ``UNetSpatioTemporalConditionModel.forward`` takes no
``cross_attention_kwargs``. They stay set until replaced, so that gradient checkpointing can recompute a block
during the backward pass with the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from vvt.errors import ConfigError, ShapeMismatchError
from vvt.realvvt.losses import garment_attention_mass


@dataclass(frozen=True)
class SpatialSelfAttention:
    """One spatial self-attention layer of a U-Net.

    ``name`` is its key in ``unet.attn_processors``; ``level`` the downsampling factor of its feature map
    relative to the U-Net's input (1, 2, 4, ...; the latent is 1/8 of the image, so level 4 is 1/32 of the
    image).
    """

    name: str
    module: Attention
    level: int

    @property
    def channels(self) -> int:
        return self.module.to_q.in_features


def spatial_self_attentions(unet: torch.nn.Module) -> list[SpatialSelfAttention]:
    """The spatial self-attentions (``attn1``) of a U-Net's transformer blocks, in forward order.

    Works for ``UNetSpatioTemporalConditionModel`` (spatial ``transformer_blocks`` of each
    ``TransformerSpatioTemporalModel``; the ``temporal_transformer_blocks`` are left out) and
    ``UNet2DConditionModel``.
    """
    names = {id(m): n for n, m in unet.named_modules()}
    depth = len(unet.down_blocks)
    stages = [(block, 2**k) for k, block in enumerate(unet.down_blocks)]
    if unet.mid_block is not None:
        stages.append((unet.mid_block, 2 ** (depth - 1)))
    stages += [(block, 2 ** (depth - 1 - k)) for k, block in enumerate(unet.up_blocks)]
    layers = []
    for block, level in stages:
        for transformer in getattr(block, "attentions", None) or []:
            for tb in transformer.transformer_blocks:
                layers.append(SpatialSelfAttention(f"{names[id(tb.attn1)]}.processor", tb.attn1, level))
    return layers


def check_pairing(
    unet_layers: list[SpatialSelfAttention], reference_layers: list[SpatialSelfAttention]
) -> None:
    """Check that the Reference U-Net's spatial self-attentions pair one to one with the spatio-temporal
    U-Net's.

    Raises :class:`~vvt.errors.ConfigError` naming the first layer whose channel count differs, or the two
    layer counts.
    """
    if len(unet_layers) != len(reference_layers):
        raise ConfigError(
            f"the Reference U-Net has {len(reference_layers)} spatial self-attention layers but the "
            f"spatio-temporal U-Net has {len(unet_layers)}; C&T attention (Eq. 8) pairs them one to one, "
            "so the two U-Nets need the same block layout (SD 2.1 and SVD share it)"
        )
    for k, (a, b) in enumerate(zip(unet_layers, reference_layers)):
        if a.channels != b.channels or a.level != b.level:
            raise ConfigError(
                f"spatial self-attention {k}: {a.name} has {a.channels} channels at level 1/{a.level} but its "
                f"Reference U-Net partner {b.name} has {b.channels} at 1/{b.level}; the block layouts differ"
            )


def _check_plain_self_attention(layer: SpatialSelfAttention) -> None:
    attn = layer.module
    if (
        attn.spatial_norm is not None
        or attn.group_norm is not None
        or attn.norm_q is not None
        or attn.norm_k is not None
        or attn.residual_connection
        or attn.rescale_output_factor != 1.0
    ):
        raise ConfigError(
            f"{layer.name}: unsupported attention options (norms, residual or output rescaling)"
        )


def inference_partners(batch_size: int, num_frames: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The deterministic partner frame ``j`` of every frame ``i`` at inference: ``j = (i + N // 2) % N``.

    The frame half a clip away, so every frame is tied to a distant one (Sec. 3.4: "distant frames");
    ``j = i`` for a 1-frame clip. Returns ``(batch_size, num_frames)`` int64.
    """
    i = torch.arange(num_frames, device=device)
    return ((i + num_frames // 2) % num_frames).expand(batch_size, num_frames).clone()


def random_partners(
    batch_size: int,
    num_frames: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """A random other frame ``j != i`` of the same clip for every frame ``i`` (training, Sec. 3.4); ``j = i``
    for 1-frame clips. Drawn from ``generator`` on its device; returns ``(batch_size, num_frames)`` int64 on
    ``device``."""
    if num_frames == 1:
        return torch.zeros(batch_size, 1, dtype=torch.long, device=device)
    gen_device = generator.device if generator is not None else torch.device("cpu")
    offset = torch.randint(1, num_frames, (batch_size, num_frames), generator=generator, device=gen_device)
    i = torch.arange(num_frames, device=gen_device)
    return ((i + offset) % num_frames).to(device)


class CnTAttentionState:
    """The per-forward inputs shared by all :class:`CnTAttnProcessor` s of one spatio-temporal U-Net.

    Attributes:
        levels: the level (downsampling factor) of each spatial self-attention layer, in forward order.
        garment_tokens: one ``(B, L, C)`` tensor per layer (the Reference U-Net's bank) or ``None``.
        partner_rows: ``(B * N,)`` row of frame ``j`` for each row (frame ``i``) of the U-Net's
            ``(B * N, L, C)`` hidden states, or ``None`` (no partner frame: C&T off, the ablation).
        capture_level: the level whose garment-attention mass is recorded, or ``None`` (nothing recorded).
        garment_attention: layer index -> ``(B * N, L)`` attention mass on the garment tokens, averaged over
            heads.
    """

    def __init__(self, levels: list[int]):
        self.levels = list(levels)
        self.garment_tokens: list[torch.Tensor] | None = None
        self.partner_rows: torch.Tensor | None = None
        self.capture_level: int | None = None
        self.garment_attention: dict[int, torch.Tensor] = {}

    def set(
        self,
        garment_tokens: list[torch.Tensor] | None,
        partners: torch.Tensor | None,
        capture_level: int | None = None,
    ) -> None:
        """Set the inputs of the next forward passes (they stay set until the next call).

        Args:
            garment_tokens: the Reference U-Net's bank (one ``(B, L, C)`` tensor per layer) or ``None``.
            partners: ``(B, N)`` int64 partner frame index ``j`` of each frame ``i`` (C&T attention), or
                ``None`` (the keys/values are ``[x_i, c]``: C&T off).
            capture_level: record the garment-attention mass of the layers at this level (agnostic loss), or
                ``None``.
        """
        if garment_tokens is not None and len(garment_tokens) != len(self.levels):
            raise ShapeMismatchError(
                f"the reference bank holds {len(garment_tokens)} layers but the spatio-temporal U-Net has "
                f"{len(self.levels)} spatial self-attentions"
            )
        if capture_level is not None and capture_level not in self.levels:
            raise ConfigError(
                f"no spatial self-attention at level {capture_level} (levels: {sorted(set(self.levels))})"
            )
        self.garment_tokens = garment_tokens
        if partners is None:
            self.partner_rows = None
        else:
            b, n = partners.shape
            base = torch.arange(b, device=partners.device).unsqueeze(1) * n
            self.partner_rows = (base + partners).flatten()
        self.capture_level = capture_level
        self.garment_attention = {}

    def clear(self) -> None:
        """Forget the inputs (plain self-attention until the next :meth:`set`)."""
        self.set(None, None)

    def captured(self) -> torch.Tensor:
        """The recorded garment-attention mass averaged over the captured layers: ``(B * N, L)``."""
        if not self.garment_attention:
            raise RuntimeError(
                "no garment attention was recorded: set(..., capture_level=...) before the forward"
            )
        return torch.stack(list(self.garment_attention.values())).mean(0)


class CnTAttnProcessor:
    """Eq. (8): frame ``i`` attends to ``Concat(x_attn_i, x_attn_j, c_attn)`` (see the module docstring)."""

    def __init__(self, state: CnTAttentionState, layer_index: int):
        self.state = state
        self.layer_index = layer_index

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        """``hidden_states``: ``(B * N, L, C)``, the ``N`` frames of each clip consecutive. Returns the same
        shape."""
        if encoder_hidden_states is not None or attention_mask is not None:
            raise RuntimeError("CnTAttnProcessor serves spatial self-attention only (no context, no mask)")
        state, index = self.state, self.layer_index
        rows, length, channels = hidden_states.shape
        query = attn.to_q(hidden_states)
        key = attn.to_k(hidden_states)
        value = attn.to_v(hidden_states)
        keys, values = [key], [value]
        if state.partner_rows is not None:
            if state.partner_rows.numel() != rows:
                raise ShapeMismatchError(
                    f"{rows} frames reach layer {index} but {state.partner_rows.numel()} partners were set"
                )
            keys.append(key[state.partner_rows])
            values.append(value[state.partner_rows])
        n_garment = 0
        if state.garment_tokens is not None:
            c = state.garment_tokens[index]
            if c.shape[1:] != (length, channels) or rows % c.shape[0]:
                raise ShapeMismatchError(
                    f"spatial self-attention {index}: the reference tokens have shape {tuple(c.shape)} but the "
                    f"spatio-temporal U-Net's hidden states have {length} tokens of {channels} channels for "
                    f"{rows} frames; the garment image and the video frames must have the same size"
                )
            frames = rows // c.shape[0]
            keys.append(attn.to_k(c).repeat_interleave(frames, dim=0))
            values.append(attn.to_v(c).repeat_interleave(frames, dim=0))
            n_garment = c.shape[1]
        key = torch.cat(keys, dim=1)
        value = torch.cat(values, dim=1)

        heads = attn.heads
        head_dim = key.shape[-1] // heads
        query = query.view(rows, -1, heads, head_dim).transpose(1, 2)
        key = key.view(rows, -1, heads, head_dim).transpose(1, 2)
        value = value.view(rows, -1, heads, head_dim).transpose(1, 2)

        if n_garment and state.levels[index] == state.capture_level:
            logits = (query.float() @ key.float().transpose(-1, -2)) * attn.scale
            probs = logits.softmax(dim=-1)
            state.garment_attention[index] = garment_attention_mass(probs, n_garment)
            out = probs.to(value.dtype) @ value
        else:
            out = F.scaled_dot_product_attention(query, key, value, scale=attn.scale)
        out = out.transpose(1, 2).reshape(rows, -1, heads * head_dim).to(query.dtype)
        out = attn.to_out[0](out)
        return attn.to_out[1](out)


class ReferenceFeatureBank:
    """The Reference U-Net's garment tokens ``c_attn`` (Eq. 8): the input of each spatial self-attention."""

    def __init__(self, num_layers: int):
        self.features: list[torch.Tensor | None] = [None] * num_layers

    def collect(self) -> list[torch.Tensor]:
        """The tokens recorded by the last Reference U-Net forward, one ``(B, L, C)`` tensor per layer."""
        missing = [k for k, f in enumerate(self.features) if f is None]
        if missing:
            raise RuntimeError(f"reference layers {missing} recorded nothing: run the Reference U-Net first")
        features = list(self.features)
        self.features = [None] * len(features)
        return features


class ReferenceCaptureProcessor(AttnProcessor2_0):
    """diffusers' stock SDPA processor that also records its input ``hidden_states`` into a bank."""

    def __init__(self, bank: ReferenceFeatureBank, layer_index: int):
        super().__init__()
        self.bank = bank
        self.layer_index = layer_index

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        """``hidden_states``: ``(B, L, C)``, recorded as this layer's garment tokens ``c_attn``."""
        self.bank.features[self.layer_index] = hidden_states
        return super().__call__(attn, hidden_states, *args, **kwargs)


def _install(unet: torch.nn.Module, processors: dict[str, object]) -> None:
    current = dict(unet.attn_processors)
    current.update(processors)
    unet.set_attn_processor(current)


def _installed(unet: torch.nn.Module, layers: list[SpatialSelfAttention], attr: str, link: str) -> object | None:
    """The shared object ``unet.<attr>`` when every layer's processor is already bound to it through its
    attribute ``link`` (installing again would change nothing), else ``None``."""
    shared = getattr(unet, attr, None)
    if shared is not None and all(getattr(layer.module.processor, link, None) is shared for layer in layers):
        return shared
    return None


def install_cnt_attention(unet: torch.nn.Module) -> CnTAttentionState:
    """Install :class:`CnTAttnProcessor` on every spatial self-attention of a spatio-temporal U-Net.

    Idempotent: a U-Net that already carries them returns its existing state, so a training module and a
    pipeline built on the same U-Net drive the same processors.
    """
    layers = spatial_self_attentions(unet)
    state = _installed(unet, layers, "vvt_cnt_state", "state")
    if state is not None:
        return state
    for layer in layers:
        _check_plain_self_attention(layer)
    state = CnTAttentionState([layer.level for layer in layers])
    _install(unet, {layer.name: CnTAttnProcessor(state, k) for k, layer in enumerate(layers)})
    unet.vvt_cnt_state = state
    return state


def install_reference_capture(reference_unet: torch.nn.Module) -> ReferenceFeatureBank:
    """Install :class:`ReferenceCaptureProcessor` on every spatial self-attention of the Reference U-Net
    (idempotent like :func:`install_cnt_attention`)."""
    layers = spatial_self_attentions(reference_unet)
    bank = _installed(reference_unet, layers, "vvt_reference_bank", "bank")
    if bank is not None:
        return bank
    bank = ReferenceFeatureBank(len(layers))
    _install(
        reference_unet, {layer.name: ReferenceCaptureProcessor(bank, k) for k, layer in enumerate(layers)}
    )
    reference_unet.vvt_reference_bank = bank
    return bank
