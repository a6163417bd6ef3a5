import pandas as pd

from xlretrieval.figures import scaling_figure
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
data = scaling_figure(
    pd.read_csv(snakemake.input.metrics, sep="\t"), pd.read_csv(snakemake.input.languages, sep="\t"),
    snakemake.wildcards.metric, [snakemake.output.png, snakemake.output.pdf], size=snakemake.params.size,
)
log.info("plotted values:\n%s", data.to_string(index=False))
