"""The bootstrap over parallel question ids of the intervals over questions alone (the paired tests'
`ci_low`, `ci_high`; the pilot's gains).

Resampling unit: the parallel question id. One counts vector over question ids applies to every
query set, language, model and run, so all translations of a question move together. Intervals are
percentile intervals.
"""

from __future__ import annotations

import numpy as np


def question_counts(n_questions: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, questions): how often each question is drawn in each bootstrap sample."""
    return rng.multinomial(n_questions, np.full(n_questions, 1.0 / n_questions), size=resamples).astype(float)


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
    tail = (1 - level) / 2
    low, high = np.nanquantile(samples, [tail, 1 - tail], axis=0)
    return low, high


def check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"confidence level must lie strictly between 0 and 1, not {level}")
