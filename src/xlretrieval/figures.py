"""Figures drawn from the study's tidy tables only (`results/tables/*.tsv`).

Every strategy keeps one colour, marker and line style in every figure (colour-blind palette;
markers and dashes keep them apart in grayscale); the un-fine-tuned base model is grey and dotted.
Bands and error bars are the confidence intervals of `stats.cell_intervals.intervals`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .metrics import FIXED_GROUPS, GROUPS  # noqa: E402
from .model_tags import BASE, SETTINGS, parse_strategy, uniform_slug  # noqa: E402
from .tables import strategy_rank  # noqa: E402

METRIC_LABELS = {"RR": "MRR", "AP": "mAP", "RR@10": "MRR@10", "rank_distance": "max rank distance"}
GROUP_ROWS = GROUPS[:4]  # the groups figure: fixed groups, then the target pool
HYBRID_ORDER = {0.5: 0, 0.25: 1, 0.75: 2}  # the paper's alpha and the default sweep keep their look
HYBRID_COLOURS = [2, 4, 5, 6, 9, 3]  # indices into the colour-blind palette (not blue, orange or grey)
HYBRID_MARKERS = ["^", "D", "v", "P", "*", "h"]
OWN_LANGUAGE = "query's own"
LOSS_WINDOW = 8


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def strategy_styles(strategies: list[str]) -> dict[str, dict]:
    """Colour, marker and line style of each strategy (keyword arguments of `Axes.plot`): fixed per
    strategy, and per alpha for hybrids, so a strategy looks the same in every figure whatever else
    is drawn; the base model in grey."""
    colours = sns.color_palette("colorblind", 10)
    fixed = {
        "xx-mono": {"color": colours[0], "marker": "o", "linestyle": "-"},
        "x-y": {"color": colours[1], "marker": "s", "linestyle": "--"},
        BASE: {"color": (0.45, 0.45, 0.45), "marker": "X", "linestyle": ":"},
    }
    styles = {}
    for strategy in strategies:
        uniform = uniform_slug(strategy)
        if uniform in fixed:
            styles[strategy] = dict(fixed[uniform])
        else:
            index = HYBRID_ORDER.get(parse_strategy(strategy)[1], round(1000 * parse_strategy(strategy)[1]))
            styles[strategy] = {"color": colours[HYBRID_COLOURS[index % 6]], "marker": HYBRID_MARKERS[index % 6], "linestyle": "-."}
        if uniform != strategy:  # the source kept at half the texts: the uniform slug's colour, its own line and marker
            styles[strategy].update(marker="P", linestyle=(0, (1, 1)))
    return styles


def save(figure: plt.Figure, outputs: list[Path]) -> None:
    """Write the figure to every path (PNG, PDF, ... by suffix) and close it; a PDF carries no creation date, so
    that the same figure is the same bytes."""
    for path in outputs:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        metadata = {"CreationDate": None} if Path(path).suffix == ".pdf" else None
        figure.savefig(path, dpi=150, bbox_inches="tight", metadata=metadata)
    plt.close(figure)


def interval_rows(intervals: pd.DataFrame, benchmark: str, metric: str, strategies: list[str] | None = None, quantity: str = "value") -> pd.DataFrame:
    """Group cells (query_lang all) of one benchmark, metric and quantity (value or gain over base),
    optionally only `strategies` and base."""
    rows = intervals[
        (intervals.benchmark == benchmark) & (intervals.metric == metric) & (intervals.query_lang == "all") & (intervals.quantity == quantity)
    ]
    if strategies is not None:
        rows = rows[rows.strategy.isin([*strategies, BASE])]
    if rows.empty:
        raise ValueError(f"no intervals of metric '{metric}' on benchmark '{benchmark}'")
    return rows


def draw_bands(ax: plt.Axes, data: pd.DataFrame, x: str, styles: dict[str, dict]) -> None:
    """One line per strategy (estimate) with its interval as a band."""
    for strategy, style in styles.items():
        line = data[data.strategy == strategy].sort_values(x)
        if line.empty:
            continue
        ax.fill_between(line[x], line.ci_low, line.ci_high, color=style["color"], alpha=0.18, linewidth=0)
        ax.plot(line[x], line.estimate, label=strategy, markersize=5, **style)


def band_grid(
    data: pd.DataFrame,
    rows: list[str],
    columns: list[str],
    row_key: str,
    column_key: str,
    styles: dict[str, dict],
    size: tuple[float, float],
    ylabel: str,
    sharey: str = "col",
) -> plt.Figure:
    """Panels of `draw_bands` (x = k), one per (row, column) value; one legend for the figure."""
    figure, axes = plt.subplots(len(rows), len(columns), figsize=(size[0], size[1] * len(rows)), squeeze=False, sharex=True, sharey=sharey)
    ks = sorted(data.k.unique())
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            ax = axes[i, j]
            panel = data[(data[row_key] == row) & (data[column_key] == column)]
            if panel.empty:  # e.g. no cross-lingual query set lies within the source language
                ax.axis("off")
                continue
            draw_bands(ax, panel, "k", styles)
            ax.set_title(f"{column}, {row} languages" if row_key == "lang_group" else f"{row}: {column}")
            ax.set_xticks(ks)
            ax.grid(alpha=0.3)
            ax.set_xlabel("target languages k" if i == len(rows) - 1 else "")
            ax.set_ylabel(ylabel if j == 0 else "")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=len(labels), bbox_to_anchor=(0.5, 1.0), frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.94))
    return figure


def scaling_figure(intervals: pd.DataFrame, benchmark: str, metric: str, strategies: list[str], size=(12, 4)) -> plt.Figure:
    """1. The headline: `metric` gain over the base model (paired, same query sets) vs the number of target
    languages k, with confidence bands, on the language groups that do not change with k: a row each for
    held-out languages and the source language, a column per setting, a line per strategy."""
    data = interval_rows(intervals, benchmark, metric, strategies, quantity="gain")
    data = data[data.lang_group.isin(FIXED_GROUPS)]
    groups = [g for g in FIXED_GROUPS if g in set(data.lang_group)]
    ordered = sorted(data.strategy.unique(), key=strategy_rank)
    settings = [s for s in SETTINGS if s in set(data.setting)]
    figure = band_grid(
        data, groups, settings, "lang_group", "setting", strategy_styles(ordered), (size[0], size[1]), f"{metric_label(metric)} gain over base"
    )
    for ax in figure.axes:
        if ax.axison:
            ax.axhline(0, color="grey", linewidth=0.8, linestyle=":")
    figure.suptitle(
        f"{metric_label(metric)} gain over the base model vs number of target languages ({benchmark}), {intervals.level.iloc[0]:.0%} intervals",
        y=1.04,
    )
    return figure


def groups_figure(intervals: pd.DataFrame, benchmark: str, metric: str, strategies: list[str], size=(12, 4)) -> plt.Figure:
    """1b. `metric` itself vs k for every language group: held-out, source, and the target pool split into the
    languages trained on at that k and those not yet drawn; the base model (grey) on the same query sets."""
    data = interval_rows(intervals, benchmark, metric, strategies)
    groups = [g for g in GROUP_ROWS if g in set(data.lang_group)]
    data = data[data.lang_group.isin(groups)]
    ordered = sorted(data.strategy.unique(), key=strategy_rank)
    settings = [s for s in SETTINGS if s in set(data.setting)]
    figure = band_grid(data, groups, settings, "lang_group", "setting", strategy_styles(ordered), (size[0], size[1] * 0.8), metric_label(metric))
    figure.suptitle(
        f"{metric_label(metric)} vs number of target languages by language group ({benchmark}), {intervals.level.iloc[0]:.0%} intervals", y=1.03
    )
    return figure


def rank_distance_figure(intervals: pd.DataFrame, benchmark: str, strategies: list[str]) -> plt.Figure:
    """3. Language bias: maximum rank distance (multi setting) vs k, held-out and source query languages."""
    data = interval_rows(intervals, benchmark, "rank_distance", strategies)
    data = data[(data.setting == "multi") & data.lang_group.isin(FIXED_GROUPS)]
    data = data.assign(languages=data.lang_group + " query languages")
    ordered = sorted(data.strategy.unique(), key=strategy_rank)
    figure = band_grid(
        data,
        ["multi"],
        [f"{g} query languages" for g in FIXED_GROUPS if g in set(data.lang_group)],  # a benchmark may have no held-out language
        "setting",
        "languages",
        strategy_styles(ordered),
        (10, 4),
        "max rank distance (lower: less bias)",
        sharey="row",
    )
    figure.suptitle(f"Language bias vs number of target languages ({benchmark}, multi)", y=1.04)
    return figure


def held_out_language_figure(intervals: pd.DataFrame, held_out: list[str], benchmark: str, metric: str, strategies: list[str]) -> plt.Figure:
    """4. `metric` vs k for each held-out language (as query language; cross: macro over passage languages):
    a row per setting, a column per language."""
    rows = intervals[
        (intervals.benchmark == benchmark) & (intervals.metric == metric) & (intervals.lang_group == "all") & (intervals.quantity == "value")
    ]
    shown = [lang for lang in held_out if lang in set(rows.query_lang)]
    if not shown:
        raise ValueError(f"{benchmark} has no held-out language to plot")
    data = rows[rows.query_lang.isin(shown) & rows.strategy.isin([*strategies, BASE])]
    ordered = sorted(data.strategy.unique(), key=strategy_rank)
    settings = [s for s in SETTINGS if s in set(data.setting)]
    figure = band_grid(
        data, settings, shown, "setting", "query_lang", strategy_styles(ordered), (3.2 * len(shown) + 1, 3), metric_label(metric), sharey="row"
    )
    figure.suptitle(f"{metric_label(metric)} on each held-out language ({benchmark})", y=1.04)
    return figure


def language_heatmaps(metrics: pd.DataFrame, languages: pd.DataFrame, benchmark: str, metric: str, strategies: list[str]) -> plt.Figure:
    """2. Query language x passage language `metric` (mono on the diagonal, cross off it) of each
    strategy at the largest k, mean over runs, and each hybrid minus X-X-mono and minus X-Y.
    Languages trained on in every run at that k are starred."""
    k = int(metrics.k.max())
    rows = metrics[
        (metrics.benchmark == benchmark)
        & (metrics.metric == metric)
        & (metrics.k == k)
        & metrics.setting.isin(["mono", "cross"])
        & metrics.strategy.isin(strategies)
    ]
    if rows.empty:
        raise ValueError(f"no mono or cross values of '{metric}' on '{benchmark}' at k={k}")
    means = rows.groupby(["strategy", "query_lang", "passage_lang"]).value.mean()
    panels = {s: means[s].unstack() for s in sorted(rows.strategy.unique(), key=strategy_rank)}
    hybrids = [s for s in panels if s.startswith("hybrid")]
    panels |= {f"{h} - {o}": panels[h] - panels[o] for h in hybrids for o in ("xx-mono", "x-y") if o in panels}
    trained = set.intersection(*(set(r.languages.split(",")) for r in languages[languages.k == k].itertuples()))
    columns = 3
    n_rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(n_rows, columns, figsize=(5.2 * columns, 4.6 * n_rows), squeeze=False)
    scale = max([1e-9, *(abs(p.to_numpy()).max() for name, p in panels.items() if " - " in name)])  # > 0 when no panel differs
    for ax, (name, panel) in zip(axes.flat, panels.items()):
        labels = [f"{lang}*" if lang in trained else lang for lang in panel.index]
        difference = " - " in name
        sns.heatmap(
            panel,
            ax=ax,
            annot=True,
            fmt="+.2f" if difference else ".2f",
            annot_kws={"size": 6},
            square=True,
            cmap="vlag" if difference else "mako",
            vmin=-scale if difference else means.min(),
            vmax=scale if difference else means.max(),
            cbar_kws={"shrink": 0.7},
            xticklabels=labels,
            yticklabels=labels,
        )
        ax.set_title(name)
        ax.set_xlabel("passage language")
        ax.set_ylabel("query language")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    figure.suptitle(f"{metric_label(metric)} by query and passage language at k={k} ({benchmark}); * trained on", y=1.0)
    figure.tight_layout()
    return figure


def loss_figure(losses: pd.DataFrame) -> plt.Figure:
    """5. Training loss of every run: a panel per k, a line per run (mean of the last `LOSS_WINDOW`
    steps; faint: every step), coloured by strategy."""
    ordered = sorted(losses.strategy.unique(), key=strategy_rank)
    styles = strategy_styles(ordered)
    ks = sorted(losses.k.unique())
    figure, axes = plt.subplots(1, len(ks), figsize=(3.6 * len(ks), 3.4), squeeze=False, sharey=True)
    for ax, k in zip(axes[0], ks):
        for (strategy, _draw, _seed), run in losses[losses.k == k].groupby(["strategy", "draw", "seed"]):
            style = styles[strategy]
            ax.plot(run.step, run.loss, color=style["color"], linewidth=0.6, alpha=0.2)
            smooth = run.loss.rolling(LOSS_WINDOW, min_periods=1).mean()
            ax.plot(run.step, smooth, color=style["color"], linestyle=style["linestyle"], linewidth=1.4)
        ax.set_title(f"k={k}")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(f"InfoNCE loss (mean of {LOSS_WINDOW} steps)")
    handles = [plt.Line2D([], [], color=styles[s]["color"], linestyle=styles[s]["linestyle"]) for s in ordered]
    figure.legend(handles, ordered, loc="upper center", ncol=len(ordered), bbox_to_anchor=(0.5, 0.99), frameon=False)
    figure.suptitle("Training loss per run (one line per language draw and seed)", y=1.04)
    figure.tight_layout(rect=(0, 0, 1, 0.92))
    return figure


def top_language_figure(shares: pd.DataFrame, benchmark: str, strategies: list[str]) -> plt.Figure:
    """6. Multi setting: share of each candidate language in the top 10, per strategy and k (mean over
    query languages, then over runs), and first the share of the query's own language; white is the
    share of an unbiased model (1 / languages)."""
    rows = shares[(shares.benchmark == benchmark) & shares.strategy.isin([*strategies, BASE])]
    if rows.empty:
        raise ValueError(f"no top-10 language shares on '{benchmark}'")
    own = rows[rows.candidate_lang == rows.query_lang].assign(candidate_lang=OWN_LANGUAGE)
    keys = ["strategy", "k", "draw", "seed", "candidate_lang"]
    per_run = pd.concat([own, rows]).groupby(keys, sort=False).share.mean()
    table = per_run.groupby(["strategy", "k", "candidate_lang"], sort=False).mean().unstack()
    table = table[[OWN_LANGUAGE, *sorted(c for c in table.columns if c != OWN_LANGUAGE)]]
    table = table.loc[sorted(table.index, key=lambda key: (strategy_rank(key[0]), key[1]))]
    table.index = [BASE if s == BASE else f"{s}, k={k}" for s, k in table.index]
    languages = table.shape[1] - 1
    figure, (own_ax, ax) = plt.subplots(
        1, 2, figsize=(0.7 * table.shape[1] + 4, 0.36 * len(table) + 1.5), sharey=True, gridspec_kw={"width_ratios": [1.3, languages]}
    )
    common = {"annot": True, "fmt": ".0%", "annot_kws": {"size": 7}, "cmap": "vlag", "center": 1 / languages}
    sns.heatmap(table[[OWN_LANGUAGE]], ax=own_ax, cbar=False, vmin=0, vmax=1, **common)
    sns.heatmap(
        table.drop(columns=OWN_LANGUAGE),
        ax=ax,
        **common,
        cbar_kws={"label": "share of the top 10 (white: unbiased)", "format": matplotlib.ticker.PercentFormatter(1.0)},
    )
    own_ax.set_xlabel("")
    own_ax.set_ylabel("")
    ax.set_xlabel("candidate language")
    ax.set_ylabel("")
    ax.tick_params(left=False)
    figure.suptitle(f"Languages of the top 10 in the multi setting ({benchmark}); unbiased: {1 / languages:.0%} each")
    figure.tight_layout()
    return figure


def realised_alpha(losses: pd.DataFrame) -> pd.Series:
    """Share of X-X-mono batches each strategy actually trained on (mean over its runs), by (strategy, k)."""
    runs = losses.groupby(["strategy", "k", "draw", "seed"]).batch_kind.apply(lambda kinds: (kinds == "xx-mono").mean())
    return runs.groupby(["strategy", "k"]).mean()


def alpha_figure(intervals: pd.DataFrame, losses: pd.DataFrame, benchmark: str, metric: str, k: int) -> plt.Figure:
    """7. `metric` vs alpha, the share of X-X-mono batches each model was trained on (from its loss log), at
    one k: X-Y is 0 and X-X-mono 1; a panel per setting, a line each for held-out and source languages,
    with intervals as error bars and the base model as dotted reference."""
    rows = interval_rows(intervals, benchmark, metric)
    rows = rows[(rows.k == k) & rows.lang_group.isin(FIXED_GROUPS)]
    share = realised_alpha(losses[losses.k == k])
    tuned = rows[rows.strategy != BASE]
    tuned = tuned.assign(alpha=[share.get((s, k), parse_strategy(s)[1]) for s in tuned.strategy])
    if tuned.alpha.nunique() < 2:
        raise ValueError(f"fewer than two alphas at k={k} on '{benchmark}'")
    settings = [s for s in SETTINGS if s in set(tuned.setting)]
    figure, axes = plt.subplots(1, len(settings), figsize=(4 * len(settings), 3.6), squeeze=False)
    looks = {"held-out": {"color": "black", "marker": "o", "linestyle": "-"}, "source": {"color": "0.5", "marker": "s", "linestyle": "--"}}
    dodge = {"held-out": -0.01, "source": 0.01}  # keeps the two groups' error bars apart
    for ax, setting in zip(axes[0], settings):
        for group, look in looks.items():
            line = tuned[(tuned.setting == setting) & (tuned.lang_group == group)].sort_values("alpha")
            if line.empty:
                continue
            ax.errorbar(
                line.alpha + dodge[group],
                line.estimate,
                yerr=[line.estimate - line.ci_low, line.ci_high - line.estimate],
                capsize=3,
                label=f"{group} languages",
                **look,
            )
            base = rows[(rows.strategy == BASE) & (rows.setting == setting) & (rows.lang_group == group)]
            if not base.empty:
                ax.axhline(base.estimate.iloc[0], color=look["color"], linestyle=":", linewidth=1, label=f"base, {group}")
        alphas = sorted(tuned.alpha.unique())
        ax.set_xticks(alphas, [{0.0: "0\nX-Y", 1.0: "1\nX-X-mono"}.get(a, f"{a:.3g}") for a in alphas])
        ax.set_title(setting)
        ax.set_xlabel("share of X-X-mono batches trained on")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(metric_label(metric))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=4, bbox_to_anchor=(0.5, 1.02), frameon=False)
    figure.suptitle(f"{metric_label(metric)} vs hybrid alpha at k={k} ({benchmark})", y=1.1)
    figure.tight_layout()
    return figure


def learning_curve_figure(curve: pd.DataFrame, size=(10, 4), chosen: int | None = None) -> plt.Figure:
    """The pilot: held-out MRR gain over the base model vs training steps, a panel per setting, a line per
    (k, learning rate): a colour per k, a marker and line style per learning rate; bands: the t intervals over seeds and articles;
    a dotted vertical line at the `chosen` budget."""
    settings = [s for s in ("mono", "cross") if s in set(curve.setting)]
    figure, axes = plt.subplots(1, len(settings), figsize=size, squeeze=False, sharex=True)
    colours = sns.color_palette("colorblind", 10)
    ks, rates = sorted(curve.k.unique()), sorted(curve.learning_rate.unique(), reverse=True)
    styles = {
        (k, lr): {
            "color": colours[[0, 3, 2, 4][ks.index(k) % 4]],
            "marker": "os^D"[rates.index(lr) % 4],
            "linestyle": ["-", "--", ":", "-."][rates.index(lr) % 4],
        }
        for k in ks
        for lr in rates
        if ((curve.k == k) & (curve.learning_rate == lr)).any()
    }
    for ax, setting in zip(axes[0], settings):
        for (k, lr), style in styles.items():
            line = curve[(curve.setting == setting) & (curve.k == k) & (curve.learning_rate == lr)].sort_values("steps")
            ax.fill_between(line.steps, line.ci_low, line.ci_high, color=style["color"], alpha=0.15, linewidth=0)
            ax.plot(line.steps, line.gain, label=f"k={k}, lr {lr:g}", markersize=5, **style)
        ax.axhline(0, color="grey", linewidth=0.8)
        if chosen is not None:
            ax.axvline(chosen, color="black", linestyle=":", linewidth=1, label=f"chosen: {chosen} steps")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(curve.steps.unique()), [str(s) for s in sorted(curve.steps.unique())])
        ax.set_title(f"{setting}, held-out languages")
        ax.set_xlabel("training steps")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(f"MRR gain over base ({curve.strategy.iloc[0]})")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=len(labels), bbox_to_anchor=(0.5, 1.02), frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.92))
    return figure
