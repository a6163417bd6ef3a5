"""X-X-mono, X-Y and hybrid batch samplers over parallel (question, answer sentence) pairs.

A batch is `batch_size` pairs (question in X, answer sentence in Y) whose questions are pairwise
unrelated, so no in-batch negative answers another question of the batch: their parallel ids differ,
and so do their answer-groups (questions whose answers share a sentence text in any training
language, e.g. one translated sentence rendering two source sentences, are one group).
X-X-mono batches share one language (X = Y); X-Y batches cross languages in every pair (X != Y).
A hybrid run of n batches has exactly round(alpha * n) X-X-mono batches at positions chosen by a
shuffle seeded by the seed alone, so the sequence of batch kinds depends on (seed, alpha, n) only,
not on the languages: runs at different k share it. Ids are drawn from per-language shuffled queues
refilled when exhausted, so data is covered evenly.

How much of the training is in the source language (`SOURCE_SHARES`): "uniform" draws every training language alike,
so the source's share of the texts falls as k grows (about 1/2 at k = 1, 1/(k + 1) in X-X-mono batches); "half" keeps
it at one half at every k: an X-X-mono batch is in the source with probability 1/2 (else in a target drawn alike), and
every X-Y pair has the source on one side (its question with probability 1/2). With one target language the two are
the same design, and "half" takes the uniform draws there, so its runs at k = 1 are the uniform ones.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

BATCH_COLUMNS = ["batch", "kind", "question_id", "question_lang", "passage_id", "passage_lang"]
UNIFORM, HALF = "uniform", "half"
SOURCE_SHARES = (UNIFORM, HALF)  # the source language's share of the training texts (`training.source_shares`)


class _Queue:
    """Endless seeded stream over a list: a fresh shuffle each pass. An item whose key is excluded stays
    pending and is served at the next chance; when all pending items are excluded, the next pass is queued."""

    def __init__(self, items: list[str], key: dict[str, str], rng: np.random.Generator):
        self.items, self.key, self.rng, self.pending = sorted(items), key, rng, []

    def take(self, exclude: set[str]) -> str | None:
        """The next item whose key is not in `exclude`; None when every item's key is."""
        while True:
            for i in reversed(range(len(self.pending))):
                if self.key[self.pending[i]] not in exclude:
                    return self.pending.pop(i)
            if all(self.key[item] in exclude for item in self.items):
                return None
            self.pending[:0] = [self.items[i] for i in self.rng.permutation(len(self.items))]


def answer_groups(pairs: pd.DataFrame) -> dict[str, str]:
    """Question id -> its group: the smallest id among the questions linked to it by shared answer texts."""
    parent = {qid: qid for qid in pairs.question_id}

    def root(qid: str) -> str:
        while parent[qid] != qid:
            qid = parent[qid]
        return qid

    shared = pairs[pairs.answer.duplicated(keep=False)]
    for ids in shared.groupby("answer").question_id.unique():
        roots = sorted({root(qid) for qid in ids})
        for other in roots[1:]:
            parent[other] = roots[0]
    return {qid: root(qid) for qid in parent}


def batch_kinds(alpha: float, n_batches: int, seed: int) -> list[str]:
    """Exactly round(alpha * n_batches) "xx-mono" kinds, the rest "x-y", in an order seeded by `seed` alone."""
    n_mono = round(alpha * n_batches)
    order = np.random.default_rng([seed, 1]).permutation(n_batches)
    return ["xx-mono" if position < n_mono else "x-y" for position in order]


def make_batches(
    pairs: pd.DataFrame,
    languages: list[str],
    alpha: float,
    n_pairs: int,
    batch_size: int,
    seed: int,
    source_share: str = UNIFORM,
) -> pd.DataFrame:
    """Sample `n_pairs // batch_size` batches over `languages`, the source language first.

    `pairs` has one row per (question_id, lang) with the answer's `candidate_id` and text `answer`; alpha
    is the share of X-X-mono batches (1.0: X-X-mono only, 0.0: X-Y only), see `batch_kinds`; `source_share` how
    the source language is drawn (the module's docstring).
    """
    pairs = _pairs_in(pairs, languages, alpha, source_share)
    answer = dict(zip(zip(pairs.question_id, pairs.lang), pairs.candidate_id))
    group = answer_groups(pairs)
    langs_of: dict[str, list[str]] = defaultdict(list)
    for qid, lang in zip(pairs.question_id, pairs.lang):
        langs_of[qid].append(lang)
    rng = np.random.default_rng(seed)
    langs = sorted(languages)
    mono = {lang: _Queue(pairs.question_id[pairs.lang == lang].tolist(), group, rng) for lang in langs}
    crossable = {lang: [q for q in pairs.question_id[pairs.lang == lang] if len(langs_of[q]) > 1] for lang in langs}
    cross = {lang: _Queue(ids, group, rng) for lang, ids in crossable.items() if ids}
    if alpha < 1 and not cross:
        raise ValueError("no parallel id exists in two training languages: X-Y batches are impossible")
    source, targets = languages[0], sorted(languages[1:])
    half = source_share == HALF and len(targets) > 1  # with one target, uniform draws give the source its half
    with_source = {lang: _Queue([q for q in crossable[lang] if source in langs_of[q]], group, rng) for lang in targets} if half else None
    _check_batch_fits(mono, group, batch_size)
    rows = []
    for b, kind in enumerate(batch_kinds(alpha, n_pairs // batch_size, seed)):
        used: set[str] = set()
        if kind == "xx-mono":
            if half:
                lang = source if rng.integers(2) == 0 else targets[rng.integers(len(targets))]
            else:
                lang = langs[rng.integers(len(langs))]
            for _ in range(batch_size):
                qid = mono[lang].take(used)
                if qid is None:
                    raise ValueError(f"not enough unrelated {lang} questions for one batch of {batch_size}")
                used.add(group[qid])
                rows.append((b, kind, qid, lang, answer[qid, lang], lang))
        else:
            for _ in range(batch_size):
                x, qid = cross_question(rng, used, cross, with_source, source)
                if qid is None:
                    raise ValueError(f"not enough unrelated parallel questions for one X-Y batch of {batch_size}")
                used.add(group[qid])
                others = [source] if half and x != source else sorted(lang for lang in langs_of[qid] if lang != x)
                y = others[rng.integers(len(others))]
                rows.append((b, kind, qid, x, answer[qid, y], y))
    return pd.DataFrame(rows, columns=BATCH_COLUMNS)


def _pairs_in(pairs: pd.DataFrame, languages: list[str], alpha: float, source_share: str) -> pd.DataFrame:
    """The pairs of `languages`; a ValueError for settings `make_batches` cannot sample (an unknown source share, X-Y
    batches over one language, a language without pairs)."""
    if source_share not in SOURCE_SHARES:
        raise ValueError(f"source_share is one of {', '.join(SOURCE_SHARES)}, not {source_share!r}")
    if len(languages) < 2 and alpha < 1:
        raise ValueError("X-Y batches need at least two languages")
    pairs = pairs[pairs.lang.isin(languages)]
    missing = sorted(set(languages) - set(pairs.lang))
    if missing:
        raise ValueError(f"no training pairs in language(s) {', '.join(missing)}")
    return pairs


def _check_batch_fits(mono: dict[str, _Queue], group: dict[str, str], batch_size: int) -> None:
    """A ValueError where a language has fewer unrelated questions than one batch holds."""
    for lang, queue in mono.items():
        n_groups = len({group[qid] for qid in queue.items})
        if n_groups < batch_size:
            raise ValueError(f"{lang} has {n_groups} unrelated training questions, fewer than one batch of {batch_size}")


def cross_question(
    rng: np.random.Generator, used: set[str], cross: dict[str, _Queue], with_source: dict[str, _Queue] | None, source: str
) -> tuple[str, str | None]:
    """The question language X and the question of an X-Y pair, unrelated to the batch's `used` groups (None: none is
    left): X drawn alike among the languages with a question left (`cross`); or, where `with_source` holds each
    target's queue of questions the source also asks (source share "half"), the source with probability 1/2, else a
    target drawn alike."""
    if with_source is None:
        queues, candidates = cross, sorted(cross)
    elif rng.integers(2) == 0:
        queues, candidates = cross, [source]
    else:
        queues, candidates = with_source, sorted(with_source)
    while candidates:
        x = candidates.pop(rng.integers(len(candidates)))
        qid = queues[x].take(used)
        if qid is not None:
            return x, qid
    return "", None


def training_batches(
    pairs: pd.DataFrame,
    languages: list[str],
    alpha: float,
    n_pairs: int,
    batch_size: int,
    seed: int,
    dev_pairs: int = 0,
    source_share: str = UNIFORM,
) -> pd.DataFrame:
    """Training batches from the pairs marked `split == "train"` and, when `dev_pairs` > 0, dev batches built
    the same way from those marked "dev" (for early stopping); the `split` column tells them apart."""
    train = make_batches(pairs[pairs.split == "train"], languages, alpha, n_pairs, batch_size, seed, source_share)
    parts = [train.assign(split="train")]
    if dev_pairs:
        dev = pairs[pairs.split == "dev"]
        parts.append(make_batches(dev, languages, alpha, dev_pairs, batch_size, seed, source_share).assign(split="dev"))
    return pd.concat(parts, ignore_index=True)


def language_shares(batches: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Each language's share of the questions, of the passages and of all texts (both sides of every pair) of
    `batches` (rows as in `BATCH_COLUMNS`): how much of the training each language, the source's included, had."""
    sides = {"questions": batches.question_lang, "passages": batches.passage_lang}
    sides["texts"] = pd.concat(sides.values(), ignore_index=True)
    return {
        name: {lang: round(float(share), 6) for lang, share in langs.value_counts(normalize=True).sort_index().items()}
        for name, langs in sides.items()
    }
