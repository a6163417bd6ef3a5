"""Scores and the ranking order, as int64 keys that sort ascending in that order.

Scores are float64 inner products rounded to float32, so they do not depend on shard or block sizes.
Order: score descending, then candidate id descending, for the depth cut, within a list and for exact
ranks. Ties are common (identical embeddings, e.g. of texts an English tokenizer reads as runs of [UNK]);
descending id is trec_eval's own tie order (ir-measures re-sorts a run by score, then docno descending),
and run files hold scores with enough digits to give back the float32 score, so a run file lists
candidates in the order every measure sees and an exact rank is the candidate's place in that order.
"""

from __future__ import annotations

import numpy as np

EMPTY = np.iinfo(np.int64).max  # the key of an empty place in a top-k list, after every real key


def scores(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Inner products as float32 roundings of float64 sums: the same value whatever the blocking."""
    return (np.asarray(queries, dtype=np.float64) @ np.asarray(candidates, dtype=np.float64).T).astype(np.float32)


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
