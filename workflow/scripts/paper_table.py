from pathlib import Path

import pandas as pd
import yaml

from xlretrieval.logs import to_file
from xlretrieval.tables import paper_table, published_note, write_table

log = to_file(snakemake.log[0])
benchmark, p, out = snakemake.wildcards.benchmark, snakemake.params, snakemake.output
published = yaml.safe_load(Path(snakemake.input.published).read_text())
table = paper_table(
    pd.read_csv(snakemake.input.metrics, sep="\t"),
    pd.read_csv(snakemake.input.languages, sep="\t"),
    p.roles,
    benchmark,
    intervals=pd.read_csv(snakemake.input.intervals, sep="\t"),
    strategies=p.strategies,
    published=published,
)
write_table(
    table,
    Path(out.markdown),
    Path(out.latex),
    f"Retrieval on {benchmark} at the largest k, macro-averaged over all evaluated languages (this study); "
    f"± half the width of the {p.level:.0%} t interval over runs and questions "
    f"(Welch-Satterthwaite df; over questions alone where a cell has one run).{published_note(published, benchmark)}",
    Path(out.html),
)
log.info("\n%s", table.to_string())
