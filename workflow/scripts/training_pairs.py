from pathlib import Path

from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.data.splits import guarded_set, hold_out_dev, training_pairs, training_set
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
train = training_set(BenchmarkTables.read(Path(snakemake.input.data[0]).parent), snakemake.params.languages, snakemake.params.holdout)
benchmarks = [
    guarded_set(BenchmarkTables.read(Path(path).parent), holdout)
    for path, holdout in zip(snakemake.input.benchmarks, snakemake.params.benchmark_holdouts)
]
pairs, dropped = training_pairs(train, benchmarks)
pairs = hold_out_dev(pairs, **snakemake.params.dev)
pairs.to_parquet(snakemake.output[0], index=False)
log.info(
    "dropped %d parallel question ids whose articles share a title, a sentence or a question with the evaluation benchmarks "
    "(all their articles and languages)",
    dropped,
)
log.info("%d training rows: %s; %d held out as dev pairs", len(pairs), pairs.lang.value_counts().sort_index().to_dict(), (pairs.split == "dev").sum())
