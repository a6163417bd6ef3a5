"""Reader for MIRACL v1.0 dev: per-language monolingual retrieval over Wikipedia passages.

On-disk layout of the hub datasets (from MIRACL's documentation and its public users):

- `miracl/miracl`: `miracl-v1.0-{lang}/topics/topics.miracl-v1.0-{lang}-dev.tsv`, `qid<TAB>query`;
  `miracl-v1.0-{lang}/qrels/qrels.miracl-v1.0-{lang}-dev.tsv`, TREC qrels `qid Q0 docid relevance`
  (tab separated; relevance 0 marks a judged non-relevant passage);
- `miracl/miracl-corpus`: `miracl-corpus-v1.0-{lang}/docs-{i}.jsonl.gz`, one JSON object per line,
  `{"docid": "X#Y", "title": ..., "text": ...}` (X: the Wikipedia article, Y: the passage in it).

These are read as a test collection (`collections`), which caps the corpus: every judged passage plus
`others` passages drawn uniformly at random (seeded) from the rest, in one streaming pass; `None` keeps
the whole corpus. A local copy can also be configured as a collection (`data.collections`, config/README.md).
"""

from __future__ import annotations

from . import collections
from .benchmark import BenchmarkTables
from .hub import HubRepo


def topics_file(lang: str) -> str:
    return f"miracl-v1.0-{lang}/topics/topics.miracl-v1.0-{lang}-dev.tsv"


def qrels_file(lang: str) -> str:
    return f"miracl-v1.0-{lang}/qrels/qrels.miracl-v1.0-{lang}-dev.tsv"


def corpus_pattern(lang: str) -> str:
    return f"miracl-corpus-v1.0-{lang}/docs-*.jsonl.gz"


def read_language(lang: str, topics: HubRepo, corpus: HubRepo, others: int | None, seed: int) -> tuple[BenchmarkTables, dict]:
    """One language's dev queries, relevant judgements and (capped) corpus, and a manifest of the cap: the hub
    files read as a test collection (`collections`; ids `miracl/{lang}/...`, MIRACL's ids repeat across languages)."""
    shards = corpus.files(corpus_pattern(lang))
    tables, manifest = collections.language_tables(
        "miracl",
        lang,
        False,
        collections.read_queries(topics.file(topics_file(lang))),
        collections.read_qrels(topics.file(qrels_file(lang))),
        collections.passages([corpus.file(shard) for shard in shards]),
        others,
        seed,
    )
    return tables, {"shards": shards, **manifest}


def read(languages: list[str], topics: HubRepo, corpus: HubRepo, others: int | None, seed: int) -> tuple[BenchmarkTables, dict]:
    """Every language's tables and a manifest: the repositories, revisions and the corpus cap per language."""
    parts, manifest = [], {"topics": f"{topics.repo_id}@{topics.revision}", "corpus": f"{corpus.repo_id}@{corpus.revision}", "languages": {}}
    for lang in sorted(languages):
        tables, manifest["languages"][lang] = read_language(lang, topics, corpus, others, seed)
        parts.append(tables)
    return BenchmarkTables.concat(parts), manifest
