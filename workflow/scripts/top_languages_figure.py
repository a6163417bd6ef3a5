import pandas as pd

from xlretrieval.figures import save, top_language_figure
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
benchmark = snakemake.wildcards.benchmark
figure = top_language_figure(pd.read_csv(snakemake.input[0], sep="\t"), benchmark, snakemake.params.strategies)
save(figure, [snakemake.output.png, snakemake.output.pdf])
log.info("top-10 language shares of %s", benchmark)
