from pathlib import Path

from xlretrieval.data.sources import fetch
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
mirror = Path(snakemake.params.mirror) if snakemake.params.mirror else None
fetch(
    snakemake.wildcards.dataset, snakemake.wildcards.lang, Path(snakemake.output[0]), mirror, url=snakemake.params.url, sha256=snakemake.params.sha256
)
log.info("fetched %s/%s from %s", snakemake.wildcards.dataset, snakemake.wildcards.lang, mirror or snakemake.params.url)
