import shutil

import pytest

from xlretrieval.data.lareqa import answer_sentence, read_language
from xlretrieval.data.sources import SOURCES, DataError, fetch

from conftest import SHARED, lareqa_file


def test_xquad_reader_yields_parallel_tables(xquad):
    q, c, r = xquad.questions, xquad.candidates, xquad.qrels
    assert q.groupby("lang").size().to_dict() == {"de": 1190, "en": 1190, "zh": 1190}
    assert c[c.lang == "en"].shape[0] == 1180
    assert q.question_id.nunique() == 1190  # parallel ids shared by all languages
    assert len(r) == len(q)  # one answer sentence per question and language
    # every qrel points into the candidates of the same language
    merged = r.merge(c, on="candidate_id", suffixes=("", "_cand"))
    assert len(merged) == len(r) and (merged.lang == merged.lang_cand).all()


def test_answer_sentence_holds_the_answer():
    path = lareqa_file("xquad-r", "en")
    tables = read_language(path, "en")
    import json

    answers = {qa["id"]: qa["answers"][0]["text"] for a in json.load(open(path))["data"] for p in a["paragraphs"] for qa in p["qas"]}
    text = dict(zip(tables.candidates.candidate_id, tables.candidates.text))
    hits = [answers[qid] in text[cid] for qid, cid in zip(tables.qrels.question_id, tables.qrels.candidate_id)]
    assert sum(hits) / len(hits) > 0.97  # the rest are answers spanning a sentence break


def test_answer_sentence_by_hand():
    breaks = [[0, 10], [11, 20], [21, 30]]
    assert [answer_sentence(breaks, s) for s in (0, 10, 11, 25, 30)] == [0, 0, 1, 2, 2]


def test_fetch_from_mirror_verifies_checksum(tmp_path):
    lareqa_file("xquad-r", "de")
    source = SOURCES["xquad-r"]
    dest = fetch("xquad-r", "de", tmp_path / "de.json", SHARED, source.url("de"), source.sha256["de"])
    assert dest.read_bytes() == (SHARED / "xquad-r" / "de.json").read_bytes()


def test_fetch_rejects_a_corrupt_file_and_leaves_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "xquad-r").mkdir(parents=True)
    shutil.copy(lareqa_file("xquad-r", "de"), mirror / "xquad-r" / "de.json")
    with open(mirror / "xquad-r" / "de.json", "ab") as handle:
        handle.write(b" ")
    source = SOURCES["xquad-r"]
    with pytest.raises(DataError, match=r"xquad-r/de.json .*sha256"):
        fetch("xquad-r", "de", tmp_path / "out" / "de.json", mirror, source.url("de"), source.sha256["de"])
    assert not any((tmp_path / "out").iterdir())


def test_missing_mirror_file_falls_back_to_download_and_names_both(tmp_path):
    unreachable = "http://127.0.0.1:9/es.json"
    with pytest.raises(DataError, match=r"mlqa-r/es.json does not exist and cannot download http://127.0.0.1:9/es.json"):
        fetch("mlqa-r", "es", tmp_path / "es.json", tmp_path, unreachable, SOURCES["mlqa-r"].sha256["es"])
    assert not (tmp_path / "es.json").exists()


def test_reader_names_a_malformed_file(tmp_path):
    bad = tmp_path / "xx.json"
    bad.write_text('{"data": [{"title": "t", "paragraphs": [{"context": "c"}]}]}')
    with pytest.raises(DataError, match="xx.json"):
        read_language(bad, "xx")
