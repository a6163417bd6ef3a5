"""The bootstrap of the intervals over questions alone (the paired tests' `ci_low`, `ci_high`).

Resampling unit: the cluster the parallel question ids come in (a benchmark's article; without clusters, the
question id). One counts vector applies to every query set, language, model and run, so all translations of a
question, and all questions of an article, move together. Intervals are percentile intervals.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def question_counts(n_questions: int, resamples: int, rng: np.random.Generator, clusters: np.ndarray | None = None) -> np.ndarray:
    """(resamples, questions): how often each question is drawn in each bootstrap sample, its cluster's count where
    the questions come in `clusters` (a code per question; None: each question its own)."""
    if clusters is None:
        return rng.multinomial(n_questions, np.full(n_questions, 1.0 / n_questions), size=resamples).astype(float)
    codes = cluster_codes(clusters, n_questions)
    n_clusters = codes.max() + 1
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=resamples).astype(float)[:, codes]


def cluster_indicator(codes: np.ndarray) -> sparse.csr_matrix:
    """(questions, clusters): 1 where a question (a `cluster_codes` code each) is in a cluster; a matrix of
    per-question values times it sums them by cluster."""
    return sparse.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), codes.max() + 1))


def cluster_codes(clusters: np.ndarray, n_questions: int) -> np.ndarray:
    """Codes 0, 1, ... of each question's cluster."""
    codes = np.unique(np.asarray(clusters), return_inverse=True)[1].ravel()
    if len(codes) != n_questions:
        raise ValueError(f"{len(codes)} cluster labels for {n_questions} questions")
    return codes


def set_means(values: np.ndarray, present: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(samples, units): each unit's mean over its questions, weighted by each sample's counts
    (NaN where a sample drew none of a unit's questions)."""
    sizes = np.full((len(counts), len(values)), counts.sum(axis=1)[:, None])
    partial = np.flatnonzero(~present.all(axis=1))
    sizes[:, partial] = counts @ present[partial].T
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ values.T) / sizes


def percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds along axis 0, ignoring NaN samples."""
    check_level(level)
    tail = (1 - level) / 2
    low, high = np.nanquantile(samples, [tail, 1 - tail], axis=0)
    return low, high


def check_level(level: float) -> None:
    """A ValueError unless `level` is a confidence level (every interval, bootstrap or t, checks its own)."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must lie strictly between 0 and 1, not {level}")
