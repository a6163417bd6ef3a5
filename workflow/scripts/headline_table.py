from pathlib import Path

import pandas as pd

from xlretrieval.logs import to_file
from xlretrieval.tables import headline_table, write_table

log = to_file(snakemake.log[0])
benchmark, p, out = snakemake.wildcards.benchmark, snakemake.params, snakemake.output
table = headline_table(pd.read_csv(snakemake.input.intervals, sep="\t"), benchmark, p.metric, p.strategies)
write_table(
    table,
    Path(out.markdown),
    Path(out.latex),
    f"{p.metric} gain over the base model on {benchmark}'s held-out languages (never trained on at any k), "
    f"paired with the base model over the same questions, with its {p.level:.0%} t interval over runs and questions "
    "(Welch-Satterthwaite df; over questions alone where a cell has one run); base: the base model's "
    f"{p.metric}.",
    Path(out.html),
)
log.info("\n%s", table.to_string())
