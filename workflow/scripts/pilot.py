import pandas as pd

from xlretrieval.figures import learning_curve_figure, save
from xlretrieval.logs import to_file
from xlretrieval.pilot import learning_curve

log = to_file(snakemake.log[0])
p, out = snakemake.params, snakemake.output
points = {tag: pd.read_parquet(path) for tag, path in zip(p.points, snakemake.input.points)}
curve = learning_curve(points, pd.read_parquet(snakemake.input.base), p.roles, level=p.level, resamples=p.resamples, seed=p.seed)
curve.to_csv(out.curve, sep="\t", index=False, float_format="%.6g")
save(learning_curve_figure(curve), [out.png, out.pdf])
log.info("learning curve:\n%s", curve.to_string(index=False))
