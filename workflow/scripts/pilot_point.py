from pathlib import Path

import pandas as pd
import torch

from xlretrieval import pilot_points
from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.logs import to_file

log = to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params.point
spec = pilot_points.PilotPoint.from_param(p)
values = pilot_points.point(pd.read_parquet(snakemake.input.pairs), BenchmarkTables.read(Path(snakemake.input.evalset[0]).parent), spec)
values.to_parquet(snakemake.output[0], index=False)
log.info("%d steps over %s; evaluated on %s: mean RR %.4f", p["steps"], p["languages"], p["evaluated"], values.value.mean())
