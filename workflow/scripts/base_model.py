from pathlib import Path

from xlretrieval.embedded import build
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
provenance = build(Path(snakemake.input[0]), Path(snakemake.output[0]))
log.info("built %s from %s (sha256 %s)", snakemake.output[0], snakemake.input[0], provenance["sha256"])
