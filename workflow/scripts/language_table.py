from pathlib import Path

import pandas as pd

from xlretrieval.logs import to_file
from xlretrieval.tables import language_table, write_table

log = to_file(snakemake.log[0])
benchmark, p, out = snakemake.wildcards.benchmark, snakemake.params, snakemake.output
read = lambda path: pd.read_csv(path, sep="\t")  # noqa: E731
table = language_table(
    read(snakemake.input.metrics), read(snakemake.input.languages), p.roles, read(snakemake.input.intervals), benchmark, p.metric, p.strategies
)
write_table(
    table,
    Path(out.markdown),
    Path(out.latex),
    f"{p.metric} per query language on {benchmark} at the largest k (cross: macro over passage languages); "
    f"± half the width of the {p.level:.0%} t interval over runs and questions "
    "(Welch-Satterthwaite df; over questions alone where a cell has one run).",
    Path(out.html),
)
log.info("\n%s", table.to_string())
