from pathlib import Path

import torch

from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.encoding import encode_evalset, load_encoder
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
tables = BenchmarkTables.read(Path(snakemake.input.evalset[0]).parent)
encoder = load_encoder(p.model, p.device, p.max_seq_length, p.pooling, p.precision, p.kernels)
texts = {"questions": [p.query_prefix + t for t in tables.questions.text], "candidates": [p.passage_prefix + t for t in tables.candidates.text]}
info = encode_evalset(encoder, p.model, texts, snakemake.output, p.batch_size)
n, cut = info["texts"], info["truncated"]
log.info(
    "%s at %d tokens, %s on %s: %d questions (%d truncated), %d candidates (%d truncated)",
    p.model,
    info["max_seq_length"],
    info["precision"],
    info["hardware"],
    n["questions"],
    cut["questions"],
    n["candidates"],
    cut["candidates"],
)
