from pathlib import Path

from xlretrieval.data.lareqa import read_dataset
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
tables = read_dataset(dict(zip(snakemake.params.languages, map(Path, snakemake.input))))
tables.write(Path(snakemake.output.questions).parent)
log.info("%d questions, %d candidates, %d qrels", len(tables.questions), len(tables.candidates), len(tables.qrels))
