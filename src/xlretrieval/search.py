"""Exact inner-product search with FAISS over the query sets (see `querysets`); TREC runs and exact ranks."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from .data.tables import Tables
from .querysets import QuerySet, query_sets

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
) -> pd.DataFrame:
    """Write a TREC run per query set and return the exact rank of every relevant candidate.

    Each pool's FAISS index is built once and shared by every query language searching it.
    """
    q, c = tables.questions, tables.candidates
    indexes: dict[str, faiss.Index] = {}
    ranks = []
    for unit in query_sets(tables):
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
