"""Reader for mMARCO v2 training data: a seeded sample of (query, positive passage) pairs in every language.

On-disk layout of the hub dataset `unicamp-dl/mmarco` (from its loading script `mmarco.py`; ids are MS
MARCO's in every language, so a query and its passage are parallel across languages):

- `data/triples.train.ids.small.tsv`: `qid<TAB>positive pid<TAB>negative pid`, ~40M lines (English ids);
- `data/google/queries/train/{language}_queries.train.tsv`: `qid<TAB>query`, ~808k lines;
- `data/google/collections/{language}_collection.tsv`: `pid<TAB>passage`, 8.8M lines, 3 to 8 GB;

with `{language}` the English name of the language (`german`; see `languages.MMARCO`). Only what a run
needs is read: the triples file is streamed in chunks to sample pairs, then each language's query file
and collection are streamed once, keeping only the sampled ids. No file is ever loaded whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .benchmark import BenchmarkTables
from .hub import HubRepo
from .languages import mmarco_name
from .sources import DataError

TRIPLES = "data/triples.train.ids.small.tsv"


def queries_file(lang: str) -> str:
    return f"data/google/queries/train/{mmarco_name(lang)}_queries.train.tsv"


def collection_file(lang: str) -> str:
    return f"data/google/collections/{mmarco_name(lang)}_collection.tsv"


def sample_pairs(triples: Path, n: int, seed: int, chunk_size: int = 1_000_000) -> pd.DataFrame:
    """`n` training (qid, pid) pairs, seeded: distinct queries, each with the first positive the triples list for
    it, and distinct positives (two queries sharing a positive would be false negatives in one batch)."""
    first = pd.DataFrame({"qid": pd.Series(dtype="int64"), "pid": pd.Series(dtype="int64")})
    try:
        for chunk in pd.read_csv(triples, sep="\t", header=None, usecols=[0, 1], names=["qid", "pid"], dtype="int64", chunksize=chunk_size):
            first = pd.concat([first, chunk.drop_duplicates("qid")], ignore_index=True).drop_duplicates("qid")
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{triples} is not a `qid<TAB>positive pid<TAB>negative pid` file of integer ids: {error}") from error
    pairs = first.drop_duplicates("pid").sort_values("qid", ignore_index=True)
    if n > len(pairs):
        raise DataError(f"{triples} has {len(pairs)} queries with distinct positives, fewer than the {n} asked for (data.mmarco.queries)")
    chosen = np.sort(np.random.default_rng(seed).choice(len(pairs), size=n, replace=False))
    return pairs.iloc[chosen].reset_index(drop=True)


def read_texts(path: Path, wanted: set[str], max_chars: int | None = None) -> dict[str, str]:
    """{id: text} of the `wanted` ids of an `id<TAB>text` file, streamed line by line (memory holds only the
    kept texts), each cut to `max_chars` characters; a file lacking any wanted id is an error."""
    found = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            key, tab, text = line.partition("\t")
            if not tab:
                if line.strip():
                    raise DataError(f"{path}, line {number}: not `id<TAB>text`: {line[:80]!r}")
                continue
            if key in wanted:
                found[key] = text.strip()[:max_chars]
    missing = wanted - found.keys()
    if missing:
        raise DataError(f"{path} lacks {len(missing)} of the {len(wanted)} sampled ids (e.g. {min(missing)}): is the file complete?")
    return found


def read(languages: list[str], repo: HubRepo, queries: int, seed: int, max_passage_chars: int | None) -> tuple[BenchmarkTables, dict]:
    """The sampled pairs in every language as tables, and a manifest of what was read.

    Ids: question `mmarco/{qid}` (parallel across languages), candidate `mmarco/{lang}/{pid}`. MS MARCO has
    no articles: `article` is empty and `context_id` is the passage id, the unit the overlap guard drops.
    """
    pairs = sample_pairs(repo.file(TRIPLES), queries, seed)
    qids, pids = pairs.qid.astype(str).tolist(), pairs.pid.astype(str).tolist()
    questions, candidates, qrels = [], [], []
    files, truncated = [TRIPLES], {}
    for lang in sorted(languages):
        files += [queries_file(lang), collection_file(lang)]
        query = read_texts(repo.file(queries_file(lang)), set(qids))
        passage = read_texts(repo.file(collection_file(lang)), set(pids), max_passage_chars)
        truncated[lang] = sum(len(passage[p]) == max_passage_chars for p in pids) if max_passage_chars else 0
        questions += [(f"mmarco/{q}", lang, query[q], "", p) for q, p in zip(qids, pids)]
        candidates += [(f"mmarco/{lang}/{p}", lang, passage[p], "", p) for p in pids]
        qrels += [(f"mmarco/{q}", lang, f"mmarco/{lang}/{p}") for q, p in zip(qids, pids)]
    tables = BenchmarkTables(
        pd.DataFrame(questions, columns=["question_id", "lang", "text", "article", "context_id"]),
        pd.DataFrame(candidates, columns=["candidate_id", "lang", "text", "article", "context_id"]),
        pd.DataFrame(qrels, columns=["question_id", "lang", "candidate_id"]),
    )
    manifest = {
        "repo": repo.repo_id,
        "revision": repo.revision,
        "files": files,
        "queries": queries,
        "seed": seed,
        "max_passage_chars": max_passage_chars,
        "passages_at_the_length_cap": truncated,
    }
    return tables, manifest
