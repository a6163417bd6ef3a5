from pathlib import Path

import numpy as np
import torch

from xlretrieval import model
from xlretrieval.data.lareqa import Tables
from xlretrieval.encoding import encode
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
tables = Tables.read(Path(snakemake.input.evalset[0]).parent)
encoder = model.load(p.model, model.choose_device(p.device))
questions = encode(encoder, [p.query_prefix + t for t in tables.questions.text], p.batch_size, progress=True)
candidates = encode(encoder, [p.passage_prefix + t for t in tables.candidates.text], p.batch_size, progress=True)
np.savez(snakemake.output[0], questions=questions, candidates=candidates)
log.info("%d questions and %d candidates encoded by %s", len(questions), len(candidates), p.model)
