import pandas as pd

from xlretrieval.figures import save, zero_shot_language_figure
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
w = snakemake.wildcards
figure = zero_shot_language_figure(pd.read_csv(snakemake.input.intervals, sep="\t"), pd.read_csv(snakemake.input.languages, sep="\t"),
                                   w.benchmark, w.metric, snakemake.params.strategies)
save(figure, [snakemake.output.png, snakemake.output.pdf])
log.info("%s of %s per never-trained language", w.metric, w.benchmark)
