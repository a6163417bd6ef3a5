import pandas as pd

from xlretrieval.logs import to_file
from xlretrieval.stats.study import per_query_paths, study_intervals

log = to_file(snakemake.log[0])
p = snakemake.params
paths = per_query_paths(snakemake.input.metrics, p.models, p.benchmarks)
questions = dict(zip(p.benchmarks, snakemake.input.questions))  # each benchmark's articles
table = study_intervals(paths, questions, pd.read_csv(snakemake.input.languages, sep="\t"), p.roles, level=p.level, language_sets=p.language_sets)
table.to_csv(snakemake.output[0], sep="\t", index=False, float_format="%.6g")
log.info("%d cells, t intervals over runs and questions (language sets %s), level %g", len(table), p.language_sets, p.level)
