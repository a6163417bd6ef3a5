"""Which languages a multilingual ranking favours: the languages of each query's first candidates.

Complements the maximum rank distance of `metrics`: in the multi setting every question has one
relevant candidate per language, so an unbiased model would fill its top ranks with all languages
alike. (A module of its own so that the `evaluate` rule's code, and so its results, stay as they are.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .data.benchmark import BenchmarkTables
from .querysets import query_sets


def top_language_shares(tables: BenchmarkTables, run_dir: Path, top: int = 10) -> pd.DataFrame:
    """Multi setting: the share of each candidate language among a query's `top` first candidates,
    averaged over the queries of each query language (every candidate language, 0 where absent).

    Columns: setting, query_lang, passage_lang (the pool), candidate_lang, share, n_queries.
    """
    language_of = dict(zip(tables.candidates.candidate_id, tables.candidates.lang))
    languages = sorted(tables.candidates.lang.unique())
    frames = []
    for unit in query_sets(tables, ("multi",)):
        run = pd.read_csv(
            Path(run_dir) / f"{unit.name}.trec",
            sep=" ",
            header=None,
            dtype={"question_id": str, "candidate_id": str},
            names=["question_id", "q0", "candidate_id", "rank", "score", "tag"],
        )
        run = run[run["rank"] <= top]
        counts = pd.crosstab(run.question_id, run.candidate_id.map(language_of)).reindex(columns=languages, fill_value=0)
        shares = counts.div(counts.sum(axis=1), axis=0).mean()
        frames.append(
            pd.DataFrame(
                {
                    "setting": unit.setting,
                    "query_lang": unit.query_lang,
                    "passage_lang": unit.passage_lang,
                    "candidate_lang": languages,
                    "share": shares.to_numpy(),
                    "n_queries": len(counts),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
