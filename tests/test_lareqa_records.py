"""Bad records in a LAReQA-format file: each stops the reader with one line naming the file and the record."""

import json

import pytest

from xlretrieval.data.lareqa import answer_sentence, read_language
from xlretrieval.data.sources import DataError

SENTENCES = ["Die Katze schläft.", "Der Hund bellt laut."]
BREAKS = [[0, 18], [19, 39]]


def question(qid: str, text: str, answer_start: int) -> dict:
    return {"id": qid, "question": text, "answers": [{"text": "x", "answer_start": answer_start}]}


def write_file(path, questions: list[dict], sentences=SENTENCES, breaks=BREAKS):
    paragraph = {"context": " ".join(sentences), "sentences": sentences, "sentence_breaks": breaks, "qas": questions}
    path.write_text(json.dumps({"data": [{"title": "Tiere", "paragraphs": [paragraph]}]}, ensure_ascii=False))
    return path


def test_a_good_file_maps_each_answer_to_its_sentence(tmp_path):
    path = write_file(tmp_path / "de.json", [question("q1", "Wer schläft?", 4), question("q2", "Wer bellt?", 23)])
    tables = read_language(path, "de")
    assert tables.qrels.candidate_id.tolist() == ["de/000-000/000", "de/000-000/001"]


BAD_RECORDS = {  # a second question after a good one, and the error it makes
    "answer-in-no-sentence": (question("q2", "Wer bellt?", 57), r"de.json: question q2: its answer \(character 57\) is in no sentence of 'Tiere'"),
    "duplicate-id": (question("q1", "Wer bellt?", 23), r"de.json: question id q1 occurs twice"),
}


@pytest.mark.parametrize("second, message", BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_a_bad_record_is_named(tmp_path, second, message):
    path = write_file(tmp_path / "de.json", [question("q1", "Wer schläft?", 4), second])
    with pytest.raises(DataError, match=message):
        read_language(path, "de")


EMPTY = {"no-bytes": "", "no-articles": '{"data": []}', "no-paragraphs": '{"data": [{"title": "Tiere", "paragraphs": []}]}'}


@pytest.mark.parametrize("content", EMPTY.values(), ids=EMPTY.keys())
def test_an_empty_file_is_named(tmp_path, content):
    path = tmp_path / "de.json"
    path.write_text(content)
    with pytest.raises(DataError, match=r"de.json holds no questions"):
        read_language(path, "de")


def test_a_file_of_another_script_is_named(tmp_path):
    greek = write_file(tmp_path / "ru.json", [question("q1", "Ποιος κοιμάται;", 4), question("q2", "Who barks? (Ποιος γαβγίζει;)", 23)])
    with pytest.raises(DataError, match=r"ru.json: its questions are mostly Greek script, not Cyrillic \(question q1: 'Ποιος κοιμάται;'\)"):
        read_language(greek, "ru")
    assert len(read_language(greek, "el").questions) == 2  # a few Latin letters in Greek questions are fine
    assert len(read_language(greek, "xx").questions) == 2  # a language without a known script is not checked


def test_answer_sentence_outside_every_sentence_is_none():
    breaks = [[5, 10], [12, 20]]
    assert [answer_sentence(breaks, s) for s in (4, 5, 10, 11, 12, 20, 21)] == [None, 0, 0, None, 1, 1, None]
