from pathlib import Path

import pandas as pd

from xlretrieval.logs import to_file
from xlretrieval.stats.study import per_query_paths, study_paired_tests
from xlretrieval.tables import paired_test_table, write_table

log = to_file(snakemake.log[0])
p, out = snakemake.params, snakemake.output
paths = per_query_paths(snakemake.input.metrics, p.models, p.benchmarks)
tests = study_paired_tests(
    paths,
    pd.read_csv(snakemake.input.languages, sep="\t"),
    p.roles,
    p.metric,
    p.strategies,
    level=p.level,
    resamples=p.resamples,
    permutations=p.permutations,
    seed=p.seed,
)
tests.to_csv(out.tsv, sep="\t", index=False, float_format="%.6g")
caption = (
    f"Paired tests of {p.metric} over questions (sign-flip randomisation, {p.permutations} permutations), "
    f"Holm-adjusted across all {len(tests)} tests; difference a - b with its {p.level:.0%} paired bootstrap "
    "interval; d_z = mean / standard deviation of the per-question differences."
)
write_table(paired_test_table(tests, p.level), Path(out.markdown), Path(out.latex), caption, Path(out.html))
log.info("%d tests, %d with Holm-adjusted p < %g", len(tests), (tests.p_holm < 1 - p.level).sum(), 1 - p.level)
