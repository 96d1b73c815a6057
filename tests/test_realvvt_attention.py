"""C&T consistency attention (RealVVT Sec. 3.4, Eqs. 6-8), the reference bank and the U-Net layer pairing."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from vvt.errors import ConfigError, ShapeMismatchError
from vvt.realvvt.attention import (
    CnTAttentionState,
    CnTAttnProcessor,
    check_pairing,
    inference_partners,
    install_cnt_attention,
    install_reference_capture,
    random_partners,
    spatial_self_attentions,
)
from vvt.realvvt.presets import random_component


def _attention(dim=16, heads=2):
    torch.manual_seed(0)
    return Attention(query_dim=dim, heads=heads, dim_head=dim // heads).eval()


def _naive(attn, x, tokens, partners):
    """Eq. (8) frame by frame: build the key/value *input* [x_i, x_j, c] first, then project and attend."""
    b, n = partners.shape if partners is not None else (tokens.shape[0], x.shape[0] // tokens.shape[0])
    heads = attn.heads
    out = torch.empty(x.shape[0], x.shape[1], attn.to_out[0].out_features)
    for bi in range(b):
        for i in range(n):
            xi = x[bi * n + i]
            parts = [xi]
            if partners is not None:
                parts.append(x[bi * n + int(partners[bi, i])])
            if tokens is not None:
                parts.append(tokens[bi])
            kv = torch.cat(parts, dim=0)
            q = attn.to_q(xi).unflatten(-1, (heads, -1))  # (L, h, d)
            k = attn.to_k(kv).unflatten(-1, (heads, -1))
            v = attn.to_v(kv).unflatten(-1, (heads, -1))
            w = torch.einsum("qhd,khd->hqk", q, k) / q.shape[-1] ** 0.5
            o = torch.einsum("hqk,khd->qhd", w.softmax(-1), v).flatten(1)
            out[bi * n + i] = attn.to_out[0](o)
    return out


def _run(attn, state, x):
    attn.set_processor(CnTAttnProcessor(state, 0))
    return attn(x)


def test_without_extra_keys_equals_diffusers_stock_processor():
    attn = _attention()
    x = torch.randn(6, 10, 16)
    attn.set_processor(AttnProcessor2_0())
    stock = attn(x)
    state = CnTAttentionState([1])
    state.set(None, None)
    torch.testing.assert_close(_run(attn, state, x), stock, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cnt", [True, False])
def test_equals_a_naive_per_frame_loop(cnt):
    attn = _attention()
    b, n, length = 2, 3, 10
    x = torch.randn(b * n, length, 16)
    tokens = torch.randn(b, length, 16)
    partners = random_partners(b, n, torch.Generator().manual_seed(5)) if cnt else None
    state = CnTAttentionState([1])
    state.set([tokens], partners)
    with torch.no_grad():
        torch.testing.assert_close(_run(attn, state, x), _naive(attn, x, tokens, partners), atol=1e-5, rtol=0)


def test_one_frame_clips_attend_to_themselves_twice():
    attn = _attention()
    x = torch.randn(2, 10, 16)
    tokens = torch.randn(2, 10, 16)
    partners = random_partners(2, 1, torch.Generator().manual_seed(0))
    assert partners.tolist() == [[0], [0]]
    assert inference_partners(2, 1).tolist() == [[0], [0]]
    state = CnTAttentionState([1])
    state.set([tokens], partners)
    with torch.no_grad():
        torch.testing.assert_close(_run(attn, state, x), _naive(attn, x, tokens, partners), atol=1e-5, rtol=0)


def test_explicit_probabilities_path_equals_sdpa_and_records_garment_mass():
    attn = _attention()
    b, n, length = 1, 2, 6
    x = torch.randn(b * n, length, 16)
    tokens = torch.randn(b, length, 16)
    partners = inference_partners(b, n)
    state = CnTAttentionState([4])
    state.set([tokens], partners)
    with torch.no_grad():
        fast = _run(attn, state, x)
        state.set([tokens], partners, capture_level=4)
        slow = _run(attn, state, x)
    torch.testing.assert_close(slow, fast, atol=1e-5, rtol=0)
    mass = state.captured()
    # the same mass computed by hand for frame 0, head-averaged
    q = attn.to_q(x[0]).unflatten(-1, (2, -1))
    kv = torch.cat([x[0], x[1], tokens[0]])
    k = attn.to_k(kv).unflatten(-1, (2, -1))
    p = (torch.einsum("qhd,khd->hqk", q, k) / 8**0.5).softmax(-1)
    torch.testing.assert_close(mass[0], p[:, :, 2 * length :].sum(-1).mean(0).detach(), atol=1e-5, rtol=0)
    assert mass.shape == (2, length) and bool(((mass > 0) & (mass < 1)).all())
    with pytest.raises(ConfigError, match="level 2"):
        state.set([tokens], partners, capture_level=2)


def test_partners():
    g = torch.Generator().manual_seed(0)
    p = random_partners(64, 5, g)
    i = torch.arange(5)
    assert bool((p != i).all()) and int(p.min()) == 0 and int(p.max()) == 4
    assert set(p[:, 0].tolist()) == {1, 2, 3, 4}  # every other frame is drawn
    assert torch.equal(p, random_partners(64, 5, torch.Generator().manual_seed(0)))
    assert inference_partners(1, 6).tolist() == [[3, 4, 5, 0, 1, 2]]
    assert inference_partners(1, 5).tolist() == [[2, 3, 4, 0, 1]]


def test_token_mismatch_is_a_clear_error():
    attn = _attention()
    state = CnTAttentionState([1])
    state.set([torch.randn(1, 7, 16)], None)
    with pytest.raises(ShapeMismatchError, match="same size"):
        _run(attn, state, torch.randn(2, 10, 16))


def test_layer_discovery_and_pairing_on_tiny_unets():
    torch.manual_seed(0)
    unet, ref = random_component("tiny", "unet"), random_component("tiny", "reference_unet")
    layers = spatial_self_attentions(unet)
    assert [layer.level for layer in layers] == [1, 2, 2, 2, 2, 1, 1]
    assert all(
        "temporal" not in layer.name and layer.name.endswith("transformer_blocks.0.attn1.processor")
        for layer in layers
    )
    temporal = [n for n in unet.attn_processors if "temporal_transformer_blocks" in n]
    assert temporal and not set(temporal) & {layer.name for layer in layers}
    ref_layers = spatial_self_attentions(ref)
    assert (
        [layer.channels for layer in layers]
        == [layer.channels for layer in ref_layers]
        == [32, 64, 64, 64, 64, 32, 32]
    )
    check_pairing(layers, ref_layers)
    with pytest.raises(
        ConfigError, match="has 6 spatial self-attention layers but the spatio-temporal U-Net has 7"
    ):
        check_pairing(layers, ref_layers[:-1])
    with pytest.raises(ConfigError, match="channels"):
        check_pairing(layers, ref_layers[1:] + ref_layers[:1])

    state = install_cnt_attention(unet)
    assert install_cnt_attention(unet) is state  # idempotent
    procs = unet.attn_processors
    assert all(isinstance(procs[layer.name], CnTAttnProcessor) for layer in layers)
    assert all(isinstance(procs[n], AttnProcessor2_0) for n in temporal)


def test_reference_bank_records_attn1_inputs_and_is_transparent():
    torch.manual_seed(0)
    ref = random_component("tiny", "reference_unet").eval()
    x, emb = torch.randn(2, 4, 8, 6), torch.randn(2, 1, 32)
    with torch.no_grad():
        plain = ref(x, 0, encoder_hidden_states=emb).sample
        norm1_out = []
        hooks = [
            layer_tb.norm1.register_forward_hook(lambda m, i, o: norm1_out.append(o))
            for block in [*ref.down_blocks, ref.mid_block, *ref.up_blocks]
            for t in getattr(block, "attentions", [])
            for layer_tb in t.transformer_blocks
        ]
        bank = install_reference_capture(ref)
        out = ref(x, 0, encoder_hidden_states=emb).sample
        for h in hooks:
            h.remove()
    torch.testing.assert_close(out, plain, atol=1e-6, rtol=0)
    tokens = bank.collect()
    assert [tuple(t.shape) for t in tokens] == [
        (2, 48, 32),
        (2, 12, 64),
        (2, 12, 64),
        (2, 12, 64),
        (2, 12, 64),
        (2, 48, 32),
        (2, 48, 32),
    ]
    for got, want in zip(tokens, norm1_out):
        torch.testing.assert_close(got, want)
    with pytest.raises(RuntimeError, match="run the Reference U-Net first"):
        bank.collect()
    assert install_reference_capture(ref) is bank  # idempotent


def test_full_preset_pairs_sd21_with_svd_xt_on_the_meta_device():
    with torch.device("meta"):
        unet, ref = random_component("full", "unet"), random_component("full", "reference_unet")
    layers, ref_layers = spatial_self_attentions(unet), spatial_self_attentions(ref)
    check_pairing(layers, ref_layers)
    assert len(layers) == 16
    assert [layer.level for layer in layers] == [1, 1, 2, 2, 4, 4, 8, 4, 4, 4, 2, 2, 2, 1, 1, 1]
    assert [layer.channels for layer in layers][:7] == [320, 320, 640, 640, 1280, 1280, 1280]
