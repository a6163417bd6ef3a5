# Zero-shot cross-lingual retrieval vs number of target languages, with hybrid-batch fine-tuning.
# Rules say what is built from what; the science lives in src/xlretrieval (see README.md).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/statistics.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/pilot.smk"


# common.smk puts src/ on PYTHONPATH for the rules' scripts; declared, so that executors pass it on to remote jobs.
envvars:
    "PYTHONPATH",


rule all:
    input:
        study_products(),
    default_target: True
