"""Where the study's time goes: Snakemake's per-job cost files (its `benchmark:` files) gathered into tables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

COLUMNS = ["rule", "wildcards", "seconds", "max_rss_mb", "cpu_seconds", "precision", "hardware"]


def job_costs(paths: list[str | Path], root: str | Path, records: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per job: rule, wildcards (the path under `root/{rule}/`), seconds, max RSS, CPU time, and for the
    rules in `records` the precision and hardware the job ran on.

    Cost files live at `{root}/{rule}/{wildcards}.tsv`, so the path names the job. `records` maps a rule to the
    JSON file its jobs record their precision in, with `{}` for the job's wildcards.
    """
    rows = []
    for path in paths:
        rule, *rest = Path(path).relative_to(root).with_suffix("").parts
        measured = pd.read_csv(path, sep="\t").iloc[-1]
        wildcards = "/".join(rest)
        record = json.loads(Path(records[rule].format(wildcards)).read_text()) if rule in (records or {}) else {}
        rows.append(
            {
                "rule": rule,
                "wildcards": wildcards,
                "seconds": float(measured["s"]),
                "max_rss_mb": float(measured["max_rss"]),
                "cpu_seconds": float(measured["cpu_time"]),
                "precision": record.get("precision", ""),
                "hardware": record.get("hardware", ""),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


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
