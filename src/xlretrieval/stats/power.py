"""The smallest effect each paired test would detect with more runs, from the rows of `paired.paired_tests`
(`results/tables/paired_tests.tsv`) alone.

A test's variance over runs and questions (`welch`) is var_runs_a / n_a + var_runs_b / n_b + var_questions:
each side's variance over its runs (or the variance of the run pairs' differences, var_runs_a, where the
runs are paired) and the question component, which more runs do not shrink. With n runs a side (n pairs
where paired) the variance is projected by putting n for n_a and n_b, the df by `welch.t_df`, and the
detectable effect is that of `significance.detectable_effect` at the test's Holm threshold,
(1 - level) / the size of its family. The question component is on its clusters' df (`n_clusters` - 1: the articles
its questions come in). A side whose variance is pooled within its S language sets (`strata_a`, `strata_b`:
`welch`, fixed sets) keeps them and never falls below two runs a set: n runs a side give it max(n, 2 S) runs on
that many minus S df, while the other side takes n. A side measured with one run has no variance over runs: its
projections are unknown (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .paired import variance_terms
from .significance import detectable_effect
from .welch import t_df

RUNS = (2, 3, 6, 12, 24, 48)
MAX_RUNS = 1000  # the most runs a side `runs_for_target` looks at

KEY_COLUMNS = ["benchmark", "metric", "family", "setting", "lang_group", "strategy_a", "k_a", "strategy_b", "k_b", "primary", "runs_paired"]


def side_strata(tests: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The language sets each side's variance is pooled within (`strata_a`, `strata_b`; b's 1 where the runs are paired)."""
    paired = tests.runs_paired.to_numpy(dtype=bool)
    return tests.strata_a.to_numpy(dtype=float), np.where(paired, 1.0, tests.strata_b.to_numpy(dtype=float))


def side_runs(runs: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """The runs a side projected to `runs` runs a side has: `runs`, or two in each of its `strata` language sets where
    that is more (a side pooled within sets keeps two runs a set)."""
    return np.where(strata > 1, np.maximum(runs, 2 * np.nan_to_num(strata, nan=1.0)), runs)


def family_sizes(tests: pd.DataFrame) -> np.ndarray:
    """The size of each test's Holm family (`paired.with_families`): the primary tests or the rest."""
    primary = tests.primary.to_numpy(dtype=bool)
    return np.where(primary, primary.sum(), (~primary).sum())


def projected_detectable(tests: pd.DataFrame, runs, level: float) -> np.ndarray:
    """The detectable effect of each test (rows of `paired.paired_tests` with their `family_size`) with `runs` runs a
    side (a number, or one per test; pairs where paired)."""
    n = np.broadcast_to(np.asarray(runs, dtype=float), (len(tests),))
    paired = tests.runs_paired.to_numpy(dtype=bool)
    strata_a, strata_b = side_strata(tests)
    n_a, n_b = side_runs(n, strata_a), side_runs(n, strata_b)
    terms = variance_terms(tests, n_a, n_b)
    dfs = np.column_stack([n_a - strata_a, np.where(paired, 0.0, n_b - strata_b), tests.n_clusters.to_numpy(dtype=float) - 1])
    known = ~np.isnan(terms).any(axis=1)
    standard_error, df = np.sqrt(terms.sum(axis=1)), np.full(len(tests), np.nan)
    if known.any():
        df[known] = t_df(terms[known], dfs[known])
    out = np.full(len(tests), np.nan)
    sizes = tests.family_size.to_numpy()
    for size in np.unique(sizes):
        chosen = known & (sizes == size)
        if chosen.any():
            out[chosen] = detectable_effect(standard_error[chosen], df[chosen], level, int(size))
    return out


def runs_for_target(tests: pd.DataFrame, level: float, target: float, max_runs: int = MAX_RUNS) -> pd.Series:
    """The fewest runs a side (from 2 to `max_runs`; a side pooled within language sets keeps two runs a set, as in
    `projected_detectable`) with which each test detects `target`; NA where even `max_runs` do not (the question
    component alone may be too large) or the projection is unknown. Found by bisection: the detectable effect falls as
    runs are added."""
    low = np.full(len(tests), 2)
    high = np.full(len(tests), max_runs)
    enough_at_low = projected_detectable(tests, low, level) <= target
    searched = ~enough_at_low & (projected_detectable(tests, high, level) <= target)
    while (searched & (high - low > 1)).any():
        middle = (low + high) // 2
        enough = projected_detectable(tests, middle, level) <= target
        high = np.where(searched & enough, middle, high)
        low = np.where(searched & ~enough, middle, low)
    found = np.where(enough_at_low, low, np.where(searched, high, -1))
    return pd.Series(found, index=tests.index, dtype="Int64").mask(found < 0)


def power_table(tests: pd.DataFrame, level: float, target: float, runs=RUNS) -> pd.DataFrame:
    """The primary tests and every k-trend test of `tests` (rows of `paired.paired_tests`): their runs, variance
    components, family size, detectable effect with the study's runs (`detectable`), with each of `runs` runs a
    side (`detectable_n{n}`) and the fewest runs a side that detect `target` (`runs_for_target`). The table's rows
    serve `projected_detectable` and `runs_for_target` as they are."""
    chosen = tests.primary.to_numpy(dtype=bool) | (tests.family == "k-trend").to_numpy()
    shown = tests.assign(family_size=family_sizes(tests))[chosen]
    out = shown[
        KEY_COLUMNS
        + [
            "n_runs_a",
            "n_runs_b",
            "strata_a",
            "strata_b",
            "n_questions",
            "n_clusters",
            "var_runs_a",
            "var_runs_b",
            "var_questions",
            "family_size",
            "detectable",
        ]
    ].copy()
    for n in runs:
        out[f"detectable_n{n}"] = projected_detectable(shown, n, level)
    out["target"] = target
    out["runs_for_target"] = runs_for_target(shown, level, target)
    return out.reset_index(drop=True)
