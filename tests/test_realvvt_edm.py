"""EDM (RealVVT Sec. 3.1, Eqs. 1-2): formulas, SVD's diffusers scheduler, sigma sampling and the DSM loss."""

from __future__ import annotations

import math

import pytest
import torch

from vvt.realvvt.edm import EDMLoss, EDMPrecond, LogNormalSigma, append_dims
from vvt.realvvt.presets import svd_scheduler

# diffusers' EulerDiscreteScheduler trips a numpy 2 deprecation inside its own code
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_coefficients_match_the_closed_forms():
    sigma = torch.tensor([0.002, 0.5, 1.0, 3.0, 700.0], dtype=torch.float64)
    for sd in (1.0, 0.5):
        p = EDMPrecond(sd)
        for s, cs, co, ci, cn in zip(sigma, p.c_skip(sigma), p.c_out(sigma), p.c_in(sigma), p.c_noise(sigma)):
            s = float(s)
            assert float(cs) == pytest.approx(sd**2 / (s**2 + sd**2), rel=1e-12)
            assert float(co) == pytest.approx(-s * sd / math.sqrt(s**2 + sd**2), rel=1e-12)
            assert float(ci) == pytest.approx(1 / math.sqrt(s**2 + sd**2), rel=1e-12)
            assert float(cn) == pytest.approx(0.25 * math.log(s), rel=1e-12)
            assert float(p.loss_weight(torch.tensor(s))) == pytest.approx(
                (s**2 + sd**2) / (s * sd) ** 2, rel=1e-6
            )
    # sigma = sigma_data = 1: c_skip = 1/2, c_out = -1/sqrt(2), c_in = 1/sqrt(2), c_noise = 0
    one = EDMPrecond(1.0)
    s = torch.tensor(1.0)
    assert (
        float(one.c_skip(s)),
        float(one.c_out(s)),
        float(one.c_in(s)),
        float(one.c_noise(s)),
    ) == pytest.approx((0.5, -(0.5**0.5), 0.5**0.5, 0.0))


@pytest.mark.parametrize("sd", [1.0, 0.5])
def test_preconditioning_gives_unit_variance_input_and_target(sd):
    """EDM's design goal, checked empirically: with x0 ~ N(0, sd^2), the U-Net input c_in (x0 + n) and the
    target (x0 - c_skip x) / c_out that makes D(x) = x0 both have unit variance, and lambda = 1 / c_out^2."""
    g = torch.Generator().manual_seed(0)
    p = EDMPrecond(sd)
    for s in (0.1, 1.0, 10.0):
        x0 = torch.randn(200_000, generator=g, dtype=torch.float64) * sd
        x = x0 + torch.randn(200_000, generator=g, dtype=torch.float64) * s
        sigma = torch.tensor(s, dtype=torch.float64)
        assert float((p.c_in(sigma) * x).std()) == pytest.approx(1.0, abs=0.01)
        target = (x0 - p.c_skip(sigma) * x) / p.c_out(sigma)
        assert float(target.std()) == pytest.approx(1.0, abs=0.01)
        assert float(p.loss_weight(sigma)) == pytest.approx(float(1 / p.c_out(sigma) ** 2), rel=1e-9)


def test_matches_diffusers_svd_euler_scheduler():
    scheduler = svd_scheduler()
    scheduler.set_timesteps(25)
    p = EDMPrecond(1.0)
    g = torch.Generator().manual_seed(1)
    for k, t in enumerate(scheduler.timesteps):
        sigma = scheduler.sigmas[k].double()
        x = torch.randn(2, 4, 3, 2, generator=g, dtype=torch.float64) * float(sigma)
        u = torch.randn(2, 4, 3, 2, generator=g, dtype=torch.float64)
        assert float(t) == pytest.approx(float(p.c_noise(sigma)), abs=1e-5)  # the U-Net's timestep
        scaled = scheduler.scale_model_input(x.clone(), t)
        torch.testing.assert_close(scaled, p.c_in(sigma) * x, rtol=1e-5, atol=1e-6)
        out = scheduler.step(u, t, x)
        denoised = p.denoise(x, sigma.expand(2), u)
        torch.testing.assert_close(out.pred_original_sample.double(), denoised, rtol=1e-4, atol=1e-4)
        # Euler step of the probability-flow ODE: x + (sigma_next - sigma) (x - D) / sigma
        expected = x + (scheduler.sigmas[k + 1].double() - sigma) * (x - denoised) / sigma
        torch.testing.assert_close(out.prev_sample.double(), expected, rtol=1e-4, atol=1e-4)
    assert float(scheduler.sigmas[0]) == pytest.approx(700.0)
    assert float(scheduler.sigmas[-2]) == pytest.approx(0.002)


def test_log_normal_sigma_statistics_and_seed():
    sampler = LogNormalSigma(P_mean=0.7, P_std=1.6)
    a = sampler(50_000, torch.Generator().manual_seed(3))
    b = sampler(50_000, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert float(a.log().mean()) == pytest.approx(0.7, abs=0.03)
    assert float(a.log().std()) == pytest.approx(1.6, abs=0.03)
    assert not torch.equal(a, sampler(50_000, torch.Generator().manual_seed(4)))


def test_dsm_loss_value():
    """Eq. (2): zero for the perfect denoiser; for D = 0 it is the batch mean of lambda(sigma) * mean(x0^2),
    with sigma replayed from the same generator."""
    loss = EDMLoss(P_mean=0.7, P_std=1.6, sigma_data=1.0)
    x0 = torch.randn(3, 2, 4, 5, 5, generator=torch.Generator().manual_seed(0))
    assert float(loss(lambda x, s: x0, x0, torch.Generator().manual_seed(1))) == 0.0

    seen = {}

    def zero_denoiser(x, sigma):
        seen["sigma"], seen["x"] = sigma, x
        return torch.zeros_like(x)

    value = loss(zero_denoiser, x0, torch.Generator().manual_seed(1))
    sigma = LogNormalSigma(0.7, 1.6)(3, torch.Generator().manual_seed(1))
    torch.testing.assert_close(seen["sigma"], sigma)
    weight = (sigma**2 + 1) / sigma**2
    expected = (weight * x0.square().flatten(1).mean(1)).mean()
    torch.testing.assert_close(value, expected)
    # the noisy input is x0 + sigma * n: its deviation from x0 scales with sigma per sample
    dev = (seen["x"] - x0).flatten(1).std(1)
    torch.testing.assert_close(dev / sigma, torch.ones(3), atol=0.3, rtol=0)
    assert append_dims(sigma, 5).shape == (3, 1, 1, 1, 1)
