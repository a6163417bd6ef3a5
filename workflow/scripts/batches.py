import pandas as pd

from xlretrieval.batching import make_batches
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
p = snakemake.params
batches = make_batches(pd.read_parquet(snakemake.input[0]), p.languages, p.alpha, p.pairs, p.batch_size, int(snakemake.wildcards.seed))
batches.to_csv(snakemake.output[0], sep="\t", index=False)
log.info("languages %s, alpha %g: %d batches %s", p.languages, p.alpha, batches.batch.nunique(),
         batches.drop_duplicates("batch").kind.value_counts().to_dict())
