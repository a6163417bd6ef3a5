from pathlib import Path

from xlretrieval.data.tables import Tables
from xlretrieval.data.splits import hold_out_dev, training_set, training_pairs
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
train = training_set(Tables.read(Path(snakemake.input.data[0]).parent), snakemake.params.languages, snakemake.params.holdout)
evalsets = [Tables.read(Path(path).parent) for path in snakemake.input.evalsets]
pairs, dropped = training_pairs(train, evalsets)
pairs = hold_out_dev(pairs, **snakemake.params.dev)
pairs.to_parquet(snakemake.output[0], index=False)
log.info("dropped %d parallel question ids whose articles overlap evaluation data", dropped)
log.info("%d training rows: %s; %d held out as dev pairs", len(pairs), pairs.lang.value_counts().sort_index().to_dict(),
         (pairs.split == "dev").sum())
