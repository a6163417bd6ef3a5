"""Where the study's time goes: Snakemake's per-job `benchmark:` files gathered into tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def job_costs(paths: list[str | Path], root: str | Path) -> pd.DataFrame:
    """One row per job: rule, wildcards (the path under `root/{rule}/`), seconds, max RSS and CPU time.

    Benchmark files live at `{root}/{rule}/{wildcards}.tsv`, so the path names the job.
    """
    rows = []
    for path in paths:
        rule, *rest = Path(path).relative_to(root).with_suffix("").parts
        measured = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append(
            {
                "rule": rule,
                "wildcards": "/".join(rest),
                "seconds": float(measured["s"]),
                "max_rss_mb": float(measured["max_rss"]),
                "cpu_seconds": float(measured["cpu_time"]),
            }
        )
    return pd.DataFrame(rows, columns=["rule", "wildcards", "seconds", "max_rss_mb", "cpu_seconds"])


def time_by_rule(jobs: pd.DataFrame) -> pd.DataFrame:
    """Jobs, total and mean seconds, share of the total and peak RSS per rule, the costliest rule first."""
    by_rule = jobs.groupby("rule").agg(
        jobs=("seconds", "size"),
        total_s=("seconds", "sum"),
        mean_s=("seconds", "mean"),
        max_rss_mb=("max_rss_mb", "max"),
    )
    by_rule["share"] = by_rule.total_s / by_rule.total_s.sum()
    return by_rule.sort_values("total_s", ascending=False).reset_index()
