"""What the pass over the shards looks for in each query set: its questions, as rows of all the questions
of its language (one block of scores serves every set of a language), and its relevant candidates, with
the scores and tiebreaks that a candidate must beat to come ahead of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.benchmark import BenchmarkTables
from ..querysets import QuerySet, query_sets


@dataclass
class Target:
    """One query set as the pass over the shards sees it; row i belongs to the set's i-th question."""

    unit: QuerySet
    questions: np.ndarray  # float64 vectors of every question of the query language, shared by its sets
    members: np.ndarray  # for each of those questions: its row here, or -1
    relevant_rows: np.ndarray  # (questions, most relevant per question), -1 pads
    thresholds: np.ndarray  # scores of the relevant candidates, NaN in pads (never exceeded nor equalled)
    tiebreaks: np.ndarray  # tiebreaks of the relevant candidates
    k: int  # length of the top lists: the depth, or the pool's size when smaller


def query_targets(
    tables: BenchmarkTables,
    question_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
    tiebreak: np.ndarray,
    depth: int,
    settings: tuple[str, ...],
    block_scores: int,
) -> list[Target]:
    """The target of every query set of `settings`; relevant scores are computed at most `block_scores`
    at a time, and `tiebreak` gives each candidate row's place among ties (see `order.order_keys`)."""
    question_langs = tables.questions.lang.to_numpy()
    language_rows = {lang: np.flatnonzero(question_langs == lang) for lang in sorted(tables.questions.lang.unique())}
    questions = {lang: np.asarray(question_vectors[rows], dtype=np.float64) for lang, rows in language_rows.items()}
    candidate_row = pd.Index(tables.candidates.candidate_id)
    return [
        _target(
            u,
            tables,
            language_rows[u.query_lang],
            questions[u.query_lang],
            candidate_row,
            tiebreak,
            question_vectors,
            candidate_vectors,
            depth,
            block_scores,
        )
        for u in query_sets(tables, tuple(settings))
    ]


def _target(
    unit: QuerySet,
    tables: BenchmarkTables,
    language_rows: np.ndarray,
    questions: np.ndarray,
    candidate_row: pd.Index,
    tiebreak: np.ndarray,
    question_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
    depth: int,
    block_scores: int,
) -> Target:
    qids = tables.questions.question_id.to_numpy()[unit.question_rows]
    asking = pd.Index(qids).get_indexer(unit.qrels.question_id)
    qrels = unit.qrels[asking >= 0]
    asking = asking[asking >= 0]
    rows = candidate_row.get_indexer(qrels.candidate_id)
    if (rows < 0).any():
        raise ValueError(f"{unit.name}: qrels name candidates missing from the candidates table, e.g. {qrels.candidate_id[rows < 0].iloc[0]}")
    place = pd.Series(asking).groupby(asking).cumcount().to_numpy()
    relevant = np.full((len(qids), place.max() + 1), -1, dtype=np.int64)
    relevant[asking, place] = rows
    thresholds = np.full(relevant.shape, np.nan, dtype=np.float32)
    chunk = max(1, block_scores // (relevant.shape[1] * candidate_vectors.shape[1]))
    for start in range(0, len(qids), chunk):
        part = relevant[start : start + chunk]
        gathered = np.asarray(candidate_vectors[np.maximum(part, 0)], dtype=np.float64)
        queries = np.asarray(question_vectors[unit.question_rows[start : start + chunk]], dtype=np.float64)
        thresholds[start : start + chunk] = np.where(part >= 0, np.einsum("qd,qrd->qr", queries, gathered).astype(np.float32), np.nan)
    return Target(
        unit=unit,
        questions=questions,
        members=pd.Index(unit.question_rows).get_indexer(language_rows),
        relevant_rows=relevant,
        thresholds=thresholds,
        tiebreaks=tiebreak[np.maximum(relevant, 0)],
        k=min(depth, len(unit.candidate_rows)),
    )
