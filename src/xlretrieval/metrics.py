"""Per-query IR measures (trec_eval semantics: ir-measures on the runs, or the same values from the exact ranks of
the relevant candidates), language bias, and the tidy summary table.

Maximum rank distance (language bias, multi setting): for one query, the rank of its lowest-ranked
relevant candidate minus the rank of its highest-ranked one, over the full ranking; averaged over the
queries of each query language, then macro-averaged over languages. 0 means every translation of the
answer sits together at the top; large values mean the model prefers some languages.
"""

from __future__ import annotations

import re
from pathlib import Path

import ir_measures
import numpy as np
import pandas as pd

from .data.benchmark import BenchmarkTables
from .model_tags import SETTINGS
from .querysets import query_sets

PER_QUERY_COLUMNS = ["setting", "query_lang", "passage_lang", "question_id", "metric", "value"]
RANK_DISTANCE = "rank_distance"


def parse_measures(names: list[str]) -> list:
    try:
        return [ir_measures.parse_measure(name) for name in names]
    except (ValueError, NameError) as error:
        raise ValueError(f"evaluation.measures: cannot parse {names} as ir-measures names ({error})") from error


def per_query(tables: BenchmarkTables, run_dir: Path, measure_names: list[str], settings: tuple[str, ...] = SETTINGS) -> pd.DataFrame:
    """Every measure for every query of every query set of `settings`, from the TREC runs in `run_dir`."""
    measures = parse_measures(measure_names)
    frames = []
    for unit in query_sets(tables, tuple(settings)):
        # graded relevance: nDCG uses the grades, RR and AP (trec_eval) count every grade > 0 as relevant
        qrels = [ir_measures.Qrel(q, c, int(r)) for q, c, r in zip(unit.qrels.question_id, unit.qrels.candidate_id, unit.qrels.relevance)]
        run = list(ir_measures.read_trec_run(str(Path(run_dir) / f"{unit.name}.trec")))
        values = [(m.query_id, str(m.measure), m.value) for m in ir_measures.iter_calc(measures, qrels, run)]
        frame = pd.DataFrame(values, columns=["question_id", "metric", "value"])
        frame.insert(0, "setting", unit.setting)
        frame.insert(1, "query_lang", unit.query_lang)
        frame.insert(2, "passage_lang", unit.passage_lang)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[PER_QUERY_COLUMNS]


# Measures computed from ranks (`per_query_from_ranks`), in trec_eval's semantics (ties in score ordered by candidate id,
# descending, as the runs list them): recip_rank, map, recall, P and ndcg, each with an optional cutoff, relevance being
# any grade above 0 (nDCG weighs by grade). RR@k is recip_rank cut at k (ir-measures takes RR@k from another provider,
# which orders exact ties by ascending id).
FROM_RANKS = re.compile(r"(RR|AP|R|P|nDCG)(?:@(\d+))?")


def computable_from_ranks(measure_names: list[str]) -> bool:
    return all(FROM_RANKS.fullmatch(str(measure)) for measure in parse_measures(measure_names))


def per_query_from_ranks(tables: BenchmarkTables, ranks: pd.DataFrame, measure_names: list[str], depth: int, settings=SETTINGS) -> pd.DataFrame:
    """`per_query`'s values from the exact rank of every judged candidate (an exact search's `ranks` table) instead
    of its TREC runs of the top `depth`: a candidate ranked below `depth` counts as not retrieved, as in the run.
    Only for an exact search (an approximate run may list candidates in another order) and the measures
    `FROM_RANKS` names (`computable_from_ranks`)."""
    keys = ["setting", "query_lang", "passage_lang"]
    units = enumerate(query_sets(tables, tuple(settings)))
    judged = [u.qrels.assign(setting=u.setting, query_lang=u.query_lang, passage_lang=u.passage_lang, unit=i) for i, u in units]
    frame = pd.concat(judged, ignore_index=True).merge(ranks, on=[*keys, "question_id", "candidate_id"], validate="one_to_one")
    frame = frame.sort_values(["unit", "question_id", "rank"], kind="stable").reset_index(drop=True)
    query = frame.groupby(["unit", "question_id"], sort=False).ngroup().to_numpy()  # contiguous, in frame order
    starts = np.flatnonzero(np.r_[True, query[1:] != query[:-1]])
    rank, grade = frame["rank"].to_numpy(), frame.relevance.to_numpy().astype(float)
    relevant = grade > 0
    n_relevant = np.maximum(np.add.reduceat(relevant.astype(float), starts), 1)[query]
    relevant_above = np.cumsum(relevant) - np.r_[0, np.cumsum(relevant)][starts][query]  # relevant at or above each row
    ideal_order = np.lexsort((-grade, query))  # within each query, grades from the highest
    ideal_rank = np.arange(len(frame)) - starts[query] + 1
    ideal_grade = grade[ideal_order]
    out = frame.iloc[starts][["unit", "question_id", *keys]].reset_index(drop=True)
    for measure in parse_measures(measure_names):
        name, cutoff = FROM_RANKS.fullmatch(str(measure)).groups()
        cut = min(int(cutoff), depth) if cutoff else depth
        found = relevant & (rank <= cut)
        if name == "RR":
            value = np.maximum.reduceat(np.where(found, 1.0 / rank, 0.0), starts)
        elif name == "AP":
            value = np.add.reduceat(np.where(found, relevant_above / rank, 0.0) / n_relevant, starts)
        elif name == "R":
            value = np.add.reduceat(found / n_relevant, starts)
        elif name == "P":
            value = np.add.reduceat(found.astype(float), starts) / (int(cutoff) if cutoff else depth)
        else:  # nDCG: the ideal ranking is cut at k too (trec_eval's ndcg_cut), or not at all (ndcg)
            gain = np.add.reduceat(np.where(rank <= cut, grade / np.log2(rank + 1), 0.0), starts)
            ideal_cut = int(cutoff) if cutoff else len(frame)
            ideal = np.add.reduceat(np.where(ideal_rank <= ideal_cut, ideal_grade / np.log2(ideal_rank + 1), 0.0), starts)
            value = np.divide(gain, ideal, out=np.zeros_like(gain), where=ideal > 0)
        out[str(measure)] = value
    tidy = out.melt(id_vars=["unit", "question_id", *keys], var_name="metric", value_name="value")
    return tidy.sort_values(["unit", "question_id"], kind="stable")[PER_QUERY_COLUMNS].reset_index(drop=True)


def evaluate(
    tables: BenchmarkTables, run_dir: Path, ranks: pd.DataFrame, measure_names: list[str], depth: int, exact: bool, settings=SETTINGS
) -> pd.DataFrame:
    """Every per-query value of a model on a benchmark: the measures (from the ranks where the search was exact and
    trec_eval computes them, else by ir-measures from the runs) and the maximum rank distance."""
    if exact and computable_from_ranks(measure_names):
        values = per_query_from_ranks(tables, ranks, measure_names, depth, settings)
    else:
        values = per_query(tables, run_dir, measure_names, settings)
    return pd.concat([values, max_rank_distance(ranks)], ignore_index=True)


def max_rank_distance(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per-query maximum rank distance in the multi setting, from exact ranks of relevant candidates."""
    multi = ranks[ranks.setting == "multi"]
    grouped = multi.groupby(["setting", "query_lang", "passage_lang", "question_id"], sort=True)["rank"]
    out = (grouped.max() - grouped.min()).rename("value").reset_index()
    out.insert(4, "metric", RANK_DISTANCE)
    return out[PER_QUERY_COLUMNS]


# Language groups of a query set in one run (`lang_group`), from the roles of its languages (source, held-out,
# pool or other: `config.Study.language_roles`). held-out and source do not change with k (the headline curves);
# trained and not-drawn split the target pool by the run's training languages; mixed pairs a held-out language
# with a pool language; other is a language outside all of these.
GROUPS = ("held-out", "source", "trained", "not-drawn", "mixed", "other")
FIXED_GROUPS = GROUPS[:2]
# The held-out cross-lingual group's two kinds of pairs, reported apart beside it (`held_out_pair`).
HELD_OUT_PAIRS = ("held-out x held-out", "held-out x source")


def language_role(lang: str, roles: dict[str, str], trained: set[str]) -> str:
    """source, held-out or other as in `roles`; a pool language is trained or not-drawn in this run."""
    role = roles.get(lang, "other")
    if role == "pool":
        return "trained" if lang in trained else "not-drawn"
    return role


def lang_group(setting: str, query_lang: str, passage_lang: str, trained: set[str], roles: dict[str, str]) -> str:
    """The language group (held-out, source, trained, not-drawn, mixed or other) of a query set in a run
    trained on `trained`.

    mono and multi: the query language's role. cross: held-out when both languages are held out or one is
    the source language; trained when both were trained on; not-drawn when a pool language not drawn in
    this run meets the source or the pool; mixed for a held-out language against a pool language.
    """
    query = language_role(query_lang, roles, trained)
    if setting != "cross":
        return query
    pair = {query, language_role(passage_lang, roles, trained)}
    if "other" in pair:
        return "other"
    if pair <= {"held-out", "source"}:
        return "held-out"
    if pair <= {"source", "trained"}:
        return "trained"
    if pair <= {"source", "trained", "not-drawn"}:
        return "not-drawn"
    return "mixed"


def held_out_pair(setting: str, query_lang: str, passage_lang: str, roles: dict[str, str]) -> str | None:
    """For a cross-lingual query set of the held-out group, which of its two kinds it is (`HELD_OUT_PAIRS`): between
    two held-out languages, or between a held-out language and the source language; None for any other query set."""
    if setting != "cross":
        return None
    pair = sorted([roles.get(query_lang, "other"), roles.get(passage_lang, "other")])
    return {("held-out", "held-out"): HELD_OUT_PAIRS[0], ("held-out", "source"): HELD_OUT_PAIRS[1]}.get(tuple(pair))


def summarise(per_query_table: pd.DataFrame) -> pd.DataFrame:
    """Mean over queries per (setting, query_lang, passage_lang, metric), with the number of queries."""
    keys = ["setting", "query_lang", "passage_lang", "metric"]
    grouped = per_query_table.groupby(keys, sort=True)["value"]
    return pd.concat([grouped.mean(), grouped.size().rename("n_queries")], axis=1).reset_index()
