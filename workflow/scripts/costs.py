from xlretrieval.costs import job_costs, time_by_rule
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
jobs = job_costs(snakemake.input, snakemake.params.root, snakemake.params.records)
jobs.to_csv(snakemake.output.jobs, sep="\t", index=False, float_format="%.2f")
by_rule = time_by_rule(jobs)
by_rule.to_markdown(snakemake.output.by_rule, index=False, floatfmt=".2f")
log.info("%d jobs, %.0f s in all", len(jobs), jobs.seconds.sum())
