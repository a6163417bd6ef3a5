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
    primary=p.primary,
    level=p.level,
    resamples=p.resamples,
    permutations=p.permutations,
    seed=p.seed,
)
tests.to_csv(out.tsv, sep="\t", index=False, float_format="%.6g")
n_primary = int(tests.primary.sum())
caption = (
    f"Paired tests of {p.metric}, difference a - b. Intervals ({p.level:.0%}, percentile bootstrap, {p.resamples} samples): "
    "over questions with the trained runs fixed, and over runs (language draws and seeds, resampled jointly where both "
    "sides hold the same runs) and questions. p (sign flips): randomisation over questions, "
    f"{p.permutations} permutations; p (runs): two-sided bootstrap p over runs and questions; ≤ marks a p-value at its "
    f"floor, 1 / (permutations + 1) or 1 / (resamples + 1). Holm runs within two families: the {n_primary} primary "
    f"tests named before the run, on p (runs), and the other {len(tests) - n_primary}, on p (sign flips). "
    f"d_z = mean / standard deviation of the per-question differences; detectable: the difference a test at "
    f"(1 - {p.level:g}) / family size detects with 80% power, from the interval over runs and questions."
)
write_table(
    paired_test_table(tests, p.level, permutations=p.permutations, resamples=p.resamples),
    Path(out.markdown),
    Path(out.latex),
    caption,
    Path(out.html),
)
significant = tests.p_holm < 1 - p.level
log.info(
    "%d tests (%d primary), %d with Holm-adjusted p < %g (%d primary)",
    len(tests),
    n_primary,
    significant.sum(),
    1 - p.level,
    (significant & tests.primary).sum(),
)
