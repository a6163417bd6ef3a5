from pathlib import Path

from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.language_bias import top_language_shares
from xlretrieval.logs import to_file
from xlretrieval.tables import languages_table, top_language_table

log = to_file(snakemake.log[0])
p = snakemake.params
tables = {folder.name: BenchmarkTables.read(folder) for folder in {Path(path).parent for path in snakemake.input.evalsets}}
keys = [(m, b) for m in p.models for b in p.benchmarks]
shares = {(m, b): top_language_shares(tables[b], Path(runs), p.top) for (m, b), runs in zip(keys, snakemake.input.rankings)}
table = top_language_table(shares, languages_table(p.draws), p.roles)
table.to_csv(snakemake.output[0], sep="\t", index=False, float_format="%.6g")
log.info("%d rows from %d models x %d benchmarks", len(table), len(p.models), len(p.benchmarks))
