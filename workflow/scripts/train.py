import json
from pathlib import Path

import pandas as pd
import torch

from xlretrieval import model, precision, training
from xlretrieval.logs import to_file
from xlretrieval.settings import Training

log = to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
device = model.choose_device(p.device)
encoder = model.load(p.model, device, p.max_seq_length, p.pooling, p.precision)
losses = training.train(
    encoder,
    pd.read_parquet(snakemake.input.pairs),
    pd.read_csv(snakemake.input.batches, sep="\t"),
    Path(snakemake.output[0]),
    Training.from_param(p.training),
    kernels=p.kernels,
    seed=int(snakemake.wildcards.seed),
    budget=p.budget,
    checkpoint_every=snakemake.config["training"]["checkpoint_every"],  # not a param: it changes no product, so it re-runs nothing
    card={**p.card, "base_provenance": json.loads(Path(snakemake.input.base[0], "provenance.json").read_text()) if snakemake.input.base else None},
)
log.info(
    "%s on %s (%s), %d steps (%d X-X-mono), mean loss first/last 10 steps: %.3f / %.3f",
    encoder.precision,
    device,
    precision.describe(device),
    len(losses),
    (losses.batch_kind == "xx-mono").sum(),
    *training.mean_loss(losses),
)
