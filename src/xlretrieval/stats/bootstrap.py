"""Estimate and bootstrap interval of every cell (see `cells`).

Questions are resampled as in `resampling`. When a cell has several runs, its runs are resampled too
(a two-level bootstrap over runs crossed with questions), so its interval includes the spread over
language draws and training seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from .cells import CELL_KEYS, QuestionMatrix, memberships
from .resampling import check_level, percentile_interval, question_counts, set_means

# quantity: "value" (a cell's mean) or "gain" (its paired difference to the base model on the same query sets)
INTERVAL_COLUMNS = [
    "benchmark",
    "metric",
    "quantity",
    "setting",
    "strategy",
    "k",
    "lang_group",
    "query_lang",
    "estimate",
    "ci_low",
    "ci_high",
    "level",
    "n_runs",
    "n_query_sets",
    "n_questions",
]


def cell_bootstrap(
    values: np.ndarray,
    present: np.ndarray,
    run_weights: sparse.csc_matrix,
    cell_of_run: np.ndarray,
    *,
    level: float,
    resamples: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Estimate and percentile interval of cells, each the mean over its runs of a weighted sum of
    unit means (the run's macro average).

    `run_weights` (units, run-cells) holds the weights of each run in each cell; column j belongs to
    cell `cell_of_run[j]`. Every sample resamples the questions (one counts vector for all units)
    and, independently in each cell with several runs, that cell's runs.
    """
    counts = question_counts(values.shape[1], resamples, rng)
    point = run_weights.T @ set_means(values, present, np.ones((1, values.shape[1])))[0]
    sampled = (run_weights.T @ set_means(values, present, counts).T).T  # (samples, run-cells)
    cells, n_runs = np.unique(cell_of_run, return_counts=True)
    by_cell = np.argsort(cell_of_run, kind="stable")
    first = np.concatenate([[0], np.cumsum(n_runs)[:-1]])
    estimate, low, high = np.empty(len(cells)), np.empty(len(cells)), np.empty(len(cells))
    for n in np.unique(n_runs):
        chosen = np.flatnonzero(n_runs == n)
        columns = by_cell[first[chosen][:, None] + np.arange(n)]  # (cells, runs)
        run_draws = rng.multinomial(n, np.full(n, 1.0 / n), size=(resamples, len(chosen))) / n
        estimate[chosen] = point[columns].mean(axis=1)
        low[chosen], high[chosen] = percentile_interval((sampled[:, columns] * run_draws).sum(axis=2), level)
    return pd.DataFrame({"cell": cells, "estimate": estimate, "ci_low": low, "ci_high": high, "n_runs": n_runs})


def intervals(
    matrix: QuestionMatrix,
    runs: pd.DataFrame,
    benchmark: str,
    roles: dict[str, str],
    *,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Estimate and bootstrap interval of every cell (see `cells`), metric by metric.

    `n_query_sets` counts the distinct query sets a cell averages over its runs; `n_questions` the
    distinct question ids they hold.
    """
    check_level(level)
    members = memberships(matrix, runs, roles)
    members["cell"] = members.groupby(CELL_KEYS, sort=True).ngroup()
    rng = np.random.default_rng(seed)
    frames = []
    for metric, group in members.groupby("metric", sort=True):
        rows = matrix.rows(metric)
        local = np.full(len(matrix.units), -1)
        local[rows] = np.arange(len(rows))
        run_cell = group.groupby(["cell", "run"], sort=True).ngroup().to_numpy()
        positive = (group.sign > 0).groupby([group.cell, group.run]).transform("sum").to_numpy()
        weights = group.sign.to_numpy() / positive
        run_weights = sparse.csc_matrix((weights, (local[group.unit.to_numpy()], run_cell)), shape=(len(rows), run_cell.max() + 1))
        cell_of_run = np.empty(run_weights.shape[1], dtype=np.int64)
        cell_of_run[run_cell] = group.cell.to_numpy()
        result = cell_bootstrap(matrix.values[rows], matrix.present[rows], run_weights, cell_of_run, level=level, resamples=resamples, rng=rng)
        by_cell = group[group.sign > 0].groupby("cell")
        sizes = by_cell[["setting", "set_query_lang", "passage_lang"]].apply(lambda g: len(g.drop_duplicates())).rename("n_query_sets")
        questions = by_cell.unit.unique().map(lambda units: int(matrix.present[units].any(axis=0).sum())).rename("n_questions")
        frames.append(result.join(sizes, on="cell").join(questions, on="cell"))
    keys = members.drop_duplicates("cell").set_index("cell")[CELL_KEYS]
    out = pd.concat(frames, ignore_index=True).join(keys, on="cell").assign(benchmark=benchmark, level=level)
    return out[INTERVAL_COLUMNS].sort_values(INTERVAL_COLUMNS[:7], ignore_index=True)
