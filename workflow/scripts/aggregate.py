import pandas as pd

from xlretrieval import metrics
from xlretrieval.logs import to_file
from xlretrieval.tables import collect, languages_table

log = to_file(snakemake.log[0])
p = snakemake.params
keys = [(m, b) for m in p.models for b in p.benchmarks]
summaries = {key: metrics.summarise(pd.read_parquet(path)) for key, path in zip(keys, snakemake.input)}
languages = languages_table(p.draws)
table = collect(summaries, languages, p.roles)
table.to_csv(snakemake.output.metrics, sep="\t", index=False, float_format="%.6g")
languages.to_csv(snakemake.output.languages, sep="\t", index=False)
log.info("%d rows from %d models x %d benchmarks", len(table), len(p.models), len(p.benchmarks))
