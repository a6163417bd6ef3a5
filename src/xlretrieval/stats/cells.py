"""What each number of the study averages: per-query values as a question matrix, the runs, and the
member units of every cell.

Every number of the study is a *cell* (benchmark, metric, setting, strategy, k, languages): the mean
over the questions of each query set, macro-averaged over the cell's query sets within each *run*
(a language draw and training seed; the base model has one run per draw, regrouped by that draw's
training languages), then averaged over runs. This equals `tables.macro` on `metrics.tsv`. Each
fine-tuned cell also has a *gain* twin: the same average of the per-question differences to the base
model on the same query sets (base run of the same language draw), so gains are paired differences.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ..metrics import held_out_pair, lang_group
from ..model_tags import BASE, ModelSpec

UNIT_KEYS = ["setting", "query_lang", "passage_lang", "metric"]
ALL = "all"
CELL_KEYS = ["metric", "quantity", "setting", "strategy", "k", "lang_group", "query_lang"]


@dataclass
class QuestionMatrix:
    """Per-query values of one benchmark as a matrix: one row per unit (model x query set x metric),
    one column per question id; `present` marks the questions a query set holds, `clusters` the article each question
    comes in (None: each question its own; see `welch`)."""

    units: pd.DataFrame  # model, setting, query_lang, passage_lang, metric
    values: np.ndarray  # (units, questions), 0 where absent
    present: np.ndarray  # (units, questions), bool
    question_ids: np.ndarray
    clusters: np.ndarray | None = None

    def rows(self, metric: str) -> np.ndarray:
        return np.flatnonzero(self.units.metric.to_numpy() == metric)


def question_contributions(weights: np.ndarray | sparse.spmatrix, values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Each weighted mean of unit means, question by question: `weights` (rows x units) over each unit's number of
    questions, times the units' values (units x questions); a row of the result sums to its weighted mean of the units'
    means. The one place the study splits a mean (a cell's run, a difference, a run group's member) into questions."""
    sizes = np.maximum(present.sum(axis=1), 1)  # a unit without questions contributes nothing
    if sparse.issparse(weights):
        scaled = sparse.csr_matrix(weights, dtype=float, copy=True)
        scaled.data /= sizes[scaled.indices]
        return np.asarray(scaled @ values)
    return (weights / sizes) @ values


def question_clusters(questions: pd.DataFrame) -> dict[str, str]:
    """Question id -> the article it comes in, from an evaluation set's questions table; a question without one (a
    collection without articles) is a cluster of its own."""
    first = questions.drop_duplicates("question_id")
    return {q: article if article else f"question {q}" for q, article in zip(first.question_id, first.article.fillna(""))}


def question_matrix(per_query: Iterable[tuple[str, pd.DataFrame]], clusters: dict[str, str] | None = None) -> QuestionMatrix:
    """Stack (model tag, per-query table) pairs, consumed one at a time, into a `QuestionMatrix`; `clusters` maps
    question ids to their articles (`question_clusters`; None: each question its own)."""
    questions: dict[str, int] = {}
    unit_frames, rows, columns, values = [], [], [], []
    offset = 0
    for tag, frame in per_query:
        grouped = frame.groupby(UNIT_KEYS, sort=True)
        codes, uniques = pd.factorize(frame.question_id)
        index = np.array([questions.setdefault(q, len(questions)) for q in uniques], dtype=np.int64)
        keys = grouped.size().index.to_frame(index=False)
        unit_frames.append(keys.assign(model=tag))
        rows.append(grouped.ngroup().to_numpy() + offset)
        columns.append(index[codes])
        values.append(frame.value.to_numpy(dtype=float))
        offset += len(keys)
    if not unit_frames:
        raise ValueError("no per-query tables given")
    rows, columns = np.concatenate(rows), np.concatenate(columns)
    matrix = QuestionMatrix(
        pd.concat(unit_frames, ignore_index=True)[["model", *UNIT_KEYS]],
        np.zeros((offset, len(questions))),
        np.zeros((offset, len(questions)), dtype=bool),
        np.array(list(questions), dtype=object),
    )
    if clusters is not None:
        missing = [q for q in matrix.question_ids if q not in clusters]
        if missing:
            raise ValueError(f"{len(missing)} question ids have no article (e.g. {missing[0]!r}): the per-query files and the evaluation set differ")
        matrix.clusters = np.array([clusters[q] for q in matrix.question_ids], dtype=object)
    matrix.values[rows, columns], matrix.present[rows, columns] = np.concatenate(values), True
    if matrix.present.sum() != len(rows):
        raise ValueError("a per-query table holds one (query set, metric, question id) more than once")
    return matrix


def runs_table(models: list[str], languages: pd.DataFrame) -> pd.DataFrame:
    """One row per run: model, strategy, k, draw, seed and training languages. The base model has a
    run for every (k, draw) of `languages` (as in `tables.with_base_reference`)."""
    trained = {(r.k, r.draw): frozenset(r.languages.split(",")) for r in languages.itertuples()}
    rows = []
    for tag in models:
        spec = ModelSpec.parse(tag)
        if spec is None:
            rows += [(tag, BASE, k, draw, -1, langs) for (k, draw), langs in trained.items()]
        else:
            rows.append((tag, spec.strategy, spec.k, spec.draw, spec.seed, trained[spec.k, spec.draw]))
    return pd.DataFrame(rows, columns=["model", "strategy", "k", "draw", "seed", "trained"]).rename_axis("run").reset_index()


def memberships(matrix: QuestionMatrix, runs: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    """Which units each cell averages in each run, with their sign: one row per (cell, run, unit).

    Cells (`CELL_KEYS`) by language: `lang_group` (by the languages' `roles` and the run's training
    languages, see `metrics.lang_group`; the held-out cross-lingual group also by its kind of pair,
    `metrics.held_out_pair`) or all, with `query_lang` all; and one cell per query language,
    with `lang_group` all. The unit's own query set is (setting, set_query_lang, passage_lang). Each cell
    of a fine-tuned model has a `gain` twin: its units (sign +1) and the base model's units of the same
    query sets (sign -1) in the base run of the same language draw, so the gain is a paired difference.
    """
    rows = runs.merge(matrix.units.rename_axis("unit").reset_index(), on="model").rename(columns={"query_lang": "set_query_lang"})
    groups = [lang_group(s, q, p, t, roles) for s, q, p, t in zip(rows.setting, rows.set_query_lang, rows.passage_lang, rows.trained)]
    pairs = pd.Series([held_out_pair(s, q, p, roles) for s, q, p in zip(rows.setting, rows.set_query_lang, rows.passage_lang)], index=rows.index)
    values = (
        pd.concat(
            [
                rows.assign(lang_group=groups, query_lang=ALL),
                rows.assign(lang_group=pairs, query_lang=ALL)[pairs.notna()],
                rows.assign(lang_group=ALL, query_lang=ALL),
                rows.assign(lang_group=ALL, query_lang=rows.set_query_lang),
            ],
            ignore_index=True,
        )
        .drop(columns="trained")
        .assign(quantity="value", sign=1.0)
    )
    tuned = values[values.strategy != BASE].assign(quantity="gain")
    base_unit = matrix.units[matrix.units.model == BASE].rename_axis("base_unit").reset_index()
    base_unit = base_unit.rename(columns={"query_lang": "set_query_lang"}).drop(columns="model")
    paired = tuned.merge(base_unit, on=["setting", "set_query_lang", "passage_lang", "metric"], how="left")
    if paired.base_unit.isna().any():
        raise ValueError("the base model lacks query sets that fine-tuned models were evaluated on")
    base = paired.assign(unit=paired.base_unit.astype(np.int64), sign=-1.0).drop(columns="base_unit")
    return pd.concat([values, tuned, base], ignore_index=True)
