from pathlib import Path

import pandas as pd

from xlretrieval import metrics
from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
tables = BenchmarkTables.read(Path(snakemake.input.evalset[0]).parent)
values = pd.concat(
    [
        metrics.per_query(tables, Path(snakemake.input.rankings), snakemake.params.measures, snakemake.params.settings),
        metrics.max_rank_distance(pd.read_parquet(snakemake.input.ranks)),
    ],
    ignore_index=True,
)
values.to_parquet(snakemake.output[0], index=False)
log.info("%d per-query values", len(values))
