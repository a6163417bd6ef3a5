"""Small mMARCO and MIRACL repositories in their real on-disk formats, written into a directory laid out
like the Hugging Face hub (`<root>/<repo id>/<path in repo>`): what `data.hub_mirror` points at."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from xlretrieval.data.languages import MMARCO

TOPICS = ["river", "mountain", "violin", "comet", "harbour", "glacier", "orchard", "lantern", "falcon", "meadow"]

# A passage that MIRACL's German corpus also holds verbatim: the overlap guard must drop its mMARCO pair.
SHARED_PASSAGE = "Der Rhein ist ein Strom in Mitteleuropa."


def mmarco_passage(lang: str, pid: int) -> str:
    return f"[{lang}] passage {pid} tells about the {TOPICS[pid % len(TOPICS)]} number {pid}."


def mmarco_query(lang: str, qid: int) -> str:
    return f"[{lang}] where is the {TOPICS[qid % len(TOPICS)]} {qid}?"


def write_mmarco(root: Path, languages: list[str], queries: int = 60, passages: int = 400) -> Path:
    """unicamp-dl/mmarco: triples (several per query, repeated positives), query files and collections.

    Query q (ids 1000 + i) has positive passage 2 * i and random negatives; queries 1000..1004 also list a
    second positive after the first; query 1001's positive is the German passage that MIRACL also holds.
    """
    repo = root / "unicamp-dl" / "mmarco"
    (repo / "data" / "google" / "queries" / "train").mkdir(parents=True, exist_ok=True)
    (repo / "data" / "google" / "collections").mkdir(parents=True, exist_ok=True)
    with open(repo / "data" / "triples.train.ids.small.tsv", "w") as triples:
        for i in range(queries):
            qid = 1000 + i
            triples.write(f"{qid}\t{2 * i}\t{(7 * i + 3) % passages}\n")
            if i < 5:
                triples.write(f"{qid}\t{2 * i + 1}\t{(5 * i + 11) % passages}\n")
            triples.write(f"{qid}\t{2 * i}\t{(3 * i + 17) % passages}\n")
    for lang in languages:
        name = MMARCO[lang]
        with open(repo / "data" / "google" / "queries" / "train" / f"{name}_queries.train.tsv", "w", encoding="utf-8") as out:
            out.writelines(f"{1000 + i}\t{mmarco_query(lang, 1000 + i)}\n" for i in range(queries + 20))
        with open(repo / "data" / "google" / "collections" / f"{name}_collection.tsv", "w", encoding="utf-8") as out:
            for pid in range(passages):
                text = SHARED_PASSAGE if (lang, pid) == ("de", 2) else mmarco_passage(lang, pid)
                out.write(f"{pid}\t{text}\n")
    return repo


def write_miracl(root: Path, languages: list[str], queries: int = 8, passages: int = 60, shards: int = 2) -> Path:
    """miracl/miracl (dev topics and TREC qrels) and miracl/miracl-corpus (gzipped JSON-lines shards).

    Query i of a language is judged relevant to passage `{i}#0` and non-relevant to `{i}#1`; the last query
    has only a non-relevant judgement. German passage `0#0` is the SHARED_PASSAGE.
    """
    for lang in languages:
        base = root / "miracl" / "miracl" / f"miracl-v1.0-{lang}"
        (base / "topics").mkdir(parents=True, exist_ok=True)
        (base / "qrels").mkdir(parents=True, exist_ok=True)
        (base / "topics" / f"topics.miracl-v1.0-{lang}-dev.tsv").write_text(
            "".join(f"{i}\t[{lang}] what about the {TOPICS[i % len(TOPICS)]} {i}?\n" for i in range(queries)), encoding="utf-8"
        )
        judgements = [f"{i}\tQ0\t{i}#0\t1\n{i}\tQ0\t{i}#1\t0\n" for i in range(queries - 1)] + [f"{queries - 1}\tQ0\t{queries - 1}#1\t0\n"]
        (base / "qrels" / f"qrels.miracl-v1.0-{lang}-dev.tsv").write_text("".join(judgements), encoding="utf-8")
        corpus = root / "miracl" / "miracl-corpus" / f"miracl-corpus-v1.0-{lang}"
        corpus.mkdir(parents=True, exist_ok=True)
        rows = [
            {
                "docid": f"{i // 2}#{i % 2}",
                "title": f"{TOPICS[(i // 2) % len(TOPICS)].title()} {i // 2}",
                "text": SHARED_PASSAGE
                if (lang, i) == ("de", 0)
                else f"[{lang}] article {i // 2}, passage {i % 2}, on the {TOPICS[(i // 2) % len(TOPICS)]}.",
            }
            for i in range(passages)
        ]
        for shard in range(shards):
            with gzip.open(corpus / f"docs-{shard}.jsonl.gz", "wt", encoding="utf-8") as out:
                out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows[shard::shards])
    return root / "miracl"
