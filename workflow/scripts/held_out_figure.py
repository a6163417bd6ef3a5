import pandas as pd

from xlretrieval.figures import held_out_language_figure, save
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params
figure = held_out_language_figure(pd.read_csv(snakemake.input.intervals, sep="\t"), p.held_out, w.benchmark, w.metric, p.strategies)
save(figure, [snakemake.output.png, snakemake.output.pdf])
log.info("%s of %s per held-out language %s", w.metric, w.benchmark, p.held_out)
