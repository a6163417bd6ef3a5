from pathlib import Path

from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.data.splits import evaluation_set
from xlretrieval.logs import to_file
from xlretrieval.querysets import write_qrels

log = to_file(snakemake.log[0])
p = snakemake.params
tables = evaluation_set(BenchmarkTables.read(Path(snakemake.input[0]).parent), p.languages, p.articles, p.subset_seed, p.holdout, p.reserved)
tables.write(Path(snakemake.output.questions).parent)
units = write_qrels(tables, Path(snakemake.output.trec_qrels), p.settings)
log.info(
    "%d articles, %d questions, %d candidates, %d query sets",
    tables.questions.article.nunique(),
    len(tables.questions),
    len(tables.candidates),
    units,
)
