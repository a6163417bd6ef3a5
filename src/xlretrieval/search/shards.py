"""One pass over the candidates in shards: top-depth lists and exact ranks of relevant candidates.

Work done once, in bounded memory: each language's candidates are read in shards of
`IndexSpec.shard_size` rows (from a memory-mapped array) and every question is scored against each
shard once, in blocks of at most `BLOCK_SCORES` scores. A block serves every query set its shard is
in (X->Y and X->all): its top-`depth` is merged into each set's running top-`depth` (so multi is the
merge of the per-language lists), and for every relevant candidate the block's candidates ahead of
it in the order of `order` are counted (summed over shards: rank = 1 + count). No query x pool matrix
is formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.tables import Tables
from ..querysets import POOL, QuerySet, query_sets
from ..runs import SETTINGS
from .clock import Clock
from .index import IndexSpec
from .order import EMPTY, decode_keys, order_keys, scores, smallest, top_keys

BLOCK_SCORES = 2**24  # scores per block (128 MiB as float64); a block is (query chunk) x (shard)


@dataclass
class Ranking:
    """Search results of one query set, one row per question: lists best first (candidate rows, -1 past
    the end of a short approximate list), and the exact rank of each relevant candidate."""

    unit: QuerySet
    rows: np.ndarray  # the run: exact, or approximate
    scores: np.ndarray
    exact_rows: np.ndarray  # the exact lists (the run itself when exact)
    relevant_rows: np.ndarray  # (questions, most relevant per question), -1 pads
    relevant_ranks: np.ndarray


@dataclass
class _Running:
    """A query set's state during the pass over shards; row i belongs to the set's i-th question."""

    unit: QuerySet
    members: np.ndarray  # for each question of the query language: its row here, or -1
    relevant_rows: np.ndarray
    thresholds: np.ndarray  # scores of the relevant candidates, NaN in pads (never exceeded nor equalled)
    tiebreaks: np.ndarray  # tiebreaks of the relevant candidates
    ahead: np.ndarray  # candidates ahead of each relevant one so far
    exact: np.ndarray  # top-depth keys
    approximate: np.ndarray | None


def _check(tables: Tables, question_vectors: np.ndarray, candidate_vectors: np.ndarray, depth: int) -> None:
    for name, vectors, table in (("question", question_vectors, tables.questions), ("candidate", candidate_vectors, tables.candidates)):
        if vectors.ndim != 2 or len(vectors) != len(table):
            raise ValueError(f"{name} embeddings have shape {vectors.shape}, expected ({len(table)}, dimension): one row per {name}")
    if question_vectors.shape[1] != candidate_vectors.shape[1]:
        raise ValueError(f"question embeddings have dimension {question_vectors.shape[1]}, candidates {candidate_vectors.shape[1]}")
    if not tables.candidates.candidate_id.is_unique:
        raise ValueError("candidate ids must be unique")
    if tables.questions.duplicated(["question_id", "lang"]).any():
        raise ValueError("a question id occurs twice in one language")
    if not np.isfinite(question_vectors).all():
        raise ValueError("question embeddings hold NaN or infinite values")
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")


def _start(
    unit: QuerySet,
    tables: Tables,
    language_rows: np.ndarray,
    candidate_row: pd.Index,
    tiebreak: np.ndarray,
    question_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
    depth: int,
    approximate: bool,
) -> _Running:
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
    chunk = max(1, BLOCK_SCORES // (relevant.shape[1] * candidate_vectors.shape[1]))
    for start in range(0, len(qids), chunk):
        part = relevant[start : start + chunk]
        gathered = np.asarray(candidate_vectors[np.maximum(part, 0)], dtype=np.float64)
        queries = np.asarray(question_vectors[unit.question_rows[start : start + chunk]], dtype=np.float64)
        thresholds[start : start + chunk] = np.where(part >= 0, np.einsum("qd,qrd->qr", queries, gathered).astype(np.float32), np.nan)
    k = min(depth, len(unit.candidate_rows))
    return _Running(
        unit=unit,
        members=pd.Index(unit.question_rows).get_indexer(language_rows),
        relevant_rows=relevant,
        thresholds=thresholds,
        tiebreaks=tiebreak[np.maximum(relevant, 0)],
        ahead=np.zeros(relevant.shape, dtype=np.int64),
        exact=np.full((len(qids), k), EMPTY, dtype=np.int64),
        approximate=np.full((len(qids), k), EMPTY, dtype=np.int64) if approximate else None,
    )


def _add(state: _Running, block: np.ndarray, tiebreak: np.ndarray, block_top: np.ndarray, found_keys: np.ndarray | None, chunk: slice) -> None:
    """Fold a block (the query language's questions in `chunk` x one shard, whose candidates have these
    tiebreaks) and its top-depth keys into a query set's state."""
    members = state.members[chunk]
    taking = members >= 0
    if not taking.any():
        return
    mine = members[taking]
    if not taking.all():
        block, block_top = block[taking], block_top[taking]
        found_keys = None if found_keys is None else found_keys[taking]
    k = state.exact.shape[1]
    state.exact[mine] = smallest(np.concatenate([state.exact[mine], block_top], axis=1), k)
    if found_keys is not None:
        state.approximate[mine] = smallest(np.concatenate([state.approximate[mine], found_keys], axis=1), k)
    for j in range(state.thresholds.shape[1]):
        threshold = state.thresholds[mine, j, None]
        state.ahead[mine, j] += np.count_nonzero(block > threshold, axis=1)
        rows, cols = np.nonzero(block == threshold)  # ties: ahead when the tiebreak comes first
        state.ahead[mine, j] += np.bincount(rows[tiebreak[cols] < state.tiebreaks[mine[rows], j]], minlength=len(mine))


def rank(
    tables: Tables,
    question_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
    depth: int,
    index: IndexSpec = IndexSpec(),
    clock: Clock | None = None,
    settings: tuple[str, ...] = SETTINGS,
) -> list[Ranking]:
    """Top-`depth` lists and exact ranks of relevant candidates for every query set, in one pass over the
    candidates (which may be a memory-mapped array: only one shard is read into memory at a time)."""
    _check(tables, question_vectors, candidate_vectors, depth)
    clock = clock or Clock()
    q, c = tables.questions, tables.candidates
    by_id_descending = np.argsort(c.candidate_id.to_numpy().astype(str), kind="stable")[::-1]
    tiebreak = np.empty(len(c), dtype=np.int64)
    tiebreak[by_id_descending] = np.arange(len(c))
    candidate_row = pd.Index(c.candidate_id)
    question_langs = q.lang.to_numpy()
    language_rows = {lang: np.flatnonzero(question_langs == lang) for lang in sorted(q.lang.unique())}
    approximate = index.type != "exact"

    with clock("prepare"):
        running = [
            _start(u, tables, language_rows[u.query_lang], candidate_row, tiebreak, question_vectors, candidate_vectors, depth, approximate)
            for u in query_sets(tables, tuple(settings))
        ]
        queries = {lang: np.asarray(question_vectors[rows], dtype=np.float64) for lang, rows in language_rows.items()}

    candidate_langs = c.lang.to_numpy()
    for pool_lang in sorted(c.lang.unique()):
        pool_rows = np.flatnonzero(candidate_langs == pool_lang)
        searching = {lang: [s for s in running if s.unit.query_lang == lang and s.unit.passage_lang in (pool_lang, POOL)] for lang in language_rows}
        for first in range(0, len(pool_rows), index.shard_size):
            shard_rows = pool_rows[first : first + index.shard_size]
            with clock("read"):
                shard = np.ascontiguousarray(candidate_vectors[shard_rows], dtype=np.float32)
                if not np.isfinite(shard).all():
                    raise ValueError(f"candidate embeddings hold NaN or infinite values (rows {shard_rows[0]}-{shard_rows[-1]})")
                shard64 = shard.astype(np.float64)
            if approximate:
                with clock("build"):
                    ann = index.build(shard)
            shard_tiebreak = tiebreak[shard_rows]
            chunk_size = max(1, BLOCK_SCORES // len(shard_rows))
            for lang, states in searching.items():
                if not states:
                    continue
                for start in range(0, len(language_rows[lang]), chunk_size):
                    chunk = slice(start, start + chunk_size)
                    with clock("score"):
                        block = scores(queries[lang][chunk], shard64)
                    found_keys = None
                    if approximate:
                        with clock("approximate"):
                            _, found = ann.search(queries[lang][chunk].astype(np.float32), min(depth, len(shard_rows)))
                            found_keys = order_keys(np.take_along_axis(block, np.maximum(found, 0), axis=1), shard_tiebreak[found])
                            found_keys[found < 0] = EMPTY
                    with clock("select"):
                        block_top = top_keys(block, shard_tiebreak, depth)
                        for state in states:
                            _add(state, block, shard_tiebreak, block_top, found_keys, chunk)

    def lists(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = np.sort(keys, axis=1)
        found_scores, places = decode_keys(keys)
        empty = keys == EMPTY
        return np.where(empty, -1, by_id_descending[np.where(empty, 0, places)]), np.where(empty, np.nan, found_scores)

    results = []
    for state in running:
        exact_rows, exact_scores = lists(state.exact)
        rows, found_scores = lists(state.approximate) if approximate else (exact_rows, exact_scores)
        results.append(Ranking(state.unit, rows, found_scores, exact_rows, state.relevant_rows, 1 + state.ahead))
    return results
