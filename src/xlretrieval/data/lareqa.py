"""Reader for LAReQA-format files (XQuAD-R, MLQA-R): SQuAD JSON with sentence-split contexts.

A file the study could not evaluate faithfully stops the `prepare` job with one line naming the file and the
record: a question whose answer starts in no sentence, a question id twice in one file, a file without
questions, and a file whose questions are mostly written in another script than its language's (`SCRIPTS`:
Arabic, Greek, Hindi, Russian, Thai, Chinese... against Latin; languages sharing a script are not told apart,
the sha256 check of each downloaded file is what tells de.json from en.json).
"""

from __future__ import annotations

import bisect
import collections
import json
import unicodedata
from pathlib import Path

import pandas as pd

from .benchmark import BenchmarkTables
from .sources import DataError

# The script (first word of the Unicode names of its letters) most letters of a language's questions are in.
SCRIPTS = dict.fromkeys(["de", "en", "es", "fi", "fr", "id", "it", "nl", "pt", "sw", "tr", "vi", "yo"], "LATIN") | {
    "ar": "ARABIC",
    "bn": "BENGALI",
    "el": "GREEK",
    "fa": "ARABIC",
    "hi": "DEVANAGARI",
    "ko": "HANGUL",
    "ru": "CYRILLIC",
    "te": "TELUGU",
    "th": "THAI",
    "zh": "CJK",
}


def answer_sentence(breaks: list[list[int]], answer_start: int) -> int | None:
    """Index of the sentence whose [start, end] span holds character `answer_start`, or None if none does."""
    index = bisect.bisect_right([start for start, _ in breaks], answer_start) - 1
    return index if index >= 0 and answer_start <= breaks[index][1] else None


def script(text: str) -> str | None:
    """The script most letters of `text` are written in (the first word of their Unicode names), None without letters."""
    counts = collections.Counter(unicodedata.name(char, "?").split()[0] for char in text if char.isalpha())
    return counts.most_common(1)[0][0] if counts else None


def check_script(path: Path, lang: str, questions: list[tuple]) -> None:
    """Stop when most letters of the questions are not in the script of `lang` (see `SCRIPTS`), naming the first such question."""
    expected, found = SCRIPTS.get(lang), script("".join(q[2] for q in questions))
    if expected is None or found in (expected, None):
        return
    qid, _, text, *_ = next((q for q in questions if script(q[2]) == found), questions[0])
    raise DataError(f"{path}: its questions are mostly {found.title()} script, not {expected.title()} (question {qid}: {text!r}): not a {lang} file?")


def read_language(path: Path, lang: str) -> BenchmarkTables:
    """Parse one language file into questions, candidate sentences and qrels."""
    try:
        content = Path(path).read_text(encoding="utf-8")
        articles = json.loads(content)["data"] if content.strip() else []
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{path} is not a LAReQA/SQuAD JSON file with a 'data' list: {error}") from error
    questions, candidates, qrels, seen = [], [], [], set()
    try:
        for a, article in enumerate(articles):
            title = article["title"]
            for p, paragraph in enumerate(article["paragraphs"]):
                context_id = f"{a:03d}-{p:03d}"
                sentences, breaks = paragraph["sentences"], paragraph["sentence_breaks"]
                if len(sentences) != len(breaks):
                    raise DataError(f"{path}: article '{title}' paragraph {p} has {len(sentences)} sentences but {len(breaks)} breaks")
                ids = [f"{lang}/{context_id}/{s:03d}" for s in range(len(sentences))]
                candidates += [(cid, lang, text, title, context_id) for cid, text in zip(ids, sentences)]
                for qa in paragraph["qas"]:
                    if qa["id"] in seen:
                        raise DataError(f"{path}: question id {qa['id']} occurs twice (again in article '{title}' paragraph {p})")
                    seen.add(qa["id"])
                    start = qa["answers"][0]["answer_start"]
                    sentence = answer_sentence(breaks, start)
                    if sentence is None:
                        raise DataError(f"{path}: question {qa['id']}: its answer (character {start}) is in no sentence of '{title}' paragraph {p}")
                    questions.append((qa["id"], lang, qa["question"], title, context_id))
                    qrels.append((qa["id"], lang, ids[sentence]))
    except (KeyError, IndexError, TypeError) as error:
        raise DataError(f"{path}: unexpected structure ({error!r}); is this a LAReQA-format file?") from error
    if not questions:
        raise DataError(f"{path} holds no questions: an empty or truncated {lang} file?")
    check_script(path, lang, questions)
    return BenchmarkTables(
        pd.DataFrame(questions, columns=["question_id", "lang", "text", "article", "context_id"]),
        pd.DataFrame(candidates, columns=["candidate_id", "lang", "text", "article", "context_id"]),
        pd.DataFrame(qrels, columns=["question_id", "lang", "candidate_id"]),
    )


def read_dataset(files: dict[str, Path]) -> BenchmarkTables:
    """Read every language file of one benchmark ({lang: path}) into one set of tables, with parallel articles."""
    return parallel_articles(BenchmarkTables.concat([read_language(path, lang) for lang, path in sorted(files.items())]))


def parallel_articles(tables: BenchmarkTables) -> BenchmarkTables:
    """Name every row's article as one language does, so that a question and its translations share an article.

    MLQA-R titles its articles in each language (XQuAD-R keeps the English titles), so without this an article
    subset or split would cut parallel questions apart: one article would hold one language's questions, and an
    article split would train on a question's German version and evaluate its Spanish one. A question takes the
    article of its English row (else of its first language read); a passage, that of its paragraph's questions.
    """
    questions = tables.questions
    order = questions.lang.map(lambda lang: (lang != "en", lang))
    canonical = questions.assign(order=order).sort_values("order", kind="stable").drop_duplicates("question_id").set_index("question_id").article
    questions = questions.assign(article=questions.question_id.map(canonical))
    by_paragraph = questions.drop_duplicates(["lang", "context_id"]).set_index(["lang", "context_id"]).article
    keys = pd.MultiIndex.from_frame(tables.candidates[["lang", "context_id"]])
    renamed = pd.Series(by_paragraph.reindex(keys).to_numpy(), index=tables.candidates.index)
    candidates = tables.candidates.assign(article=renamed.fillna(tables.candidates.article))
    return BenchmarkTables(questions, candidates, tables.qrels)
