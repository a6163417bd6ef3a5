"""Test collections added by config (`data.collections`): BEIR-layout folders and ir_datasets ids on fixtures in
their real formats, graded relevance through the metrics, the corpus cap, the config's checks, and MIRACL read
through the same path."""

import math
import sys

import pandas as pd
import pytest

from xlretrieval import metrics
from xlretrieval.config import ConfigError, Study, validate
from xlretrieval.data import collections
from xlretrieval.data.readers import read
from xlretrieval.data.sources import DataError
from xlretrieval.querysets import query_sets, write_qrels

from collection_fixtures import TOPICS, write_beir
from conftest import SCHEMA, study_config
from hub_fixtures import write_miracl

MEASURES = ["RR", "AP", "nDCG@10", "R@1"]


def study(collections_config: dict, **evaluation) -> Study:
    """A validated study evaluating on the given collections (all of them unless `benchmarks` is given)."""
    evaluation = {"benchmarks": list(collections_config), **evaluation}
    return Study(validate(study_config({"data": {"collections": collections_config}, "evaluation": evaluation}), SCHEMA))


def folder(root, languages, parallel, **entry) -> dict:
    return {"path": f"{root}/{{lang}}", "languages": languages, "parallel": parallel, **entry}


def read_collection(s: Study, name: str):
    reader, options = s.reading(name)
    return read(reader, s.dataset_languages(name), [], options)


@pytest.fixture
def parallel(tmp_path):
    """The two-language parallel fixture (de, en), read as the collection `par`."""
    s = study({"par": folder(write_beir(tmp_path / "par", ["de", "en"], parallel=True), ["de", "en"], True)})
    return s, *read_collection(s, "par")


# --- reading ------------------------------------------------------------------------------------


def test_beir_folders_are_read_with_parallel_ids_and_graded_relevance(parallel):
    s, tables, manifest = parallel
    q, c, r = tables.questions, tables.candidates, tables.qrels
    assert s.settings("par") == ["mono", "cross", "multi"] and s.lareqa_datasets() == ["mlqa-r"]  # the training dataset only
    asked = ["par/q1", "par/q2", "par/q3"]  # q4 has no relevant passage
    assert q.groupby("lang").question_id.apply(sorted).to_dict() == {"de": asked, "en": asked}
    assert sorted(c.candidate_id) == sorted(f"par/{lang}/{d}" for lang in ("de", "en") for d in TOPICS)
    river = c.set_index("candidate_id").loc["par/de/d1"]
    assert river.text == "River (de) [de] a passage on the river, d1." and river.article == "River (de)" and river.context_id == "d1"
    grades = {(row.question_id, row.candidate_id): row.relevance for row in r.itertuples()}
    relevant = [("q1", "d1", 2), ("q1", "d2", 1), ("q2", "d3", 1), ("q3", "d5", 1)]
    assert grades == {(f"par/{q}", f"par/{lang}/{d}"): g for lang in ("de", "en") for q, d, g in relevant}
    assert manifest["parallel"] and manifest["questions_in_every_language"] == 3
    assert manifest["languages"]["en"] | {"files": None} == {
        "files": None,
        "corpus_passages": 6,
        "judged_passages": 6,
        "kept_passages": 6,
        "others": None,
        "seed": 0,
        "queries": 4,
        "queries_with_a_relevant_passage": 3,
    }
    assert manifest["languages"]["en"]["files"][0].endswith("en/corpus.jsonl")


def test_a_collection_without_parallel_ids_is_mono_only(tmp_path):
    s = study({"solo": folder(write_beir(tmp_path / "solo", ["en", "sw"], parallel=False), ["en", "sw"], False)})
    tables, manifest = read_collection(s, "solo")
    assert s.settings("solo") == ["mono"] and "questions_in_every_language" not in manifest
    assert set(tables.questions.question_id) == {f"solo/{lang}/q{i}" for lang in ("en", "sw") for i in (1, 2, 3)}  # ids repeat across languages
    assert [u.name for u in query_sets(tables, tuple(s.settings("solo")))] == ["mono/en-en", "mono/sw-sw"]
    with pytest.raises(ConfigError, match=r"'evaluation.settings.solo': solo supports only mono .* not cross"):
        study({"solo": folder(tmp_path / "solo", ["en", "sw"], False)}, settings={"solo": ["mono", "cross"]})


def test_the_corpus_cap_keeps_every_judged_passage_and_n_seeded_others(tmp_path):
    root = write_beir(tmp_path / "big", ["en"], parallel=False, fillers=24)

    def candidates(**cap):
        tables, manifest = read_collection(study({"big": folder(root, ["en"], False, **cap)}), "big")
        return set(tables.candidates.candidate_id), manifest["languages"]["en"]

    kept, manifest = candidates(others=3, seed=1)
    judged = {f"big/en/{d}" for d in TOPICS}  # d4 and d6 are judged non-relevant: still kept, as hard candidates
    assert judged <= kept and len(kept) == 9
    assert (manifest["corpus_passages"], manifest["judged_passages"], manifest["kept_passages"], manifest["others"]) == (30, 6, 9, 3)
    assert candidates(others=3, seed=1)[0] == kept and candidates(others=3, seed=2)[0] != kept
    assert candidates(others=0)[0] == judged and len(candidates()[0]) == 30


def test_a_missing_folder_is_one_error_naming_the_entry_and_what_belongs_there(tmp_path):
    s = study({"ndqa": folder(tmp_path / "nowhere", ["el"], False)})
    with pytest.raises(DataError, match=r"data.collections.ndqa \(el\): .*nowhere/el/corpus.jsonl, .*queries.jsonl, .*qrels/test.tsv not found"):
        read_collection(s, "ndqa")
    assert collections.local_files(s.config["data"]["collections"]["ndqa"], ["el"]) == []


def test_malformed_files_are_named(tmp_path):
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\n")
    with pytest.raises(DataError, match=r"qrels.tsv, line 2: not qrels"):
        collections.read_qrels(tmp_path / "qrels.tsv")
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "no text"}\n')
    with pytest.raises(DataError, match=r"corpus.jsonl, line 1: not a passage"):
        list(collections.passages([tmp_path / "corpus.jsonl"]))


# --- metrics on the collection's query sets, checked by hand --------------------------------------


def write_run(path, rankings: dict[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{q} Q0 {c} {rank} {100 - rank} hand\n" for q, ranked in rankings.items() for rank, c in enumerate(ranked, 1)))


def ndcg(gains_at_ranks: dict[int, int], all_gains: list[int]) -> float:
    """trec_eval's nDCG: gain / log2(rank + 1), over the ideal ordering of every relevant grade."""
    dcg = sum(g / math.log2(rank + 1) for rank, g in gains_at_ranks.items())
    return dcg / sum(g / math.log2(rank + 1) for rank, g in enumerate(sorted(all_gains, reverse=True), 1))


def test_mono_cross_and_multi_metrics_use_the_grades(parallel, tmp_path):
    s, tables, _ = parallel
    runs = tmp_path / "runs"
    for unit in query_sets(tables, tuple(s.settings("par"))):
        pool = "en" if unit.passage_lang == "all" else unit.passage_lang
        ranked = {"q1": ["d3", "d1", "d6", "d2"], "q2": ["d4", "d3"], "q3": ["d5"]}
        rankings = {f"par/{q}": [f"par/{pool}/{d}" for d in ds] for q, ds in ranked.items()}
        if unit.setting == "multi":  # both languages' answers to q1, German first
            rankings["par/q1"] = ["par/de/d1", "par/en/d3", "par/en/d1", "par/de/d2", "par/en/d2"]
        write_run(runs / f"{unit.name}.trec", rankings)
    values = metrics.per_query(tables, runs, MEASURES, tuple(s.settings("par")))
    got = values.set_index(["setting", "query_lang", "passage_lang", "question_id", "metric"]).value
    assert sorted(set(zip(values.setting, values.query_lang, values.passage_lang))) == [
        ("cross", "de", "en"),
        ("cross", "en", "de"),
        ("mono", "de", "de"),
        ("mono", "en", "en"),
        ("multi", "de", "all"),
        ("multi", "en", "all"),
    ]
    # q1: grade 2 at rank 2, grade 1 at rank 4; q2: its only relevant passage at rank 2 (rank 1 is judged non-relevant); q3: at rank 1
    by_hand = {
        "par/q1": {"RR": 1 / 2, "AP": (1 / 2 + 2 / 4) / 2, "nDCG@10": ndcg({2: 2, 4: 1}, [2, 1]), "R@1": 0.0},
        "par/q2": {"RR": 1 / 2, "AP": 1 / 2, "nDCG@10": ndcg({2: 1}, [1]), "R@1": 0.0},
        "par/q3": {"RR": 1.0, "AP": 1.0, "nDCG@10": 1.0, "R@1": 1.0},
    }
    assert ndcg({2: 2, 4: 1}, [2, 1]) != pytest.approx(ndcg({2: 1, 4: 1}, [1, 1]))  # the grade changes nDCG, not RR or AP
    for setting, qlang, plang in [("mono", "en", "en"), ("mono", "de", "de"), ("cross", "en", "de"), ("cross", "de", "en")]:
        for qid, expected in by_hand.items():
            for metric, value in expected.items():
                assert got[setting, qlang, plang, qid, metric] == pytest.approx(value, abs=1e-4), (setting, qlang, qid, metric)
    # multi, q1: relevant are d1 (grade 2) and d2 (grade 1) in both languages, at ranks 1 (de d1), 3 (en d1), 4 (de d2), 5 (en d2)
    multi = {"RR": 1.0, "AP": (1 + 2 / 3 + 3 / 4 + 4 / 5) / 4, "nDCG@10": ndcg({1: 2, 3: 2, 4: 1, 5: 1}, [2, 2, 1, 1]), "R@1": 1 / 4}
    for metric, value in multi.items():
        assert got["multi", "en", "all", "par/q1", metric] == pytest.approx(value, abs=1e-4), metric
    write_qrels(tables, tmp_path / "qrels", tuple(s.settings("par")))
    assert "par/q1 0 par/de/d1 2\n" in (tmp_path / "qrels" / "cross" / "en-de.qrels").read_text()


# --- ir_datasets ------------------------------------------------------------------------------


def register_fixture(prefix: str, root, languages: list[str]) -> None:
    """Register the BEIR fixture's languages as ir_datasets datasets `{prefix}/{lang}`, with ir_datasets' own BEIR loaders."""
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.datasets.beir import BeirDocs, BeirQrels, BeirQueries, BeirTitleDoc
    from ir_datasets.formats import GenericQuery
    from ir_datasets.util import LocalDownload

    for lang in languages:
        files = root / lang
        ir_datasets.registry.register(
            f"{prefix}/{lang}",
            Dataset(
                BeirDocs(f"{prefix}/{lang}", LocalDownload(files / "corpus.jsonl"), BeirTitleDoc),
                BeirQueries(f"{prefix}/{lang}", LocalDownload(files / "queries.jsonl"), GenericQuery),
                BeirQrels(LocalDownload(files / "qrels" / "test.tsv"), qrels_defs={}),
            ),
        )


def test_an_ir_datasets_id_is_read_with_its_own_loaders_into_the_folder_tables(tmp_path, monkeypatch):
    pytest.importorskip("ir_datasets", reason="ir_datasets is the optional extra 'collections'")
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "home"))
    root = write_beir(tmp_path / "par", ["de", "en"], parallel=True)
    prefix = f"xlretrieval-fixture-{tmp_path.name}"
    register_fixture(prefix, root, ["de", "en"])
    by_id, manifest = read_collection(study({"par": {"ir_datasets": prefix + "/{lang}", "languages": ["de", "en"], "parallel": True}}), "par")
    by_folder, _ = read_collection(study({"par": folder(root, ["de", "en"], True)}), "par")
    for table in ("questions", "candidates", "qrels"):
        pd.testing.assert_frame_equal(getattr(by_id, table), getattr(by_folder, table))
    assert manifest["languages"]["de"]["ir_datasets"] == f"{prefix}/de" and manifest["languages"]["de"]["kept_passages"] == 6


def test_an_ir_datasets_id_that_needs_the_network_is_one_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("ir_datasets", reason="ir_datasets is the optional extra 'collections'")
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "home"))  # empty: scifact's files are not there
    s = study({"scifact": {"ir_datasets": "beir/scifact/test", "languages": ["en"], "parallel": False}})
    with pytest.raises(DataError, match=r"data.collections.scifact \(en\): the ir_datasets id 'beir/scifact/test' needs files .*https://") as error:
        read_collection(s, "scifact")
    assert "ir_datasets export beir/scifact/test" in str(error.value) and "data.collections.scifact.download: true" in str(error.value)
    with pytest.raises(DataError, match=r"ir_datasets has no dataset 'no-such/en'"):
        read_collection(study({"nope": {"ir_datasets": "no-such/{lang}", "languages": ["en"], "parallel": False}}), "nope")


def test_without_ir_datasets_the_error_names_the_optional_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ir_datasets", None)  # import ir_datasets raises ImportError
    s = study({"mrtydi": {"ir_datasets": "mr-tydi/{lang}/dev", "languages": ["sw"], "parallel": False}})
    with pytest.raises(DataError, match=r"data.collections.mrtydi reads the ir_datasets id 'mr-tydi/sw/dev': install the optional extra"):
        read_collection(s, "mrtydi")


# --- MIRACL through the same path -------------------------------------------------------------


def test_miracl_files_read_as_a_collection_give_the_builtin_readers_tables(tmp_path):
    write_miracl(tmp_path, ["de", "sw"])
    hub = {"topics_repo": "miracl/miracl", "corpus_repo": "miracl/miracl-corpus", "hub_mirror": str(tmp_path), "revisions": {}}
    builtin, builtin_manifest = read("miracl", ["de", "sw"], [], {**hub, "others": 10, "seed": 3})
    files = {
        "path": str(tmp_path / "miracl"),
        "corpus": "miracl-corpus/miracl-corpus-v1.0-{lang}/docs-*.jsonl.gz",
        "queries": "miracl/miracl-v1.0-{lang}/topics/topics.miracl-v1.0-{lang}-dev.tsv",
        "qrels": "miracl/miracl-v1.0-{lang}/qrels/qrels.miracl-v1.0-{lang}-dev.tsv",
    }
    s = study({"miracl-files": {**files, "languages": ["de", "sw"], "parallel": False, "others": 10, "seed": 3}})
    configured, manifest = read_collection(s, "miracl-files")
    for table in ("questions", "candidates", "qrels"):
        renamed = getattr(configured, table).replace(r"^miracl-files/", "miracl/", regex=True)  # the ids carry the entry's name
        pd.testing.assert_frame_equal(renamed, getattr(builtin, table))
    for lang in ("de", "sw"):
        assert {k: v for k, v in manifest["languages"][lang].items() if k != "files"} == {
            k: v for k, v in builtin_manifest["languages"][lang].items() if k != "shards"
        }


# --- the config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "x/{lang}", "ir_datasets": "y/{lang}"}, r"'data.collections.c': give either path .* or ir_datasets"),
        ({}, r"'data.collections.c': give either path"),
        ({"path": "x"}, r"'data.collections.c': corpus \(x/corpus.jsonl\) has no \{lang\}"),
        ({"ir_datasets": "mr-tydi/sw/dev"}, r"'data.collections.c': ir_datasets \(mr-tydi/sw/dev\) has no \{lang\}"),
        ({"ir_datasets": "y/{lang}", "split": "dev"}, r"'data.collections.c': split belong to a folder \(path\)"),
        ({"path": "x/{lang}", "download": True}, r"'data.collections.c.download': only an ir_datasets id downloads"),
    ],
)
def test_config_mistakes_in_a_collection_are_named(entry, message):
    with pytest.raises(ConfigError, match=message):
        study({"c": {**entry, "languages": ["de", "en"], "parallel": True}})


def test_config_refuses_a_shadowing_name_an_unstated_parallelism_and_training(tmp_path):
    with pytest.raises(ConfigError, match=r"'data.collections.miracl': miracl is a built-in"):
        study({"miracl": folder(tmp_path, ["de"], False)})
    with pytest.raises(ConfigError, match=r"'data.collections.c': 'parallel' is a required property"):
        study({"c": {"path": "x/{lang}", "languages": ["de"]}})
    with pytest.raises(ConfigError, match=r"'training.dataset': c is an evaluation benchmark only"):
        Study(validate(study_config({"data": {"collections": {"c": folder(tmp_path, ["de"], False)}}, "training": {"dataset": "c"}}), SCHEMA))


def test_a_collection_is_an_evaluation_benchmark_beside_the_builtin_ones(tmp_path):
    s = study({"ndqa": folder(tmp_path, ["de", "en", "sw"], False, others=1000)}, benchmarks=["xquad-r", "ndqa"], languages={"ndqa": ["de", "sw"]})
    reader, options = s.reading("ndqa")
    assert reader == "collection" and options["name"] == "ndqa" and options["others"] == 1000 and not options["download"]
    assert s.dataset_languages("ndqa") == ["de", "sw"] and s.held_out("ndqa") == ["sw"]  # de is in the default target pool
    assert s.article_subset("ndqa") is None and s.lareqa_datasets() == ["mlqa-r", "xquad-r"]
