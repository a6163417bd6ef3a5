import pandas as pd

from xlretrieval.logs import to_file
from xlretrieval.pilot import doubling, read_runs
from xlretrieval.stats.cells import question_clusters

log = to_file(snakemake.log[0])
p, inputs = snakemake.params, snakemake.input
articles = question_clusters(pd.read_parquet(inputs.questions))
rises = doubling(read_runs(inputs.earlier), read_runs(inputs.later), p.roles, articles, steps=p.steps, level=p.level)
rises.to_csv(snakemake.output[0], sep="\t", index=False, float_format="%.6g")
log.info("held-out MRR gain from %d to %d steps (over seeds and articles):\n%s", p.steps, 2 * p.steps, rises.to_string(index=False))
