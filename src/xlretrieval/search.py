"""Exact inner-product search with FAISS over the mono, cross and multi settings; TREC runs and exact ranks.

Settings over one benchmark's evaluation tables:
- mono:  questions in L against candidates in L, for each language L;
- cross: questions in X against candidates in Y, for each ordered pair X != Y;
- multi: questions in X against the pool of all languages' candidates; relevant = the answer in every language.
A question takes part in a (setting, X, Y) only if it has a relevant candidate in that pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import faiss
import numpy as np
import pandas as pd

from .data.tables import Tables
from .runs import SETTINGS

POOL = "all"


@dataclass
class QuerySet:
    """One evaluation unit: questions of `query_lang` against the candidates of `passage_lang`."""

    setting: str
    query_lang: str
    passage_lang: str
    question_rows: np.ndarray  # rows of the questions table
    candidate_rows: np.ndarray  # rows of the candidates table (the pool)
    qrels: pd.DataFrame  # question_id, candidate_id

    @property
    def name(self) -> str:
        return f"{self.setting}/{self.query_lang}-{self.passage_lang}"


def query_sets(tables: Tables, settings: tuple[str, ...] = SETTINGS) -> Iterator[QuerySet]:
    q, c, r = tables.questions, tables.candidates, tables.qrels
    langs = sorted(q.lang.unique())
    rows_of_lang = {lang: np.flatnonzero(c.lang.to_numpy() == lang) for lang in sorted(c.lang.unique())}
    answers = r[["question_id", "lang", "candidate_id"]]

    def unit(setting, x, y, pool_rows, relevant):
        qrels = relevant[["question_id", "candidate_id"]]
        asked = np.flatnonzero((q.lang.to_numpy() == x) & q.question_id.isin(set(qrels.question_id)).to_numpy())
        if len(asked) and len(pool_rows):
            return QuerySet(setting, x, y, asked, pool_rows, qrels.reset_index(drop=True))
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
        for qid, cid in zip(qrels.question_id, qrels.candidate_id):
            out.write(f"{qid} 0 {cid} 1\n")


def write_qrels(tables: Tables, directory: Path, settings: tuple[str, ...] = SETTINGS) -> int:
    """TREC qrels, one file per query set: `{directory}/{setting}/{qlang}-{plang}.qrels`."""
    count = 0
    for unit in query_sets(tables, tuple(settings)):
        write_trec_qrels(unit.qrels, Path(directory) / f"{unit.name}.qrels")
        count += 1
    return count


def _index(vectors: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def exact_ranks(scores: np.ndarray, relevant_scores: np.ndarray) -> np.ndarray:
    """1 + number of pool candidates scoring strictly higher than each relevant candidate."""
    return 1 + (scores[:, None, :] > relevant_scores[:, :, None]).sum(axis=2)


def search(
    tables: Tables,
    question_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
    depth: int,
    run_dir: Path,
    tag: str = "dense",
    settings: tuple[str, ...] = SETTINGS,
) -> pd.DataFrame:
    """Write a TREC run per query set and return the exact rank of every relevant candidate.

    Each pool's FAISS index is built once and shared by every query language searching it.
    """
    q, c = tables.questions, tables.candidates
    indexes: dict[str, faiss.Index] = {}
    ranks = []
    for unit in query_sets(tables, tuple(settings)):
        if unit.passage_lang not in indexes:
            indexes[unit.passage_lang] = _index(candidate_vectors[unit.candidate_rows])
        queries = question_vectors[unit.question_rows]
        scores, found = indexes[unit.passage_lang].search(queries, min(depth, len(unit.candidate_rows)))
        qids = q.question_id.to_numpy()[unit.question_rows]
        pool_ids = c.candidate_id.to_numpy()[unit.candidate_rows]
        path = Path(run_dir) / f"{unit.name}.trec"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as out:
            for qid, row_scores, row_found in zip(qids, scores, found):
                out.writelines(
                    f"{qid} Q0 {pool_ids[j]} {r} {s:.6f} {tag}\n" for r, (j, s) in enumerate(zip(row_found, row_scores), 1)
                )
        ranks.append(_relevant_ranks(unit, qids, queries, pool_ids, candidate_vectors[unit.candidate_rows]))
    return pd.concat(ranks, ignore_index=True)


def _relevant_ranks(unit: QuerySet, qids: np.ndarray, queries: np.ndarray, pool_ids: np.ndarray, pool: np.ndarray) -> pd.DataFrame:
    scores = queries @ pool.T
    position = {cid: j for j, cid in enumerate(pool_ids)}
    relevant = unit.qrels.groupby("question_id").candidate_id.apply(list)
    rows = []
    for i, qid in enumerate(qids):
        cids = relevant[qid]
        rel_scores = scores[i, [position[cid] for cid in cids]]
        for cid, rank in zip(cids, exact_ranks(scores[i : i + 1], rel_scores[None, :])[0]):
            rows.append((unit.setting, unit.query_lang, unit.passage_lang, qid, cid, int(rank)))
    return pd.DataFrame(rows, columns=["setting", "query_lang", "passage_lang", "question_id", "candidate_id", "rank"])
