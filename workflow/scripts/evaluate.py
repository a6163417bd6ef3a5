from pathlib import Path

import pandas as pd

from xlretrieval import metrics
from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
p = snakemake.params
tables = BenchmarkTables.read(Path(snakemake.input.evalset[0]).parent)
ranks = pd.read_parquet(snakemake.input.ranks)
values = metrics.evaluate(tables, Path(snakemake.input.rankings), ranks, p.measures, p.depth, p.exact, p.settings)
values.to_parquet(snakemake.output[0], index=False)
log.info("%d per-query values", len(values))
