from pathlib import Path

import torch

from xlretrieval import model
from xlretrieval.data.tables import Tables
from xlretrieval.encoding import encode, open_embeddings
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
tables = Tables.read(Path(snakemake.input.evalset[0]).parent)
encoder = model.load(p.model, model.choose_device(p.device), pooling=p.pooling)
for name, prefix, texts in (("questions", p.query_prefix, tables.questions.text), ("candidates", p.passage_prefix, tables.candidates.text)):
    vectors = open_embeddings(snakemake.output[name], len(texts), encoder.dimension)
    encode(encoder, [prefix + t for t in texts], p.batch_size, progress=True, out=vectors)
    vectors.flush()
log.info("%d questions and %d candidates encoded by %s", len(tables.questions), len(tables.candidates), p.model)
