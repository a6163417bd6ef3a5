"""The study's tidy tables and the paper-style summary table (Markdown and LaTeX)."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import HELD_OUT_PAIRS, RANK_DISTANCE, lang_group
from .model_tags import BASE, ModelSpec
from .stats.power import MAX_RUNS

STRATEGY_ORDER = ["xx-mono", "x-y", "hybrid", BASE]


def strategy_rank(strategy: str) -> tuple[int, str]:
    """xx-mono, x-y, hybrids (by alpha), base: the order of legends and tables."""
    family = "hybrid" if strategy.startswith("hybrid") else strategy
    return STRATEGY_ORDER.index(family), strategy


METRIC_COLUMNS = [
    "model",
    "strategy",
    "k",
    "draw",
    "seed",
    "benchmark",
    "setting",
    "query_lang",
    "passage_lang",
    "lang_group",
    "metric",
    "value",
    "n_queries",
]


def labelled(frames: dict[tuple[str, str], pd.DataFrame], languages: pd.DataFrame, roles: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Per-(model tag, benchmark) tables with setting, query_lang and passage_lang columns, stacked and
    labelled with model, benchmark, strategy, k, draw, seed and lang_group; `languages` maps (k, draw)
    to training languages, `roles` gives each benchmark's language roles (`config.Study.language_roles`)."""
    trained = {(r.k, r.draw): set(r.languages.split(",")) for r in languages.itertuples()}
    out = []
    for (tag, benchmark), table in sorted(frames.items()):
        spec = ModelSpec.parse(tag)
        frame = table.copy()
        langs = trained[spec.k, spec.draw] if spec else set()
        frame["lang_group"] = [lang_group(s, q, p, langs, roles[benchmark]) for s, q, p in zip(frame.setting, frame.query_lang, frame.passage_lang)]
        frame["model"], frame["benchmark"] = tag, benchmark
        frame["strategy"] = spec.strategy if spec else BASE
        frame["k"], frame["draw"], frame["seed"] = (spec.k, spec.draw, spec.seed) if spec else (0, -1, -1)
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def collect(summaries: dict[tuple[str, str], pd.DataFrame], languages: pd.DataFrame, roles: dict[str, dict[str, str]]) -> pd.DataFrame:
    """One long table from per-(model tag, benchmark) summaries (`labelled`)."""
    return labelled(summaries, languages, roles)[METRIC_COLUMNS]


TOP_LANGUAGE_COLUMNS = ["model", "strategy", "k", "draw", "seed", "benchmark", "query_lang", "lang_group", "candidate_lang", "share", "n_queries"]


def top_language_table(shares: dict[tuple[str, str], pd.DataFrame], languages: pd.DataFrame, roles: dict[str, dict[str, str]]) -> pd.DataFrame:
    """`metrics.top_language_shares` of every (model tag, benchmark) as one labelled table."""
    return labelled(shares, languages, roles)[TOP_LANGUAGE_COLUMNS]


LOSS_COLUMNS = ["model", "strategy", "k", "draw", "seed", "step", "loss", "batch_kind"]


def loss_table(losses: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The `loss.tsv` of every fine-tuned model (by tag) as one labelled table."""
    frames = []
    for tag, loss in sorted(losses.items()):
        spec = ModelSpec.parse(tag)
        frames.append(loss.assign(model=tag, strategy=spec.strategy, k=spec.k, draw=spec.draw, seed=spec.seed))
    return pd.concat(frames, ignore_index=True)[LOSS_COLUMNS]


def languages_table(draws) -> pd.DataFrame:
    """(k, draw, languages) rows from `Study.draws()`."""
    return pd.DataFrame([(k, d, ",".join(langs)) for k, d, langs in draws], columns=["k", "draw", "languages"])


def with_base_reference(metrics: pd.DataFrame, languages: pd.DataFrame, roles: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Fine-tuned rows plus the base model's rows regrouped by the training languages of each (k, draw)."""
    tuned = metrics[metrics.model != BASE]
    base = metrics[metrics.model == BASE]
    frames = [tuned]
    for row in languages.itertuples():
        trained = set(row.languages.split(","))
        ref = base.copy()
        ref["k"], ref["draw"] = row.k, row.draw
        ref["lang_group"] = [
            lang_group(s, q, p, trained, roles[b]) for s, q, p, b in zip(ref.setting, ref.query_lang, ref.passage_lang, ref.benchmark)
        ]
        frames.append(ref)
    return pd.concat(frames, ignore_index=True)


def macro(metrics: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Macro average over language rows, then mean over training draws and seeds."""
    runs = metrics.groupby(by + ["draw", "seed"], sort=True)["value"].mean().reset_index()
    return runs.groupby(by, sort=True)["value"].mean().reset_index()


TABLE_METRICS = {"AP": "mAP", "RR": "MRR", "R@1": "R@1"}
SETTING_NAMES = {"mono": "Mono", "cross": "Cross", "multi": "Multi"}


def _table1_layout(cells: pd.DataFrame) -> pd.DataFrame:
    """(strategy, setting, metric, value) rows as the paper's Table 1: one row per strategy, one
    column per setting x (mAP, MRR, R@1) and the multi rank distance."""
    cells = cells.assign(column=[f"{SETTING_NAMES[s]} {TABLE_METRICS.get(m, 'rank dist.')}" for s, m in zip(cells.setting, cells.metric)])
    wide = cells.pivot(index="strategy", columns="column", values="value")
    wide = wide.loc[sorted(wide.index, key=strategy_rank)]
    order = [f"{SETTING_NAMES[s]} {name}" for s in SETTING_NAMES for name in TABLE_METRICS.values()] + ["Multi rank dist."]
    return wide[[c for c in order if c in wide.columns]].rename_axis(columns=None)


def _table1_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.metric.isin(TABLE_METRICS) | ((frame.metric == RANK_DISTANCE) & (frame.setting == "multi"))]


def paper_table(
    metrics: pd.DataFrame,
    languages: pd.DataFrame,
    roles: dict[str, dict[str, str]],
    benchmark: str,
    intervals: pd.DataFrame | None = None,
    strategies: list[str] | None = None,
    published: dict | None = None,
) -> pd.DataFrame:
    """Strategy x {mono, cross, multi} x (mAP, MRR, R@1) and multi rank distance at the largest k,
    macro-averaged over all evaluated languages (trained and not); the base model as reference.

    Only `strategies` (and base) are shown when given. With `intervals` (`stats.cell_intervals.intervals`), each cell
    reads "mean ± half the width of its confidence interval". With `published` (see `with_published`),
    the paper's numbers for the benchmark stand beside the study's.
    """
    k = int(metrics.k.max())
    rows = with_base_reference(metrics[metrics.benchmark == benchmark], languages, roles)
    rows = rows[rows.k == k]
    if strategies:
        rows = rows[rows.strategy.isin([*strategies, BASE])]
    table = _table1_layout(macro(_table1_rows(rows), ["strategy", "setting", "metric"]))
    if intervals is not None:
        cells = interval_cells(intervals, benchmark, k, quantity="value", lang_group="all", query_lang="all")
        table = plus_minus(table, _table1_layout(_table1_rows(cells)).loc[table.index, table.columns])
    if published is not None:
        table = with_published(table, published, benchmark)
    table.index = [f"{s} (no fine-tuning)" if s == BASE else s for s in table.index]
    table.index.name = f"{benchmark}, k={k}"
    return table


PUBLISHED_MARK = "†"


def with_published(table: pd.DataFrame, published: dict, benchmark: str) -> pd.DataFrame:
    """`table` (rows: strategy slugs) with a column per setting holding the paper's published values of the
    benchmark, one per model ("0.792 / 0.808"), where the paper has the strategy; unchanged for a benchmark
    the paper does not report. `published` is `workflow/resources/published_table1.yaml`: its `metric` and
    `values` ({benchmark: {model: {strategy slug: {setting: value}}}})."""
    models = published["values"].get(benchmark)
    if not models:
        return table
    name = TABLE_METRICS[published["metric"]]
    out = table.copy()
    for setting, title in SETTING_NAMES.items():
        column = f"{title} {name}, paper{PUBLISHED_MARK} ({' / '.join(models)})"
        out[column] = [
            " / ".join(f"{values[strategy][setting]:.3f}" for values in models.values()) if all(strategy in v for v in models.values()) else ""
            for strategy in out.index
        ]
    return out


def published_note(published: dict, benchmark: str) -> str:
    """The caption's note on the published columns (what they are, from which version, why they differ), with
    a leading space; empty for a benchmark the paper does not report."""
    if not published["values"].get(benchmark):
        return ""
    source = f"{published['paper']}, {published['table']} ({published['version']})"
    return f" {PUBLISHED_MARK} Published {TABLE_METRICS[published['metric']]}, not this study's: {source}; {published['differs']}."


def interval_cells(intervals: pd.DataFrame, benchmark: str, k: int, **where) -> pd.DataFrame:
    """Cells of `stats.cell_intervals.intervals` at (benchmark, k, where...), with `value` = half the interval's width."""
    chosen = intervals[(intervals.benchmark == benchmark) & (intervals.k == k)]
    for column, value in where.items():
        chosen = chosen[chosen[column] == value]
    return chosen.assign(value=(chosen.ci_high - chosen.ci_low) / 2)


def plus_minus(means: pd.DataFrame, half_widths: pd.DataFrame) -> pd.DataFrame:
    """'0.412 ± 0.031' cells (one decimal for rank distances, which count ranks)."""
    out = means.copy().astype(object)
    for column in means.columns:
        digits = 1 if "rank dist" in str(column) else 3
        out[column] = [f"{m:.{digits}f} ± {h:.{digits}f}" for m, h in zip(means[column], half_widths[column])]
    return out


def language_table(
    metrics: pd.DataFrame,
    languages: pd.DataFrame,
    roles: dict[str, dict[str, str]],
    intervals: pd.DataFrame,
    benchmark: str,
    metric: str,
    strategies: list[str],
) -> pd.DataFrame:
    """`metric` per query language (columns; cross: macro over passage languages) for each setting and
    strategy (rows) at the largest k, as "mean ± half-width of its confidence interval"."""
    k = int(metrics.k.max())
    rows = with_base_reference(metrics[(metrics.benchmark == benchmark) & (metrics.metric == metric)], languages, roles)
    rows = rows[(rows.k == k) & rows.strategy.isin([*strategies, BASE])]
    keys = ["setting", "strategy", "query_lang"]
    means = macro(rows, keys).pivot(index=["setting", "strategy"], columns="query_lang", values="value")
    cells = interval_cells(intervals, benchmark, k, metric=metric, quantity="value", lang_group="all")
    half = cells[cells.query_lang != "all"].pivot(index=["setting", "strategy"], columns="query_lang", values="value")
    order = [(s, strategy) for s in SETTING_NAMES for strategy in sorted(means.index.levels[1], key=strategy_rank)]
    means = means.loc[[key for key in order if key in means.index]]
    table = plus_minus(means, half.loc[means.index, means.columns])
    table.columns.name = None
    return table


def signed_intervals(estimates, lows, highs) -> list[str]:
    """'+0.018 [+0.011, +0.025]' cells: a difference with its interval."""
    return [f"{e:+.3f} [{lo:+.3f}, {hi:+.3f}]" for e, lo, hi in zip(estimates, lows, highs)]


def headline_table(intervals: pd.DataFrame, benchmark: str, metric: str, strategies: list[str], group: str = "held-out") -> pd.DataFrame:
    """The study's answer: `metric` gain over the base model on a fixed language group (rows: setting and strategy,
    columns: k), each cell "gain [ci_low, ci_high]", with the base model's own value per row for scale. For the
    held-out group, its cross-lingual pairs follow apart (held-out with held-out, held-out with the source language)
    where it has both kinds."""
    pairs = set(intervals.lang_group) & set(HELD_OUT_PAIRS) if group == "held-out" else set()
    groups = [group, *(sorted(pairs) if len(pairs) == len(HELD_OUT_PAIRS) else ())]  # one kind alone is the cross row again
    cells = intervals[
        (intervals.benchmark == benchmark) & (intervals.metric == metric) & intervals.lang_group.isin(groups) & (intervals.query_lang == "all")
    ]
    cells = cells.assign(setting=[s if g == group else f"{s}: {g}" for s, g in zip(cells.setting, cells.lang_group)])
    gains = cells[(cells.quantity == "gain") & cells.strategy.isin(strategies)]
    if gains.empty:
        raise ValueError(f"no {group} gains of '{metric}' on '{benchmark}'")
    table = gains.assign(cell=signed_intervals(gains.estimate, gains.ci_low, gains.ci_high))
    table = table.pivot(index=["setting", "strategy"], columns="k", values="cell").fillna("")
    rows = [s for setting in SETTING_NAMES for s in (setting, *(f"{setting}: {pair}" for pair in HELD_OUT_PAIRS))]
    order = [(s, strategy) for s in rows for strategy in sorted(set(gains.strategy), key=strategy_rank)]
    table = table.loc[[key for key in order if key in table.index]]
    table.columns = [f"k={k}" for k in table.columns]
    base = cells[(cells.quantity == "value") & (cells.strategy == BASE)].groupby("setting").estimate.first()
    table.insert(0, "base", [f"{base[s]:.3f}" for s, _ in table.index])
    return table


def comparison_labels(tests: pd.DataFrame) -> list[str]:
    """'hybrid-a0.5, k=6 vs k=1' (a k trend) or 'hybrid-a0.5 vs xx-mono, k=6': what each paired test compares."""
    return [
        f"{a}, k={ka} vs k={kb}" if family == "k-trend" else f"{a} vs {b}, k={ka}"
        for family, a, b, ka, kb in zip(tests.family, tests.strategy_a, tests.strategy_b, tests.k_a, tests.k_b)
    ]


RUNS_INTERVAL = "t over runs and questions, Welch-Satterthwaite df"


def paired_test_table(tests: pd.DataFrame, level: float, *, permutations: int) -> pd.DataFrame:
    """`stats.paired.paired_tests` rows for reading, the primary family first: comparison, Holm family, setting,
    languages, difference with its `level` bootstrap interval over questions and its t interval over runs and
    questions with that t's df, effect size d_z, sign-flip p (`permutations` flips), the t test's p, its
    Holm-adjusted p and the smallest detectable effect. A sign-flip p at its floor, 1 / (permutations + 1),
    reads "≤ value"; a t p below 0.0001 "< 0.0001"."""
    tests = tests.iloc[np.argsort(~tests.primary.to_numpy(), kind="stable")]
    table = pd.DataFrame(
        {
            "benchmark": tests.benchmark,
            "comparison": comparison_labels(tests),
            "Holm family": np.where(tests.primary, "primary", "other"),
            "setting": tests.setting,
            "languages": tests.lang_group,
            "runs": run_counts(tests),
            "query sets": tests.n_query_sets,
            f"difference [{level:.0%} CI, questions]": signed_intervals(tests.difference, tests.ci_low, tests.ci_high),
            f"{level:.0%} CI, {RUNS_INTERVAL}": [f"[{low:+.3f}, {high:+.3f}]" for low, high in zip(tests.ci_low_runs, tests.ci_high_runs)],
            "df": tests.df_runs.map(lambda v: f"{v:.1f}"),
            "d_z": tests.effect_size.map(lambda v: f"{v:+.2f}"),
            "p (sign flips)": p_value_cells(tests.p_value, at_floor(tests.p_value, permutations)),
            "p (t, runs and questions)": t_p_value_cells(tests.p_runs),
            "p (Holm)": t_p_value_cells(tests.p_holm),
            "detectable (80% power)": tests.detectable.map(lambda v: f"{v:.3f}"),
        }
    )
    if tests.benchmark.nunique() == 1:
        table = table.drop(columns="benchmark")
    return table.set_index("comparison")


def run_counts(tests: pd.DataFrame) -> list[str]:
    """'12 (6 sets) vs 6' or '6 pairs': each side's runs, with the language sets its variance is pooled within
    where there are several (`stats.welch`)."""

    def side(runs, strata) -> str:
        return f"{runs} ({strata:.0f} sets)" if strata > 1 else f"{runs}"

    return [
        f"{side(a, sa)} pairs" if paired else f"{side(a, sa)} vs {side(b, sb)}"
        for a, b, sa, sb, paired in zip(tests.n_runs_a, tests.n_runs_b, tests.strata_a, tests.strata_b, tests.runs_paired)
    ]


def power_test_table(power: pd.DataFrame) -> pd.DataFrame:
    """`stats.power.power_table` rows for reading, the primary family first: comparison, Holm family (and its
    size), setting, languages, runs a side (pairs where paired), the detectable effect with them and with each
    projected number of runs a side, and the fewest runs a side that detect the target ("> 1000" where none; "?"
    where a side has one run, so no variance over runs to project)."""
    power = power.iloc[np.argsort(~power.primary.to_numpy(), kind="stable")]
    one_run = (power.var_runs_a.isna() | (~power.runs_paired & power.var_runs_b.isna())).to_numpy()
    runs = [column for column in power.columns if column.startswith("detectable_n")]
    target = power.target.iloc[0] if len(power) else np.nan
    table = pd.DataFrame(
        {
            "benchmark": power.benchmark,
            "comparison": comparison_labels(power),
            "Holm family": [f"{'primary' if primary else 'other'} ({size})" for primary, size in zip(power.primary, power.family_size)],
            "setting": power.setting,
            "languages": power.lang_group,
            "runs": run_counts(power),
            "detectable": power.detectable.map(lambda v: f"{v:.3f}"),
            **{
                f"n={column.removeprefix('detectable_n')}": ["?" if unknown else f"{v:.3f}" for v, unknown in zip(power[column], one_run)]
                for column in runs
            },
            f"runs for {target:.3f}": [
                "?" if unknown else f"> {MAX_RUNS}" if pd.isna(n) else str(n) for n, unknown in zip(power.runs_for_target, one_run)
            ],
        }
    )
    if power.benchmark.nunique() == 1:
        table = table.drop(columns="benchmark")
    return table.set_index("comparison")


def at_floor(p_values: pd.Series, draws: int) -> np.ndarray:
    """Whether each Monte Carlo p-value is its smallest possible value, 1 / (draws + 1)."""
    return (p_values <= (1 + 1e-9) / (draws + 1)).to_numpy()


def p_value_cells(p_values: pd.Series, bounded: np.ndarray) -> list[str]:
    """'0.0123' cells, four decimals; a bound as '≤ 0.0001' (rounded up, so that it still holds)."""
    return [f"≤ {math.ceil(p * 1e4 - 1e-9) / 1e4:.4f}" if bound else f"{p:.4f}" for p, bound in zip(p_values, bounded)]


def t_p_value_cells(p_values: pd.Series) -> list[str]:
    """'0.0123' cells, four decimals; one below 0.0001 as '< 0.0001'."""
    return ["< 0.0001" if p < 1e-4 else f"{p:.4f}" for p in p_values]


def write_table(table: pd.DataFrame, markdown: Path, latex: Path | None, caption: str, html: Path | None = None) -> None:
    """The table as Markdown (and LaTeX, and HTML for the report, where given), each with `caption`; numbers
    with three decimals, text cells as they are."""
    shown = table.map(lambda value: f"{value:.3f}" if isinstance(value, float) else value).reset_index()
    markdown.write_text(f"{caption}\n\n" + shown.to_markdown(index=False, disable_numparse=True) + "\n")
    if latex is not None:
        latex.write_text(shown.to_latex(index=False, caption=caption, label="tab:" + markdown.stem, escape=True))
    if html is not None:
        html.write_text(f"<p>{escape(caption)}</p>\n" + shown.to_html(index=False))
