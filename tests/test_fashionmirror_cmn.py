"""FashionMirror co-attention mask network (Sec. 3.1, Eq. 1) and its loss (Eq. 2)."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models.resnet import Bottleneck, ResNet

from vvt.errors import WeightsNotFoundError
from vvt.fashionmirror.cmn import CoAttention, CoAttentionMaskNetwork, ResNetTrunk, load_resnet_weights
from vvt.fashionmirror.losses import CMNLoss, clothing_patch_loss

TINY = dict(layers=(1, 1, 1, 1), width_per_group=8, aspp_channels=8, atrous_rates=(1, 2, 3), head_channels=8)


def test_coattention_matches_the_equations_elementwise():
    torch.manual_seed(0)
    att = CoAttention(3)
    with torch.no_grad():
        att.W.weight.copy_(torch.randn(3, 3))
    eh, ec = torch.randn(1, 3, 2, 2), torch.randn(1, 3, 2, 3)
    z_h, z_c = att(eh, ec)
    H, Cf, W = eh[0].flatten(1), ec[0].flatten(1), att.W.weight  # (C, 4), (C, 6)
    # S[i, j] = eps_h[:, i]^T W eps_c[:, j]
    S = torch.tensor([[float(H[:, i] @ W.detach() @ Cf[:, j]) for j in range(6)] for i in range(4)])
    assert torch.allclose(att.similarity(eh, ec)[0], S, atol=1e-5)
    # eps_hA = eps_h softmax(S), column-wise: garment position j gathers human features
    e_hA = torch.stack(
        [
            sum(H[:, i] * math.exp(S[i, j]) for i in range(4)) / sum(math.exp(S[i, j]) for i in range(4))
            for j in range(6)
        ],
        1,
    )
    # eps_cA: human position i gathers garment features, normalised over garment positions
    e_cA = torch.stack(
        [
            sum(Cf[:, j] * math.exp(S[i, j]) for j in range(6)) / sum(math.exp(S[i, j]) for j in range(6))
            for i in range(4)
        ],
        1,
    )
    gate = lambda conv, e: torch.sigmoid(conv.weight[0, :, 0, 0] @ e + conv.bias)  # noqa: E731
    want_h = torch.cat([e_cA * gate(att.gate_c, e_cA), H]).view(1, 6, 2, 2)
    want_c = torch.cat([e_hA * gate(att.gate_h, e_hA), Cf]).view(1, 6, 2, 3)
    assert torch.allclose(z_h, want_h, atol=1e-5)
    assert torch.allclose(z_c, want_c, atol=1e-5)


def test_sequence_reads_the_frame_before_eq7():
    """M_c^0 = M_c^1 = single(h^0); M_c^{t+1} = multi(h^t, M_c^{t-1}, M_c^t); M_r^t reads frame t."""
    torch.manual_seed(1)
    cmn = CoAttentionMaskNetwork(**TINY).eval()
    frames, garment = torch.rand(1, 4, 3, 32, 24) * 2 - 1, torch.rand(1, 3, 32, 24) * 2 - 1
    with torch.no_grad():
        seq = cmn.sequence(frames, garment)
        single = [cmn(frames[:, t], garment) for t in range(4)]
        assert torch.allclose(seq.removed[:, 2], single[2].removed, atol=1e-5)
        assert torch.allclose(seq.tryon[:, 0], single[0].tryon, atol=1e-5)
        assert torch.allclose(seq.tryon[:, 1], single[0].tryon, atol=1e-5)
        prev = torch.sigmoid(torch.cat([seq.tryon[:, 0], seq.tryon[:, 1]], 1))
        assert torch.allclose(seq.tryon[:, 2], cmn(frames[:, 1], garment, previous=prev).tryon, atol=1e-5)
        prev = torch.sigmoid(torch.cat([seq.tryon[:, 1], seq.tryon[:, 2]], 1))
        assert torch.allclose(seq.tryon[:, 3], cmn(frames[:, 2], garment, previous=prev).tryon, atol=1e-5)
    assert seq.removed.shape == (1, 4, 1, 32, 24)


def test_sequence_tryon_never_reads_its_own_frame():
    """In training mode (BatchNorm statistics per batch) d M_c^t / d h^s' for s' >= t is exactly zero."""
    torch.manual_seed(2)
    cmn = CoAttentionMaskNetwork(**TINY).train()
    frames = (torch.rand(2, 4, 3, 32, 24) * 2 - 1).requires_grad_(True)
    seq = cmn.sequence(frames, torch.rand(2, 3, 32, 24) * 2 - 1)
    for t in (1, 2, 3):
        (grad,) = torch.autograd.grad(seq.tryon[:, t].sum(), frames, retain_graph=True)
        assert torch.all(grad[:, t:] == 0), t
        assert grad[:, t - 1].abs().sum() > 0, t


def test_trunk_loads_torchvision_resnet_weights(tmp_path):
    torch.manual_seed(2)
    ref = ResNet(Bottleneck, [1, 1, 1, 1], width_per_group=8)
    save_file(ref.state_dict(), str(tmp_path / "resnet.safetensors"))
    trunk = ResNetTrunk((1, 1, 1, 1), 8)
    load_resnet_weights(trunk, tmp_path)
    assert torch.equal(trunk.layer3[0].conv2.weight, ref.layer3[0].conv2.weight)
    with pytest.raises(WeightsNotFoundError, match="missing.safetensors"):
        load_resnet_weights(trunk, tmp_path / "missing.safetensors")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFoundError, match="resnet50"):
        load_resnet_weights(trunk, tmp_path / "empty")


def test_clothing_patch_loss_known_answer():
    target = torch.zeros(1, 1, 10, 10)
    target[..., 2:6, 3:8] = 1  # 4 x 5 box
    prob = target.clone()
    prob[..., 3, 4] = 0.0  # one wrong pixel inside the box
    prob[..., 9, 9] = 1.0  # an error outside the box does not count
    assert clothing_patch_loss(prob, target, margin=0.0).item() == pytest.approx(1 / 20)
    # margin 0.5 grows the box by round(0.5 * 4) = 2 rows and round(0.5 * 5) = 2 columns on each side
    assert clothing_patch_loss(prob, target, margin=0.5).item() == pytest.approx(
        1 / ((2 + 4 + 2) * (2 + 5 + 2))
    )
    # an empty ground truth falls back to the whole image
    assert clothing_patch_loss(
        torch.full((1, 1, 4, 4), 0.25), torch.zeros(1, 1, 4, 4)
    ).item() == pytest.approx(0.25)


def test_cmn_loss_is_eq2():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 1, 8, 6, generator=g)
    target = (torch.rand(2, 3, 1, 8, 6, generator=g) > 0.5).float()
    p = torch.sigmoid(logits)
    l1 = (p - target).abs().mean()
    bce = -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()
    patch = clothing_patch_loss(p.flatten(0, 1), target.flatten(0, 1), 0.1)
    got = CMNLoss(lambda_l1=2.0, lambda_bce=0.5, lambda_patch=3.0)(logits, target)
    assert got.item() == pytest.approx((2 * l1 + 0.5 * bce + 3 * patch).item(), rel=1e-5)
