"""What a search leaves: a TREC run per query set, the exact ranks of relevant candidates, and the
recall of an approximate run; `search` ranks (see `shards`) and writes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.benchmark import BenchmarkTables
from ..model_tags import SETTINGS
from .clock import Clock
from .index import IndexSpec, recall
from .shards import Ranking, rank

RANK_COLUMNS = ["setting", "query_lang", "passage_lang", "question_id", "candidate_id", "rank"]


def write_run(ranking: Ranking, tables: BenchmarkTables, path: Path, tag: str) -> None:
    """A TREC run: `qid Q0 candidate_id rank score tag`, best first, one line per listed candidate.

    Scores have 9 significant digits, which give back the float32 score: distinct scores stay distinct and
    in order, so measures that re-sort by score (ties by candidate id descending) keep the listed order.
    """
    qids = tables.questions.question_id.to_numpy()[ranking.unit.question_rows]
    cids = tables.candidates.candidate_id.to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as out:
        for qid, rows, row_scores in zip(qids.tolist(), ranking.rows, ranking.scores):
            listed = rows >= 0  # Python values below: formatting NumPy scalars is 10x slower
            lines = enumerate(zip(cids[rows[listed]].tolist(), row_scores[listed].tolist()), 1)
            out.writelines(f"{qid} Q0 {cid} {r} {s:.9g} {tag}\n" for r, (cid, s) in lines)


def relevant_ranks(ranking: Ranking, tables: BenchmarkTables) -> pd.DataFrame:
    """One row per (question, relevant candidate) with its exact rank in the query set's pool."""
    unit = ranking.unit
    listed = ranking.relevant_rows >= 0
    question, _ = np.nonzero(listed)
    frame = pd.DataFrame(
        {
            "question_id": tables.questions.question_id.to_numpy()[unit.question_rows][question],
            "candidate_id": tables.candidates.candidate_id.to_numpy()[ranking.relevant_rows[listed]],
            "rank": ranking.relevant_ranks[listed],
        }
    )
    frame.insert(0, "setting", unit.setting)
    frame.insert(1, "query_lang", unit.query_lang)
    frame.insert(2, "passage_lang", unit.passage_lang)
    return frame[RANK_COLUMNS]


@dataclass
class SearchReport:
    """What `search` returns: exact ranks of relevant candidates, recall of an approximate run against
    the exact one per query set (empty for an exact search), and seconds per phase."""

    ranks: pd.DataFrame
    recall: pd.DataFrame
    seconds: dict[str, float]


def search(
    tables: BenchmarkTables,
    question_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
    depth: int,
    run_dir: Path,
    tag: str = "dense",
    index: IndexSpec = IndexSpec(),
    settings: tuple[str, ...] = SETTINGS,
) -> SearchReport:
    """Write a TREC run per query set (`{run_dir}/{setting}/{qlang}-{plang}.trec`) and report exact ranks."""
    clock = Clock()
    rankings = rank(tables, question_vectors, candidate_vectors, depth, index, clock, settings)
    recalls = []
    with clock("write"):
        for ranking in rankings:
            write_run(ranking, tables, Path(run_dir) / f"{ranking.unit.name}.trec", tag)
            if index.type != "exact":
                u = ranking.unit
                recalls += [
                    (u.setting, u.query_lang, u.passage_lang, k, recall(ranking.rows, ranking.exact_rows, k).mean())
                    for k in sorted({min(10, depth), depth})
                ]
        ranks = pd.concat([relevant_ranks(r, tables) for r in rankings], ignore_index=True)
    recall_table = pd.DataFrame(recalls, columns=["setting", "query_lang", "passage_lang", "k", "recall"])
    return SearchReport(ranks, recall_table, clock.seconds)
