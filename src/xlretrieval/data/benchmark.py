"""The three tables every benchmark reader yields (see `xlretrieval.data`), and their on-disk form."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass
class BenchmarkTables:
    """Questions, candidates and qrels of one benchmark; on disk, one Parquet file each in a folder."""

    questions: pd.DataFrame
    candidates: pd.DataFrame
    qrels: pd.DataFrame

    def __post_init__(self) -> None:
        # graded relevance where a source has grades (test collections); 1 for a source whose qrels name the answers only
        if "relevance" not in self.qrels.columns:
            self.qrels = self.qrels.assign(relevance=1)

    def write(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("questions", "candidates", "qrels"):
            getattr(self, name).to_parquet(directory / f"{name}.parquet", index=False)

    @classmethod
    def read(cls, directory: Path) -> BenchmarkTables:
        directory = Path(directory)
        return cls(*(pd.read_parquet(directory / f"{name}.parquet") for name in ("questions", "candidates", "qrels")))

    @classmethod
    def concat(cls, parts: list[BenchmarkTables]) -> BenchmarkTables:
        return cls(*(pd.concat([getattr(p, name) for p in parts], ignore_index=True) for name in ("questions", "candidates", "qrels")))
