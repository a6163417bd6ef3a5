import pandas as pd

from xlretrieval.figures import alpha_figure, save
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
w, k = snakemake.wildcards, snakemake.params.k
read = lambda path: pd.read_csv(path, sep="\t")  # noqa: E731
figure = alpha_figure(read(snakemake.input.intervals), read(snakemake.input.losses), w.benchmark, w.metric, k)
save(figure, [snakemake.output.png, snakemake.output.pdf])
log.info("%s of %s vs alpha at k=%d", w.metric, w.benchmark, k)
