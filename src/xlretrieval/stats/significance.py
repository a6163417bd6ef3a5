"""p-values of paired differences and their adjustment for multiple comparisons."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

POWER = 0.8  # of the smallest detectable effect


def sign_flip_pvalues(differences: np.ndarray, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Two-sided sign-flip randomisation p-values, one per row of `differences` (tests, questions).

    Under the null each question's difference is symmetric about 0; the statistic is the sum over
    questions. p = (1 + #{|flipped| >= |observed|}) / (1 + permutations); the same random signs serve
    every test.
    """
    observed = np.abs(differences.sum(axis=1))
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


def bootstrap_pvalues(samples: np.ndarray, resamples: int) -> np.ndarray:
    """Two-sided bootstrap p-values for a difference of 0, one per column of `samples` (samples, tests):
    2 * min(share of samples <= 0, share >= 0) over the non-NaN samples, within [1 / (resamples + 1), 1]."""
    valid = (~np.isnan(samples)).sum(axis=0)
    below, above = (samples <= 0).sum(axis=0) / valid, (samples >= 0).sum(axis=0) / valid
    return np.clip(2 * np.minimum(below, above), 1 / (resamples + 1), 1.0)


def detectable_difference(half_width, level: float, family_size: int, power: float = POWER) -> np.ndarray:
    """The difference a two-sided test at level (1 - level) / family_size (the first and strictest step of Holm
    over the family) detects with `power`: (z_{1 - alpha / 2} + z_power) * SE, where SE is the half-width of a
    `level` interval over z_{(1 + level) / 2}."""
    z = NormalDist().inv_cdf
    alpha = (1 - level) / family_size
    standard_error = np.asarray(half_width, dtype=float) / z((1 + level) / 2)
    return (z(1 - alpha / 2) + z(power)) * standard_error
