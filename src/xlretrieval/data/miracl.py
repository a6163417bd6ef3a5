"""Reader for MIRACL v1.0 dev: per-language monolingual retrieval over Wikipedia passages.

On-disk layout of the hub datasets (from MIRACL's documentation and its public users):

- `miracl/miracl`: `miracl-v1.0-{lang}/topics/topics.miracl-v1.0-{lang}-dev.tsv`, `qid<TAB>query`;
  `miracl-v1.0-{lang}/qrels/qrels.miracl-v1.0-{lang}-dev.tsv`, TREC qrels `qid Q0 docid relevance`
  (tab separated; relevance 0 marks a judged non-relevant passage);
- `miracl/miracl-corpus`: `miracl-corpus-v1.0-{lang}/docs-{i}.jsonl.gz`, one JSON object per line,
  `{"docid": "X#Y", "title": ..., "text": ...}` (X: the Wikipedia article, Y: the passage in it).

The corpus can be capped: every judged passage plus `others` passages drawn uniformly at random (seeded)
from the rest, in one streaming pass; `None` keeps the whole corpus.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from .hub import HubRepo
from .sources import DataError
from .tables import Tables

T = TypeVar("T")


def topics_file(lang: str) -> str:
    return f"miracl-v1.0-{lang}/topics/topics.miracl-v1.0-{lang}-dev.tsv"


def qrels_file(lang: str) -> str:
    return f"miracl-v1.0-{lang}/qrels/qrels.miracl-v1.0-{lang}-dev.tsv"


def corpus_pattern(lang: str) -> str:
    return f"miracl-corpus-v1.0-{lang}/docs-*.jsonl.gz"


def _table(path: Path, columns: list[str], what: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", header=None, names=columns, dtype=str, quoting=3, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{path} is not a MIRACL {what} file ({' <TAB> '.join(columns)}): {error}") from error
    if table.isna().any().any() or table.isin([""]).any().any():
        raise DataError(f"{path} has rows with fewer than {len(columns)} tab-separated fields: is it a MIRACL {what} file?")
    return table


def read_topics(path: Path) -> pd.DataFrame:
    """qid, text."""
    return _table(path, ["qid", "text"], "topics")


def read_qrels(path: Path) -> pd.DataFrame:
    """qid, docid, relevance (int; 0 = judged non-relevant)."""
    qrels = _table(path, ["qid", "q0", "docid", "relevance"], "qrels")
    try:
        qrels["relevance"] = qrels.relevance.astype(int)
    except ValueError as error:
        raise DataError(f"{path}: relevance is not an integer ({error})") from error
    return qrels.drop(columns="q0")


def passages(paths: list[Path]) -> Iterator[dict]:
    """Every passage of the gzipped JSON-lines shards, in order, one at a time."""
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    row = json.loads(line)
                    yield {"docid": row["docid"], "title": row["title"], "text": row["text"]}
                except (ValueError, KeyError, TypeError) as error:
                    raise DataError(f"{path}, line {number}: not a MIRACL passage (docid, title, text): {error!r}") from error


def _open_uniform(rng: np.random.Generator) -> float:
    """A uniform draw in the open interval (0, 1)."""
    while (u := rng.random()) == 0.0:
        pass
    return u


def reservoir(items: Iterable[T], size: int, rng: np.random.Generator) -> list[T]:
    """A uniform random sample of `size` items (all of them if fewer) from a stream of unknown length, in
    stream order, in one pass over the whole stream and O(size) memory (Li's Algorithm L: random draws only
    at replacements)."""
    if size == 0:
        deque(items, maxlen=0)  # still consume the stream: callers count and keep other rows while it runs
        return []
    sample: list[tuple[int, T]] = []
    log_w, next_index = 0.0, size

    def skip(i: int) -> int:
        # index of the next item to take: a geometric jump with success probability w
        return i + 1 + math.floor(math.log(_open_uniform(rng)) / math.log(-math.expm1(log_w)))

    for i, item in enumerate(items):
        if i < size:
            sample.append((i, item))
            if i == size - 1:
                log_w = math.log(_open_uniform(rng)) / size
                next_index = skip(i)
        elif i == next_index:
            sample[int(rng.integers(size))] = (i, item)
            log_w += math.log(_open_uniform(rng)) / size
            next_index = skip(i)
    return [item for _, item in sorted(sample, key=lambda pair: pair[0])]


def read_language(lang: str, topics: HubRepo, corpus: HubRepo, others: int | None, seed: int) -> tuple[Tables, dict]:
    """One language's dev queries, relevant judgements and (capped) corpus, and a manifest of the cap.

    Ids: question `miracl/{lang}/{qid}`, candidate `miracl/{lang}/{docid}` (MIRACL ids repeat across
    languages). A passage's text is its title and text joined by a space; `article` is the title.
    """
    queries = read_topics(topics.file(topics_file(lang)))
    judgements = read_qrels(topics.file(qrels_file(lang)))
    judged = set(judgements.docid)
    relevant = judgements[judgements.relevance > 0].drop_duplicates(["qid", "docid"])
    shards = corpus.files(corpus_pattern(lang))
    stream = passages([corpus.file(shard) for shard in shards])
    kept, total = [], 0
    if others is None:
        for row in stream:
            kept.append(row)
            total += 1
    else:

        def unjudged():
            nonlocal total
            for row in stream:
                total += 1
                if row["docid"] in judged:
                    kept.append(row)
                else:
                    yield row

        kept += reservoir(unjudged(), others, np.random.default_rng(seed))
    corpus_ids = {row["docid"] for row in kept}
    missing = set(relevant.docid) - corpus_ids
    if missing:
        raise DataError(f"MIRACL {lang}: {len(missing)} relevant passages are not in the corpus shards {shards} (e.g. {min(missing)})")
    asked = queries[queries.qid.isin(set(relevant.qid))]
    tables = Tables(
        pd.DataFrame({"question_id": f"miracl/{lang}/" + asked.qid, "lang": lang, "text": asked.text, "article": "", "context_id": ""}),
        pd.DataFrame(
            {
                "candidate_id": [f"miracl/{lang}/{row['docid']}" for row in kept],
                "lang": lang,
                "text": [f"{row['title']} {row['text']}".strip() for row in kept],
                "article": [row["title"] for row in kept],
                "context_id": [row["docid"] for row in kept],
            }
        ),
        pd.DataFrame({"question_id": f"miracl/{lang}/" + relevant.qid, "lang": lang, "candidate_id": f"miracl/{lang}/" + relevant.docid}),
    )
    manifest = {
        "shards": shards,
        "corpus_passages": total,
        "judged_passages": len(judged),
        "kept_passages": len(kept),
        "others": others,
        "seed": seed,
        "queries": len(queries),
        "queries_with_a_relevant_passage": len(asked),
    }
    return tables, manifest


def read(languages: list[str], topics: HubRepo, corpus: HubRepo, others: int | None, seed: int) -> tuple[Tables, dict]:
    """Every language's tables and a manifest: the repositories, revisions and the corpus cap per language."""
    parts, manifest = [], {"topics": f"{topics.repo_id}@{topics.revision}", "corpus": f"{corpus.repo_id}@{corpus.revision}", "languages": {}}
    for lang in sorted(languages):
        tables, manifest["languages"][lang] = read_language(lang, topics, corpus, others, seed)
        parts.append(tables)
    return Tables.concat(parts), manifest
