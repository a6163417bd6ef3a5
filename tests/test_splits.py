from itertools import combinations

import pytest

from xlretrieval.data.splits import (
    OverlapError,
    check_disjoint,
    evaluation_set,
    holdout_split,
    normalise_title,
    training_set,
)
from xlretrieval.querysets import query_sets


def test_training_pairs_drop_articles_shared_with_evaluation(mlqa, xquad, mlqa_pairs):
    shared = {normalise_title(t) for t in mlqa.candidates.article} & {normalise_title(t) for t in xquad.candidates.article}
    assert {"harvard university", "prime number"} <= shared
    assert not {normalise_title(t) for t in mlqa_pairs.article} & shared
    assert not set(mlqa_pairs.answer) & set(xquad.candidates.text)
    # translations of a dropped English question are dropped too
    dropped_ids = set(mlqa.questions.question_id) - set(mlqa_pairs.question_id)
    assert dropped_ids and not set(mlqa_pairs.question_id) & dropped_ids


def test_guard_refuses_overlap(mlqa_pairs, xquad):
    leaked = mlqa_pairs.copy()
    leaked.loc[leaked.index[0], "answer"] = xquad.candidates.text.iloc[5]
    with pytest.raises(OverlapError, match="1 sentences"):
        check_disjoint(leaked, [xquad])


def test_holdout_protocol_is_article_disjoint(xquad):
    holdout = {"train_fraction": 0.5, "seed": 3}
    train = training_set(xquad, ["de", "en", "zh"], holdout)
    test = evaluation_set(xquad, ["de", "en", "zh"], None, 0, holdout)
    assert set(train.questions.article).isdisjoint(test.questions.article)
    assert train.questions.article.nunique() == test.questions.article.nunique() == 24
    assert set(test.candidates.article) == set(test.questions.article)


def test_evaluation_subset_is_seeded_and_sized(xquad):
    a = evaluation_set(xquad, ["en", "zh"], 6, 1, None)
    b = evaluation_set(xquad, ["en", "zh"], 6, 1, None)
    c = evaluation_set(xquad, ["en", "zh"], 6, 2, None)
    assert a.questions.article.nunique() == 6 and sorted(a.questions.lang.unique()) == ["en", "zh"]
    assert a.questions.equals(b.questions) and not a.questions.equals(c.questions)
    assert set(a.qrels.question_id) == set(a.questions.question_id)


def test_split_fractions():
    articles = [f"a{i}" for i in range(10)]
    train, test = holdout_split(articles, 0.3, 0)
    assert len(train) == 3 and len(test) == 7 and not set(train) & set(test)


def test_dev_pairs_are_held_out_by_parallel_id(mlqa_pairs):
    from xlretrieval.data.splits import hold_out_dev

    pairs = hold_out_dev(mlqa_pairs, 0.1, 0)
    ids = pairs.groupby("question_id").split.agg(set)
    assert ids.map(len).eq(1).all()  # a parallel id is dev in every language or in none
    assert (ids.map(min) == "dev").mean() == pytest.approx(0.1, abs=0.001)
    assert pairs.split.equals(hold_out_dev(mlqa_pairs, 0.1, 0).split) and not pairs.split.equals(hold_out_dev(mlqa_pairs, 0.1, 1).split)
    assert set(hold_out_dev(mlqa_pairs, 0.0, 0).split) == {"train"}


def test_guard_without_articles_matches_passages_not_empty_titles():
    import pandas as pd

    from xlretrieval.data.benchmark import BenchmarkTables
    from xlretrieval.data.splits import training_pairs

    def tables(rows, candidates):
        return BenchmarkTables(
            pd.DataFrame(
                [(q, lang, f"question {q}", "", p) for q, lang, p in rows], columns=["question_id", "lang", "text", "article", "context_id"]
            ),
            pd.DataFrame(candidates, columns=["candidate_id", "lang", "text", "article", "context_id"]),
            pd.DataFrame([(q, lang, f"{lang}/{p}") for q, lang, p in rows], columns=["question_id", "lang", "candidate_id"]),
        )

    train = tables(
        [("q1", "en", "1"), ("q1", "de", "1"), ("q2", "en", "2"), ("q2", "de", "2")],
        [("en/1", "en", "one", "", "1"), ("de/1", "de", "eins", "", "1"), ("en/2", "en", "two", "", "2"), ("de/2", "de", "zwei", "", "2")],
    )
    untitled = tables([("e1", "de", "9")], [("de/9", "de", "zwei", "", "9"), ("de/8", "de", "acht", "", "8")])
    pairs, dropped = training_pairs(train, [untitled])
    assert dropped == 1 and set(pairs.question_id) == {"q1"}  # q2's German passage is evaluated: gone in every language


@pytest.fixture(scope="module")
def xquad_all():
    from xlretrieval.data.lareqa import read_dataset
    from xlretrieval.data.sources import SOURCES

    from conftest import lareqa_file

    return read_dataset({lang: lareqa_file("xquad-r", lang) for lang in SOURCES["xquad-r"].languages})


@pytest.mark.parametrize("training", [["ar", "de", "es", "hi", "vi", "zh"], ["de", "es", "zh"]], ids=["default", "tiny"])
def test_guard_drops_the_same_ids_whatever_is_evaluated(mlqa, xquad_all, training):
    from xlretrieval.config import Study, validate
    from xlretrieval.data.splits import contaminated_questions, guarded_set, select_languages

    from conftest import SCHEMA, study_config

    train = select_languages(mlqa, ["en", *training])
    dropped, evaluated = {}, {}
    for name, evaluation in {
        "full": {"articles": None},
        "default": {"articles": 12},
        "tiny": {"articles": 2, "languages": {"xquad-r": ["de", "el", "en", "zh"]}},
    }.items():
        study = Study(validate(study_config({"evaluation": evaluation}), SCHEMA))
        prepared = select_languages(xquad_all, study.dataset_languages("xquad-r"))  # what the `prepare` rule keeps
        assert study.dataset_languages("xquad-r") == sorted(set(xquad_all.questions.lang))
        dropped[name] = contaminated_questions(train, [guarded_set(prepared, None)])
        subset = evaluation_set(prepared, study.evaluation_languages("xquad-r"), study.article_subset("xquad-r"), 0, None)
        evaluated[name] = contaminated_questions(train, [subset])
    assert dropped["full"] == dropped["default"] == dropped["tiny"] == evaluated["full"]
    assert len(dropped["full"]) == (13 if len(training) == 6 else 3)
    assert not evaluated["default"] and not evaluated["tiny"]  # the evaluated subsets alone would miss them all


def test_guard_of_a_trained_benchmark_is_its_held_out_articles(xquad_all):
    from xlretrieval.data.splits import guarded_set

    holdout = {"train_fraction": 0.5, "seed": 0}
    guard = guarded_set(xquad_all, holdout)
    train = training_set(xquad_all, ["en", "de"], holdout)
    evaluated = evaluation_set(xquad_all, ["el", "en"], 5, 0, holdout)
    assert set(guard.questions.article).isdisjoint(train.questions.article)
    assert set(evaluated.questions.article) < set(guard.questions.article) and guard.questions.article.nunique() == 24
    assert set(guard.questions.lang) == set(xquad_all.questions.lang)


REVERSE = ["el", "en", "ru", "th", "tr"]  # config/reverse.yaml's training languages on XQuAD-R


def test_reverse_direction_trains_on_all_of_xquad_r_but_what_mlqa_r_shares(xquad_all, mlqa):
    """config/reverse.yaml: all XQuAD-R articles (no split: it is not evaluated), guarded against all of MLQA-R. The two
    share no question and no sentence in a trained language, and two article titles, whose questions go in every language."""
    from xlretrieval.data.splits import guarded_set, training_pairs

    train, guard = training_set(xquad_all, REVERSE, None), guarded_set(mlqa, None)
    assert train.questions.article.nunique() == 48 and guard.questions.article.nunique() == 520
    assert not set(train.questions.text) & set(mlqa.questions.text)
    assert not set(train.candidates.text) & set(mlqa.candidates.text)  # (2 Hindi fragments are shared, hi is not trained)
    pairs, dropped = training_pairs(train, [guard])
    assert dropped == 43 and sorted(set(train.questions.article) - set(pairs.article)) == ["Harvard_University", "Prime_number"]
    assert pairs.groupby("lang").size().to_dict() == dict.fromkeys(REVERSE, 1190 - 43)
    assert not set(pairs.question) & set(mlqa.questions.text) and not set(pairs.answer) & set(mlqa.candidates.text)


def test_a_dataset_evaluated_on_its_own_training_articles_is_refused(xquad_all):
    from xlretrieval.data.splits import guarded_set, training_pairs

    with pytest.raises(OverlapError, match="every training question overlaps an evaluation set \\(all 1190 parallel"):
        training_pairs(training_set(xquad_all, REVERSE, None), [guarded_set(xquad_all, None)])
    holdout = {"train_fraction": 0.5, "seed": 0}  # the split the workflow applies when the training dataset is evaluated
    guard = guarded_set(xquad_all, holdout)
    pairs, _ = training_pairs(training_set(xquad_all, REVERSE, holdout), [guard])
    assert 0 < pairs.article.nunique() <= 24 and set(pairs.article).isdisjoint(guard.questions.article)


def test_a_shared_question_drops_its_article_and_is_refused_in_the_pairs(mlqa, xquad, mlqa_pairs):
    from xlretrieval.data.benchmark import BenchmarkTables
    from xlretrieval.data.splits import contaminated_questions

    asked = xquad.questions.text.iloc[7]
    questions = mlqa.questions.copy()
    row = questions.index[(questions.lang == "de") & (questions.article == mlqa_pairs.article.iloc[0])][0]
    questions.loc[row, "text"] = asked  # one German question of a kept article, as XQuAD-R asks it
    article = questions.article[row]
    dropped = contaminated_questions(BenchmarkTables(questions, mlqa.candidates, mlqa.qrels), [xquad])
    assert set(questions.question_id[questions.article == article]) <= dropped
    leaked = mlqa_pairs.copy()
    leaked.loc[leaked.index[0], "question"] = asked
    with pytest.raises(OverlapError, match="1 questions"):
        check_disjoint(leaked, [xquad])


def test_training_pairs_depend_on_every_language_of_the_benchmark(tmp_path):
    from xlretrieval.data.sources import SOURCES

    from conftest import copy_project, snakemake

    result = snakemake(copy_project(tmp_path), "-n", "--until", "training_pairs")  # the tiny study evaluates 4 languages
    plan = result.stdout + result.stderr
    assert "rule evaluation_set:" not in plan  # the evaluated subset is not upstream of the guard
    assert "results/tiny/data/xquad-r/candidates.parquet" in plan.split("rule training_pairs:")[1].split("output:")[0]
    assert all(f"results/tiny/raw/xquad-r/{lang}.json" in plan for lang in SOURCES["xquad-r"].languages)


# Found by tests/test_any_config.py: MLQA-R titles its articles in each language, so subsets and splits cut translations apart.
def test_mlqa_articles_are_named_alike_in_every_language(mlqa):
    assert mlqa.questions.groupby("question_id").article.nunique().eq(1).all()
    english = mlqa.questions[mlqa.questions.lang == "en"].set_index("question_id").article
    assert mlqa.questions.article.eq(mlqa.questions.question_id.map(english)).all()
    paragraphs = mlqa.questions.drop_duplicates(["lang", "context_id"]).set_index(["lang", "context_id"]).article
    assert (
        mlqa.candidates.set_index(["lang", "context_id"])
        .article.eq(paragraphs.reindex(mlqa.candidates.set_index(["lang", "context_id"]).index))
        .all()
    )


def test_mlqa_article_split_keeps_translations_on_one_side(mlqa):
    holdout, languages = {"train_fraction": 0.5, "seed": 0}, ["ar", "de", "en", "es", "hi", "vi", "zh"]
    train, test = training_set(mlqa, languages, holdout), evaluation_set(mlqa, languages, None, 0, holdout)
    assert set(train.questions.question_id).isdisjoint(test.questions.question_id)


def test_a_small_subset_asks_in_every_evaluated_language(mlqa, xquad):
    for articles in (1, 2):
        subset = evaluation_set(mlqa, ["en", "es", "vi"], articles, 0, None)
        assert set(subset.questions.lang) == {"en", "es", "vi"} and subset.questions.article.nunique() >= articles
    assert evaluation_set(xquad, ["de", "en", "zh"], 1, 0, None).questions.article.nunique() == 1  # every article asks in all


# Found by tests/test_any_config.py in CI: one MLQA-R article asked in de, another in es, and no cross-lingual query set.
def test_a_small_subset_shares_a_question_between_every_two_evaluated_languages(mlqa):
    languages = ["ar", "de", "en", "es", "hi", "vi", "zh"]
    for articles, seed in [(1, 0), (1, 1), (2, 0)]:
        asked = evaluation_set(mlqa, languages, articles, seed, None).questions.groupby("question_id").lang.agg(set)
        for x, y in combinations(languages, 2):
            assert any({x, y} <= langs for langs in asked), (articles, seed, x, y)
    subset = evaluation_set(mlqa, ["de", "es"], 1, 0, None)
    assert [s.name for s in query_sets(subset, ("cross",))] == ["cross/de-es", "cross/es-de"]


def test_the_pilots_articles_are_set_aside_before_any_evaluation_set_is_chosen(xquad):
    from xlretrieval.data.splits import evaluation_set, pilot_set

    reserved = {"articles": 3, "seed": 0}
    pilot = pilot_set(xquad, ["de", "en"], 3, 0, None)
    assert pilot.questions.article.nunique() == 3 and set(pilot.questions.lang) == {"de", "en"}
    for articles in (3, None):  # a subset, or every article but the pilot's
        evaluated = evaluation_set(xquad, ["de", "en", "zh"], articles, 0, None, reserved)
        assert not set(pilot.questions.article) & set(evaluated.questions.article)
        assert not set(pilot.questions.question_id) & set(evaluated.questions.question_id)
    everything = set(xquad.questions.article)
    assert set(evaluation_set(xquad, ["de", "en"], None, 0, None, reserved).questions.article) == everything - set(pilot.questions.article)
    # the same articles whichever languages either evaluates
    assert set(pilot_set(xquad, ["en", "zh"], 3, 0, None).questions.article) == set(pilot.questions.article)
    with pytest.raises(ValueError, match="leaving the study none"):
        pilot_set(xquad, ["de", "en"], len(everything), 0, None)
    with pytest.raises(ValueError, match="also trains on"):
        pilot_set(xquad, ["de", "en"], 3, 0, {"train_fraction": 0.5, "seed": 0})
