from pathlib import Path

import numpy as np

from xlretrieval.data.tables import Tables
from xlretrieval.logs import to_file
from xlretrieval.search import search

log = to_file(snakemake.log[0])
tables = Tables.read(Path(snakemake.input.evalset[0]).parent)
questions, candidates = (np.load(path, mmap_mode="r") for path in (snakemake.input.questions, snakemake.input.candidates))
ranks = search(tables, questions, candidates, snakemake.params.depth, Path(snakemake.output.runs),
               tag=snakemake.wildcards.model.replace("/", "_"), settings=snakemake.params.settings)
ranks.to_parquet(snakemake.output.ranks, index=False)
log.info("%d relevant ranks over %d query sets", len(ranks), ranks.groupby(["setting", "query_lang", "passage_lang"]).ngroups)
