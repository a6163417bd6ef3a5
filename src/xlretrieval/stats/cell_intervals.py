"""Estimate and interval of every cell (see `cells`).

A cell's interval is the t interval of `welch` with one group, the cell's runs: each run (language draw
and training seed) is a member, its per-question contributions its units' weights over their numbers of
questions times their values (a gain cell's base-model units with sign -1). The interval therefore holds
the spread over runs as well as over the questions; a cell of one run has the t interval over questions. A run's
language set (its draw) is its stratum (`welch`: fixed or sampled, `language_sets`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from .cells import CELL_KEYS, QuestionMatrix, memberships, question_contributions
from .welch import FIXED, language_set_t

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
    "df",
    "level",
    "n_runs",
    "n_query_sets",
    "n_questions",
    "n_clusters",
]


def cell_intervals(
    values: np.ndarray,
    present: np.ndarray,
    run_weights: sparse.csc_matrix,
    cell_of_run: np.ndarray,
    *,
    level: float,
    draw_of_run: np.ndarray | None = None,
    language_sets: str = FIXED,
    clusters: np.ndarray | None = None,
) -> pd.DataFrame:
    """Estimate, t interval and its df of cells, each the mean over its runs of a weighted sum of unit means
    (the run's macro average).

    `run_weights` (units, run-cells) holds the weights of each run in each cell; column j belongs to cell
    `cell_of_run[j]`, and its run trained on language set `draw_of_run[j]` (None: every run on a set of its own).
    Cells are numbered 0, 1, ...; each needs a run. `clusters` gives each question's article (`welch`).
    """
    contributions = question_contributions(run_weights.T, values, present)  # (run-cells, questions)
    n_cells = cell_of_run.max() + 1
    cell_runs = sparse.csr_matrix((np.ones(len(cell_of_run)), (cell_of_run, np.arange(len(cell_of_run)))), shape=(n_cells, len(cell_of_run)))
    involved = np.asarray((cell_runs @ (abs(run_weights).T @ sparse.csr_matrix(present.astype(float)))).todense()) > 0
    t = language_set_t(contributions, cell_of_run, np.arange(n_cells), draw_of_run, involved, language_sets, clusters)
    low, high = t.interval(level)
    return pd.DataFrame(
        {
            "cell": np.arange(n_cells),
            "estimate": t.estimate,
            "ci_low": low,
            "ci_high": high,
            "df": t.df,
            "n_runs": t.members,
            "n_clusters": t.clusters,
        }
    )


def intervals(
    matrix: QuestionMatrix, runs: pd.DataFrame, benchmark: str, roles: dict[str, str], *, level: float = 0.95, language_sets: str = FIXED
) -> pd.DataFrame:
    """Estimate, t interval (`cell_intervals`) and its df of every cell (see `cells`), metric by metric.

    `n_query_sets` counts the distinct query sets a cell averages over its runs; `n_questions` the
    distinct question ids they hold.
    """
    members = memberships(matrix, runs, roles)
    members["cell"] = members.groupby(CELL_KEYS, sort=True).ngroup()
    frames = []
    for metric, group in members.groupby("metric", sort=True):
        rows = matrix.rows(metric)
        local = np.full(len(matrix.units), -1)
        local[rows] = np.arange(len(rows))
        run_cell = group.groupby(["cell", "run"], sort=True).ngroup().to_numpy()
        cell_codes, cells = pd.factorize(group.cell, sort=True)
        weights = group.sign.to_numpy() / (group.sign > 0).groupby([group.cell, group.run]).transform("sum").to_numpy()
        run_weights = sparse.csc_matrix((weights, (local[group.unit.to_numpy()], run_cell)), shape=(len(rows), run_cell.max() + 1))
        cell_of_run = np.empty(run_weights.shape[1], dtype=np.int64)
        cell_of_run[run_cell] = cell_codes
        draw_of_run = np.empty(run_weights.shape[1], dtype=np.int64)
        draw_of_run[run_cell] = group.draw.to_numpy()
        result = cell_intervals(
            matrix.values[rows],
            matrix.present[rows],
            run_weights,
            cell_of_run,
            level=level,
            draw_of_run=draw_of_run,
            language_sets=language_sets,
            clusters=matrix.clusters,
        )
        positive = group.sign.to_numpy() > 0
        query_sets = group[positive].drop_duplicates(["cell", "setting", "set_query_lang", "passage_lang"]).groupby("cell").size()
        held = sparse.csr_matrix(
            (np.ones(positive.sum()), (cell_codes[positive], local[group.unit.to_numpy()[positive]])), shape=(len(cells), len(rows))
        )
        result["n_query_sets"] = query_sets.reindex(cells).to_numpy()
        result["n_questions"] = ((held @ sparse.csr_matrix(matrix.present[rows])) > 0).sum(axis=1).A1
        result["cell"] = cells.to_numpy()
        frames.append(result)
    keys = members.drop_duplicates("cell").set_index("cell")[CELL_KEYS]
    out = pd.concat(frames, ignore_index=True).join(keys, on="cell").assign(benchmark=benchmark, level=level)
    return out[INTERVAL_COLUMNS].sort_values(INTERVAL_COLUMNS[:7], ignore_index=True)
