from pathlib import Path

import pandas as pd

from xlretrieval.logs import to_file
from xlretrieval.tables import loss_table

log = to_file(snakemake.log[0])
losses = {tag: pd.read_csv(Path(folder) / "loss.tsv", sep="\t") for tag, folder in zip(snakemake.params.models, snakemake.input)}
table = loss_table(losses)
table.to_csv(snakemake.output[0], sep="\t", index=False, float_format="%.6g")
log.info("%d steps of %d runs", len(table), len(losses))
