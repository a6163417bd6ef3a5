"""p-values of paired differences, their adjustment for multiple comparisons and the smallest effect a test detects."""

from __future__ import annotations

import numpy as np
from scipy import sparse, stats
from scipy.optimize import brentq

from .resampling import cluster_codes, cluster_indicator

POWER = 0.8  # of the smallest detectable effect


def sign_flip_pvalues(differences: np.ndarray, permutations: int, rng: np.random.Generator, clusters: np.ndarray | None = None) -> np.ndarray:
    """Two-sided sign-flip randomisation p-values, one per row of `differences` (tests, questions).

    Under the null each cluster's difference (its questions' sum; `clusters` a code per question, None: each question
    its own) is symmetric about 0; the statistic is the sum over questions. p = (1 + #{|flipped| >= |observed|}) /
    (1 + permutations); the same random signs serve every test.
    """
    observed = np.abs(differences.sum(axis=1))
    if clusters is not None:
        differences = (sparse.csr_matrix(differences) @ cluster_indicator(cluster_codes(clusters, differences.shape[1]))).toarray()
    signs = rng.choice(np.array([-1.0, 1.0]), size=(permutations, differences.shape[1]))
    flipped = np.abs(signs @ differences.T)
    tolerance = 1e-12 * np.maximum(1.0, observed)
    return (1 + (flipped >= observed - tolerance).sum(axis=0)) / (1 + permutations)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control), in the input's order."""
    p = np.asarray(p_values, dtype=float)
    if ((p < 0) | (p > 1) | np.isnan(p)).any():
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    factors = len(p) - np.arange(len(p))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(factors * p[order]))
    return adjusted


def detectable_effect(standard_error, df, level: float, family_size: int, power: float = POWER) -> np.ndarray:
    """The smallest true difference that a two-sided t test at alpha = (1 - level) / family_size (the first and
    strictest step of Holm over the family) detects with `power`, for a t statistic with `standard_error` on `df`
    degrees of freedom: noncentrality lambda with P(|T| > t_{df, 1 - alpha / 2}) = power for T noncentral t on df,
    times the standard error. About (z_{1 - alpha / 2} + z_power) SE on many df (2.8 SE for one test at 0.05)."""
    alpha = (1 - level) / family_size
    standard_error, df = np.broadcast_arrays(np.asarray(standard_error, dtype=float), np.asarray(df, dtype=float))
    out = np.full(standard_error.shape, np.nan)
    for index in np.ndindex(standard_error.shape):
        if np.isfinite(standard_error[index]) and df[index] > 0:
            out[index] = standard_error[index] * noncentrality(df[index], alpha, power)
    return out[()] if out.ndim == 0 else out


def noncentrality(df: float, alpha: float, power: float) -> float:
    """The noncentrality at which a two-sided t test on `df` at `alpha` has `power`."""
    critical = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(shift: float) -> float:
        # the lower tail, below alpha / 2 for a positive shift, underflows to NaN where it is negligible
        return stats.nct.sf(critical, df, shift) + np.nan_to_num(stats.nct.cdf(-critical, df, shift)) - power

    high = critical + 4.0
    while shortfall(high) < 0:
        high *= 2
    return brentq(shortfall, 0.0, high, xtol=1e-10)
