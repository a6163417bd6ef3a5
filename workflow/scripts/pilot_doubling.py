import pandas as pd

from xlretrieval.logs import to_file
from xlretrieval.pilot import doubling

log = to_file(snakemake.log[0])
p = snakemake.params
rises = doubling(
    pd.read_parquet(snakemake.input.earlier),
    pd.read_parquet(snakemake.input.later),
    p.roles,
    steps=p.steps,
    level=p.level,
    resamples=p.resamples,
    seed=p.seed,
)
rises.to_csv(snakemake.output[0], sep="\t", index=False, float_format="%.6g")
log.info("held-out MRR gain from %d to %d steps (paired over questions):\n%s", p.steps, 2 * p.steps, rises.to_string(index=False))
