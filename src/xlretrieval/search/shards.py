"""One pass over the candidates in shards: top-depth lists and exact ranks of relevant candidates.

Work done once, in bounded memory: each language's candidates are read in shards of
`IndexSpec.shard_size` rows (from a memory-mapped array) and every question is scored against each
shard once, in blocks of at most `BLOCK_SCORES` scores. A block serves every query set its shard is
in (X->Y and X->all). `rank_shard` gives each such set its results over the shard alone: the top-`depth`
and, for every relevant candidate, the shard's candidates ahead of it in the order of `order`; `rank`
merges them shard by shard into each set's running top-`depth` (so multi is the merge of the
per-language lists) and sums the counts (rank = 1 + count). No query x pool matrix is formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.benchmark import BenchmarkTables
from ..model_tags import SETTINGS
from ..querysets import POOL, QuerySet
from .clock import Clock
from .index import IndexSpec
from .order import EMPTY, decode_keys, order_keys, scores, smallest, top_keys
from .targets import Target, query_targets

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
class Partial:
    """A query set's results over some of its pool's candidates, row i for its i-th question: the keys of
    the top-k (exact, and those an approximate index found; unordered) and, for each relevant candidate,
    the candidates ahead of it."""

    exact: np.ndarray
    approximate: np.ndarray | None
    ahead: np.ndarray

    @classmethod
    def empty(cls, target: Target, k: int, approximate: bool) -> Partial:
        """Results over no candidates: lists of k empty places."""
        questions, relevant = target.relevant_rows.shape
        keys = np.full((questions, k), EMPTY, dtype=np.int64)
        return cls(keys, keys.copy() if approximate else None, np.zeros((questions, relevant), dtype=np.int64))

    def merged(self, other: Partial) -> Partial:
        """Results over the candidates of both (which share none), lists as long as this one's."""
        k = self.exact.shape[1]
        return Partial(
            smallest(np.concatenate([self.exact, other.exact], axis=1), k),
            None if self.approximate is None else smallest(np.concatenate([self.approximate, other.approximate], axis=1), k),
            self.ahead + other.ahead,
        )


def _check(tables: BenchmarkTables, question_vectors: np.ndarray, candidate_vectors: np.ndarray, depth: int) -> None:
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


def rank_shard(
    shard_rows: np.ndarray,
    candidate_vectors: np.ndarray,
    targets: list[Target],
    tiebreak: np.ndarray,
    depth: int,
    index: IndexSpec = IndexSpec(),
    clock: Clock | None = None,
) -> list[Partial]:
    """Each target's results over the candidates `shard_rows` alone (rows of `candidate_vectors`, read at
    once, in the pool of every target), with top-`depth` lists: one block of scores per chunk of a
    language's questions serves every target of that language."""
    clock = clock or Clock()
    with clock("read"):
        shard = np.ascontiguousarray(candidate_vectors[shard_rows], dtype=np.float32)
        if not np.isfinite(shard).all():
            raise ValueError(f"candidate embeddings hold NaN or infinite values (rows {shard_rows[0]}-{shard_rows[-1]})")
        shard64 = shard.astype(np.float64)
    approximate = index.type != "exact"
    if approximate:
        with clock("build"):
            ann = index.build(shard)
    shard_tiebreak = tiebreak[shard_rows]
    k = min(depth, len(shard_rows))
    parts = [Partial.empty(target, k, approximate) for target in targets]
    chunk_size = max(1, BLOCK_SCORES // len(shard_rows))
    for lang in sorted({target.unit.query_lang for target in targets}):
        serving = [(target, part) for target, part in zip(targets, parts) if target.unit.query_lang == lang]
        questions = serving[0][0].questions  # shared by the language's targets
        for start in range(0, len(questions), chunk_size):
            chunk = slice(start, start + chunk_size)
            with clock("score"):
                block = scores(questions[chunk], shard64)
            found_keys = None
            if approximate:
                with clock("approximate"):
                    _, found = ann.search(questions[chunk].astype(np.float32), k)
                    found_keys = order_keys(np.take_along_axis(block, np.maximum(found, 0), axis=1), shard_tiebreak[found])
                    found_keys[found < 0] = EMPTY
            with clock("select"):
                block_top = top_keys(block, shard_tiebreak, depth)
                for target, part in serving:
                    _fill(part, target, block, shard_tiebreak, block_top, found_keys, chunk)
    return parts


def _fill(
    part: Partial, target: Target, block: np.ndarray, tiebreak: np.ndarray, block_top: np.ndarray, found_keys: np.ndarray | None, chunk: slice
) -> None:
    """Write a block (the query language's questions in `chunk` x the shard, whose candidates have these
    tiebreaks) and its top-depth keys into the rows of a target's questions among them."""
    members = target.members[chunk]
    taking = members >= 0
    if not taking.any():
        return
    mine = members[taking]
    if not taking.all():
        block, block_top = block[taking], block_top[taking]
        found_keys = None if found_keys is None else found_keys[taking]
    part.exact[mine] = block_top
    if found_keys is not None:
        part.approximate[mine] = found_keys
    for j in range(target.thresholds.shape[1]):
        threshold = target.thresholds[mine, j, None]
        part.ahead[mine, j] += np.count_nonzero(block > threshold, axis=1)
        rows, cols = np.nonzero(block == threshold)  # ties: ahead when the tiebreak comes first
        part.ahead[mine, j] += np.bincount(rows[tiebreak[cols] < target.tiebreaks[mine[rows], j]], minlength=len(mine))


def rank(
    tables: BenchmarkTables,
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
    c = tables.candidates
    by_id_descending = np.argsort(c.candidate_id.to_numpy().astype(str), kind="stable")[::-1]
    tiebreak = np.empty(len(c), dtype=np.int64)
    tiebreak[by_id_descending] = np.arange(len(c))
    approximate = index.type != "exact"
    with clock("prepare"):
        targets = query_targets(tables, question_vectors, candidate_vectors, tiebreak, depth, settings, BLOCK_SCORES)
    if not targets:
        raise ValueError(f"nothing to search: no evaluated question has a relevant candidate in a pool of the settings {', '.join(settings)}")
    totals = [Partial.empty(target, target.k, approximate) for target in targets]

    candidate_langs = c.lang.to_numpy()
    for pool_lang in sorted(c.lang.unique()):
        pool_rows = np.flatnonzero(candidate_langs == pool_lang)
        served = [i for i, target in enumerate(targets) if target.unit.passage_lang in (pool_lang, POOL)]
        for first in range(0, len(pool_rows), index.shard_size):
            parts = rank_shard(
                pool_rows[first : first + index.shard_size], candidate_vectors, [targets[i] for i in served], tiebreak, depth, index, clock
            )
            with clock("select"):
                for i, part in zip(served, parts):
                    totals[i] = totals[i].merged(part)

    results = []
    for target, total in zip(targets, totals):
        exact_rows, exact_scores = _best_first(total.exact, by_id_descending)
        rows, found_scores = _best_first(total.approximate, by_id_descending) if approximate else (exact_rows, exact_scores)
        results.append(Ranking(target.unit, rows, found_scores, exact_rows, target.relevant_rows, 1 + total.ahead))
    return results


def _best_first(keys: np.ndarray, by_id_descending: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(candidate rows, scores) of top-k keys, best first; -1 and NaN in empty places. `by_id_descending`
    holds the candidate rows in tiebreak order."""
    keys = np.sort(keys, axis=1)
    found_scores, places = decode_keys(keys)
    empty = keys == EMPTY
    return np.where(empty, -1, by_id_descending[np.where(empty, 0, places)]), np.where(empty, np.nan, found_scores)
