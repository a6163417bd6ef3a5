"""The study's statistics from its files: per-query Parquet files in, intervals and paired tests of
every benchmark out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .cell_intervals import intervals
from .cells import QuestionMatrix, question_clusters, question_matrix, runs_table
from .paired import TEST_COLUMNS, differences, with_families


def read_matrix(paths: dict[str, str | Path], questions: str | Path) -> QuestionMatrix:
    """The `QuestionMatrix` of per-query Parquet files given by model tag, read one at a time, its questions clustered
    by the articles of the evaluation set's `questions` table (Parquet)."""
    clusters = question_clusters(pd.read_parquet(questions, columns=["question_id", "article"]))
    return question_matrix(((tag, pd.read_parquet(path)) for tag, path in paths.items()), clusters)


def study_intervals(
    paths: dict[str, dict[str, str | Path]], questions: dict[str, str | Path], languages: pd.DataFrame, roles: dict[str, dict[str, str]], **options
) -> pd.DataFrame:
    """`intervals` of every benchmark; `paths[benchmark][model tag]` is a per-query Parquet file, `questions[benchmark]`
    its evaluation set's questions (their articles), `languages` the (k, draw, languages) table and `roles[benchmark]`
    its languages' roles; `options` go to `intervals`."""
    return pd.concat(
        [
            intervals(read_matrix(by_model, questions[benchmark]), runs_table(list(by_model), languages), benchmark, roles[benchmark], **options)
            for benchmark, by_model in paths.items()
        ],
        ignore_index=True,
    )


def study_paired_tests(
    paths: dict[str, dict[str, str | Path]],
    questions: dict[str, str | Path],
    languages: pd.DataFrame,
    roles: dict[str, dict[str, str]],
    metric: str,
    strategies: list[str],
    *,
    primary: list[dict[str, str]] | None = None,
    level: float = 0.95,
    **options,
) -> pd.DataFrame:
    """`paired.differences` of every benchmark (files as in `study_intervals`), with the Holm families of
    `with_families` over all of them: every test the study reports is in one of the two."""
    tests = pd.concat(
        [
            differences(
                read_matrix(by_model, questions[benchmark]),
                runs_table(list(by_model), languages),
                benchmark,
                roles[benchmark],
                metric,
                strategies,
                level=level,
                **options,
            )
            for benchmark, by_model in paths.items()
        ],
        ignore_index=True,
    )
    return with_families(tests, primary, level)[TEST_COLUMNS]


def per_query_paths(files: list[str], models: list[str], benchmarks: list[str]) -> dict[str, dict[str, str]]:
    """{benchmark: {model tag: file}} from the per-query files listed model by model, benchmark by
    benchmark (the order of Snakemake's `expand(..., model=models, benchmark=benchmarks)`)."""
    if len(files) != len(models) * len(benchmarks):
        raise ValueError(f"{len(files)} per-query files for {len(models)} models x {len(benchmarks)} benchmarks")
    paths: dict[str, dict[str, str]] = {benchmark: {} for benchmark in benchmarks}
    for i, file in enumerate(files):
        paths[benchmarks[i % len(benchmarks)]][models[i // len(benchmarks)]] = file
    return paths
