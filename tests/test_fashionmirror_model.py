"""FashionMirror pose embedding (Eq. 3), SFE (Eq. 4), HSG (Eqs. 7-8), training step (Eqs. 2, 9-11), I/O."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vvt.fashionmirror.hsg import HumanSequenceGenerator, apply_affine
from vvt.fashionmirror.losses import hinge_d_loss, hinge_g_loss, temporal_loss
from vvt.fashionmirror.model import FashionMirror, FashionMirrorTraining
from vvt.fashionmirror.sfe import SkeletonFlowExtractor, pose_embedding
from vvt.pose.openpose import BODY25, BODY25_COLORS, Keypoints

H, W = 64, 48
TINY = dict(
    sample_size=(H, W),
    cmn_layers=(1, 1, 1, 1),
    cmn_width_per_group=8,
    cmn_aspp_channels=8,
    cmn_atrous_rates=(1, 2, 3),
    cmn_head_channels=8,
    base_channels=4,
    max_channels=16,
)


def _keypoints(n: int, shift: float = 0.0) -> Keypoints:
    """A standing figure drawn in a 48 x 64 frame, moved right by ``shift`` pixels per frame."""
    kp = Keypoints.empty(n, W, H)
    joints = {
        "Nose": (24, 10),
        "Neck": (24, 18),
        "RShoulder": (17, 19),
        "LShoulder": (31, 19),
        "RElbow": (14, 29),
        "LElbow": (34, 29),
        "RWrist": (13, 38),
        "LWrist": (35, 38),
        "MidHip": (24, 38),
        "RHip": (20, 38),
        "LHip": (28, 38),
        "RKnee": (20, 50),
        "LKnee": (28, 50),
        "RAnkle": (20, 61),
        "LAnkle": (28, 61),
    }
    for t in range(n):
        for name, (x, y) in joints.items():
            kp.body[t, BODY25[name]] = (x + shift * t, y, 1.0)
    return kp


def _batch(n: int = 3, b: int = 1, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    worn = torch.zeros(b, n, 1, H, W)
    worn[..., 18:40, 14:34] = 1
    return {
        "person": torch.rand(b, n, 3, H, W, generator=g) * 2 - 1,
        "skeleton": pose_embedding(_keypoints(n, 1.0), H, W).unsqueeze(0).repeat(b, 1, 1, 1, 1),
        "garment": torch.rand(b, 3, H, W, generator=g) * 2 - 1,
        "worn_mask": worn,
        "garment_mask": worn[:, 0],
    }


@pytest.fixture(scope="module")
def training():
    torch.manual_seed(0)
    return FashionMirrorTraining(FashionMirror(**TINY), disc_channels=8)


def test_pose_embedding_draws_the_body25_limb_colours():
    p = pose_embedding(_keypoints(2, shift=4.0), H, W)
    assert p.shape == (2, 3, H, W) and p.min() >= -1 and p.max() <= 1
    # the Neck-MidHip limb (1, 8) takes the colour of joint 8: pure red at the midpoint of frame 0
    expected = torch.tensor(BODY25_COLORS[8], dtype=torch.float32) / 127.5 - 1
    assert torch.allclose(p[0, :, 28, 24], expected, atol=0.02)
    assert torch.all(p[0, :, 2, 2] == -1)  # background is black
    assert torch.allclose(p[1, :, 28, 28], expected, atol=0.02)  # frame 1: 4 px to the right


def test_sfe_starts_with_zero_flow_and_soft_masks():
    torch.manual_seed(1)
    sfe = SkeletonFlowExtractor(base_channels=4, max_channels=16, attn_strides=(8, 4))
    p = pose_embedding(_keypoints(2, shift=3.0), H, W)
    flows, masks = sfe(p[:1], p[1:])
    assert set(flows) == {8, 4} and flows[8].shape == (1, 2, 8, 6) and flows[4].shape == (1, 2, 16, 12)
    assert torch.all(flows[4] == 0)  # zero-initialised heads: an untrained SFE warps by the identity
    assert torch.all((masks[4] > 0) & (masks[4] < 1))
    flows[4].sum().backward()
    assert sfe.flow_heads["4"].weight.grad.abs().sum() > 0  # the flow depends on the poses through the heads


def test_eq8_fusion_computed_another_way():
    torch.manual_seed(2)
    hsg = HumanSequenceGenerator(base_channels=4, max_channels=16, lambda_hs=0.7, lambda_c=0.5)
    assert hsg.lambda_ci == {8: 0.5, 4: 1.0}  # lambda_ci doubles at each finer attentive layer
    g = torch.Generator().manual_seed(3)
    e_t, e_s, e_c, e_m = (torch.randn(1, 4, 6, 5, generator=g, dtype=torch.float64) for _ in range(4))
    sel = torch.rand(1, 1, 6, 5, generator=g, dtype=torch.float64)
    identity = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]], dtype=torch.float64)
    got = hsg.fuse_features(
        e_t, e_s, e_c, e_m, torch.zeros(1, 2, 6, 5, dtype=torch.float64), sel, identity, 4
    )
    # zero flow: the Gaussian-sampling warp is the identity (vvt.fashionmirror.warp)
    want = e_t.numpy() + 0.7 * (e_s * sel).numpy() + 1.0 * (e_c * e_m).numpy()
    np.testing.assert_allclose(got.numpy(), want, atol=1e-10)


def test_stn_translation_shifts_by_whole_pixels():
    x = torch.arange(2 * 4 * 8, dtype=torch.float64).view(1, 2, 4, 8)
    theta = torch.tensor([[[1.0, 0, 2 * 2 / 8], [0, 1.0, 0]]], dtype=torch.float64)  # +2 px in x
    out = apply_affine(x, theta, (4, 8))
    assert torch.allclose(out[..., :6], x[..., 2:])
    assert torch.all(out[..., 6:] == 0)


def test_stn_starts_as_identity(training):
    stn = training.model.hsg.stn
    theta = stn(
        torch.randn(2, stn.features[0][0].in_channels // 2, 4, 3),
        torch.randn(2, stn.features[0][0].in_channels // 2, 4, 3),
    )
    assert torch.allclose(theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3))


def test_temporal_and_hinge_losses_known_answers():
    g = torch.Generator().manual_seed(4)
    real = torch.rand(1, 4, 3, 5, 5, generator=g)
    assert temporal_loss(real + 0.3, real).item() == pytest.approx(
        0.0, abs=1e-6
    )  # a constant offset is smooth
    flicker = real.clone()
    flicker[:, 2] += 0.5
    assert temporal_loss(flicker, real).item() == pytest.approx(0.5 * 2 / 3, rel=1e-5)  # 2 of 3 differences
    mask = torch.zeros(1, 4, 1, 5, 5)
    assert temporal_loss(flicker, real, mask).item() == 0.0
    assert hinge_d_loss(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])).item() == pytest.approx(
        0.25 + 0.5
    )
    assert hinge_g_loss(torch.tensor([1.0, 3.0])).item() == -2.0


def _grads(module):
    return [p.grad for p in module.parameters() if p.requires_grad]


def test_cmn_stage_trains_only_the_cmn(training):
    training.zero_grad(set_to_none=True)
    out = training.training_step(_batch(), "cmn")
    out["loss"].backward()
    assert set(training.trainable_modules("cmn")) == {"cmn"}
    assert all(g is not None for g in _grads(training.model.cmn))
    assert all(g is None for g in _grads(training.model.hsg) + _grads(training.model.sfe))
    with pytest.raises(ValueError, match="stage"):
        training.training_step(_batch(), "warmup")


def test_end2end_step_terms_gradients_and_discriminator_separation(training):
    """Every term is reported and summed; every trainable module gets a gradient, VGG none; the
    discriminator's gradient does not change with the generator's adversarial weight (its own hinge
    loss alone moves it)."""
    batch = _batch(n=3, seed=8)
    expected = {
        "loss",
        "cmn",
        "human_spatial",
        "clothes_spatial",
        "flow",
        "human_temporal",
        "clothes_temporal",
        "adv_g",
        "adv_d",
    }
    training.discriminator.eval()  # no spectral-norm power iteration: both runs see the same D
    grads = {}
    try:
        for weight in (0.1, 10.0):
            training.w.adversarial = weight
            training.zero_grad(set_to_none=True)
            out = training.training_step(batch, "end2end")
            out["loss"].backward()
            grads[weight] = (
                [p.grad.clone() for p in training.discriminator.parameters()],
                [p.grad.clone() for p in training.model.hsg.parameters()],
            )
            if weight == 0.1:
                assert set(out) == expected and all(torch.isfinite(v) for v in out.values())
                terms = sum(out[k] for k in expected - {"loss", "adv_g"})  # adv_g is inside human_spatial
                assert out["loss"].item() == pytest.approx(terms.item(), rel=1e-5)
                assert out["human_temporal"] > 0
                for name, module in training.trainable_modules("end2end").items():
                    assert any(g is not None and g.abs().sum() > 0 for g in _grads(module)), name
                assert all(p.grad is None for p in training.vgg.parameters())
    finally:
        training.w.adversarial = 0.1
        training.discriminator.train()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads[0.1][0], grads[10.0][0]))
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads[0.1][1], grads[10.0][1]))


def test_cmn_stage_learns_a_fixed_batch():
    torch.manual_seed(5)
    tr = FashionMirrorTraining(FashionMirror(**TINY), disc_channels=8)
    params = [p for m in tr.trainable_modules("cmn").values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    batch = _batch(n=2, seed=6)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = tr.training_step(batch, "cmn")["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0]


def test_save_load_roundtrip_and_generate(tmp_path, training):
    model = training.model.eval()
    model.save_pretrained(tmp_path / "fm")
    loaded = FashionMirror.from_pretrained(tmp_path / "fm").eval()
    assert tuple(loaded.config.sample_size) == (H, W)
    batch = _batch(n=4, seed=7)
    src, garment, skel = batch["person"][:, 0], batch["garment"], batch["skeleton"]
    out = model.generate(src, garment, skel)
    assert out.shape == (1, 3, 3, H, W)
    assert torch.allclose(out, loaded.generate(src, garment, skel), atol=1e-5)
    # by hand (Eq. 7): the CMN reads the frame before the generated one, h^0 = h^s, then the model's own frames
    with torch.no_grad():
        first = model.cmn(src, garment)
        src_m, m0 = src * (1 - torch.sigmoid(first.removed)), torch.sigmoid(first.tryon)
        f1, _, _ = model.step(src_m, src_m, garment, m0, skel[:, 0], skel[:, 1])  # M_c^1 = single(h^0)
        m2 = torch.sigmoid(model.cmn(f1, garment, torch.cat([m0, m0], 1)).tryon)
        f2, _, _ = model.step(src_m, f1 * (1 - m0), garment, m2, skel[:, 1], skel[:, 2])
        m3 = torch.sigmoid(model.cmn(f2, garment, torch.cat([m0, m2], 1)).tryon)
        f3, _, _ = model.step(src_m, f2 * (1 - m2), garment, m3, skel[:, 2], skel[:, 3])
    for got, want in zip(out.unbind(1), (f1, f2, f3)):
        assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("feedback_from", [1, 3, 5])
def test_generated_frame_has_exactly_zero_gradient_from_its_own_target(training, feedback_from):
    """Issue 19: no path from the real frame t+1 (or later) to the generated frame t+1, in training mode,
    teacher-forced or rolled out (the earlier code gave |d fake_1 / d person_1| = 7265)."""
    training.train()
    batch = _batch(n=6, b=2, seed=11)
    batch["person"] = batch["person"].clone().requires_grad_(True)
    masks = training.model.cmn.sequence(batch["person"], batch["garment"])
    fakes, _ = training.rollout(batch, masks, feedback_from)
    for t in range(5):
        (grad,) = torch.autograd.grad(fakes[:, t].sum(), batch["person"], retain_graph=True)
        assert torch.all(grad[:, t + 1 :] == 0), t  # frames t+1.. (the target and later)
        assert grad[:, 0].abs().sum() > 0  # the source
        if 0 < t < feedback_from:
            assert grad[:, t].abs().sum() > 0  # the teacher-forced current frame


def test_rollout_feeds_back_its_own_frames(training):
    """From ``feedback_from`` on, step t reads the generated frame t, not the real one: changing the real
    frames from that index on changes no generated frame (only the source and the real prefix are read)."""
    training.eval()
    batch = _batch(n=5, seed=12)
    other = dict(batch, person=batch["person"].clone())
    other["person"][:, 2:] = -other["person"][:, 2:]
    with torch.no_grad():
        a, _ = training.rollout(batch, training.model.cmn.sequence(batch["person"], batch["garment"]), 2)
        b, _ = training.rollout(other, training.model.cmn.sequence(other["person"], other["garment"]), 2)
        generated = training.model.generate(batch["person"][:, 0], batch["garment"], batch["skeleton"])
    training.train()
    assert torch.allclose(a, b, atol=1e-6)
    assert a.shape == generated.shape


def test_arrange_draws_gaps_and_schedules_from_the_generator(training):
    batch = _batch(n=7, seed=13)
    seen_k, gaps = set(), 0
    for seed in range(40):
        arranged, k = training.arrange(batch, torch.Generator().manual_seed(seed))
        seen_k.add(k)
        if not torch.equal(arranged["person"][:, 0], batch["person"][:, 0]):
            gaps += 1
            j = next(i for i in range(2, 7) if torch.equal(arranged["person"][:, 0], batch["person"][:, i]))
            assert torch.equal(arranged["skeleton"][:, 0], batch["skeleton"][:, j])
        assert torch.equal(arranged["person"][:, 1:], batch["person"][:, 1:])
    assert seen_k == set(range(1, 7))
    assert 8 <= gaps <= 32
    assert training.arrange(batch, None) == (batch, 6)


def test_write_sample_video(tmp_path, training):
    from vvt.io import read_video

    training.train()
    training.write_sample(_batch(n=3, seed=9), tmp_path / "sample.mp4")
    video, _ = read_video(tmp_path / "sample.mp4")
    assert video.shape == (2, H, 4 * W, 3)
    assert training.model.training  # mode restored
    # the skeleton panel shows the skeleton image: black background, coloured limbs
    skel = _batch(n=3)["skeleton"][0, 1]
    panel = torch.from_numpy(video[0, :, 2 * W : 3 * W].astype(np.float32)).permute(2, 0, 1) / 127.5 - 1
    assert (panel - skel).abs().mean() < 0.05
    # the last panel is the predicted try-on mask M_c^1 in grey levels (eval mode, as write_sample runs)
    batch = _batch(n=3, seed=9)
    training.model.eval()
    with torch.no_grad():
        m_c = torch.sigmoid(training.model.cmn.sequence(batch["person"], batch["garment"]).tryon[0, 1, 0])
    training.model.train()
    grey = torch.from_numpy(video[0, :, 3 * W :].astype(np.float32)) / 255
    assert (grey - m_c[..., None]).abs().mean() < 0.03
