"""p-values of paired differences and their adjustment for multiple comparisons."""

from __future__ import annotations

import numpy as np


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
