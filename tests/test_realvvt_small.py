"""The ``small`` preset of the bundled model, the VAE classes it may use, the agnostic-loss memory check, the
bundled-model lookup and the try-on metrics that catch what SSIM misses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vvt.errors import ConfigError
from vvt.eval.garment import garment_colour_error, masked_psnr, mean_colour
from vvt.realvvt.config import RealVVTConfig
from vvt.realvvt.presets import preset, random_component, vae_class, vae_decode


@pytest.fixture(scope="module")
def small():
    from vvt.realvvt.model import RealVVT

    return RealVVT.from_config(RealVVTConfig(preset="small", agn_level=4))


def test_small_preset_is_a_1x_vae_with_the_9_channel_unet_and_the_full_models_token_grids(small):
    m = small
    assert m.vae_scale_factor == 1 and m.vae.config.latent_channels == 4
    assert m.unet.conv_in.in_channels == 9
    latent = m.encode_frames(torch.zeros(1, 1, 3, 64, 48))
    assert latent.shape == (1, 1, 4, 64, 48)  # the full model's 8x latent of 512x384 has this grid
    # spatial self-attention at 16x12 and 8x6 only, as the full model's levels 4 and 8 at 512x384
    from vvt.realvvt.attention import spatial_self_attentions

    assert sorted({layer.level for layer in spatial_self_attentions(m.unet)}) == [4, 8]
    assert m.level_size((64, 48)) == (16, 12)  # where the agnostic loss reads T: the paper's 1/32 grid
    # the pose guider reaches the latent size: its features add to conv_in's output
    assert m.pose_guider(torch.zeros(1, 1, 3, 64, 48)).shape[-2:] == (64, 48)


def test_vae_decode_works_for_both_vae_classes():
    torch.manual_seed(0)
    temporal, image = random_component("tiny", "vae"), random_component("small", "vae")
    assert type(temporal).__name__ == "AutoencoderKLTemporalDecoder" and type(image).__name__ == "AutoencoderKL"
    z = torch.randn(4, 4, 2, 2)
    assert vae_decode(temporal, z, 2).shape == (4, 3, 16, 16)  # 8x, two clips of 2 frames
    zi = torch.randn(3, 4, 5, 4)
    frame_by_frame = torch.cat([vae_decode(image, zi[i : i + 1], 1) for i in range(3)])
    torch.testing.assert_close(vae_decode(image, zi, 3), frame_by_frame, rtol=1e-4, atol=1e-5)
    assert vae_class({"_class_name": "AutoencoderKL"}) is type(image)
    with pytest.raises(ConfigError, match="unsupported VAE class"):
        vae_class({"_class": "VQModel"})
    assert preset("small")["vae"]["norm_num_groups"] == 8


def test_agnostic_loss_memory_is_counted_and_refused_before_training(small):
    from vvt.realvvt.attention import spatial_self_attentions
    from vvt.realvvt.model import RealVVT

    m = small
    layers = [layer for layer in spatial_self_attentions(m.unet) if layer.level == 4]
    # 16x12 queries, keys [x_i, x_j, c] = 3 x 192; B * N rows; float32; probabilities + their gradient
    expected = sum(2 * 4 * (2 * 8) * layer.module.heads * 192 * 576 for layer in layers)
    assert m.agn_probability_bytes((64, 48), 8, 2) == expected
    m.check_agn_memory((64, 48), 8, 2)  # 81 MiB: fine
    tight = RealVVT(**m.components(), config=RealVVTConfig(preset="small", agn_level=4, agn_max_gib=0.01))
    with pytest.raises(ConfigError, match=r"need about 0\.1 GiB .*agn_max_gib=0\.01"):
        tight.check_agn_memory((64, 48), 8, 2)
    no_loss = RealVVT(**m.components(), config=RealVVTConfig(agn_level=4, lambda_agn=0.0, agn_max_gib=0.01))
    no_loss.check_agn_memory((64, 48), 8, 2)  # no probabilities are formed without the loss


def test_bundled_names_resolve_and_local_folders_win(tmp_path, monkeypatch):
    from vvt import models

    with pytest.raises(ConfigError, match="unknown bundled model 'nope'"):
        models.bundled_model("nope")
    monkeypatch.chdir(tmp_path)
    assert models.resolve("elsewhere") == models.Path("elsewhere")
    (tmp_path / "tiny-synth").mkdir()
    assert models.resolve("tiny-synth") == models.Path("tiny-synth")  # a local folder of that name wins


def test_masked_psnr_and_colour_error_known_answers():
    rng = np.random.default_rng(0)
    truth = rng.random((2, 8, 6, 3))
    mask = np.zeros((2, 8, 6), bool)
    mask[0, 2:6, 1:5] = True
    pred = truth.copy()
    pred[mask] += 0.1  # an error of 0.1 in every channel inside the mask only
    psnr = masked_psnr(pred, truth, mask)
    assert psnr[0] == pytest.approx(20.0) and math.isnan(psnr[1])
    err = garment_colour_error(pred, truth, mask)
    assert err[0] == pytest.approx(0.1) and math.isnan(err[1])
    # a flat fill with the true mean colour has no colour error but a low PSNR
    flat = truth.copy()
    flat[0][mask[0]] = mean_colour(truth, mask)[0]
    assert garment_colour_error(flat, truth, mask)[0] == pytest.approx(0.0, abs=1e-12)
    assert masked_psnr(flat, truth, mask)[0] < 20


def test_the_bundled_model_loads_by_name_with_its_settings_and_samples():
    from vvt.realvvt.pipeline import RealVVTPipeline

    pipe = RealVVTPipeline.from_pretrained("tiny-synth", dtype=torch.float32)
    assert pipe.trained_size == (64, 48) and pipe.config.num_frames == 8
    assert pipe.unet.dtype == torch.float32 and pipe.vae.config.latent_channels == 4
    g = torch.Generator().manual_seed(0)
    video = torch.rand(2, 3, 64, 48, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, 64, 48)
    mask[:, :, 16:48, 12:36] = 1
    pipe.set_progress_bar_config(disable=True)
    out = pipe(video, mask, video, video[0], num_inference_steps=2, output_type="pt", generator=g).frames
    assert out.shape == (2, 3, 64, 48) and torch.isfinite(out).all()
    # paste-back: outside the mask the frames are the input's
    torch.testing.assert_close(out[..., :8, :], ((video[..., :8, :] + 1) / 2 * 255).round() / 255, atol=1e-6, rtol=0)


def test_init_logvar_makes_a_random_vaes_posterior_nearly_deterministic():
    from vvt.train.vae import VAEModelConfig, build_vae

    x = torch.rand(2, 3, 16, 12) * 2 - 1
    vae = build_vae(VAEModelConfig(preset="small", init_logvar=-10.0))
    dist = vae.encode(x).latent_dist
    torch.testing.assert_close(dist.logvar, torch.full_like(dist.logvar, -10.0))
    # the means are the untouched random encoder's: the same as without init_logvar
    plain = build_vae(VAEModelConfig(preset="small")).encode(x).latent_dist
    torch.testing.assert_close(dist.mean, plain.mean)
    assert plain.logvar.abs().max() < 5  # diffusers' own initialisation: a posterior std near 1


def test_report_clips_are_spread_over_a_split_listed_category_by_category():
    from vvt.train.report import spread

    split = [f"upper{i}" for i in range(16)] + [f"lower{i}" for i in range(16)] + [f"dress{i}" for i in range(16)]
    chosen = spread(split, 12)
    assert len(chosen) == 12 and len(set(chosen)) == 12
    assert [sum(c.startswith(k) for c in chosen) for k in ("upper", "lower", "dress")] == [4, 4, 4]
    assert spread(split[:5], 12) == split[:5]
