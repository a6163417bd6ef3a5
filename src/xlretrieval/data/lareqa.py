"""Reader for LAReQA-format files (XQuAD-R, MLQA-R): SQuAD JSON with sentence-split contexts."""

from __future__ import annotations

import bisect
import json
from pathlib import Path

import pandas as pd

from .sources import DataError
from .tables import Tables


def answer_sentence(breaks: list[list[int]], answer_start: int) -> int:
    """Index of the sentence holding character `answer_start` (the last one starting at or before it)."""
    starts = [start for start, _ in breaks]
    return max(bisect.bisect_right(starts, answer_start) - 1, 0)


def read_language(path: Path, lang: str) -> Tables:
    """Parse one language file into questions, candidate sentences and qrels."""
    try:
        with open(path, encoding="utf-8") as handle:
            articles = json.load(handle)["data"]
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{path} is not a LAReQA/SQuAD JSON file with a 'data' list: {error}") from error
    questions, candidates, qrels = [], [], []
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
                    questions.append((qa["id"], lang, qa["question"], title, context_id))
                    qrels.append((qa["id"], lang, ids[answer_sentence(breaks, qa["answers"][0]["answer_start"])]))
    except (KeyError, IndexError, TypeError) as error:
        raise DataError(f"{path}: unexpected structure ({error!r}); is this a LAReQA-format file?") from error
    return Tables(
        pd.DataFrame(questions, columns=["question_id", "lang", "text", "article", "context_id"]),
        pd.DataFrame(candidates, columns=["candidate_id", "lang", "text", "article", "context_id"]),
        pd.DataFrame(qrels, columns=["question_id", "lang", "candidate_id"]),
    )


def read_dataset(files: dict[str, Path]) -> Tables:
    """Read every language file of one benchmark ({lang: path}) into one set of tables."""
    return Tables.concat([read_language(path, lang) for lang, path in sorted(files.items())])
