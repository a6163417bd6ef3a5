"""The study's tidy tables and the paper-style summary table (Markdown and LaTeX)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .runs import BASE, ModelSpec
from .metrics import RANK_DISTANCE, lang_group

STRATEGY_ORDER = ["xx-mono", "x-y", "hybrid", BASE]


def strategy_rank(strategy: str) -> tuple[int, str]:
    """xx-mono, x-y, hybrids (by alpha), base: the order of legends and tables."""
    family = "hybrid" if strategy.startswith("hybrid") else strategy
    return STRATEGY_ORDER.index(family), strategy


METRIC_COLUMNS = [
    "model", "strategy", "k", "draw", "seed", "benchmark", "setting",
    "query_lang", "passage_lang", "lang_group", "metric", "value", "n_queries",
]


def collect(summaries: dict[tuple[str, str], pd.DataFrame], languages: pd.DataFrame) -> pd.DataFrame:
    """One long table from per-(model tag, benchmark) summaries; `languages` maps (k, draw) to training languages."""
    trained = {(r.k, r.draw): set(r.languages.split(",")) for r in languages.itertuples()}
    frames = []
    for (tag, benchmark), summary in sorted(summaries.items()):
        spec = ModelSpec.parse(tag)
        frame = summary.copy()
        langs = trained[spec.k, spec.draw] if spec else set()
        frame["lang_group"] = [lang_group(s, q, p, langs) for s, q, p in zip(frame.setting, frame.query_lang, frame.passage_lang)]
        frame["model"], frame["benchmark"] = tag, benchmark
        frame["strategy"] = spec.strategy if spec else BASE
        frame["k"], frame["draw"], frame["seed"] = (spec.k, spec.draw, spec.seed) if spec else (0, -1, -1)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[METRIC_COLUMNS]


def languages_table(draws) -> pd.DataFrame:
    """(k, draw, languages) rows from `Study.draws()`."""
    return pd.DataFrame([(k, d, ",".join(langs)) for k, d, langs in draws], columns=["k", "draw", "languages"])


def with_base_reference(metrics: pd.DataFrame, languages: pd.DataFrame) -> pd.DataFrame:
    """Fine-tuned rows plus the base model's rows regrouped as seen/zero-shot for each (k, draw)."""
    tuned = metrics[metrics.model != BASE]
    base = metrics[metrics.model == BASE]
    frames = [tuned]
    for row in languages.itertuples():
        trained = set(row.languages.split(","))
        ref = base.copy()
        ref["k"], ref["draw"] = row.k, row.draw
        ref["lang_group"] = [lang_group(s, q, p, trained) for s, q, p in zip(ref.setting, ref.query_lang, ref.passage_lang)]
        frames.append(ref)
    return pd.concat(frames, ignore_index=True)


def macro(metrics: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Macro average over language rows, then mean over training draws and seeds."""
    runs = metrics.groupby(by + ["draw", "seed"], sort=True)["value"].mean().reset_index()
    return runs.groupby(by, sort=True)["value"].mean().reset_index()


TABLE_METRICS = {"AP": "mAP", "RR": "MRR", "R@1": "R@1"}
SETTING_NAMES = {"mono": "Mono", "cross": "Cross", "multi": "Multi"}


def paper_table(metrics: pd.DataFrame, languages: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """Strategy x {mono, cross, multi} x (mAP, MRR, R@1) and multi rank distance at the largest k,
    macro-averaged over all evaluated languages (seen and zero-shot); the base model as reference."""
    k = int(metrics.k.max())
    rows = with_base_reference(metrics[metrics.benchmark == benchmark], languages)
    rows = rows[rows.k == k]
    wanted = rows[rows.metric.isin(TABLE_METRICS) | (rows.metric == RANK_DISTANCE)]
    table = macro(wanted, ["strategy", "setting", "metric"])
    table["column"] = [
        f"{SETTING_NAMES[s]} {TABLE_METRICS.get(m, 'rank dist.')}" for s, m in zip(table.setting, table.metric)
    ]
    wide = table.pivot(index="strategy", columns="column", values="value")
    wide = wide.loc[sorted(wide.index, key=strategy_rank)]
    order = [f"{SETTING_NAMES[s]} {name}" for s in SETTING_NAMES for name in TABLE_METRICS.values()] + ["Multi rank dist."]
    wide = wide[[c for c in order if c in wide.columns]]
    wide.index = [f"{s} (no fine-tuning)" if s == BASE else s for s in wide.index]
    wide.index.name = f"{benchmark}, k={k}"
    return wide


def write_table(table: pd.DataFrame, markdown: Path, latex: Path, caption: str) -> None:
    markdown.write_text(f"{caption}\n\n" + table.to_markdown(floatfmt=".3f") + "\n")
    latex.write_text(
        table.to_latex(float_format="%.3f", caption=caption, label="tab:" + markdown.stem, escape=True)
    )
