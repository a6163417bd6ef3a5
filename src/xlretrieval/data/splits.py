"""Which articles are trained on and which evaluated: seeded subsets, article splits, overlap guards."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .tables import Tables


class OverlapError(RuntimeError):
    """Training data overlaps evaluation data."""


def normalise_title(title: str) -> str:
    return title.replace("_", " ").strip().casefold()


def choose_articles(articles: list[str], n: int | float | None, seed: int) -> list[str]:
    """A seeded choice of `n` articles (an int count, a fraction in (0, 1], or None for all), in input order."""
    unique = sorted(set(articles))
    if n is None:
        return unique
    count = round(n * len(unique)) if isinstance(n, float) else int(n)
    if not 0 < count <= len(unique):
        raise ValueError(f"cannot choose {n} of {len(unique)} articles")
    chosen = np.random.default_rng(seed).choice(len(unique), size=count, replace=False)
    return [unique[i] for i in sorted(chosen)]


def restrict(tables: Tables, articles: list[str] | set[str]) -> Tables:
    """Keep only the rows of the given articles; qrels follow their questions."""
    keep = set(articles)
    questions = tables.questions[tables.questions.article.isin(keep)].reset_index(drop=True)
    candidates = tables.candidates[tables.candidates.article.isin(keep)].reset_index(drop=True)
    kept = questions[["question_id", "lang"]]
    qrels = tables.qrels.merge(kept, on=["question_id", "lang"]).reset_index(drop=True)
    return Tables(questions, candidates, qrels)


def select_languages(tables: Tables, languages: list[str]) -> Tables:
    return Tables(
        tables.questions[tables.questions.lang.isin(languages)].reset_index(drop=True),
        tables.candidates[tables.candidates.lang.isin(languages)].reset_index(drop=True),
        tables.qrels[tables.qrels.lang.isin(languages)].reset_index(drop=True),
    )


def contaminated_questions(train: Tables, evaluation: list[Tables]) -> set[str]:
    """Parallel ids of training questions whose article (in any language) shares a title or a sentence
    with any evaluation set; dropping them in every language removes their translations too."""
    titles = {normalise_title(t) for ev in evaluation for t in ev.candidates.article.unique()}
    sentences = {s for ev in evaluation for s in ev.candidates.text}
    cands = train.candidates
    bad_articles = set(cands.loc[cands.text.isin(sentences), ["lang", "article"]].itertuples(index=False, name=None))
    bad_articles |= {
        (lang, art)
        for lang, art in cands[["lang", "article"]].drop_duplicates().itertuples(index=False, name=None)
        if normalise_title(art) in titles
    }
    q = train.questions
    in_bad = [(lang, art) in bad_articles for lang, art in zip(q.lang, q.article)]
    return set(q.question_id[in_bad])


def training_pairs(train: Tables, evaluation: list[Tables]) -> tuple[pd.DataFrame, int]:
    """One row per (question_id, lang) with the question and its answer sentence, contamination removed.

    Returns the table and the number of parallel question ids dropped for overlapping evaluation data.
    """
    dropped = contaminated_questions(train, evaluation)
    questions = train.questions[~train.questions.question_id.isin(dropped)]
    pairs = questions.merge(train.qrels, on=["question_id", "lang"]).merge(
        train.candidates[["candidate_id", "text"]].rename(columns={"text": "answer"}), on="candidate_id"
    )
    pairs = pairs.rename(columns={"text": "question"})[
        ["question_id", "lang", "question", "candidate_id", "answer", "article"]
    ]
    check_disjoint(pairs, evaluation)
    return pairs.sort_values(["question_id", "lang"]).reset_index(drop=True), len(dropped)


def check_disjoint(pairs: pd.DataFrame, evaluation: list[Tables]) -> None:
    """Refuse training data that shares a question id, an answer sentence or an article title with evaluation."""
    for ev in evaluation:
        shared_ids = set(pairs.question_id) & set(ev.questions.question_id)
        shared_text = set(pairs.answer) & set(ev.candidates.text)
        shared_titles = {normalise_title(t) for t in pairs.article} & {normalise_title(t) for t in ev.candidates.article}
        if shared_ids or shared_text or shared_titles:
            example = next(iter(shared_ids or shared_text or shared_titles))
            raise OverlapError(
                f"training data overlaps an evaluation set ({len(shared_ids)} question ids, "
                f"{len(shared_text)} sentences, {len(shared_titles)} articles shared, e.g. {example!r})"
            )


def holdout_split(articles: list[str], train_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Article-level split of a parallel dataset into (training articles, held-out evaluation articles)."""
    train = choose_articles(articles, float(train_fraction), seed)
    return train, sorted(set(articles) - set(train))


def training_set(tables: Tables, languages: list[str], holdout: dict | None) -> Tables:
    """The training dataset's rows in the training languages; its training articles when it is also evaluated."""
    tables = select_languages(tables, languages)
    if holdout:
        train, _ = holdout_split(tables.questions.article.tolist(), holdout["train_fraction"], holdout["seed"])
        tables = restrict(tables, train)
    return tables


def evaluation_set(
    tables: Tables, languages: list[str], articles: int | float | None, seed: int, holdout: dict | None
) -> Tables:
    """The evaluated rows of a benchmark: its languages, its held-out articles when it is also trained on,
    then a seeded subset of `articles` (None: all)."""
    tables = select_languages(tables, languages)
    pool = tables.questions.article.tolist()
    if holdout:
        _, pool = holdout_split(pool, holdout["train_fraction"], holdout["seed"])
    if articles is not None and isinstance(articles, int) and articles >= len(set(pool)):
        articles = None
    return restrict(tables, choose_articles(pool, articles, seed))
