import pandas as pd

from xlretrieval.batching import training_batches
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
p = snakemake.params
batches = training_batches(
    pd.read_parquet(snakemake.input[0]),
    p.languages,
    p.alpha,
    p.pairs,
    p.batch_size,
    int(snakemake.wildcards.seed),
    **p.dev,
    source_share=p.source_share,
)
batches.to_csv(snakemake.output[0], sep="\t", index=False)
log.info(
    "languages %s, alpha %g, source share %s: %d batches %s",
    p.languages,
    p.alpha,
    p.source_share,
    batches.groupby(["split", "batch"]).ngroups,
    batches.drop_duplicates(["split", "batch"]).value_counts(["split", "kind"]).to_dict(),
)
