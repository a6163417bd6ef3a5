"""The query sets of one benchmark's evaluation tables, and their TREC qrels.

Settings:
- mono:  questions in L against candidates in L, for each language L;
- cross: questions in X against candidates in Y, for each ordered pair X != Y;
- multi: questions in X against the pool of all languages' candidates; relevant = the answer in every language.
A question takes part in a (setting, X, Y) only if it has a relevant candidate in that pool, and the set's qrels
judge exactly its questions: none that X does not ask (MLQA-R is not fully parallel), so trec_eval averages alike
over the run's queries and, with `-c`, over the qrels' queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .data.benchmark import BenchmarkTables
from .model_tags import SETTINGS

POOL = "all"


@dataclass
class QuerySet:
    """One evaluation unit: questions of `query_lang` against the candidates of `passage_lang`."""

    setting: str
    query_lang: str
    passage_lang: str
    question_rows: np.ndarray  # rows of the questions table
    candidate_rows: np.ndarray  # rows of the candidates table (the pool)
    qrels: pd.DataFrame  # question_id, candidate_id, relevance

    @property
    def name(self) -> str:
        return f"{self.setting}/{self.query_lang}-{self.passage_lang}"


def query_sets(tables: BenchmarkTables, settings: tuple[str, ...] = SETTINGS) -> Iterator[QuerySet]:
    q, c, r = tables.questions, tables.candidates, tables.qrels
    langs = sorted(q.lang.unique())
    rows_of_lang = {lang: np.flatnonzero(c.lang.to_numpy() == lang) for lang in sorted(c.lang.unique())}
    answers = r[["question_id", "lang", "candidate_id", "relevance"]]

    def unit(setting, x, y, pool_rows, relevant):
        asked = np.flatnonzero((q.lang.to_numpy() == x) & q.question_id.isin(set(relevant.question_id)).to_numpy())
        # the judgements of the questions asked in x only: where the data are not fully parallel (MLQA-R), y answers
        # questions that x does not ask, and a tool averaging over the qrels' queries would count them as zeros
        qrels = relevant[relevant.question_id.isin(set(q.question_id.to_numpy()[asked]))]
        if len(asked) and len(pool_rows):
            return QuerySet(setting, x, y, asked, pool_rows, qrels[["question_id", "candidate_id", "relevance"]].reset_index(drop=True))
        return None

    for x in langs:
        if "mono" in settings:
            u = unit("mono", x, x, rows_of_lang.get(x, np.array([], int)), answers[answers.lang == x])
            if u:
                yield u
        if "cross" in settings:
            for y in langs:
                if y != x:
                    u = unit("cross", x, y, rows_of_lang.get(y, np.array([], int)), answers[answers.lang == y])
                    if u:
                        yield u
        if "multi" in settings:
            u = unit("multi", x, POOL, np.arange(len(c)), answers)
            if u:
                yield u


def write_trec_qrels(qrels: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as out:
        for qid, cid, relevance in zip(qrels.question_id, qrels.candidate_id, qrels.relevance):
            out.write(f"{qid} 0 {cid} {relevance}\n")


def write_qrels(tables: BenchmarkTables, directory: Path, settings: tuple[str, ...] = SETTINGS) -> int:
    """TREC qrels, one file per query set of `settings`: `{directory}/{setting}/{qlang}-{plang}.qrels`."""
    count = 0
    for unit in query_sets(tables, tuple(settings)):
        write_trec_qrels(unit.qrels, Path(directory) / f"{unit.name}.qrels")
        count += 1
    return count
