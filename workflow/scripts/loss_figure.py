import pandas as pd

from xlretrieval.figures import loss_figure, save
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
losses = pd.read_csv(snakemake.input[0], sep="\t")
save(loss_figure(losses), [snakemake.output.png, snakemake.output.pdf])
log.info("loss curves of %d runs", losses.model.nunique())
