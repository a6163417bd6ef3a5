from pathlib import Path

from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.data.splits import pilot_set
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
p = snakemake.params
tables = pilot_set(BenchmarkTables.read(Path(snakemake.input[0]).parent), p.languages, p.reserve["articles"], p.reserve["seed"], p.holdout)
tables.write(Path(snakemake.output.questions).parent)
log.info(
    "%d articles set aside for the pilot (no study evaluates them), %d questions, %d candidates",
    tables.questions.article.nunique(),
    len(tables.questions),
    len(tables.candidates),
)
