"""X-X-mono, X-Y and hybrid batch samplers over parallel (question, answer sentence) pairs.

A batch is `batch_size` pairs (question in X, answer sentence in Y) with distinct parallel ids, so no
in-batch negative is a translation of the positive. X-X-mono batches share one language (X = Y);
X-Y batches cross languages in every pair (X != Y); hybrid draws X-X-mono with probability alpha.
Ids are drawn from per-language shuffled queues refilled when exhausted, so data is covered evenly.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

BATCH_COLUMNS = ["batch", "kind", "question_id", "question_lang", "passage_id", "passage_lang"]


class _Queue:
    """Endless seeded stream over a list: a fresh shuffle each pass."""

    def __init__(self, items: list[str], rng: np.random.Generator):
        self.items, self.rng, self.pending = sorted(items), rng, []

    def take(self, exclude: set[str]) -> str:
        for _ in range(2 * len(self.items) + 1):
            if not self.pending:
                self.pending = [self.items[i] for i in self.rng.permutation(len(self.items))]
            item = self.pending.pop()
            if item not in exclude:
                return item
            self.pending.insert(0, item)
        raise ValueError("not enough distinct parallel ids for one batch")


def make_batches(
    pairs: pd.DataFrame,
    languages: list[str],
    alpha: float,
    n_pairs: int,
    batch_size: int,
    seed: int,
) -> pd.DataFrame:
    """Sample `n_pairs // batch_size` batches over `languages`.

    `pairs` has one row per (question_id, lang) with the answer's `candidate_id`; alpha is the
    probability of an X-X-mono batch (1.0: X-X-mono only, 0.0: X-Y only).
    """
    if len(languages) < 2 and alpha < 1:
        raise ValueError("X-Y batches need at least two languages")
    pairs = pairs[pairs.lang.isin(languages)]
    missing = sorted(set(languages) - set(pairs.lang))
    if missing:
        raise ValueError(f"no training pairs in language(s) {', '.join(missing)}")
    answer = dict(zip(zip(pairs.question_id, pairs.lang), pairs.candidate_id))
    langs_of: dict[str, list[str]] = defaultdict(list)
    for qid, lang in zip(pairs.question_id, pairs.lang):
        langs_of[qid].append(lang)
    rng = np.random.default_rng(seed)
    langs = sorted(languages)
    mono = {lang: _Queue(pairs.question_id[pairs.lang == lang].tolist(), rng) for lang in langs}
    crossable = {lang: [q for q in pairs.question_id[pairs.lang == lang] if len(langs_of[q]) > 1] for lang in langs}
    cross = {lang: _Queue(ids, rng) for lang, ids in crossable.items() if ids}
    if alpha < 1 and not cross:
        raise ValueError("no parallel id exists in two training languages: X-Y batches are impossible")
    for lang, queue in mono.items():
        if len(queue.items) < batch_size:
            raise ValueError(f"{lang} has {len(queue.items)} training pairs, fewer than one batch of {batch_size}")

    rows = []
    for b in range(n_pairs // batch_size):
        used: set[str] = set()
        if rng.random() < alpha:
            lang = langs[rng.integers(len(langs))]
            for _ in range(batch_size):
                qid = mono[lang].take(used)
                used.add(qid)
                rows.append((b, "xx-mono", qid, lang, answer[qid, lang], lang))
        else:
            x_langs = sorted(cross)
            for _ in range(batch_size):
                x = x_langs[rng.integers(len(x_langs))]
                qid = cross[x].take(used)
                used.add(qid)
                others = sorted(lang for lang in langs_of[qid] if lang != x)
                y = others[rng.integers(len(others))]
                rows.append((b, "x-y", qid, x, answer[qid, y], y))
    return pd.DataFrame(rows, columns=BATCH_COLUMNS)


def training_batches(
    pairs: pd.DataFrame,
    languages: list[str],
    alpha: float,
    n_pairs: int,
    batch_size: int,
    seed: int,
    dev_pairs: int = 0,
) -> pd.DataFrame:
    """Training batches from the pairs marked `split == "train"` and, when `dev_pairs` > 0, dev batches built
    the same way from those marked "dev" (for early stopping); the `split` column tells them apart."""
    train = make_batches(pairs[pairs.split == "train"], languages, alpha, n_pairs, batch_size, seed)
    parts = [train.assign(split="train")]
    if dev_pairs:
        dev = pairs[pairs.split == "dev"]
        parts.append(make_batches(dev, languages, alpha, dev_pairs, batch_size, seed).assign(split="dev"))
    return pd.concat(parts, ignore_index=True)
