import pandas as pd

from xlretrieval.figures import save, scaling_figure
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params
figure = scaling_figure(pd.read_csv(snakemake.input.intervals, sep="\t"), w.benchmark, w.metric, p.strategies, size=p.size)
save(figure, [snakemake.output.png, snakemake.output.pdf])
log.info("%s of %s vs k with intervals", w.metric, w.benchmark)
