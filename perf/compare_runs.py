"""How much a study's headline numbers move between two runs that differ in one setting, against their own 95% intervals.

    python perf/compare_runs.py REFERENCE_RESULTS OTHER_RESULTS [--out results/compare_runs.tsv]

Reads `tables/intervals.tsv` and `tables/paired_tests.tsv` of two runs of the same study design that differ in
one setting (`model.precision: fp32` and `bf16`; `training.word_embeddings: frozen` and `sparse`; ...; each
run with its own `results` folder) and reports,
per headline cell (MRR on the fixed language groups, all query languages: each model's value and its gain
over the base model, and the k-trend tests), the difference of the estimates and its ratio to the
reference cell's 95% CI half-width. Prints the cells and a summary; writes the table as TSV.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from xlretrieval.metrics import FIXED_GROUPS

CELL = ["benchmark", "metric", "quantity", "setting", "strategy", "k", "lang_group"]
TEST = ["benchmark", "metric", "family", "setting", "lang_group", "strategy_a", "k_a", "strategy_b", "k_b"]


def headline_cells(results: Path, metric: str) -> pd.DataFrame:
    """Interval cells and k-trend tests of `metric` on the fixed groups, as (cell, estimate, ci_low, ci_high)."""
    intervals = pd.read_csv(results / "tables" / "intervals.tsv", sep="\t")
    intervals = intervals[(intervals.metric == metric) & (intervals.query_lang == "all") & intervals.lang_group.isin(FIXED_GROUPS)]
    cells = intervals.assign(cell=intervals[CELL].astype(str).agg(" ".join, axis=1))
    tests = pd.read_csv(results / "tables" / "paired_tests.tsv", sep="\t")
    tests = tests[(tests.metric == metric) & (tests.family == "k-trend")]
    if tests.empty:  # a study of one k has no k-trend tests
        return cells[["cell", "estimate", "ci_low", "ci_high"]].set_index("cell")
    tests = tests.assign(cell=tests[TEST].astype(str).agg(" ".join, axis=1), estimate=tests.difference)
    return pd.concat([cells, tests])[["cell", "estimate", "ci_low", "ci_high"]].set_index("cell")


def compare(reference: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Per cell of both: the estimates, their difference and its share of the reference's CI half-width."""
    if set(reference.index) != set(other.index):
        raise ValueError(f"the two studies have different cells: {sorted(set(reference.index) ^ set(other.index))[:5]} ...")
    table = reference.rename(columns={"estimate": "estimate_reference"}).assign(estimate_other=other.estimate)
    table["difference"] = table.estimate_other - table.estimate_reference
    table["half_width"] = (table.ci_high - table.ci_low) / 2
    table["share_of_half_width"] = table.difference.abs() / table.half_width
    return table.drop(columns=["ci_low", "ci_high"]).sort_values("share_of_half_width", ascending=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="results directory of the reference run (fp32, frozen, ...)")
    parser.add_argument("other", type=Path, help="results directory of the other run (bf16, sparse, ...)")
    parser.add_argument("--metric", default="RR")
    parser.add_argument("--out", type=Path, default=Path("results/compare_runs.tsv"))
    args = parser.parse_args()
    table = compare(headline_cells(args.reference, args.metric), headline_cells(args.other, args.metric))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", float_format="%.6g")
    print(table.to_markdown(floatfmt=".4f"))
    headline = table[table.index.str.contains(" gain ") & table.index.str.contains(" held-out")]
    for name, cells in (("all cells", table), ("headline (gain, held-out)", headline)):
        print(
            f"{name}: {len(cells)}, max |difference| {cells.difference.abs().max():.4f}, max share of half-width "
            f"{cells.share_of_half_width.max():.3f}, median {cells.share_of_half_width.median():.3f}, "
            f"under 0.1: {(cells.share_of_half_width < 0.1).sum()}"
        )


if __name__ == "__main__":
    main()
