from pathlib import Path

import pandas as pd

from xlretrieval.logs import to_file
from xlretrieval.stats.power import MAX_RUNS, RUNS, power_table
from xlretrieval.stats.study import per_query_paths, study_paired_tests
from xlretrieval.tables import RUNS_INTERVAL, paired_test_table, power_test_table, write_table

log = to_file(snakemake.log[0])
p, out = snakemake.params, snakemake.output
paths = per_query_paths(snakemake.input.metrics, p.models, p.benchmarks)
questions = dict(zip(p.benchmarks, snakemake.input.questions))  # each benchmark's articles
tests = study_paired_tests(
    paths,
    questions,
    pd.read_csv(snakemake.input.languages, sep="\t"),
    p.roles,
    p.metric,
    p.strategies,
    primary=p.primary,
    level=p.level,
    resamples=p.resamples,
    permutations=p.permutations,
    seed=p.seed,
    language_sets=p.language_sets,
)
tests.to_csv(out.tsv, sep="\t", index=False, float_format="%.6g")
n_primary = int(tests.primary.sum())
caption = (
    f"Paired tests of {p.metric}, difference a - b. Intervals ({p.level:.0%}): over questions with the trained runs fixed "
    f"(percentile bootstrap over articles, {p.resamples} samples), and over runs and questions ({RUNS_INTERVAL}: each "
    "side's run means, or the run pairs' differences where both sides hold the same runs, plus a question component "
    "crossed with them, over the articles the questions come in; df its degrees of freedom; language sets "
    f"{p.language_sets}: where a side has several sets of two runs or more, its variance is the runs' spread within "
    "them, on runs - sets df). p (sign flips): randomisation over articles, "
    f"{p.permutations} permutations, ≤ marks a p at its floor 1 / (permutations + 1); p (t): the two-sided p of that t. "
    f"Holm runs on p (t) within two families: the {n_primary} primary tests named before the run, and the other "
    f"{len(tests) - n_primary}. d_z = mean / standard deviation of the per-question differences; detectable: the "
    f"difference a t test at (1 - {p.level:g}) / family size on those df detects with 80% power (noncentral t)."
)
write_table(paired_test_table(tests, p.level, permutations=p.permutations), Path(out.markdown), Path(out.latex), caption, Path(out.html))
power = power_table(tests, p.level, p.target_detectable)
power.to_csv(out.power_tsv, sep="\t", index=False, float_format="%.6g")
write_table(
    power_test_table(power),
    Path(out.power_md),
    None,
    f"Smallest {p.metric} difference detected with 80% power by the primary and k-trend tests (t over runs and questions at "
    f"the Holm threshold of the test's family, (1 - {p.level:g}) / family size): with the study's runs, and projected with "
    f"n = {', '.join(map(str, RUNS))} runs a side (pairs where the runs are paired) from the measured variance over each "
    f"side's runs and the question component, which more runs do not shrink. Last column: the fewest runs a side that "
    f"detect {p.target_detectable:g} (> {MAX_RUNS}: none do); ?: a side measured with one run, whose variance over runs is unknown; "
    "a side whose variance is pooled within S language sets (runs (S sets)) keeps at least two runs a set (2 S) at every n.",
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
