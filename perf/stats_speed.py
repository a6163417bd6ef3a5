"""Speed of the study's statistics at the size of a configured study, on synthetic per-query values.

    python perf/stats_speed.py [--configfile config/precise.yaml] [--questions 300]

Builds per-query tables of the config's models (base and every fine-tuned model) over 11 XQuAD-R
languages (11 mono, 110 cross, 11 multi query sets; every measure of `evaluation.measures` plus
rank_distance in multi) for `--questions` parallel question ids, then times `stats.cells.question_matrix`,
`stats.cell_intervals.intervals`, `stats.paired.paired_tests` and `stats.power.power_table` with the config's `stats` settings.
Prints the timings.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from snakemake.utils import update_config

from xlretrieval.config import Study, validate
from xlretrieval.stats import cell_intervals, cells, paired, power
from xlretrieval.tables import languages_table

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]


def per_query_table(measures: list[str], questions: int, rng: np.random.Generator) -> pd.DataFrame:
    sets = [("mono", x, x) for x in LANGUAGES] + [("cross", x, y) for x in LANGUAGES for y in LANGUAGES if x != y]
    sets += [("multi", x, "all") for x in LANGUAGES]
    units = [(*s, m) for s in sets for m in measures] + [(*s, "rank_distance") for s in sets if s[0] == "multi"]
    keys = pd.DataFrame(units, columns=["setting", "query_lang", "passage_lang", "metric"])
    table = keys.loc[keys.index.repeat(questions)].reset_index(drop=True)
    table.insert(3, "question_id", np.tile([f"q{i:05d}" for i in range(questions)], len(keys)))
    table["value"] = rng.uniform(0, 1, len(table))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", nargs="*", default=[], help="configs merged over config.yaml, as Snakemake does")
    parser.add_argument("--questions", type=int, default=300, help="parallel question ids (default study: about 300)")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for path in args.configfile:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    config = validate(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")
    study, options = Study(config), config["stats"]
    tags, languages, roles = study.model_tags(), languages_table(study.draws()), study.language_roles("xquad-r")
    rng = np.random.default_rng(0)

    start = time.perf_counter()
    matrix = cells.question_matrix((tag, per_query_table(config["evaluation"]["measures"], args.questions, rng)) for tag in tags)
    built = time.perf_counter() - start
    runs = cells.runs_table(tags, languages)
    start = time.perf_counter()
    cell_table = cell_intervals.intervals(matrix, runs, "xquad-r", roles, level=options["level"])
    intervals_s = time.perf_counter() - start
    start = time.perf_counter()
    tests = paired.paired_tests(
        matrix,
        runs,
        "xquad-r",
        roles,
        options["metric"],
        study.strategies(),
        level=options["level"],
        resamples=options["resamples"],
        permutations=options["permutations"],
        seed=options["seed"],
    )
    tests_s = time.perf_counter() - start
    start = time.perf_counter()
    projected = power.power_table(tests, options["level"], options["target_detectable"])
    power_s = time.perf_counter() - start
    print(f"{len(tags)} models x {matrix.values.shape[0] // len(tags)} units x {args.questions} questions")
    print(f"matrix (incl. making the synthetic tables): {built:.1f} s")
    print(f"intervals: {len(cell_table)} cells (t over runs and questions): {intervals_s:.1f} s")
    print(f"paired tests: {len(tests)} tests, {options['permutations']} sign flips: {tests_s:.1f} s")
    print(f"power table: {len(projected)} tests: {power_s:.1f} s")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
