import numpy as np
import pandas as pd
import pytest

from xlretrieval import metrics
from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.querysets import query_sets
from xlretrieval.search.output import search
from xlretrieval.tables import macro


def toy_tables():
    """Two questions in en and de; two candidates per language; q1's answer is c*1, q2's is c*2."""
    questions = pd.DataFrame(
        [("q1", "en", "", "A", "0"), ("q2", "en", "", "A", "0"), ("q1", "de", "", "A", "0"), ("q2", "de", "", "A", "0")],
        columns=["question_id", "lang", "text", "article", "context_id"],
    )
    candidates = pd.DataFrame(
        [("en1", "en", "", "A", "0"), ("en2", "en", "", "A", "0"), ("de1", "de", "", "A", "0"), ("de2", "de", "", "A", "0")],
        columns=["candidate_id", "lang", "text", "article", "context_id"],
    )
    qrels = pd.DataFrame(
        [("q1", "en", "en1"), ("q2", "en", "en2"), ("q1", "de", "de1"), ("q2", "de", "de2")], columns=["question_id", "lang", "candidate_id"]
    )
    return BenchmarkTables(questions, candidates, qrels)


def test_query_sets_cover_mono_cross_multi():
    names = [u.name for u in query_sets(toy_tables())]
    assert names == ["mono/de-de", "cross/de-en", "multi/de-all", "mono/en-en", "cross/en-de", "multi/en-all"]


def test_measures_and_rank_distance_by_hand(tmp_path):
    tables = toy_tables()
    # candidate vectors: en1, en2, de1, de2 along axes; queries built to produce known orders
    cands = np.eye(4, dtype=np.float32)
    # en q1 ranks: en1 .9, de2 .5, de1 .3, en2 .1  -> mono en: en1 rank 1; multi: en1 r1, de1 r3 -> distance 2
    # en q2 ranks: en1 .8, en2 .6, de1 .4, de2 .2  -> mono en: en2 rank 2; multi: en2 r2, de2 r4 -> distance 2
    # de q1: de1 .9 en1 .8 ... ; de q2: de2 .7 en2 .1 en1 .05 de1 .0
    queries = np.array([[0.9, 0.1, 0.3, 0.5], [0.8, 0.6, 0.4, 0.2], [0.8, 0.0, 0.9, 0.1], [0.05, 0.1, 0.0, 0.7]], dtype=np.float32)
    ranks = search(tables, queries, cands, depth=10, run_dir=tmp_path).ranks
    values = metrics.per_query(tables, tmp_path, ["RR", "AP", "R@1", "nDCG@10"])

    def get(s, q, p, qid, m):
        return values.query("setting == @s and query_lang == @q and passage_lang == @p and question_id == @qid and metric == @m").value.item()

    assert get("mono", "en", "en", "q2", "RR") == pytest.approx(0.5)
    assert get("mono", "en", "en", "q1", "R@1") == 1.0
    assert get("multi", "en", "all", "q1", "AP") == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert get("multi", "en", "all", "q2", "AP") == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert get("multi", "en", "all", "q2", "nDCG@10") == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / (1 + 1 / np.log2(3)))
    assert get("cross", "de", "en", "q2", "RR") == pytest.approx(1.0)
    distance = metrics.max_rank_distance(ranks).set_index(["query_lang", "question_id"]).value
    assert distance["en", "q1"] == 2 and distance["en", "q2"] == 2
    assert distance["de", "q1"] == 1 and distance["de", "q2"] == 1


def test_hand_made_runs_give_known_means_macro_over_languages(tmp_path):
    # en: the answers of q1, q2, q3 sit at ranks 1, 2, 3 (RR 1, 1/2, 1/3); de: q1 at rank 1, q2's answer
    # is not retrieved (RR 0). RR means: en 11/18, de 1/2; macro over languages 5/9, not 17/30 over queries.
    tables = BenchmarkTables(
        pd.DataFrame({"question_id": ["q1", "q2", "q3", "q1", "q2"], "lang": ["en", "en", "en", "de", "de"]}),
        pd.DataFrame({"candidate_id": ["en1", "en2", "en3", "de1", "de2", "de3"], "lang": ["en"] * 3 + ["de"] * 3}),
        pd.DataFrame(
            {
                "question_id": ["q1", "q2", "q3", "q1", "q2"],
                "lang": ["en", "en", "en", "de", "de"],
                "candidate_id": ["en1", "en2", "en3", "de1", "de2"],
            }
        ),
    )
    runs = {
        "en-en": {"q1": ["en1", "en2", "en3"], "q2": ["en1", "en2", "en3"], "q3": ["en1", "en2", "en3"]},
        "de-de": {"q1": ["de1", "de3"], "q2": ["de1", "de3"]},
    }
    (tmp_path / "mono").mkdir()
    for name, lists in runs.items():
        (tmp_path / "mono" / f"{name}.trec").write_text(
            "".join(f"{q} Q0 {c} {r} {10 - r} hand\n" for q, listed in lists.items() for r, c in enumerate(listed, 1))
        )
    values = metrics.per_query(tables, tmp_path, ["RR", "R@1"], settings=("mono",))
    by_query = values.set_index(["query_lang", "question_id", "metric"]).value
    assert by_query.loc[("en", slice(None), "RR")].tolist() == pytest.approx([1, 1 / 2, 1 / 3])
    assert by_query.loc[("de", slice(None), "RR")].tolist() == [1.0, 0.0]
    assert by_query.loc[("en", slice(None), "R@1")].tolist() == [1.0, 0.0, 0.0]
    summary = metrics.summarise(values)
    rr = summary[summary.metric == "RR"].set_index("query_lang")
    assert rr.value.to_dict() == pytest.approx({"en": 11 / 18, "de": 1 / 2})
    assert rr.n_queries.to_dict() == {"en": 3, "de": 2}
    averaged = macro(summary.assign(draw=0, seed=0), ["setting", "metric"]).set_index("metric").value
    assert averaged.to_dict() == pytest.approx({"RR": 5 / 9, "R@1": 5 / 12})  # over queries: 17/30, 2/5


def test_rank_distance_is_macro_over_languages_in_the_summary():
    per_query = pd.DataFrame(
        [
            ("multi", "en", "all", "a", "rank_distance", 0.0),
            ("multi", "en", "all", "b", "rank_distance", 4.0),
            ("multi", "de", "all", "a", "rank_distance", 10.0),
        ],
        columns=metrics.PER_QUERY_COLUMNS,
    )
    summary = metrics.summarise(per_query).set_index("query_lang")
    assert summary.loc["en", "value"] == 2.0 and summary.loc["en", "n_queries"] == 2
    assert summary.loc["de", "value"] == 10.0 and summary.loc["de", "n_queries"] == 1
    averaged = macro(summary.reset_index().assign(draw=0, seed=0), ["setting", "metric"])
    assert averaged.value.item() == 6.0  # macro over languages, not 14/3 over queries


def test_language_groups_follow_roles_and_the_run():
    roles = {"en": "source", "el": "held-out", "ru": "held-out", "de": "pool", "zh": "pool", "th": "other"}
    trained = {"en", "de"}
    group = lambda setting, q, p: metrics.lang_group(setting, q, p, trained, roles)  # noqa: E731
    assert [group("mono", x, x) for x in ("en", "el", "de", "zh", "th")] == ["source", "held-out", "trained", "not-drawn", "other"]
    assert group("multi", "el", "all") == "held-out" and group("multi", "zh", "all") == "not-drawn"
    assert group("cross", "el", "ru") == "held-out" and group("cross", "en", "el") == "held-out"
    assert group("cross", "de", "en") == "trained" and group("cross", "zh", "en") == "not-drawn" and group("cross", "de", "zh") == "not-drawn"
    assert group("cross", "el", "de") == "mixed" and group("cross", "zh", "ru") == "mixed" and group("cross", "th", "en") == "other"


def test_held_out_groups_do_not_change_with_the_training_languages():
    roles = {"en": "source", "el": "held-out", "ru": "held-out", "de": "pool", "zh": "pool"}
    sets = [(s, q, p) for s in ("mono", "cross", "multi") for q in roles for p in (roles if s == "cross" else [q]) if s != "cross" or p != q]
    for fixed in ("held-out", "source"):
        members = [
            {key for key in sets if metrics.lang_group(*key, trained, roles) == fixed} for trained in ({"en"}, {"en", "de"}, {"en", "de", "zh"})
        ]
        assert members[0] == members[1] == members[2] and members[0]
