"""Fréchet distance, KID and Inception Score against closed-form answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vvt.eval.fid import fid_from_features, frechet_distance, kid_from_features, mmd2_unbiased
from vvt.eval.inception import inception_score


def _rotation(d: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q


def test_frechet_distance_closed_form_for_commuting_covariances():
    # S1 = R diag(a) R^T, S2 = R diag(b) R^T commute: FD = |m1 - m2|^2 + sum (sqrt a - sqrt b)^2
    r = _rotation(5, 0)
    a, b = np.array([1.0, 2.0, 0.5, 3.0, 0.1]), np.array([0.3, 2.5, 1.0, 1.0, 0.4])
    m1, m2 = np.arange(5.0), np.arange(5.0)[::-1] * 0.5
    expected = ((m1 - m2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance(m1, r @ np.diag(a) @ r.T, m2, r @ np.diag(b) @ r.T)
    assert got == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(m1, r @ np.diag(a) @ r.T, m1, r @ np.diag(a) @ r.T) == pytest.approx(0, abs=1e-9)


def test_fid_of_gaussian_samples_approaches_the_closed_form():
    rng = np.random.default_rng(0)
    m1, m2 = np.zeros(4), np.array([1.0, 0.0, -0.5, 0.2])
    s1, s2 = np.diag([1.0, 1.0, 1.0, 1.0]), np.diag([4.0, 1.0, 0.25, 1.0])
    expected = ((m1 - m2) ** 2).sum() + ((np.sqrt(np.diag(s1)) - np.sqrt(np.diag(s2))) ** 2).sum()  # 2.79
    x, y = rng.multivariate_normal(m1, s1, 50_000), rng.multivariate_normal(m2, s2, 50_000)
    assert fid_from_features(x, y) == pytest.approx(expected, abs=0.05)


def test_few_samples_use_the_exact_low_rank_trace_and_agree_with_sqrtm():
    from vvt.eval.fid import feature_statistics

    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((20, 50)), rng.standard_normal((23, 50)) * 1.3 + 0.2
    via_sqrtm = frechet_distance(*feature_statistics(x), *feature_statistics(y))
    assert fid_from_features(x, y) == pytest.approx(via_sqrtm, rel=1e-6)
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-9)


def _expected_kernel(m1, s1, m2, s2, d):
    """E[(x.y/d + 1)^3] for independent x ~ N(m1, s1), y ~ N(m2, s2), by Gaussian moments."""
    c = m1 @ m2
    e1 = c
    e2 = np.trace((s1 + np.outer(m1, m1)) @ (s2 + np.outer(m2, m2)))
    # E[(x.y)^3] = E_y[(m1.y)^3 + 3 (m1.y)(y^T s1 y)]
    e3 = c**3 + 3 * c * (m1 @ s2 @ m1) + 3 * (c * (m2 @ s1 @ m2 + np.trace(s1 @ s2)) + 2 * m1 @ s2 @ s1 @ m2)
    return e3 / d**3 + 3 * e2 / d**2 + 3 * e1 / d + 1


def test_kid_estimates_the_closed_form_mmd_of_two_gaussians():
    d = 2
    m1, m2 = np.array([0.0, 0.2]), np.array([0.6, -0.4])
    s1, s2 = np.diag([0.2, 0.1]), np.diag([0.4, 0.3])
    mmd2 = (_expected_kernel(m1, s1, m1, s1, d) + _expected_kernel(m2, s2, m2, s2, d)
            - 2 * _expected_kernel(m1, s1, m2, s2, d))  # 1.691
    rng = np.random.default_rng(0)
    x, y = rng.multivariate_normal(m1, s1, 3000), rng.multivariate_normal(m2, s2, 3000)
    mean, std = kid_from_features(x, y, num_subsets=20, subset_size=1000, seed=0)
    assert mean == pytest.approx(mmd2, rel=0.1)  # seeds 0-7 of this draw land within 5.5%
    assert 0 < std < 0.2 * mmd2
    same, _ = kid_from_features(x[:1500], x[1500:], num_subsets=20, subset_size=1000, seed=0)
    assert abs(same) < 0.02 * mmd2  # one distribution: the unbiased estimate is ~0


def test_unbiased_mmd_matches_the_definition_computed_by_loops():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((7, 4)), rng.standard_normal((9, 4)) + 0.3

    def k(a, b):
        return (a @ b / 4 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(7), 2)) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(9), 2)) / (9 * 8)
    xy = sum(k(a, b) for a in x for b in y) / (7 * 9)
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)
    # one subset holding every sample is the full-sample estimate
    assert kid_from_features(x, x[:7], num_subsets=1, subset_size=100, seed=0)[0] == pytest.approx(
        mmd2_unbiased(x, x), rel=1e-12)


def test_kid_is_reproducible_for_a_seed_and_changes_with_it():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 0.1
    a = kid_from_features(x, y, num_subsets=20, subset_size=100, seed=7)
    assert a == kid_from_features(x, y, num_subsets=20, subset_size=100, seed=7)
    assert a != kid_from_features(x, y, num_subsets=20, subset_size=100, seed=8)


def test_inception_score_known_answers():
    # every image equally unsure: p(y|x) = p(y), KL = 0, IS = 1
    assert inception_score(np.full((20, 1000), 1e-3), splits=2) == pytest.approx((1.0, 0.0), abs=1e-9)
    # each split holds 10 confident images of 10 distinct classes: IS = exp(log 10) = 10
    probs = np.zeros((20, 1000))
    probs[np.arange(20), np.arange(20) % 10] = 1.0
    mean, std = inception_score(probs, splits=2)
    assert mean == pytest.approx(10.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
