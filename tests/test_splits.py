import pytest

from xlretrieval.data.splits import (
    OverlapError, check_disjoint, evaluation_set, holdout_split, normalise_title, training_set,
)


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
