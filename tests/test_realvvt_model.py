"""The RealVVT model: local-directory building, the conv_in and pose-guider seams, the training step."""

from __future__ import annotations

import pytest
import torch

from vvt.errors import ConfigError, ShapeMismatchError, WeightsNotFoundError
from vvt.realvvt.config import RealVVTConfig
from vvt.realvvt.model import RealVVT, agnostic_level
from vvt.realvvt.presets import random_component

PARTS = ("unet", "reference_unet", "vae", "image_encoder", "feature_extractor", "scheduler")



@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """Tiny upstream-shaped parts saved in the standard layouts: svd_dir/{unet,vae,image_encoder,
    feature_extractor,scheduler}/ and sd21_dir/unet/; plus another CLIP (clip_dir) and VAE (vae_dir)."""
    root = tmp_path_factory.mktemp("pretrained")
    torch.manual_seed(123)
    parts = {name: random_component("tiny", name) for name in PARTS}
    for name in PARTS:
        target = (
            root
            / ("sd21" if name == "reference_unet" else "svd")
            / ("unet" if name == "reference_unet" else name)
        )
        parts[name].save_pretrained(target)
    parts["clip"], parts["other_vae"] = (
        random_component("tiny", "image_encoder"),
        random_component("tiny", "vae"),
    )
    parts["clip"].save_pretrained(root / "clip")
    parts["other_vae"].save_pretrained(root / "vae")
    return root, parts


@pytest.fixture(scope="module")
def model(pretrained):
    root, _ = pretrained
    return RealVVT.from_config(RealVVTConfig(preset="tiny", svd_dir=root / "svd", sd21_dir=root / "sd21"))


def _batch(b=2, n=3, h=64, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, n, 1, h, w)
    mask[..., 16:48, 8:40] = 1
    return {
        "person": torch.rand(b, n, 3, h, w, generator=g) * 2 - 1,
        "agnostic": torch.rand(b, n, 3, h, w, generator=g) * 2 - 1,
        "agnostic_mask": mask,
        "densepose": torch.rand(b, n, 3, h, w, generator=g) * 2 - 1,
        "garment": torch.rand(b, 3, h, w, generator=g) * 2 - 1,
    }


def _variant(model, **changes):
    """Another RealVVT (other losses/switches) on the same modules."""
    return RealVVT(**model.components(), config=RealVVTConfig(**changes))


def test_loads_local_dirs_and_widens_conv_in(pretrained, model):
    _, parts = pretrained
    for name in ("reference_unet", "vae", "image_encoder"):
        want, got = parts[name].state_dict(), getattr(model, name).state_dict()
        assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    old, new = parts["unet"].conv_in, model.unet.conv_in
    assert new.in_channels == 9 and model.unet.config.in_channels == 9
    assert torch.equal(new.weight[:, :8], old.weight) and torch.equal(new.bias, old.bias)
    assert float(new.weight.detach()[:, 8].abs().sum()) == 0.0
    assert float(model.pose_guider.embedding.conv_out.weight.detach().abs().sum()) == 0.0
    assert model.scheduler.config.prediction_type == "v_prediction"
    assert model.feature_extractor.crop_size == {"height": 32, "width": 32}
    assert model.agn_level == 2


def test_extras_switched_off_give_the_plain_svd_unet(pretrained, model):
    """Zero-initialised mask channel and pose-guider output: the fresh model computes exactly SVD's U-Net."""
    _, parts = pretrained
    g = torch.Generator().manual_seed(7)
    b, n = 1, 3
    noisy, agnostic = torch.randn(b, n, 4, 8, 6, generator=g), torch.randn(b, n, 4, 8, 6, generator=g)
    mask = (torch.rand(b, n, 1, 8, 6, generator=g) > 0.5).float()
    emb, time_ids, t = (
        torch.randn(b, 1, 32, generator=g),
        torch.tensor([[6.0, 40.0, 0.02]]),
        torch.tensor([0.3]),
    )
    densepose = torch.rand(b, n, 3, 64, 48, generator=g) * 2 - 1
    with torch.no_grad():
        plain = parts["unet"](torch.cat([noisy, agnostic], 2), t, emb, time_ids).sample
        pose = model.pose_guider(densepose)
        assert float(pose.abs().max()) == 0.0
        model.set_conditions(None, None, pose)
        ours = model.unet_output(torch.cat([noisy, agnostic, mask], 2), t, emb, time_ids)
        torch.testing.assert_close(ours, plain, atol=1e-5, rtol=0)
        # with the garment bank and partner frames set, the C&T attention changes the output
        _, latents = model.encode_garment(torch.rand(b, 3, 64, 48, generator=g) * 2 - 1)
        model.set_conditions(
            model.reference_tokens(latents, emb), model.inference_partners(b, n, "cpu"), pose
        )
        assert (
            float(
                (model.unet_output(torch.cat([noisy, agnostic, mask], 2), t, emb, time_ids) - plain)
                .abs()
                .max()
            )
            > 1e-3
        )
        model.clear_conditions()


def test_missing_weights_are_a_clear_error(tmp_path, pretrained):
    root, _ = pretrained
    with pytest.raises(WeightsNotFoundError, match="svd_dir unet"):
        RealVVT.from_config(RealVVTConfig(svd_dir=tmp_path))
    with pytest.raises(WeightsNotFoundError, match="sd21_dir unet"):
        RealVVT.from_config(RealVVTConfig(svd_dir=root / "svd", sd21_dir=tmp_path))


def test_training_step_values_seeds_and_gradients(model):
    batch = _batch()
    model.zero_grad()
    out = model.training_step(batch, torch.Generator().manual_seed(0))
    assert set(out) == {"loss", "dsm", "agn"}
    torch.testing.assert_close(out["loss"].detach(), out["dsm"] + 0.5 * out["agn"])
    assert float(out["dsm"]) > 0 and 0 < float(out["agn"]) < 2
    out["loss"].backward()
    for name, module in model.trainable_modules().items():
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and sum(float(g.abs().sum()) for g in grads) > 0, name
    assert float(model.pose_guider.embedding.conv_out.weight.grad.abs().sum()) > 0
    assert float(model.unet.conv_in.weight.grad[:, 8].abs().sum()) > 0  # the new mask channel learns
    assert all(p.grad is None for p in model.vae.parameters())
    again = model.training_step(batch, torch.Generator().manual_seed(0))
    assert all(torch.equal(out[k].detach(), again[k].detach()) for k in out)
    other = model.training_step(batch, torch.Generator().manual_seed(1))
    assert float(other["dsm"]) != float(out["dsm"])
    model.zero_grad()


def test_agnostic_loss_switches(model):
    batch = _batch(b=1, n=2)
    off = _variant(model, lambda_agn=0.0)
    out = off.training_step(batch, torch.Generator().manual_seed(0))
    assert float(out["agn"]) == 0.0 and off.cnt_state.garment_attention == {}
    on = _variant(model, garment_dropout=0.0)
    on.training_step(batch, torch.Generator().manual_seed(0))
    assert sorted(on.cnt_state.garment_attention) == [1, 2, 3, 4]  # the level-2 layers of the tiny U-Net
    dropped = _variant(model, garment_dropout=1.0)
    out = dropped.training_step(batch, torch.Generator().manual_seed(0))
    assert float(out["agn"]) == 0.0  # no garment to attend to
    emb, latents = model.encode_garment(batch["garment"], torch.tensor([False]))
    assert float(emb.abs().sum()) == 0.0 and float(latents.abs().sum()) == 0.0
    no_cnt = _variant(model, cnt_attention=False)
    no_cnt.training_step(batch, torch.Generator().manual_seed(0))
    # C&T off (Table 6 ablation): no partner frame, the garment tokens of every layer still appended
    assert no_cnt.cnt_state.partner_rows is None
    assert len(no_cnt.cnt_state.garment_tokens) == len(no_cnt.cnt_state.levels)


def test_gradient_checkpointing_gives_the_same_gradients(model):
    batch = _batch(b=1, n=2)

    def grads(checkpointing):
        model.zero_grad()
        model.set_gradient_checkpointing(checkpointing)
        out = model.training_step(batch, torch.Generator().manual_seed(3))
        out["loss"].backward()
        return out["loss"].detach(), {
            n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None
        }

    loss_a, a = grads(False)
    loss_b, b = grads(True)
    model.set_gradient_checkpointing(False)
    model.zero_grad()
    torch.testing.assert_close(loss_a, loss_b)
    assert a.keys() == b.keys() and any(k.startswith("reference_unet.") for k in a)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)


def test_image_clips_train(model):
    out = model.training_step(_batch(b=2, n=1), torch.Generator().manual_seed(0))
    assert torch.isfinite(out["loss"]) and float(out["agn"]) > 0


def test_bad_batches(model):
    batch = _batch(b=1, n=2)
    batch["densepose"] = batch["densepose"][:, :1]
    with pytest.raises(ShapeMismatchError, match="densepose"):
        model.training_step(batch, torch.Generator().manual_seed(0))
    batch = _batch(b=1, n=2)
    batch["garment"] = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ShapeMismatchError, match="garment"):
        model.training_step(batch, torch.Generator().manual_seed(0))


def test_agnostic_level_choice():
    assert (
        agnostic_level([1, 1, 2, 2, 4, 4, 8, 4, 4, 4, 2, 2, 2, 1, 1, 1], None) == 4
    )  # full: 1/32 image, 16x12
    assert agnostic_level([1, 2, 2, 2, 2, 1, 1], None) == 2  # tiny: its coarsest level
    with pytest.raises(ConfigError, match="agn_level=4"):
        agnostic_level([1, 2, 2, 1], 4)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_clip_dir_and_vae_dir_replace_svd_parts(pretrained):
    root, parts = pretrained
    m = RealVVT.from_config(
        RealVVTConfig(
            svd_dir=root / "svd", sd21_dir=root / "sd21", clip_dir=root / "clip", vae_dir=root / "vae"
        )
    )
    assert _same_weights(m.image_encoder, parts["clip"]) and not _same_weights(
        m.image_encoder, parts["image_encoder"]
    )
    assert _same_weights(m.vae, parts["other_vae"]) and not _same_weights(m.vae, parts["vae"])


def test_config_reaches_the_losses(model):
    """The released code read P_std from P_mean unnoticed: check each hyper-parameter lands where it acts."""
    m = _variant(
        model,
        P_mean=-0.3,
        P_std=1.2,
        lambda_n=0.2,
        agn_form="init",
        agn_frame_reduction="sum",
    )
    assert (m.dsm_loss.sigma_sampler.P_mean, m.dsm_loss.sigma_sampler.P_std) == (-0.3, 1.2)
    assert m.dsm_loss.precond.sigma_data == 1.0 and m.precond.sigma_data == 1.0
    # the Euler sampler assumes sigma_data = 1: another value is refused, not silently mis-sampled
    with pytest.raises(ConfigError, match="sigma_data=0.5 is not supported"):
        RealVVTConfig(sigma_data=0.5)
    assert (m.agn_loss.lambda_N, m.agn_loss.form, m.agn_loss.frame_reduction) == (0.2, "init", "sum")
    defaults = RealVVTConfig()
    assert (defaults.P_mean, defaults.P_std, defaults.sigma_data) == (0.7, 1.6, 1.0)
    assert (defaults.lambda_agn, defaults.lambda_n, defaults.garment_dropout) == (0.5, 0.01, 0.05)
    with pytest.raises(ConfigError, match="garment_dropout"):
        RealVVTConfig(garment_dropout=1.5)
    with pytest.raises(ConfigError, match="agn_level"):
        RealVVTConfig(agn_level=3)


def test_training_step_under_bf16_autocast(model):
    batch = _batch(b=1, n=2)
    full = model.training_step(batch, torch.Generator().manual_seed(2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = model.training_step(batch, torch.Generator().manual_seed(2))
    half["loss"].backward()
    model.zero_grad()
    assert float(half["loss"].detach()) == pytest.approx(float(full["loss"].detach()), rel=0.05)


def test_full_preset_composes_on_the_meta_device():
    """SVD-XT + SD 2.1 + CLIP ViT-H/14 shapes (no memory used): the published parameter counts, the 9-channel
    conv_in, the 320-channel pose guider and the agnostic loss at 1/32 of the image (2 down + 3 up layers)."""
    from vvt.realvvt.pose_guider import PoseGuider
    from vvt.realvvt.presets import preset, widen_conv_in

    with torch.device("meta"):
        parts = {
            name: random_component("full", name)
            for name in ("unet", "reference_unet", "vae", "image_encoder")
        }
        widen_conv_in(parts["unet"])
        parts["pose_guider"] = PoseGuider(**preset("full")["pose_guider"])
    parts.update({name: random_component("full", name) for name in ("feature_extractor", "scheduler")})
    m = RealVVT(**parts, config=RealVVTConfig(preset="full"))
    millions = {
        name: round(sum(p.numel() for p in mod.parameters()) / 1e6, 1) for name, mod in m.named_children()
    }
    assert millions["unet"] == 1524.6 and millions["reference_unet"] == 865.9  # SVD-XT, SD 2.1
    assert (m.unet.conv_in.in_channels, m.pose_guider.config.out_channels) == (9, 320)
    assert m.image_encoder.config.projection_dim == 1024 and m.feature_extractor.crop_size["height"] == 224
    assert m.agn_level == 4
    assert [k for k, level in enumerate(m.cnt_state.levels) if level == 4] == [4, 5, 7, 8, 9]
