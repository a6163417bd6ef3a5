"""Sharded search against a brute-force reference on real XQuAD-R embeddings; approximate search recall."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from xlretrieval import metrics
from xlretrieval import model as bi
from xlretrieval.config import validate
from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.data.lareqa import read_dataset
from xlretrieval.data.splits import evaluation_set
from xlretrieval.encoding import encode
from xlretrieval.querysets import query_sets
from xlretrieval.search import shards
from xlretrieval.search.index import IndexSpec, recall
from xlretrieval.search.order import decode_keys, order_keys
from xlretrieval.search.output import RANK_COLUMNS, search
from xlretrieval.search.shards import Partial, rank, rank_shard
from xlretrieval.search.targets import query_targets

from conftest import SCHEMA, lareqa_file, study_config

NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEPTH = 20


@pytest.fixture(scope="module")
def encoder():
    return bi.load(NAME, torch.device("cpu"))


@pytest.fixture(scope="module")
def real(xquad, encoder):
    """Three XQuAD-R articles in de, en, zh and their embeddings by the real model."""
    tables = evaluation_set(xquad, ["de", "en", "zh"], 3, 0, None)
    return tables, encode(encoder, tables.questions.text.tolist()), encode(encoder, tables.candidates.text.tolist())


@pytest.fixture(scope="module")
def thai(encoder):
    """Three XQuAD-R articles in en and th: the English model reads Thai as runs of [UNK], so some Thai
    candidates share an embedding (exact ties, relevant candidates among them)."""
    tables = evaluation_set(read_dataset({lang: lareqa_file("xquad-r", lang) for lang in ("en", "th")}), ["en", "th"], 3, 0, None)
    return tables, encode(encoder, tables.questions.text.tolist()), encode(encoder, tables.candidates.text.tolist())


def with_ties(vectors: np.ndarray) -> np.ndarray:
    """Every third candidate takes the embedding of the one before it: exact score ties everywhere."""
    tied = vectors.copy()
    tied[2::3] = tied[1::3][: len(tied[2::3])]
    return tied


def brute_force(tables: BenchmarkTables, questions: np.ndarray, candidates: np.ndarray, depth: int):
    """Per query set and question, a plain Python sort of the whole pool by (score, candidate id), both
    descending, where scores are float32 roundings of float64 inner products: the top-`depth` run lines
    (qid, cid, rank, score) and every relevant candidate's position in the sorted pool."""
    runs, ranks = {}, []
    qids, cids = tables.questions.question_id.to_numpy(), tables.candidates.candidate_id.to_numpy()
    for unit in query_sets(tables):
        matrix = (questions[unit.question_rows].astype(np.float64) @ candidates[unit.candidate_rows].astype(np.float64).T).astype(np.float32)
        pool_ids = cids[unit.candidate_rows].tolist()
        relevant = unit.qrels.groupby("question_id").candidate_id.apply(list)
        runs[unit.name] = []
        for qid, row in zip(qids[unit.question_rows], matrix.tolist()):
            ordered = sorted(zip(row, pool_ids), reverse=True)
            runs[unit.name] += [(qid, cid, r, score) for r, (score, cid) in enumerate(ordered[:depth], 1)]
            position = {cid: r for r, (_, cid) in enumerate(ordered, 1)}
            ranks += [(unit.setting, unit.query_lang, unit.passage_lang, qid, cid, position[cid]) for cid in relevant[qid]]
    return runs, pd.DataFrame(ranks, columns=RANK_COLUMNS)


def read_run(path):
    return pd.read_csv(path, sep=" ", header=None, names=["qid", "q0", "cid", "rank", "score", "tag"], dtype={"qid": str, "cid": str})


def check_against_brute_force(tables: BenchmarkTables, questions: np.ndarray, candidates: np.ndarray, run_dir: Path, report) -> None:
    """Run files and exact ranks equal the brute force's; RR and R@1 by ir-measures from the run files
    follow from the brute-force positions (so the measures see the listed order)."""
    runs, ranks = brute_force(tables, questions, candidates, DEPTH)
    for name, expected in runs.items():
        run = read_run(run_dir / f"{name}.trec")
        assert list(zip(run.qid, run.cid, run["rank"])) == [line[:3] for line in expected], name
        np.testing.assert_array_equal(run.score.to_numpy().astype(np.float32), [line[3] for line in expected], err_msg=name)
    pd.testing.assert_frame_equal(report.ranks, ranks, check_dtype=False)
    keys = ["setting", "query_lang", "passage_lang", "question_id"]
    grouped = ranks.groupby(keys)["rank"]
    best = grouped.min()
    expected = pd.concat({"RR": (1 / best).where(best <= DEPTH, 0.0), "R@1": grouped.agg(lambda r: (r == 1).mean())}, names=["metric"])
    measured = metrics.per_query(tables, run_dir, ["RR", "R@1"]).set_index(["metric"] + keys).value
    pd.testing.assert_series_equal(measured.sort_index(), expected.reorder_levels(measured.index.names).sort_index(), check_names=False)


@pytest.mark.parametrize("ties", [False, True], ids=["real", "real-with-ties"])
@pytest.mark.parametrize("shard_size", [3, 40, 10**6])
def test_sharded_search_equals_brute_force(real, tmp_path, monkeypatch, shard_size, ties):
    tables, questions, candidates = real
    if ties:
        candidates = with_ties(candidates)
    monkeypatch.setattr(shards, "BLOCK_SCORES", 200)  # query chunks of a few questions
    report = search(tables, questions, candidates, DEPTH, tmp_path, index=IndexSpec(shard_size=shard_size))
    assert {"mono/de-de", "cross/de-zh", "multi/zh-all"} <= {u.name for u in query_sets(tables)}
    check_against_brute_force(tables, questions, candidates, tmp_path, report)
    multi = read_run(tmp_path / "multi" / "en-all.trec")
    assert multi.cid.str[:2].nunique() == 3  # the multi lists merge all three languages' shards
    assert report.recall.empty


@pytest.mark.parametrize("shard_size", [7, 10**6])
def test_thai_exact_ties_equal_brute_force(thai, tmp_path, monkeypatch, shard_size):
    tables, questions, candidates = thai
    th = tables.candidates.lang.to_numpy() == "th"
    shared = pd.Series([row.tobytes() for row in candidates[th]]).duplicated(keep=False).to_numpy()
    assert tables.qrels.candidate_id.isin(tables.candidates.candidate_id[th][shared]).sum() >= 3
    monkeypatch.setattr(shards, "BLOCK_SCORES", 200)
    report = search(tables, questions, candidates, DEPTH, tmp_path, index=IndexSpec(shard_size=shard_size))
    check_against_brute_force(tables, questions, candidates, tmp_path, report)


def test_one_shard_is_ranked_on_its_own_and_shards_merge(real):
    # 30 of the German candidates, relevant ones among them and outside: each query set that pools them
    # gets their top lists and, for each relevant candidate, how many of them a plain sort puts ahead
    tables, questions, candidates = real
    tiebreak = np.random.default_rng(0).permutation(len(tables.candidates))
    targets = [
        t
        for t in query_targets(tables, questions, candidates, tiebreak, DEPTH, ("mono", "cross", "multi"), 200)
        if t.unit.passage_lang in ("de", "all")
    ]
    shard = np.flatnonzero(tables.candidates.lang.to_numpy() == "de")[10:40]
    assert tables.qrels.candidate_id.isin(tables.candidates.candidate_id.iloc[shard]).any()
    parts = rank_shard(shard, candidates, targets, tiebreak, DEPTH)
    assert {t.unit.name for t in targets} >= {"mono/de-de", "cross/en-de", "multi/zh-all"}
    for target, part in zip(targets, parts):
        pool_scores = (questions[target.unit.question_rows].astype(np.float64) @ candidates[shard].astype(np.float64).T).astype(np.float32)
        for i, row in enumerate(pool_scores.tolist()):
            ordered = sorted(zip(row, tiebreak[shard].tolist()), key=lambda pair: (-pair[0], pair[1]))
            found, places = decode_keys(np.sort(part.exact[i]))
            assert list(zip(found.tolist(), places.tolist())) == ordered[:DEPTH], target.unit.name
            for j, relevant in enumerate(target.relevant_rows[i]):
                if relevant >= 0:
                    score = float(np.float32(questions[target.unit.question_rows[i]].astype(np.float64) @ candidates[relevant].astype(np.float64)))
                    ahead = sum(s > score or (s == score and b < tiebreak[relevant]) for s, b in ordered)
                    assert part.ahead[i, j] == ahead, target.unit.name
    # the results of two halves, merged into lists of the query set's length: those of the whole shard
    halves = [rank_shard(rows, candidates, targets, tiebreak, DEPTH) for rows in (shard[:13], shard[13:])]
    for target, whole, first, second in zip(targets, parts, *halves):
        merged = Partial.empty(target, target.k, approximate=False).merged(first).merged(second)
        np.testing.assert_array_equal(np.sort(merged.exact, axis=1), np.sort(whole.exact, axis=1))
        np.testing.assert_array_equal(merged.ahead, whole.ahead)


def test_near_and_exact_ties_rank_as_the_measures_see_them(tmp_path):
    # query (1, 0): a candidate's score is its first component. q1's answer en/0 scores 0.5 + 2**-23,
    # 1.2e-7 above en/1 (one value at 6 decimals, where ir-measures put en/1 first by id); q2's answer
    # en/2 shares en/3's embedding, so en/3 (the larger id) comes first.
    tables = BenchmarkTables(
        pd.DataFrame({"question_id": ["q1", "q2"], "lang": "en"}),
        pd.DataFrame({"candidate_id": [f"en/{i}" for i in range(4)], "lang": "en"}),
        pd.DataFrame({"question_id": ["q1", "q2"], "lang": "en", "candidate_id": ["en/0", "en/2"]}),
    )
    first = np.float32(0.5) + np.float32(2**-23)
    candidates = np.array([[first, 0.1], [0.5, 0.2], [0.25, 0.3], [0.25, 0.3]], dtype=np.float32)
    questions = np.array([[1, 0], [0, 1]], dtype=np.float32)
    report = search(tables, questions, candidates, 10, tmp_path, settings=("mono",))
    assert report.ranks.set_index("question_id")["rank"].to_dict() == {"q1": 1, "q2": 2}
    run = read_run(tmp_path / "mono" / "en-en.trec")
    assert run[run.qid == "q1"].cid.tolist()[:2] == ["en/0", "en/1"]
    assert run[run.qid == "q2"].cid.tolist() == ["en/3", "en/2", "en/1", "en/0"]
    rr = metrics.per_query(tables, tmp_path, ["RR"], settings=("mono",)).set_index("question_id").value
    assert rr.to_dict() == {"q1": 1.0, "q2": 0.5}


def test_ties_list_by_descending_candidate_id(real, tmp_path):
    tables, questions, candidates = real
    search(tables, questions, with_ties(candidates), DEPTH, tmp_path)
    run = read_run(tmp_path / "mono" / "en-en.trec")
    tied = run[run.duplicated(["qid", "score"], keep=False)]
    assert len(tied) > 100
    assert all(list(group.cid) == sorted(group.cid, reverse=True) for _, group in tied.groupby(["qid", "score"]))


def synthetic(n_per_lang: int, n_questions: int, dimension: int, seed: int = 0):
    """Two languages of random unit vectors; each question's answer in each language is a random candidate,
    and the question is a noisy copy of its English answer."""
    rng = np.random.default_rng(seed)
    langs = ["de", "en"]
    candidates = pd.DataFrame(
        {"candidate_id": [f"{lang}/{i:05d}" for lang in langs for i in range(n_per_lang)], "lang": np.repeat(langs, n_per_lang)}
    )
    qids = [f"q{i:04d}" for i in range(n_questions)]
    questions = pd.DataFrame({"question_id": qids * 2, "lang": np.repeat(langs, n_questions)})
    answers = {lang: rng.choice(n_per_lang, n_questions, replace=False) for lang in langs}
    qrels = pd.DataFrame(
        [(q, lang, f"{lang}/{answers[lang][i]:05d}") for lang in langs for i, q in enumerate(qids)], columns=["question_id", "lang", "candidate_id"]
    )
    vectors = rng.standard_normal((len(candidates), dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    english = vectors[n_per_lang + answers["en"]]
    asked = np.vstack([english, english]) + 0.1 * rng.standard_normal((2 * n_questions, dimension)).astype(np.float32)
    asked /= np.linalg.norm(asked, axis=1, keepdims=True)
    return BenchmarkTables(questions, candidates, qrels), asked, vectors


@pytest.mark.parametrize(
    "spec, at_10, at_50",
    [(IndexSpec("hnsw", 1000, hnsw_m=16, hnsw_ef_search=50), 0.95, 0.95), (IndexSpec("ivf", 1000, ivf_nprobe=12), 0.85, 0.8)],
    ids=["hnsw", "ivf-12-of-25-lists"],
)
def test_approximate_search_has_high_recall_and_exact_ranks(spec, at_10, at_50):
    tables, questions, candidates = synthetic(n_per_lang=3000, n_questions=60, dimension=32)
    exact = rank(tables, questions, candidates, depth=50, index=IndexSpec(shard_size=1000))
    approximate = rank(tables, questions, candidates, depth=50, index=spec)
    for a, e in zip(approximate, exact):
        np.testing.assert_array_equal(a.exact_rows, e.rows)
        np.testing.assert_array_equal(a.relevant_ranks, e.relevant_ranks)
        assert recall(a.rows, e.rows, 10).mean() >= at_10, a.unit.name
        assert recall(a.rows, e.rows, 50).mean() >= at_50, a.unit.name
        listed = a.rows >= 0
        exact_scores = np.einsum(
            "qd,qkd->qk", questions[a.unit.question_rows].astype(np.float64), candidates[np.maximum(a.rows, 0)].astype(np.float64)
        ).astype(np.float32)
        np.testing.assert_array_equal(a.scores[listed], exact_scores[listed])  # approximate lists, exact scores


def test_recall_counts_shared_rows():
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[2, 1, 9, -1], [8, 7, 6, 5]])
    assert recall(found, exact, 2).tolist() == [1.0, 0.0]
    assert recall(found, exact, 4).tolist() == [0.5, 1.0]


def test_order_keys_sort_by_score_then_tiebreak_and_decode():
    scores = np.array([[0.5, -0.5, 0.0, -0.0, 1.0, -1.0, 0.5, np.inf, 1e-40]], dtype=np.float32)
    tiebreak = np.array([3, 1, 2, 0, 4, 5, 0, 6, 7])
    keys = order_keys(scores, tiebreak)
    order = np.argsort(keys[0])
    assert [(float(scores[0, i]), int(tiebreak[i])) for i in order] == [
        (np.inf, 6),
        (1.0, 4),
        (0.5, 0),
        (0.5, 3),
        (float(np.float32(1e-40)), 7),
        (0.0, 0),
        (0.0, 2),
        (-0.5, 1),
        (-1.0, 5),
    ]
    decoded, places = decode_keys(keys)
    np.testing.assert_array_equal(decoded, scores)
    np.testing.assert_array_equal(places, tiebreak[None, :])


def test_index_defaults_match_the_schema():
    assert IndexSpec.from_config(validate(study_config(), SCHEMA)["evaluation"]["index"]) == IndexSpec()
    spec = IndexSpec.from_config({"type": "ivf", "shard_size": 10, "ivf": {"nlist": 4, "nprobe": 2}})
    assert (spec.type, spec.shard_size, spec.ivf_nlist, spec.ivf_nprobe) == ("ivf", 10, 4, 2)


def test_bad_input_is_a_clear_error(tmp_path):
    tables, questions, candidates = synthetic(n_per_lang=50, n_questions=5, dimension=8)
    with pytest.raises(ValueError, match=r"candidate embeddings have shape \(99, 8\), expected \(100, dimension\)"):
        search(tables, questions, candidates[:99], 10, tmp_path)
    with pytest.raises(ValueError, match="question embeddings have dimension 8, candidates 4"):
        search(tables, questions, candidates[:, :4], 10, tmp_path)
    broken = candidates.copy()
    broken[70, 3] = np.nan
    with pytest.raises(ValueError, match=r"candidate embeddings hold NaN or infinite values \(rows 50-99\)"):
        search(tables, questions, broken, 10, tmp_path)
    with pytest.raises(ValueError, match="index type must be exact, hnsw or ivf, not 'flat'"):
        IndexSpec(type="flat")


def test_a_search_without_a_query_set_names_the_settings(real, tmp_path):
    tables, questions, candidates = real
    english = tables.questions.lang.eq("en").to_numpy()
    one_language = BenchmarkTables(tables.questions[english], tables.candidates, tables.qrels[tables.qrels.lang == "en"])
    with pytest.raises(ValueError, match="nothing to search: .* settings cross"):
        search(one_language, questions[english], candidates, DEPTH, tmp_path, settings=("cross",))


@pytest.mark.parametrize("case", ["real", "ties", "graded"])
def test_measures_from_ranks_equal_ir_measures_on_the_runs(real, tmp_path, case):
    """The evaluation's fast path (the exact ranks of judged candidates) against ir-measures on the TREC runs: every
    value of every query, relevant candidates below the run's depth, exact score ties and graded relevance included.
    RR@k is trec_eval's RR cut at k: ir-measures' own RR@k orders exact ties otherwise, so with ties it is checked
    against RR."""
    tables, questions, candidates = real
    if case == "ties":
        candidates = with_ties(candidates)
    if case == "graded":  # grades 0, 1 and 2: a grade-0 candidate is judged but not relevant
        grades = pd.util.hash_pandas_object(tables.qrels.candidate_id, index=False).to_numpy() % 3
        tables = BenchmarkTables(tables.questions, tables.candidates, tables.qrels.assign(relevance=grades))
    report = search(tables, questions, candidates, DEPTH, tmp_path)
    names = ["RR", "RR@5", "AP", "R@1", "R@10", "nDCG@10", "R@100", "P@5", "nDCG", "AP@10"]
    assert metrics.computable_from_ranks(names) and not metrics.computable_from_ranks(["Judged@10"])
    from_runs, from_ranks = metrics.per_query(tables, tmp_path, names), metrics.per_query_from_ranks(tables, report.ranks, names, DEPTH)
    both = from_runs.merge(from_ranks, on=metrics.PER_QUERY_COLUMNS[:-1], how="outer", suffixes=("_runs", "_ranks"), validate="one_to_one")
    assert len(both) == len(from_runs) == len(from_ranks) and set(from_ranks.metric) == set(names)
    if case == "ties":
        rr = both[both.metric == "RR"].set_index(metrics.PER_QUERY_COLUMNS[:4]).value_runs
        cut = both.metric == "RR@5"
        both.loc[cut, "value_runs"] = rr.where(rr >= 1 / 5, 0.0).loc[both[cut].set_index(metrics.PER_QUERY_COLUMNS[:4]).index].to_numpy()
    np.testing.assert_allclose(both.value_ranks, both.value_runs, rtol=0, atol=1e-12)
    below_depth = report.ranks["rank"] > DEPTH
    assert below_depth.any() and (both.value_runs.between(0, 1, inclusive="neither")).mean() > 0.05
