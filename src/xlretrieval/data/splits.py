"""Which articles are trained on and which evaluated: seeded subsets, article splits, overlap guards."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from .benchmark import BenchmarkTables


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


def restrict(tables: BenchmarkTables, articles: list[str] | set[str]) -> BenchmarkTables:
    """Keep only the rows of the given articles; qrels follow their questions."""
    keep = set(articles)
    questions = tables.questions[tables.questions.article.isin(keep)].reset_index(drop=True)
    candidates = tables.candidates[tables.candidates.article.isin(keep)].reset_index(drop=True)
    kept = questions[["question_id", "lang"]]
    qrels = tables.qrels.merge(kept, on=["question_id", "lang"]).reset_index(drop=True)
    return BenchmarkTables(questions, candidates, qrels)


def select_languages(tables: BenchmarkTables, languages: list[str]) -> BenchmarkTables:
    return BenchmarkTables(
        tables.questions[tables.questions.lang.isin(languages)].reset_index(drop=True),
        tables.candidates[tables.candidates.lang.isin(languages)].reset_index(drop=True),
        tables.qrels[tables.qrels.lang.isin(languages)].reset_index(drop=True),
    )


def text_hashes(texts: pd.Series) -> np.ndarray:
    """64-bit hashes of texts: finds candidate matches between millions of passages in little memory."""
    return pd.util.hash_pandas_object(texts.reset_index(drop=True), index=False).to_numpy()


def shared_texts(texts: pd.Series, others: list[pd.Series]) -> set[str]:
    """The texts of `texts` that also occur in any of `others` (matched by hash, confirmed exactly)."""
    own = text_hashes(texts)
    shared = set()
    for other in others:
        theirs = text_hashes(other)
        shared |= set(texts[np.isin(own, theirs)]) & set(other[np.isin(theirs, own)])
    return shared


def evaluation_texts(tables: BenchmarkTables) -> pd.Series:
    """An evaluation set's candidate texts, plus the body of every passage written as "title body" (MIRACL):
    a training passage equal to that body overlaps it too."""
    c = tables.candidates
    bodies = [text[len(title) + 1 :] for text, title in zip(c.text, c.article) if title and text.startswith(title + " ")]
    return pd.concat([c.text, pd.Series(bodies, dtype=object)], ignore_index=True)


def units(frame: pd.DataFrame) -> list:
    """The unit of text a row belongs to: its article, or for a source without articles (mMARCO) its passage."""
    return [article if article else ("passage", context) for article, context in zip(frame.article, frame.context_id)]


def contaminated_questions(train: BenchmarkTables, evaluation: list[BenchmarkTables]) -> set[str]:
    """Parallel ids of training questions whose article (in any language) shares a title, a sentence or a
    question (exact text) with any evaluation set; dropping them in every language removes their translations too.

    Where the training source has no articles (mMARCO), the unit is the question's positive passage: a
    question goes when its passage occurs verbatim in an evaluation set (for MIRACL, as a passage's body
    after its title); there are no titles to compare, and mMARCO's ids cannot collide with others'.
    """
    titles = {normalise_title(t) for ev in evaluation for t in ev.candidates.article.unique()} - {""}
    cands = train.candidates
    overlapping = cands.text.isin(shared_texts(cands.text, [evaluation_texts(ev) for ev in evaluation])).to_numpy()
    bad_units = {(lang, unit) for lang, unit, bad in zip(cands.lang, units(cands), overlapping) if bad}
    q = train.questions
    asked = q.text.isin(shared_texts(q.text, [ev.questions.text for ev in evaluation])).to_numpy()
    bad_units |= {(lang, unit) for lang, unit, bad in zip(q.lang, units(q), asked) if bad}
    bad_units |= {
        (lang, art)
        for lang, art in cands[["lang", "article"]].drop_duplicates().itertuples(index=False, name=None)
        if art and normalise_title(art) in titles
    }
    in_bad = [(lang, unit) in bad_units for lang, unit in zip(q.lang, units(q))]
    return set(q.question_id[in_bad])


def training_pairs(train: BenchmarkTables, evaluation: list[BenchmarkTables]) -> tuple[pd.DataFrame, int]:
    """One row per (question_id, lang) with the question and its answer sentence, contamination removed.

    Returns the table and the number of parallel question ids dropped for overlapping evaluation data. Refuses
    training data that overlaps entirely (a dataset evaluated on its own training articles, without a split).
    """
    dropped = contaminated_questions(train, evaluation)
    questions = train.questions[~train.questions.question_id.isin(dropped)]
    if len(dropped) and questions.empty:
        raise OverlapError(
            f"every training question overlaps an evaluation set (all {len(dropped)} parallel question ids): "
            "a dataset evaluated on needs training.holdout to train on other articles of it"
        )
    pairs = questions.merge(train.qrels, on=["question_id", "lang"]).merge(
        train.candidates[["candidate_id", "text"]].rename(columns={"text": "answer"}), on="candidate_id"
    )
    pairs = pairs.rename(columns={"text": "question"})[["question_id", "lang", "question", "candidate_id", "answer", "article"]]
    check_disjoint(pairs, evaluation)
    return pairs.sort_values(["question_id", "lang"]).reset_index(drop=True), len(dropped)


def hold_out_dev(pairs: pd.DataFrame, dev_fraction: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """The pairs with a `split` column: a seeded `dev_fraction` of parallel question ids is "dev" in every
    language (never trained on; early stopping's dev loss), the rest "train"."""
    ids = np.sort(pairs.question_id.unique())
    dev = ids[np.random.default_rng(seed).choice(len(ids), size=round(dev_fraction * len(ids)), replace=False)]
    return pairs.assign(split=np.where(pairs.question_id.isin(set(dev)), "dev", "train"))


def check_disjoint(pairs: pd.DataFrame, evaluation: list[BenchmarkTables]) -> None:
    """Refuse training data that shares a question id, a question, an answer sentence or an article title with
    evaluation (texts exactly)."""
    for ev in evaluation:
        shared_ids = set(pairs.question_id) & set(ev.questions.question_id)
        shared_questions = shared_texts(pairs.question, [ev.questions.text])
        shared_text = shared_texts(pairs.answer, [evaluation_texts(ev)])
        shared_titles = ({normalise_title(t) for t in pairs.article} & {normalise_title(t) for t in ev.candidates.article}) - {""}
        if shared_ids or shared_questions or shared_text or shared_titles:
            example = next(iter(shared_ids or shared_questions or shared_text or shared_titles))
            raise OverlapError(
                f"training data overlaps an evaluation set ({len(shared_ids)} question ids, {len(shared_questions)} questions, "
                f"{len(shared_text)} sentences, {len(shared_titles)} articles shared, e.g. {example!r})"
            )


def holdout_split(articles: list[str], train_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Article-level split of a parallel dataset into (training articles, held-out evaluation articles)."""
    train = choose_articles(articles, float(train_fraction), seed)
    return train, sorted(set(articles) - set(train))


def training_set(tables: BenchmarkTables, languages: list[str], holdout: dict | None) -> BenchmarkTables:
    """The training dataset's rows in the training languages; its training articles when it is also evaluated."""
    tables = select_languages(tables, languages)
    if holdout:
        train, _ = holdout_split(tables.questions.article.tolist(), holdout["train_fraction"], holdout["seed"])
        tables = restrict(tables, train)
    return tables


def guarded_set(tables: BenchmarkTables, holdout: dict | None) -> BenchmarkTables:
    """What training data must not overlap in a benchmark: all of it (every article and language, whatever
    subset `evaluation_set` evaluates), or its held-out articles when it is also the training dataset."""
    if not holdout:
        return tables
    _, held_out = holdout_split(tables.questions.article.tolist(), holdout["train_fraction"], holdout["seed"])
    return restrict(tables, held_out)


def evaluation_set(
    tables: BenchmarkTables, languages: list[str], articles: int | float | None, seed: int, holdout: dict | None, reserved: dict | None = None
) -> BenchmarkTables:
    """The evaluated rows of a benchmark: its languages, its held-out articles when it is also trained on, without the
    articles `reserved` for the pilot (`pilot_articles`), then a seeded subset of `articles` (None: all; always None for
    a source without articles, as MIRACL)."""
    set_aside = set(pilot_articles(tables, reserved["articles"], reserved["seed"])) if reserved else set()
    tables = select_languages(tables, languages)
    if articles is None and not holdout and not set_aside:
        return tables
    pool = tables.questions.article.tolist()
    if holdout:
        _, pool = holdout_split(pool, holdout["train_fraction"], holdout["seed"])
    pool = [article for article in pool if article not in set_aside]
    if articles is not None and isinstance(articles, int) and articles >= len(set(pool)):
        articles = None
    return restrict(tables, asking_every_language_pair(tables, pool, choose_articles(pool, articles, seed), seed))


def pilot_articles(tables: BenchmarkTables, count: int, seed: int) -> list[str]:
    """The articles the pilot chooses the training budget on: a seeded `count` of the benchmark's articles (of all its
    languages), set aside before any study chooses what it evaluates (`evaluation_set`'s `reserved`), so that no
    reported answer shares a question with the choice; the same articles in every configuration with this count and
    seed."""
    pool = tables.questions.article.tolist()
    if count >= len(set(pool)):
        raise ValueError(f"the pilot would take {count} of the {len(set(pool))} articles of the benchmark, leaving the study none")
    return asking_every_language_pair(tables, pool, choose_articles(pool, count, seed), seed)


def pilot_set(tables: BenchmarkTables, languages: list[str], count: int, seed: int, holdout: dict | None) -> BenchmarkTables:
    """The pilot's rows: `languages` of the articles `pilot_articles` sets aside, in a benchmark the study does not
    train on (`holdout` None)."""
    if holdout:
        raise ValueError("the pilot evaluates a benchmark the study also trains on (training.holdout): it needs one the study does not train on")
    if not count:
        raise ValueError("pilot.articles is 0: this configuration sets no articles aside for the pilot")
    return restrict(select_languages(tables, languages), pilot_articles(tables, count, seed))


def languages_and_pairs(languages: set[str] | frozenset[str]) -> list[frozenset[str]]:
    """Each language, then each pair of languages, in sorted order."""
    ordered = sorted(languages)
    return [frozenset(group) for n in (1, 2) for group in combinations(ordered, n)]


def asking_every_language_pair(tables: BenchmarkTables, pool: list[str], chosen: list[str], seed: int) -> list[str]:
    """`chosen` plus, for each language and each pair of languages that none of them asks a question in, the
    first article of a seeded order of `pool` that does. Each of MLQA-R's articles asks in 2 to 7 of its
    languages, so a small subset may miss a language, or share no question between two (no cross-lingual
    query set); XQuAD-R's articles ask in all 11, so its subsets stay as chosen."""
    covered: dict[str, set[frozenset[str]]] = {}  # article: the languages and pairs its questions ask in
    for (article, _), langs in tables.questions.groupby(["article", "question_id"]).lang.agg(frozenset).items():
        covered.setdefault(article, set()).update(languages_and_pairs(langs))
    unique = sorted(set(pool))
    order = [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))]
    chosen = list(chosen)
    for group in languages_and_pairs(set(tables.questions.lang)):
        if not any(group in covered.get(article, ()) for article in chosen):
            extra = next((article for article in order if group in covered.get(article, ())), None)
            if extra is not None:
                chosen.append(extra)
    return sorted(chosen)
