"""mMARCO and MIRACL readers on files written in their real on-disk formats, read through a local hub mirror."""

import gzip
import json
import tracemalloc

import numpy as np
import pytest

from xlretrieval.data import collections, miracl, mmarco
from xlretrieval.data.hub import HubRepo
from xlretrieval.data.readers import read
from xlretrieval.data.sources import DataError
from xlretrieval.data.splits import training_pairs

from hub_fixtures import SHARED_PASSAGE, mmarco_passage, mmarco_query, write_miracl, write_mmarco


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    write_mmarco(root, ["de", "en", "fr"])
    write_miracl(root, ["de", "sw"])
    return root


def mmarco_options(hub, **changes):
    return {"repo": "unicamp-dl/mmarco", "hub_mirror": str(hub), "revisions": {}, "queries": 20, "seed": 0, "max_passage_chars": None, **changes}


def miracl_options(hub, **changes):
    return {
        "topics_repo": "miracl/miracl",
        "corpus_repo": "miracl/miracl-corpus",
        "hub_mirror": str(hub),
        "revisions": {},
        "others": None,
        "seed": 0,
        **changes,
    }


# --- mMARCO ------------------------------------------------------------------------------------


def test_pairs_are_sampled_from_the_triples_with_their_first_positive(hub):
    triples = hub / "unicamp-dl" / "mmarco" / mmarco.TRIPLES
    pairs = mmarco.sample_pairs(triples, 20, seed=3, chunk_size=7)  # chunks cut through a query's triples
    assert len(pairs) == 20 and pairs.qid.is_unique and pairs.pid.is_unique
    assert (pairs.pid == 2 * (pairs.qid - 1000)).all()  # the first positive listed, not the second
    assert pairs.equals(mmarco.sample_pairs(triples, 20, seed=3))
    assert not pairs.equals(mmarco.sample_pairs(triples, 20, seed=4))
    with pytest.raises(DataError, match="has 60 queries with distinct positives, fewer than the 61"):
        mmarco.sample_pairs(triples, 61, seed=0)


def test_mmarco_reader_yields_parallel_tables_in_every_language(hub):
    tables, manifest = read("mmarco", ["de", "en", "fr"], [], mmarco_options(hub))
    q, c, r = tables.questions, tables.candidates, tables.qrels
    assert q.groupby("lang").size().to_dict() == {"de": 20, "en": 20, "fr": 20}
    assert q.groupby("question_id").lang.nunique().eq(3).all()  # every query id in every language
    assert set(q.question_id.str.removeprefix("mmarco/").astype(int)) <= set(range(1000, 1060))
    row = q[(q.lang == "fr")].iloc[0]
    assert row.text == mmarco_query("fr", int(row.question_id.removeprefix("mmarco/")))
    passages = c.rename(columns={"lang": "passage_lang", "text": "passage"})[["candidate_id", "passage_lang", "passage"]]
    merged = r.merge(passages, on="candidate_id").merge(q, on=["question_id", "lang"])
    assert len(merged) == 60 and (merged.lang == merged.passage_lang).all()
    pid = merged.candidate_id.str.rsplit("/", n=1).str[-1].astype(int)
    assert (pid == 2 * (merged.question_id.str.removeprefix("mmarco/").astype(int) - 1000)).all()
    assert merged[merged.lang == "en"].passage.tolist() == [mmarco_passage("en", p) for p in pid[merged.lang == "en"]]
    assert manifest["files"][1:3] == ["data/google/queries/train/german_queries.train.tsv", "data/google/collections/german_collection.tsv"]


def test_passages_are_cut_to_the_length_cap(hub):
    tables, manifest = read("mmarco", ["en"], [], mmarco_options(hub, max_passage_chars=12))
    assert tables.candidates.text.str.len().max() == 12
    assert manifest["passages_at_the_length_cap"] == {"en": 20}


def test_collection_is_streamed_not_loaded(tmp_path):
    path = tmp_path / "german_collection.tsv"
    with open(path, "w", encoding="utf-8") as out:
        for pid in range(200_000):
            out.write(f"{pid}\t{'Ein langer deutscher Absatz über Flüsse und Berge. ' * 3}{pid}\n")
    wanted = {str(pid) for pid in range(0, 200_000, 4000)}
    tracemalloc.start()
    texts = mmarco.read_texts(path, wanted)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(texts) == 50 and texts["4000"].endswith("4000")
    assert path.stat().st_size > 30_000_000 and peak < 1_000_000  # well under 1/30 of the file


def test_a_collection_missing_sampled_ids_is_named(tmp_path):
    path = tmp_path / "french_collection.tsv"
    path.write_text("1\tun\n2\tdeux\n")
    with pytest.raises(DataError, match=r"french_collection.tsv lacks 1 of the 2 sampled ids \(e.g. 3\)"):
        mmarco.read_texts(path, {"1", "3"})
    path.write_text("1\tun\nnot a row\n")
    with pytest.raises(DataError, match=r"french_collection.tsv, line 2: not `id<TAB>text`"):
        mmarco.read_texts(path, {"1"})


def test_mmarco_languages_are_iso_codes_mapped_to_file_names():
    assert mmarco.collection_file("zh") == "data/google/collections/chinese_collection.tsv"
    with pytest.raises(ValueError, match="mMARCO has no language 'sw'"):
        mmarco.queries_file("sw")


# --- MIRACL ------------------------------------------------------------------------------------


def test_miracl_reader_keeps_relevant_judgements_and_prefixes_ids(hub):
    tables, manifest = read("miracl", ["de", "sw"], [], miracl_options(hub))
    q, c, r = tables.questions, tables.candidates, tables.qrels
    assert q.groupby("lang").size().to_dict() == {"de": 7, "sw": 7}  # the query with no relevant passage is left out
    assert q.question_id.is_unique and q.question_id.str.startswith("miracl/").all()
    assert set(r.question_id) == set(q.question_id) and len(r) == 14
    assert r.candidate_id.str.endswith("#0").all()  # relevance 0 is not a qrel
    assert set(r.candidate_id) <= set(c.candidate_id)
    assert len(c) == 120 and c.candidate_id.is_unique
    passage = c.set_index("candidate_id").loc["miracl/de/0#0"]
    assert passage.text == f"River 0 {SHARED_PASSAGE}" and passage.article == "River 0"
    assert manifest["languages"]["sw"] | {"shards": None} == {
        "shards": None,
        "corpus_passages": 60,
        "judged_passages": 15,
        "kept_passages": 60,
        "others": None,
        "seed": 0,
        "queries": 8,
        "queries_with_a_relevant_passage": 7,
    }


def test_capped_corpus_keeps_every_judged_passage_and_n_others(hub):
    tables, manifest = read("miracl", ["de"], [], miracl_options(hub, others=10, seed=1))
    c = tables.candidates
    judged = {f"miracl/de/{i}#{j}" for i in range(7) for j in (0, 1)} | {"miracl/de/7#1"}
    assert judged <= set(c.candidate_id) and len(c) == 25
    assert manifest["languages"]["de"]["kept_passages"] == 25 and manifest["languages"]["de"]["others"] == 10
    again, _ = read("miracl", ["de"], [], miracl_options(hub, others=10, seed=1))
    other, _ = read("miracl", ["de"], [], miracl_options(hub, others=10, seed=2))
    assert again.candidates.equals(c) and set(other.candidates.candidate_id) != set(c.candidate_id)
    judged_only, manifest = read("miracl", ["de"], [], miracl_options(hub, others=0))
    assert set(judged_only.candidates.candidate_id) == judged and manifest["languages"]["de"]["corpus_passages"] == 60


def test_reservoir_sample_is_uniform_exact_and_in_stream_order():
    counts = np.zeros(20)
    for seed in range(4000):
        sample = collections.reservoir(iter(range(20)), 5, np.random.default_rng(seed))
        assert len(sample) == 5 and sample == sorted(sample)
        counts[sample] += 1
    np.testing.assert_allclose(counts / 4000, 0.25, atol=0.03)
    assert collections.reservoir(range(3), 5, np.random.default_rng(0)) == [0, 1, 2]
    stream = iter(range(3))
    assert collections.reservoir(stream, 0, np.random.default_rng(0)) == [] and next(stream, None) is None


def test_corpus_shards_are_read_in_numeric_order(tmp_path):
    folder = tmp_path / "miracl" / "miracl-corpus" / "miracl-corpus-v1.0-yo"
    folder.mkdir(parents=True)
    for shard in (0, 2, 10, 1):
        with gzip.open(folder / f"docs-{shard}.jsonl.gz", "wt") as out:
            out.write(json.dumps({"docid": f"{shard}#0", "title": "t", "text": "x"}) + "\n")
    repo = HubRepo("miracl/miracl-corpus", mirror=tmp_path)
    shards = repo.files(miracl.corpus_pattern("yo"))
    assert [s.rsplit("/", 1)[1] for s in shards] == ["docs-0.jsonl.gz", "docs-1.jsonl.gz", "docs-2.jsonl.gz", "docs-10.jsonl.gz"]
    assert [p["docid"] for p in collections.passages([repo.file(s) for s in shards])] == ["0#0", "1#0", "2#0", "10#0"]


def test_malformed_miracl_files_are_named(tmp_path):
    (tmp_path / "qrels.tsv").write_text("1\tQ0\t3#0\tx\n")
    with pytest.raises(DataError, match="qrels.tsv, line 1: relevance is not an integer"):
        collections.read_qrels(tmp_path / "qrels.tsv")
    (tmp_path / "topics.tsv").write_text("1 no tab\n")
    with pytest.raises(DataError, match=r"topics.tsv, line 1: not a query"):
        collections.read_queries(tmp_path / "topics.tsv")
    with gzip.open(tmp_path / "docs-0.jsonl.gz", "wt") as out:
        out.write('{"docid": "1#0", "title": "no text"}\n')
    with pytest.raises(DataError, match=r"docs-0.jsonl.gz, line 1: not a passage"):
        list(collections.passages([tmp_path / "docs-0.jsonl.gz"]))


def test_a_relevant_passage_missing_from_the_corpus_is_an_error(hub, tmp_path):
    write_miracl(tmp_path, ["sw"], passages=10)  # judged passages 5#0 .. 7#1 are beyond the corpus
    with pytest.raises(DataError, match=r"miracl sw: 2 relevant passages are not in the corpus"):
        read("miracl", ["sw"], [], miracl_options(tmp_path))


# --- the download boundary and the overlap guard -----------------------------------------------


def test_a_file_the_mirror_lacks_comes_from_the_hub_cache_or_a_clear_error(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no network: an empty cache misses
    repo = HubRepo("miracl/miracl", "main", tmp_path)
    with pytest.raises(DataError, match=r"miracl/miracl/x.tsv does not exist and cannot download x.tsv from the hub dataset miracl/miracl@main"):
        repo.file("x.tsv")


def test_guard_drops_mmarco_pairs_whose_passage_miracl_holds(hub):
    train, _ = read("mmarco", ["de", "en", "fr"], [], mmarco_options(hub, queries=60))
    evaluation, _ = read("miracl", ["de", "sw"], [], miracl_options(hub))
    pairs, dropped = training_pairs(train, [evaluation])
    assert dropped == 1 and "mmarco/1001" not in set(pairs.question_id)  # its German passage is MIRACL's de 0#0 body
    assert pairs.question_id.nunique() == 59 and pairs.groupby("question_id").size().eq(3).all()
    assert (pairs.article == "").all()
