import pandas as pd

from xlretrieval.figures import rank_distance_figure, save
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
benchmark = snakemake.wildcards.benchmark
figure = rank_distance_figure(pd.read_csv(snakemake.input.intervals, sep="\t"), benchmark, snakemake.params.strategies)
save(figure, [snakemake.output.png, snakemake.output.pdf])
log.info("rank distance of %s vs k", benchmark)
