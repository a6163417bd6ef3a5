from pathlib import Path

import pandas as pd

from xlretrieval.logs import to_file
from xlretrieval.tables import paper_table, write_table

log = to_file(snakemake.log[0])
benchmark = snakemake.wildcards.benchmark
table = paper_table(pd.read_csv(snakemake.input.metrics, sep="\t"), pd.read_csv(snakemake.input.languages, sep="\t"), benchmark)
write_table(table, Path(snakemake.output.markdown), Path(snakemake.output.latex),
            f"Retrieval on {benchmark} at the largest k, macro-averaged over all evaluated languages (this study).")
log.info("\n%s", table.to_string())
