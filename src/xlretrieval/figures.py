"""Figures drawn from the study's tidy tables only."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .runs import BASE  # noqa: E402
from .tables import macro, strategy_rank, with_base_reference  # noqa: E402

METRIC_LABELS = {"RR": "MRR", "AP": "mAP", "RR@10": "MRR@10", "rank_distance": "max rank distance"}


def strategy_palette(strategies: list[str]) -> dict[str, tuple]:
    """The same colour for a strategy in every figure; the base model in grey."""
    colours = sns.color_palette("colorblind", 8)
    known = {"xx-mono": colours[0], "x-y": colours[1], BASE: (0.45, 0.45, 0.45)}
    hybrids = sorted(s for s in strategies if s.startswith("hybrid"))
    known |= {h: colours[2 + i % 6] for i, h in enumerate(hybrids)}
    return {s: known[s] for s in strategies}


def scaling_figure(metrics: pd.DataFrame, languages: pd.DataFrame, metric: str, outputs: list[Path], size=(12, 4)):
    """`metric` vs number of target languages k: one panel per setting (and row per benchmark), one line
    per strategy, solid for languages seen in training, dashed for zero-shot ones, the base model in grey."""
    rows = with_base_reference(metrics[metrics.metric == metric], languages)
    data = macro(rows, ["benchmark", "setting", "strategy", "k", "lang_group"])
    strategies = sorted(data.strategy.unique(), key=strategy_rank)
    benchmarks = sorted(data.benchmark.unique())
    grid = sns.relplot(
        data=data, x="k", y="value", hue="strategy", hue_order=strategies, palette=strategy_palette(strategies),
        style="lang_group", style_order=["seen", "zero-shot"], markers=True, kind="line",
        col="setting", col_order=[s for s in ("mono", "cross", "multi") if s in set(data.setting)],
        row="benchmark" if len(benchmarks) > 1 else None, facet_kws={"sharey": False},
        height=size[1], aspect=size[0] / size[1] / 3,
    )
    grid.set_axis_labels("target languages k", METRIC_LABELS.get(metric, metric))
    grid.set_titles("{col_name}" if len(benchmarks) == 1 else "{row_name}: {col_name}")
    for ax in grid.axes.flat:
        ax.set_xticks(sorted(data.k.unique()))
    grid.figure.suptitle(f"{METRIC_LABELS.get(metric, metric)} vs number of target languages ({', '.join(benchmarks)})", y=1.03)
    for path in outputs:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        grid.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(grid.figure)
    return data
