import json
from pathlib import Path

from xlretrieval.data.readers import read
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
p = snakemake.params
tables, manifest = read(p.reader, p.languages, list(map(Path, snakemake.input)), p.options)
tables.write(Path(snakemake.output.questions).parent)
Path(snakemake.output.manifest).write_text(json.dumps({"reader": p.reader, "languages": p.languages, **manifest}, indent=2))
log.info("%d questions, %d candidates, %d qrels", len(tables.questions), len(tables.candidates), len(tables.qrels))
