"""Agnostic mask-guided attention loss (RealVVT Sec. 3.3, Eqs. 3-4) on hand-built attention maps."""

from __future__ import annotations

import pytest
import torch

from vvt.realvvt.losses import AgnosticAttentionLoss, garment_attention_mass, resize_mask

T0 = [[0.9, 0.1], [0.2, 0.3]]
M0 = [[1, 0], [0, 1]]
T1 = [[0.5, 0.4], [0.0, 0.2]]


def _maps():
    T = torch.tensor([[T0, T1]])  # (B=1, N=2, 2, 2)
    mask = torch.tensor([[M0, [[0, 0], [0, 0]]]], dtype=torch.float32)  # frame 1: empty mask
    return T, mask


def test_eq4_known_answer():
    T, mask = _maps()
    # frame 0: (1 - max(0.9, 0.3))^2 + 0.01 (0.1^2 + 0.2^2); frame 1: empty A -> only 0.01 * sum T^2
    f0 = 0.1**2 + 0.01 * (0.01 + 0.04)
    f1 = 0.01 * (0.25 + 0.16 + 0.0 + 0.04)
    assert float(AgnosticAttentionLoss(0.01)(T, mask)) == pytest.approx((f0 + f1) / 2, rel=1e-6)
    assert float(AgnosticAttentionLoss(0.01, frame_reduction="sum")(T, mask)) == pytest.approx(
        f0 + f1, rel=1e-6
    )


def test_eq3_known_answer():
    T, mask = _maps()
    f0 = (0.1**2 + 0.7**2) + 0.01 * (0.01 + 0.04)
    f1 = 0.01 * (0.25 + 0.16 + 0.04)
    assert float(AgnosticAttentionLoss(0.01, form="init")(T, mask)) == pytest.approx((f0 + f1) / 2, rel=1e-6)


def test_samples_without_garment_are_left_out():
    T, mask = _maps()
    T2 = torch.cat([T, torch.ones_like(T)])
    mask2 = torch.cat([mask, mask])
    loss = AgnosticAttentionLoss(0.01)
    single = loss(T, mask)
    torch.testing.assert_close(loss(T2, mask2, torch.tensor([True, False])), single)
    assert float(loss(T2, mask2)) != pytest.approx(float(single))
    none = loss(T2.requires_grad_(), mask2, torch.tensor([False, False]))
    assert float(none.detach()) == 0.0
    none.backward()
    assert float(T2.grad.abs().sum()) == 0.0


def test_perfect_attention_has_zero_loss():
    mask = torch.zeros(1, 1, 4, 3)
    mask[..., 1:3, 1] = 1
    assert float(AgnosticAttentionLoss(0.01)(mask.clone(), mask)) == 0.0
    assert float(AgnosticAttentionLoss(0.01, form="init")(mask.clone(), mask)) == 0.0


def test_garment_attention_mass():
    probs = torch.tensor(
        [[[[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]], [[0.0, 0.0, 0.5, 0.5], [1.0, 0.0, 0.0, 0.0]]]]
    )  # (rows=1, heads=2, L_q=2, L_k=4)
    mass = garment_attention_mass(probs, 2)
    torch.testing.assert_close(mass, torch.tensor([[(0.7 + 1.0) / 2, (0.5 + 0.0) / 2]]))


def test_gradient_reaches_the_attention_logits():
    """Through softmax -> garment mass -> Eq. 4: raising a garment logit lowers the loss at the peak query
    inside the mask and raises it at queries outside; an empty-mask frame gives finite gradients."""
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 4, 6, requires_grad=True)  # (B*N=2 frames, heads, 4 queries = 2x2, 6 keys)
    probs = logits.softmax(-1)
    T = garment_attention_mass(probs, 2).reshape(1, 2, 2, 2)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]])
    AgnosticAttentionLoss(0.01)(T, mask).backward()
    grad = logits.grad
    assert torch.isfinite(grad).all()
    assert bool((grad[0, :, 0, 4:] < 0).all())  # frame 0, query in A (the max): garment logits pulled up
    assert bool((grad[0, :, 1:, 4:] > 0).all())  # frame 0, queries outside A: pushed down
    assert bool((grad[1, :, :, 4:] > 0).all())  # frame 1 (empty mask): only the negative term
    # the gradient equals the one of the equation written directly on the logits
    logits2 = logits.detach().clone().requires_grad_()
    p = logits2.softmax(-1)[..., 4:].sum(-1).mean(1)  # (2, 4)
    direct = ((1 - p[0, 0]) ** 2 + 0.01 * p[0, 1:].square().sum() + 0.01 * p[1].square().sum()) / 2
    direct.backward()
    torch.testing.assert_close(grad, logits2.grad)


def test_resize_mask_max_pools():
    mask = torch.zeros(1, 2, 1, 8, 6)
    mask[0, 0, 0, 3, 4] = 1  # one pixel -> its 4x3 cell (0, 1) at 2x2
    mask[0, 1, 0, 4:, :] = 1
    small = resize_mask(mask, (2, 2))
    assert small.shape == (1, 2, 1, 2, 2)
    assert small[0, 0, 0].tolist() == [[0, 1], [0, 0]]
    assert small[0, 1, 0].tolist() == [[0, 0], [1, 1]]
