import json
from pathlib import Path

import pandas as pd

from xlretrieval.figures import learning_curve_figure, save
from xlretrieval.logs import to_file
from xlretrieval.pilot import budget_record, learning_curve, read_doublings, read_runs
from xlretrieval.stats.cells import question_clusters

log = to_file(snakemake.log[0])
p, inputs, out = snakemake.params, snakemake.input, snakemake.output
runs = read_runs([*inputs.curve, *inputs.learning_rates])
articles = question_clusters(pd.read_parquet(inputs.questions))
curve = learning_curve(runs, pd.read_parquet(inputs.base), p.roles, articles, level=p.level)
doublings = read_doublings(inputs.doublings) if inputs.doublings else pd.DataFrame(columns=["steps"])
budget = budget_record(
    doublings,
    curve,
    start_steps=p.start_steps,
    stop_share=p.stop_share,
    max_steps=p.max_steps,
    batch_size=p.batch_size,
    learning_rate=p.learning_rate,
    level=p.level,
)
curve.to_csv(out.curve, sep="\t", index=False, float_format="%.6g")
Path(out.budget).write_text(json.dumps(budget, indent=2) + "\n")
save(learning_curve_figure(curve, chosen=budget["steps"]), [out.png, out.pdf])
log.info("learning curve:\n%s", curve.to_string(index=False))
log.info("budget: %d steps (%d pairs), stopped by %s: %s", budget["steps"], budget["pairs"], budget["stopped_by"], budget["reason"])
