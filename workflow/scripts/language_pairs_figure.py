import pandas as pd

from xlretrieval.figures import language_heatmaps, save
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
w = snakemake.wildcards
figure = language_heatmaps(
    pd.read_csv(snakemake.input.metrics, sep="\t"),
    pd.read_csv(snakemake.input.languages, sep="\t"),
    w.benchmark,
    w.metric,
    snakemake.params.strategies,
)
save(figure, [snakemake.output.png, snakemake.output.pdf])
log.info("%s of %s by language pair", w.metric, w.benchmark)
