from pathlib import Path

import numpy as np

from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.logs import to_file
from xlretrieval.search.index import IndexSpec
from xlretrieval.search.output import search

log = to_file(snakemake.log[0])
tables = BenchmarkTables.read(Path(snakemake.input.evalset[0]).parent)
questions, candidates = (np.load(path, mmap_mode="r") for path in (snakemake.input.questions, snakemake.input.candidates))
index = IndexSpec.from_config(snakemake.params.index)
report = search(
    tables,
    questions,
    candidates,
    snakemake.params.depth,
    Path(snakemake.output.rankings),
    tag=snakemake.wildcards.model.replace("/", "_"),
    index=index,
    settings=snakemake.params.settings,
)
report.ranks.to_parquet(snakemake.output.ranks, index=False)
log.info(
    "%s search: %d relevant ranks over %d query sets",
    index.type,
    len(report.ranks),
    report.ranks.groupby(["setting", "query_lang", "passage_lang"]).ngroups,
)
log.info("seconds per phase: %s", ", ".join(f"{phase} {s:.2f}" for phase, s in report.seconds.items()))
if len(report.recall):
    log.info("recall against exact search, mean over query sets:\n%s", report.recall.groupby(["setting", "k"]).recall.mean().to_string())
