"""Sharded inner-product search over the query sets (see `querysets`): TREC runs and exact ranks.

Work done once, in bounded memory: each language's candidates are read in shards of
`IndexSpec.shard_size` rows (from a memory-mapped array) and every question is scored against each
shard once, in blocks of at most `BLOCK_SCORES` scores. A block serves every query set its shard is
in (X->Y and X->all): its top-`depth` is merged into each set's running top-`depth` (so multi is the
merge of the per-language lists), and for every relevant candidate the block's candidates ahead of
it in the order below are counted (summed over shards: rank = 1 + count). No query x pool matrix is formed.

Scores are float64 inner products rounded to float32, so they do not depend on shard or block sizes.
Order: score descending, then candidate id descending, for the depth cut, within a list and for exact
ranks. Ties are common (identical embeddings, e.g. of texts an English tokenizer reads as runs of [UNK]);
descending id is trec_eval's own tie order (ir-measures re-sorts a run by score, then docno descending),
and run files hold scores with enough digits to give back the float32 score, so a run file lists
candidates in the order every measure sees and an exact rank is the candidate's place in that order.

An approximate index (`IndexSpec.type` hnsw or ivf: FAISS HNSW-Flat or IVF-Flat over inner product)
is built once per shard and searched by every query language; its merged lists become the runs, with
exact scores, while ranks stay exact and the exact lists give its recall. Since exact ranks need every
score anyway, it changes what the runs hold, not the cost; `benchmarks/scale.py` times it on its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from .data.tables import Tables
from .querysets import POOL, QuerySet, query_sets
from .runs import SETTINGS

BLOCK_SCORES = 2**24  # scores per block (128 MiB as float64); a block is (query chunk) x (shard)
EMPTY = np.iinfo(np.int64).max  # the key of an empty place in a top-k list, after every real key
RANK_COLUMNS = ["setting", "query_lang", "passage_lang", "question_id", "candidate_id", "rank"]


@dataclass(frozen=True)
class IndexSpec:
    """How the runs' top-k lists are found: `exact`, or an approximate FAISS index per shard."""

    type: str = "exact"
    shard_size: int = 65536
    hnsw_m: int = 32
    hnsw_ef_construction: int = 40
    hnsw_ef_search: int = 128
    ivf_nlist: int | None = None  # None: sqrt(shard rows), at most one list per 39 rows
    ivf_nprobe: int = 32

    def __post_init__(self):
        if self.type not in ("exact", "hnsw", "ivf"):
            raise ValueError(f"index type must be exact, hnsw or ivf, not {self.type!r}")
        if self.shard_size < 1:
            raise ValueError(f"index shard_size must be positive, not {self.shard_size}")

    @classmethod
    def from_config(cls, index: dict[str, Any]) -> IndexSpec:
        """From `evaluation.index` of the config (see the schema)."""
        hnsw, ivf = index.get("hnsw", {}), index.get("ivf", {})
        given = {
            "type": index.get("type"),
            "shard_size": index.get("shard_size"),
            "hnsw_m": hnsw.get("m"),
            "hnsw_ef_construction": hnsw.get("ef_construction"),
            "hnsw_ef_search": hnsw.get("ef_search"),
            "ivf_nlist": ivf.get("nlist"),
            "ivf_nprobe": ivf.get("nprobe"),
        }
        return cls(**{name: value for name, value in given.items() if value is not None})

    def build(self, vectors: np.ndarray) -> faiss.Index:
        """An approximate inner-product index over `vectors` (float32, C-contiguous)."""
        rows, dimension = vectors.shape
        if self.type == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.hnsw_ef_construction
            index.hnsw.efSearch = self.hnsw_ef_search
        elif self.type == "ivf":
            nlist = self.ivf_nlist or max(1, min(round(rows**0.5), rows // 39))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, min(nlist, rows), faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            index.nprobe = min(self.ivf_nprobe, index.nlist)
        else:
            raise ValueError("an exact search builds no index")
        index.add(vectors)
        return index


def order_keys(scores: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """int64 keys that sort ascending in ranking order: float32 `scores` descending, then `tiebreak`
    ascending (non-negative, below 2**32). Partitioning or sorting keys ranks without an index array."""
    keys = (scores.astype(np.float32, copy=False) + np.float32(0)).view(np.int32).astype(np.int64)  # + 0: -0.0 -> 0.0
    np.bitwise_xor(keys, 0x7FFFFFFF, out=keys, where=keys < 0)  # now an integer that rises with the score
    np.negative(keys, out=keys)
    keys <<= 32
    keys |= tiebreak
    return keys


def decode_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scores, tiebreaks) of `order_keys` output."""
    rising = -(keys >> 32)
    bits = np.where(rising < 0, rising ^ 0x7FFFFFFF, rising).astype(np.int32)
    return bits.view(np.float32), keys & 0xFFFFFFFF


def smallest(keys: np.ndarray, k: int) -> np.ndarray:
    """The k smallest keys of each row (unordered): the row's top k."""
    return keys if keys.shape[1] <= k else np.partition(keys, k - 1, axis=1)[:, :k]


def top_keys(block: np.ndarray, tiebreak: np.ndarray, k: int) -> np.ndarray:
    """Keys of the top k of each row of a score block (questions x candidates with these tiebreaks).

    Keys are formed only for the scores at or above each row's k-th largest: k of them, more when
    scores tie at the cut, where the keys choose.
    """
    columns = block.shape[1]
    if columns <= k:
        return order_keys(block, tiebreak[None, :])
    kth = np.partition(block, columns - k, axis=1)[:, columns - k]
    rows, cols = np.nonzero(block >= kth[:, None])  # grouped by row, at least k per row
    keys = order_keys(block[rows, cols], tiebreak[cols])
    keys = keys[np.lexsort((keys, rows))]
    starts = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(block)))[:-1]])
    return keys[starts[:, None] + np.arange(k)]


def scores(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Inner products as float32 roundings of float64 sums: the same value whatever the blocking."""
    return (np.asarray(queries, dtype=np.float64) @ np.asarray(candidates, dtype=np.float64).T).astype(np.float32)


def recall(found: np.ndarray, exact: np.ndarray, k: int) -> np.ndarray:
    """Per query, the share of the exact top k (candidate rows, best first) among the first k found."""
    both = np.sort(np.concatenate([found[:, :k], exact[:, :k]], axis=1), axis=1)  # a list holds a row once
    hits = ((both[:, 1:] == both[:, :-1]) & (both[:, 1:] >= 0)).sum(axis=1)
    return hits / np.maximum((exact[:, :k] >= 0).sum(axis=1), 1)


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


@dataclass
class Clock:
    """Seconds spent per phase of a search."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start


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


def write_run(ranking: Ranking, tables: Tables, path: Path, tag: str) -> None:
    """A TREC run: `qid Q0 candidate_id rank score tag`, best first, one line per listed candidate.

    Scores have 9 significant digits, which give back the float32 score: distinct scores stay distinct and
    in order, so measures that re-sort by score (ties by candidate id descending) keep the listed order.
    """
    qids = tables.questions.question_id.to_numpy()[ranking.unit.question_rows]
    cids = tables.candidates.candidate_id.to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as out:
        for qid, rows, row_scores in zip(qids.tolist(), ranking.rows, ranking.scores):
            listed = rows >= 0  # Python values below: formatting NumPy scalars is 10x slower
            lines = enumerate(zip(cids[rows[listed]].tolist(), row_scores[listed].tolist()), 1)
            out.writelines(f"{qid} Q0 {cid} {r} {s:.9g} {tag}\n" for r, (cid, s) in lines)


def relevant_ranks(ranking: Ranking, tables: Tables) -> pd.DataFrame:
    """One row per (question, relevant candidate) with its exact rank in the query set's pool."""
    unit = ranking.unit
    listed = ranking.relevant_rows >= 0
    question, _ = np.nonzero(listed)
    frame = pd.DataFrame(
        {
            "question_id": tables.questions.question_id.to_numpy()[unit.question_rows][question],
            "candidate_id": tables.candidates.candidate_id.to_numpy()[ranking.relevant_rows[listed]],
            "rank": ranking.relevant_ranks[listed],
        }
    )
    frame.insert(0, "setting", unit.setting)
    frame.insert(1, "query_lang", unit.query_lang)
    frame.insert(2, "passage_lang", unit.passage_lang)
    return frame[RANK_COLUMNS]


@dataclass
class SearchReport:
    """What `search` returns: exact ranks of relevant candidates, recall of an approximate run against
    the exact one per query set (empty for an exact search), and seconds per phase."""

    ranks: pd.DataFrame
    recall: pd.DataFrame
    seconds: dict[str, float]


def search(
    tables: Tables,
    question_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
    depth: int,
    run_dir: Path,
    tag: str = "dense",
    index: IndexSpec = IndexSpec(),
    settings: tuple[str, ...] = SETTINGS,
) -> SearchReport:
    """Write a TREC run per query set (`{run_dir}/{setting}/{qlang}-{plang}.trec`) and report exact ranks."""
    clock = Clock()
    rankings = rank(tables, question_vectors, candidate_vectors, depth, index, clock, settings)
    recalls = []
    with clock("write"):
        for ranking in rankings:
            write_run(ranking, tables, Path(run_dir) / f"{ranking.unit.name}.trec", tag)
            if index.type != "exact":
                u = ranking.unit
                recalls += [
                    (u.setting, u.query_lang, u.passage_lang, k, recall(ranking.rows, ranking.exact_rows, k).mean())
                    for k in sorted({min(10, depth), depth})
                ]
        ranks = pd.concat([relevant_ranks(r, tables) for r in rankings], ignore_index=True)
    recall_table = pd.DataFrame(recalls, columns=["setting", "query_lang", "passage_lang", "k", "recall"])
    return SearchReport(ranks, recall_table, clock.seconds)
