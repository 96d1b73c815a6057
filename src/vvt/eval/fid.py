"""Distances between feature distributions: Fréchet distance (FID, VFID) and KID.

* Fréchet distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule", Eq. 6): fit a
  Gaussian to each feature set and return ``|mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})``, the matrix
  square root by ``scipy.linalg.sqrtm`` as in pytorch-fid and CatV2TON's ``vfid.py`` (with the same fallback:
  ``eps`` added to both diagonals when the product is singular, and a tiny imaginary part dropped).
* KID (Bińkowski et al. 2018, "Demystifying MMD GANs", Sec. 3 and App. D): the unbiased estimator of the
  squared MMD with the polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets of both
  sets (100 subsets of up to 1000 features: the authors' code and torch-fidelity / clean-fid).
  The subsets are drawn from a seeded generator, so a seed gives the same number.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import linalg

log = logging.getLogger(__name__)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` (unbiased, ``np.cov``) of features ``(N, D)``, N >= 2."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors of shape (N, D), got {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance of ``N(mu1, sigma1)``, ``N(mu2, sigma2)``; means ``(D,)``, covariances ``(D, D)``."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(
            f"feature sizes differ: means {mu1.shape} vs {mu2.shape}, "
            f"covariances {sigma1.shape} vs {sigma2.shape}"
        )
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        log.warning("Frechet distance: singular covariance product; adding %g to the diagonals", eps)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(
                f"Frechet distance: imaginary component {np.max(np.abs(covmean.imag)):.3g} in sqrtm"
            )
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to features ``(N1, D)`` and ``(N2, D)``.

    With at least D samples in both sets this is :func:`frechet_distance` (scipy's ``sqrtm``, as pytorch-fid).
    With fewer, both covariances are rank-deficient, ``sqrtm`` of their singular product is slow (minutes for
    D = 2048 on a CPU) and inaccurate (pytorch-fid then adds ``eps`` to the diagonals), so the trace term is
    taken exactly from the samples instead: with centred samples ``X_k`` and ``S_k = X_k^T X_k / (N_k - 1)``,
    the non-zero eigenvalues of ``S_1 S_2`` are the squared singular values of ``X_1 X_2^T / sqrt((N_1 - 1)
    (N_2 - 1))``, so ``Tr (S_1 S_2)^{1/2}`` is that small matrix's nuclear norm. Both give the same number.
    """
    x, y = np.asarray(features1, dtype=np.float64), np.asarray(features2, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(x.shape[0], y.shape[0]) < 2:
        raise ValueError(f"need >= 2 feature vectors of the same size in each set, got {x.shape} and {y.shape}")
    if min(x.shape[0], y.shape[0]) >= x.shape[1]:
        return frechet_distance(*feature_statistics(x), *feature_statistics(y))
    log.warning("Frechet distance on %d and %d samples of dimension %d: rank-deficient covariances, the value "
                "is biased upward (published FIDs use thousands of samples)", x.shape[0], y.shape[0], x.shape[1])
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    cross = xc @ yc.T / np.sqrt((x.shape[0] - 1) * (y.shape[0] - 1))
    trace_sqrt = np.linalg.svd(cross, compute_uv=False).sum()
    diff = x.mean(axis=0) - y.mean(axis=0)
    trace1 = (xc**2).sum() / (x.shape[0] - 1)
    trace2 = (yc**2).sum() / (y.shape[0] - 1)
    return float(diff @ diff + trace1 + trace2 - 2 * trace_sqrt)


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """``k(x, y) = (x.y / d + coef0)^degree`` for rows of ``x (N, D)`` and ``y (M, D)`` -> ``(N, M)``."""
    base = x @ y.T / x.shape[1] + coef0
    out = base.copy()
    for _ in range(degree - 1):  # repeated products: several times faster than a float power
        out *= base
    return out


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD (Bińkowski et al. Eq. 3, cubic polynomial kernel) of ``x (m, D)``, ``y (n, D)``"""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_xx + term_yy - 2 * k_xy.mean())


def kid_from_features(
    features1: np.ndarray,
    features2: np.ndarray,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: mean and standard deviation over ``num_subsets`` random subsets of the unbiased squared MMD.

    Each subset draws ``min(subset_size, N1, N2)`` rows without replacement from each set. Returns raw
    values (multiply by 1000 for the "KID x 1000" that CatVTON and RealVVT's tables print).
    """
    x, y = np.asarray(features1, dtype=np.float64), np.asarray(features2, dtype=np.float64)
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {x.shape[0]} and {y.shape[0]}")
    rng = np.random.default_rng(seed)
    values = np.array(
        [
            mmd2_unbiased(
                x[rng.choice(x.shape[0], m, replace=False)], y[rng.choice(y.shape[0], m, replace=False)]
            )
            for _ in range(num_subsets)
        ]
    )
    return float(values.mean()), float(values.std())
