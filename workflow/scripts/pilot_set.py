from pathlib import Path

from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.data.splits import pilot_set
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
p = snakemake.params
tables = pilot_set(BenchmarkTables.read(Path(snakemake.input[0]).parent), p.languages, p.articles, p.subset_seed, p.holdout)
tables.write(Path(snakemake.output.questions).parent)
log.info(
    "%d articles the study does not evaluate, %d questions, %d candidates",
    tables.questions.article.nunique(),
    len(tables.questions),
    len(tables.candidates),
)
