import pandas as pd

from xlretrieval.figures import alpha_figure, save
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
w, k = snakemake.wildcards, snakemake.params.k
figure = alpha_figure(pd.read_csv(snakemake.input.intervals, sep="\t"), w.benchmark, w.metric, k)
save(figure, [snakemake.output.png, snakemake.output.pdf])
log.info("%s of %s vs alpha at k=%d", w.metric, w.benchmark, k)
