"""Test collections defined by config (`data.collections.<name>`): any retrieval benchmark in the two shapes
retrieval researchers keep them in, read into the same tables as the built-in sources.

- A folder per language in the BEIR layout: `corpus.jsonl` (`{"_id", "title", "text"}` per line),
  `queries.jsonl` (`{"_id", "text"}`), `qrels/{split}.tsv` (`query-id<TAB>corpus-id<TAB>score`, a header
  line). Each file's place can be changed (`corpus`, `queries`, `qrels`: paths under the folder, a corpus
  path may be a glob of shards), and each file may also be in the other common format: a gzipped corpus
  with `docid` keys, `id<TAB>text` queries, TREC qrels (`qid Q0 docid relevance`). MIRACL's hub layout is
  read this way (`miracl.read_language`).
- An ir_datasets id per language (the optional `collections` extra), offline unless the entry allows
  downloading: an id whose files are not yet in ir_datasets' home is an error naming what to download.

Ids: question `{name}/{qid}` when the query ids are parallel across languages (cross and multi settings
then exist, as for XQuAD-R), else `{name}/{lang}/{qid}` (mono only, as MIRACL); candidate `{name}/{lang}/{docid}`.
Graded relevance is kept (`qrels.relevance`; nDCG uses the grades, RR and AP count relevance > 0); judged
non-relevant passages (relevance <= 0) are no qrels but stay in a capped corpus. The corpus can be capped:
every judged passage plus `others` passages drawn uniformly at random (seeded) from the rest, in one
streaming pass; `None` keeps the whole corpus.
"""

from __future__ import annotations

import glob
import gzip
import json
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from .benchmark import BenchmarkTables
from .hub import natural_key
from .sources import DataError

T = TypeVar("T")
# A language's folder in the BEIR layout: where a folder entry's `corpus`, `queries` and `qrels` are unless it places them
# (paths under the folder; `{split}` is the entry's `split`).
BEIR_LAYOUT = {"corpus": "corpus.jsonl", "queries": "queries.jsonl", "qrels": "qrels/{split}.tsv", "split": "test"}
BEIR_QRELS_HEADER = ["query-id", "corpus-id", "score"]


# --- files ----------------------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a text file, gzipped or not, without blank lines."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line.rstrip("\n")


def passages(paths: list[Path]) -> Iterator[dict]:
    """Every passage of JSON-lines corpus files (gzipped or not), in order, one at a time: `{docid, title,
    text}` from BEIR's `_id` or MIRACL's `docid` key; a missing title is empty."""
    for path in paths:
        for number, line in _lines(path):
            try:
                row = json.loads(line)
                yield {"docid": str(row["_id"] if "_id" in row else row["docid"]), "title": row.get("title") or "", "text": row["text"]}
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise DataError(f"{path}, line {number}: not a passage (JSON with _id or docid, text and optionally title): {error!r}") from error


def read_queries(path: Path) -> pd.DataFrame:
    """qid, text: from BEIR's `queries.jsonl` (`_id`, `text`) or an `id<TAB>text` file (MIRACL's topics)."""
    rows = []
    for number, line in _lines(path):
        try:
            if ".jsonl" in path.suffixes:
                row = json.loads(line)
                rows.append((str(row["_id"]), row["text"]))
            else:
                qid, text = line.split("\t", 1)
                rows.append((qid, text))
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path}, line {number}: not a query (JSON with _id and text, or id<TAB>text): {error!r}") from error
    return pd.DataFrame(rows, columns=["qid", "text"])


def read_qrels(path: Path) -> pd.DataFrame:
    """qid, docid, relevance (int; <= 0: judged non-relevant): BEIR's TSV with its header line, or TREC qrels."""
    rows = []
    for number, line in _lines(path):
        fields = line.split()
        if number == 1 and fields == BEIR_QRELS_HEADER:
            continue
        if len(fields) not in (3, 4):
            raise DataError(f"{path}, line {number}: not qrels (query-id corpus-id score, or TREC's qid Q0 docid relevance): {line[:80]!r}")
        try:
            rows.append((fields[0], fields[-2], int(fields[-1])))
        except ValueError as error:
            raise DataError(f"{path}, line {number}: relevance is not an integer ({error})") from error
    return pd.DataFrame(rows, columns=["qid", "docid", "relevance"])


def file_paths(entry: dict, lang: str) -> dict[str, str]:
    """The corpus, queries and qrels paths of a folder entry in one language, as written in the config (the
    corpus may be a glob)."""
    layout = {**BEIR_LAYOUT, **entry}
    return {key: str(Path(layout["path"]) / layout[key]).format(lang=lang, split=layout["split"]) for key in ("corpus", "queries", "qrels")}


def _found(entry: dict, lang: str) -> dict[str, list[Path]]:
    """The files that a folder entry's corpus, queries and qrels paths (globs) name in one language, in natural order."""
    return {key: sorted(map(Path, glob.glob(pattern)), key=lambda p: natural_key(str(p))) for key, pattern in file_paths(entry, lang).items()}


def files(name: str, entry: dict, lang: str) -> tuple[list[Path], Path, Path]:
    """(corpus files, queries file, qrels file) of a folder entry in one language; a missing one is an error
    naming the entry, what belongs where, and where the collection is published (its `source`, when given)."""
    found = _found(entry, lang)
    missing = [path for key, path in file_paths(entry, lang).items() if not found[key]]
    if missing:
        origin = f"download it from {entry['source']}" if entry.get("source") else "e.g. unzipped from its publisher's release"
        raise DataError(
            f"data.collections.{name} ({lang}): {', '.join(missing)} not found. Put the collection's files there ({origin}; the BEIR "
            f"layout: <folder>/corpus.jsonl, <folder>/queries.jsonl, <folder>/qrels/<split>.tsv), or point data.collections.{name}.path "
            f"(and .corpus, .queries, .qrels) at them"
        )
    return found["corpus"], found["queries"][0], found["qrels"][0]


def local_files(entry: dict, languages: list[str]) -> list[str]:
    """The files a folder entry reads that exist (none for an ir_datasets entry): the `prepare` rule's inputs,
    so that changing them re-runs it; a missing one is left to `files`, whose error says what to put there."""
    if "path" not in entry:
        return []
    return [str(path) for lang in languages for paths in _found(entry, lang).values() for path in paths]


# --- the corpus cap and the tables -------------------------------------------------------------------


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


def language_tables(
    name: str, lang: str, parallel: bool, queries: pd.DataFrame, judgements: pd.DataFrame, stream: Iterable[dict], others: int | None, seed: int
) -> tuple[BenchmarkTables, dict]:
    """One language's tables from its queries (qid, text), judgements (qid, docid, relevance) and passage
    stream ({docid, title, text}), the corpus capped to the judged passages plus `others`; and a manifest
    of the cap. A passage's text is its title and text joined by a space; `article` is the title."""
    judged = set(judgements.docid)
    relevant = judgements[judgements.relevance > 0].drop_duplicates(["qid", "docid"])
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
    missing = set(relevant.docid) - {row["docid"] for row in kept}
    if missing:
        raise DataError(f"{name} {lang}: {len(missing)} relevant passages are not in the corpus (e.g. {min(missing)})")
    asked = queries[queries.qid.isin(set(relevant.qid))]
    question = f"{name}/" if parallel else f"{name}/{lang}/"
    tables = BenchmarkTables(
        pd.DataFrame({"question_id": question + asked.qid, "lang": lang, "text": asked.text, "article": "", "context_id": ""}),
        pd.DataFrame(
            {
                "candidate_id": [f"{name}/{lang}/{row['docid']}" for row in kept],
                "lang": lang,
                "text": [f"{row['title']} {row['text']}".strip() for row in kept],
                "article": [row["title"] for row in kept],
                "context_id": [row["docid"] for row in kept],
            }
        ),
        pd.DataFrame(
            {
                "question_id": question + relevant.qid,
                "lang": lang,
                "candidate_id": f"{name}/{lang}/" + relevant.docid,
                "relevance": relevant.relevance.to_numpy(),
            }
        ),
    )
    manifest = {
        "corpus_passages": total,
        "judged_passages": len(judged),
        "kept_passages": len(kept),
        "others": others,
        "seed": seed,
        "queries": len(queries),
        "queries_with_a_relevant_passage": len(asked),
    }
    return tables, manifest


# --- ir_datasets ----------------------------------------------------------------------------------


@contextmanager
def _offline(refused: list[str]) -> Iterator[None]:
    """ir_datasets fetches every remote file through the `stream` of a `BaseDownload` other than `LocalDownload`:
    refuse each, recording what it wanted, so that only what ir_datasets' home already holds is read."""
    from ir_datasets.util.download import BaseDownload, LocalDownload

    def refuse(download, *args, **kwargs):
        refused.append(getattr(download, "url", None) or getattr(download, "uri", None) or repr(download))
        raise ConnectionRefusedError("offline: data.collections.<name>.download is false")

    remote = {cls: cls.stream for cls in BaseDownload.__subclasses__() if cls is not LocalDownload and "stream" in vars(cls)}
    try:
        for cls in remote:
            cls.stream = refuse
        yield
    finally:
        for cls, stream in remote.items():
            cls.stream = stream


def _ir_dataset(name: str, dataset_id: str, lang: str, download: bool, read: Callable) -> tuple:
    """`read(dataset)` on the loaded ir_datasets dataset, offline unless `download`; errors name the entry."""
    try:
        import ir_datasets
    except ImportError:
        raise DataError(
            f"data.collections.{name} reads the ir_datasets id '{dataset_id}': install the optional extra (pip install -e '.[collections]')"
        ) from None
    try:
        dataset = ir_datasets.load(dataset_id)
    except KeyError:
        raise DataError(f"data.collections.{name} ({lang}): ir_datasets has no dataset '{dataset_id}'") from None
    lacking = [part for part in ("docs", "queries", "qrels") if not getattr(dataset, f"has_{part}")()]
    if lacking:
        raise DataError(f"data.collections.{name} ({lang}): the ir_datasets dataset '{dataset_id}' has no {' or '.join(lacking)}")
    refused: list[str] = []
    try:
        if download:
            return read(dataset)
        with _offline(refused):
            return read(dataset)
    except Exception as error:
        if not refused:
            raise
        raise DataError(
            f"data.collections.{name} ({lang}): the ir_datasets id '{dataset_id}' needs files that are not in ir_datasets' home "
            f"({ir_datasets.util.home_path()}): {', '.join(dict.fromkeys(refused))}. Download them where the network is reachable "
            f"(`ir_datasets export {dataset_id} docs > /dev/null`, likewise queries and qrels, with IR_DATASETS_HOME set as here), "
            f"or set data.collections.{name}.download: true"
        ) from error


def read_ir_dataset(name: str, entry: dict, lang: str) -> tuple[BenchmarkTables, dict]:
    """One language of an ir_datasets entry, through ir_datasets' own loaders."""
    dataset_id = entry["ir_datasets"].format(lang=lang)

    def read(dataset) -> tuple[BenchmarkTables, dict]:
        queries = pd.DataFrame(
            [(q.query_id, q.text if hasattr(q, "text") else q.default_text()) for q in dataset.queries_iter()], columns=["qid", "text"]
        )
        judgements = pd.DataFrame([(r.query_id, r.doc_id, int(r.relevance)) for r in dataset.qrels_iter()], columns=["qid", "docid", "relevance"])
        stream = (
            {"docid": d.doc_id, "title": getattr(d, "title", "") or "", "text": d.text if hasattr(d, "text") else d.default_text()}
            for d in dataset.docs_iter()
        )
        return language_tables(name, lang, entry["parallel"], queries, judgements, stream, entry["others"], entry["seed"])

    tables, manifest = _ir_dataset(name, dataset_id, lang, entry["download"], read)
    return tables, {"ir_datasets": dataset_id, **manifest}


# --- the reader -----------------------------------------------------------------------------------


def read_folder(name: str, entry: dict, lang: str) -> tuple[BenchmarkTables, dict]:
    """One language of a folder entry (BEIR layout, or files placed by `corpus`, `queries`, `qrels`)."""
    corpus, queries, qrels = files(name, entry, lang)
    tables, manifest = language_tables(
        name, lang, entry["parallel"], read_queries(queries), read_qrels(qrels), passages(corpus), entry["others"], entry["seed"]
    )
    return tables, {"files": [str(p) for p in (*corpus, queries, qrels)], **manifest}


def read(name: str, languages: list[str], entry: dict) -> tuple[BenchmarkTables, dict]:
    """Every language of a collection entry, and a manifest: where each language was read from, its corpus
    cap, and (parallel entries) how many question ids every language has."""
    reader = read_folder if "path" in entry else read_ir_dataset
    parts, manifest = [], {"collection": name, "source": entry.get("source"), "parallel": entry["parallel"], "languages": {}}
    for lang in sorted(languages):
        tables, manifest["languages"][lang] = reader(name, entry, lang)
        parts.append(tables)
    tables = BenchmarkTables.concat(parts)
    if entry["parallel"]:
        manifest["questions_in_every_language"] = int((tables.questions.groupby("question_id").lang.nunique() == len(languages)).sum())
    return tables, manifest
