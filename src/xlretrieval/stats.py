"""Uncertainty of the study's measures: bootstrap confidence intervals, paired tests, Holm's correction.

Every number of the study is a *cell* (benchmark, metric, setting, strategy, k, languages): the mean
over the questions of each query set, macro-averaged over the cell's query sets within each *run*
(a language draw and training seed; the base model has one run per draw, regrouped by that draw's
training languages), then averaged over runs. This equals `tables.macro` on `metrics.tsv`. Each
fine-tuned cell also has a *gain* twin: the same average of the per-question differences to the base
model on the same query sets (base run of the same language draw), so gains are paired differences.

Resampling unit: the parallel question id. One counts vector over question ids applies to every
query set, language, model and run, so all translations of a question move together. When a cell has
several runs, its runs are resampled too (a two-level bootstrap over runs crossed with questions), so
its interval includes the spread over language draws and training seeds. Intervals are percentile
intervals.

Paired tests condition on the trained runs and ask whether a difference holds over questions: a
sign-flip randomisation test on per-question differences (each question's contribution to the
macro average of one side minus the other), two-sided, with Holm's step-down adjustment across the
whole family; the effect's interval is a paired bootstrap over questions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from .metrics import FIXED_GROUPS, lang_group
from .runs import BASE, ModelSpec

UNIT_KEYS = ["setting", "query_lang", "passage_lang", "metric"]
ALL = "all"
# quantity: "value" (a cell's mean) or "gain" (its paired difference to the base model on the same query sets)
INTERVAL_COLUMNS = [
    "benchmark",
    "metric",
    "quantity",
    "setting",
    "strategy",
    "k",
    "lang_group",
    "query_lang",
    "estimate",
    "ci_low",
    "ci_high",
    "level",
    "n_runs",
    "n_query_sets",
    "n_questions",
]
CELL_KEYS = ["metric", "quantity", "setting", "strategy", "k", "lang_group", "query_lang"]
TEST_COLUMNS = [
    "benchmark",
    "metric",
    "family",
    "setting",
    "lang_group",
    "strategy_a",
    "k_a",
    "strategy_b",
    "k_b",
    "n_runs_a",
    "n_runs_b",
    "n_query_sets",
    "n_questions",
    "mean_a",
    "mean_b",
    "difference",
    "ci_low",
    "ci_high",
    "effect_size",
    "p_value",
    "p_holm",
]


@dataclass
class QuestionMatrix:
    """Per-query values of one benchmark as a matrix: one row per unit (model x query set x metric),
    one column per question id; `present` marks the questions a query set holds."""

    units: pd.DataFrame  # model, setting, query_lang, passage_lang, metric
    values: np.ndarray  # (units, questions), 0 where absent
    present: np.ndarray  # (units, questions), bool
    question_ids: np.ndarray

    def rows(self, metric: str) -> np.ndarray:
        return np.flatnonzero(self.units.metric.to_numpy() == metric)


def question_matrix(per_query: Iterable[tuple[str, pd.DataFrame]]) -> QuestionMatrix:
    """Stack (model tag, per-query table) pairs, consumed one at a time, into a `QuestionMatrix`."""
    questions: dict[str, int] = {}
    unit_frames, rows, columns, values = [], [], [], []
    offset = 0
    for tag, frame in per_query:
        grouped = frame.groupby(UNIT_KEYS, sort=True)
        codes, uniques = pd.factorize(frame.question_id)
        index = np.array([questions.setdefault(q, len(questions)) for q in uniques], dtype=np.int64)
        keys = grouped.size().index.to_frame(index=False)
        unit_frames.append(keys.assign(model=tag))
        rows.append(grouped.ngroup().to_numpy() + offset)
        columns.append(index[codes])
        values.append(frame.value.to_numpy(dtype=float))
        offset += len(keys)
    if not unit_frames:
        raise ValueError("no per-query tables given")
    rows, columns = np.concatenate(rows), np.concatenate(columns)
    matrix = QuestionMatrix(
        pd.concat(unit_frames, ignore_index=True)[["model", *UNIT_KEYS]],
        np.zeros((offset, len(questions))),
        np.zeros((offset, len(questions)), dtype=bool),
        np.array(list(questions), dtype=object),
    )
    matrix.values[rows, columns], matrix.present[rows, columns] = np.concatenate(values), True
    if matrix.present.sum() != len(rows):
        raise ValueError("a per-query table holds one (query set, metric, question id) more than once")
    return matrix


def runs_table(models: list[str], languages: pd.DataFrame) -> pd.DataFrame:
    """One row per run: model, strategy, k, draw, seed and training languages. The base model has a
    run for every (k, draw) of `languages` (as in `tables.with_base_reference`)."""
    trained = {(r.k, r.draw): frozenset(r.languages.split(",")) for r in languages.itertuples()}
    rows = []
    for tag in models:
        spec = ModelSpec.parse(tag)
        if spec is None:
            rows += [(tag, BASE, k, draw, -1, langs) for (k, draw), langs in trained.items()]
        else:
            rows.append((tag, spec.strategy, spec.k, spec.draw, spec.seed, trained[spec.k, spec.draw]))
    return pd.DataFrame(rows, columns=["model", "strategy", "k", "draw", "seed", "trained"]).rename_axis("run").reset_index()


def memberships(matrix: QuestionMatrix, runs: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    """Which units each cell averages in each run, with their sign: one row per (cell, run, unit).

    Cells (`CELL_KEYS`) by language: `lang_group` (by the languages' `roles` and the run's training
    languages, see `metrics.lang_group`) or all, with `query_lang` all; and one cell per query language,
    with `lang_group` all. The unit's own query set is (setting, set_query_lang, passage_lang). Each cell
    of a fine-tuned model has a `gain` twin: its units (sign +1) and the base model's units of the same
    query sets (sign -1) in the base run of the same language draw, so the gain is a paired difference.
    """
    rows = runs.merge(matrix.units.rename_axis("unit").reset_index(), on="model").rename(columns={"query_lang": "set_query_lang"})
    groups = [lang_group(s, q, p, t, roles) for s, q, p, t in zip(rows.setting, rows.set_query_lang, rows.passage_lang, rows.trained)]
    values = (
        pd.concat(
            [
                rows.assign(lang_group=groups, query_lang=ALL),
                rows.assign(lang_group=ALL, query_lang=ALL),
                rows.assign(lang_group=ALL, query_lang=rows.set_query_lang),
            ],
            ignore_index=True,
        )
        .drop(columns="trained")
        .assign(quantity="value", sign=1.0)
    )
    tuned = values[values.strategy != BASE].assign(quantity="gain")
    base_unit = matrix.units[matrix.units.model == BASE].rename_axis("base_unit").reset_index()
    base_unit = base_unit.rename(columns={"query_lang": "set_query_lang"}).drop(columns="model")
    paired = tuned.merge(base_unit, on=["setting", "set_query_lang", "passage_lang", "metric"], how="left")
    if paired.base_unit.isna().any():
        raise ValueError("the base model lacks query sets that fine-tuned models were evaluated on")
    base = paired.assign(unit=paired.base_unit.astype(np.int64), sign=-1.0).drop(columns="base_unit")
    return pd.concat([values, tuned, base], ignore_index=True)


def question_counts(n_questions: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, questions): how often each question is drawn in each bootstrap sample."""
    return rng.multinomial(n_questions, np.full(n_questions, 1.0 / n_questions), size=resamples).astype(float)


def set_means(values: np.ndarray, present: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(samples, units): each unit's mean over its questions, weighted by each sample's counts
    (NaN where a sample drew none of a unit's questions)."""
    sizes = np.full((len(counts), len(values)), counts.sum(axis=1)[:, None])
    partial = np.flatnonzero(~present.all(axis=1))
    sizes[:, partial] = counts @ present[partial].T
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ values.T) / sizes


def percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds along axis 0, ignoring NaN samples."""
    tail = (1 - level) / 2
    low, high = np.nanquantile(samples, [tail, 1 - tail], axis=0)
    return low, high


def cell_bootstrap(
    values: np.ndarray,
    present: np.ndarray,
    run_weights: sparse.csc_matrix,
    cell_of_run: np.ndarray,
    *,
    level: float,
    resamples: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Estimate and percentile interval of cells, each the mean over its runs of a weighted sum of
    unit means (the run's macro average).

    `run_weights` (units, run-cells) holds the weights of each run in each cell; column j belongs to
    cell `cell_of_run[j]`. Every sample resamples the questions (one counts vector for all units)
    and, independently in each cell with several runs, that cell's runs.
    """
    counts = question_counts(values.shape[1], resamples, rng)
    point = run_weights.T @ set_means(values, present, np.ones((1, values.shape[1])))[0]
    sampled = (run_weights.T @ set_means(values, present, counts).T).T  # (samples, run-cells)
    cells, n_runs = np.unique(cell_of_run, return_counts=True)
    by_cell = np.argsort(cell_of_run, kind="stable")
    first = np.concatenate([[0], np.cumsum(n_runs)[:-1]])
    estimate, low, high = np.empty(len(cells)), np.empty(len(cells)), np.empty(len(cells))
    for n in np.unique(n_runs):
        chosen = np.flatnonzero(n_runs == n)
        columns = by_cell[first[chosen][:, None] + np.arange(n)]  # (cells, runs)
        run_draws = rng.multinomial(n, np.full(n, 1.0 / n), size=(resamples, len(chosen))) / n
        estimate[chosen] = point[columns].mean(axis=1)
        low[chosen], high[chosen] = percentile_interval((sampled[:, columns] * run_draws).sum(axis=2), level)
    return pd.DataFrame({"cell": cells, "estimate": estimate, "ci_low": low, "ci_high": high, "n_runs": n_runs})


def intervals(
    matrix: QuestionMatrix,
    runs: pd.DataFrame,
    benchmark: str,
    roles: dict[str, str],
    *,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Estimate and bootstrap interval of every cell (see the module docstring), metric by metric.

    `n_query_sets` counts the distinct query sets a cell averages over its runs; `n_questions` the
    distinct question ids they hold.
    """
    check_level(level)
    members = memberships(matrix, runs, roles)
    members["cell"] = members.groupby(CELL_KEYS, sort=True).ngroup()
    rng = np.random.default_rng(seed)
    frames = []
    for metric, group in members.groupby("metric", sort=True):
        rows = matrix.rows(metric)
        local = np.full(len(matrix.units), -1)
        local[rows] = np.arange(len(rows))
        run_cell = group.groupby(["cell", "run"], sort=True).ngroup().to_numpy()
        positive = (group.sign > 0).groupby([group.cell, group.run]).transform("sum").to_numpy()
        weights = group.sign.to_numpy() / positive
        run_weights = sparse.csc_matrix((weights, (local[group.unit.to_numpy()], run_cell)), shape=(len(rows), run_cell.max() + 1))
        cell_of_run = np.empty(run_weights.shape[1], dtype=np.int64)
        cell_of_run[run_cell] = group.cell.to_numpy()
        result = cell_bootstrap(matrix.values[rows], matrix.present[rows], run_weights, cell_of_run, level=level, resamples=resamples, rng=rng)
        by_cell = group[group.sign > 0].groupby("cell")
        sizes = by_cell[["setting", "set_query_lang", "passage_lang"]].apply(lambda g: len(g.drop_duplicates())).rename("n_query_sets")
        questions = by_cell.unit.unique().map(lambda units: int(matrix.present[units].any(axis=0).sum())).rename("n_questions")
        frames.append(result.join(sizes, on="cell").join(questions, on="cell"))
    keys = members.drop_duplicates("cell").set_index("cell")[CELL_KEYS]
    out = pd.concat(frames, ignore_index=True).join(keys, on="cell").assign(benchmark=benchmark, level=level)
    return out[INTERVAL_COLUMNS].sort_values(INTERVAL_COLUMNS[:7], ignore_index=True)


def check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"confidence level must lie strictly between 0 and 1, not {level}")


# --- paired tests -------------------------------------------------------------------------------


def sign_flip_pvalues(differences: np.ndarray, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Two-sided sign-flip randomisation p-values, one per row of `differences` (tests, questions).

    Under the null each question's difference is symmetric about 0; the statistic is the sum over
    questions. p = (1 + #{|flipped| >= |observed|}) / (1 + permutations); the same random signs serve
    every test.
    """
    observed = np.abs(differences.sum(axis=1))
    signs = rng.choice(np.array([-1.0, 1.0]), size=(permutations, differences.shape[1]))
    flipped = np.abs(signs @ differences.T)
    tolerance = 1e-12 * np.maximum(1.0, observed)
    return (1 + (flipped >= observed - tolerance).sum(axis=0)) / (1 + permutations)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control), in the input's order."""
    p = np.asarray(p_values, dtype=float)
    if ((p < 0) | (p > 1) | np.isnan(p)).any():
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    factors = len(p) - np.arange(len(p))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(factors * p[order]))
    return adjusted


@dataclass(frozen=True)
class Comparison:
    """Side a minus side b of one (setting, language group)."""

    family: str  # "strategies" (same k), "vs-base" (a strategy minus the base model) or "k-trend" (same strategy)
    setting: str
    lang_group: str
    strategy_a: str
    k_a: int
    strategy_b: str
    k_b: int


def comparisons(strategy_ks: dict[str, list[int]], settings: list[str]) -> list[Comparison]:
    """On the fixed language groups (held-out, source) of each setting: each hybrid vs X-X-mono and vs X-Y at
    every k both are trained at, every strategy vs the base model at each of its k, and every strategy at its
    largest vs its smallest k (the k trend)."""
    found = []
    for setting in settings:
        for group in FIXED_GROUPS:
            for hybrid in (s for s in strategy_ks if s.startswith("hybrid")):
                for other in (s for s in ("xx-mono", "x-y") if s in strategy_ks):
                    found += [
                        Comparison("strategies", setting, group, hybrid, k, other, k)
                        for k in sorted(set(strategy_ks[hybrid]) & set(strategy_ks[other]))
                    ]
            for strategy, ks in strategy_ks.items():
                found += [Comparison("vs-base", setting, group, strategy, k, BASE, k) for k in sorted(ks)]
                if len(ks) > 1:
                    found.append(Comparison("k-trend", setting, group, strategy, max(ks), strategy, min(ks)))
    return found


def paired_tests(
    matrix: QuestionMatrix,
    runs: pd.DataFrame,
    benchmark: str,
    roles: dict[str, str],
    metric: str,
    strategies: list[str],
    *,
    level: float = 0.95,
    resamples: int = 1000,
    permutations: int = 10000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired comparisons (see `comparisons`) of `metric`: both means, their difference (a - b) with a
    paired bootstrap interval, effect size, sign-flip p-value and Holm-adjusted p over all of them.

    Each side is its `value` cell in `intervals`. Sides are compared on the query sets both hold in every
    run (the same sets: the held-out and source groups do not change with k). Comparisons without such
    query sets are left out. `effect_size` is the mean per-question difference over its standard
    deviation (Cohen's d_z).
    """
    check_level(level)
    members = memberships(matrix, runs, roles)
    members = members[(members.metric == metric) & (members.quantity == "value") & members.lang_group.isin(FIXED_GROUPS)]
    if members.empty:
        raise ValueError(f"no per-query values of metric '{metric}'")
    tuned = runs[runs.strategy.isin(strategies)]
    strategy_ks = {s: sorted(tuned[tuned.strategy == s].k.unique()) for s in strategies if s in set(tuned.strategy)}
    settings = [s for s in ("mono", "cross", "multi") if s in set(members.setting)]
    rows, weights_a, weights_b = [], [], []
    for c in comparisons(strategy_ks, settings):
        cell = members[(members.setting == c.setting) & (members.lang_group == c.lang_group)]
        side_a = cell[(cell.strategy == c.strategy_a) & (cell.k == c.k_a)]
        side_b = cell[(cell.strategy == c.strategy_b) & (cell.k == c.k_b)]
        keys = query_set_keys(side_a) & query_set_keys(side_b)
        side_a, side_b = restrict(side_a, keys), restrict(side_b, keys)
        if side_a.empty or side_b.empty:
            continue
        weights_a.append(macro_unit_weights(side_a, len(matrix.units)))
        weights_b.append(macro_unit_weights(side_b, len(matrix.units)))
        rows.append(
            {
                **c.__dict__,
                "n_runs_a": side_a.run.nunique(),
                "n_runs_b": side_b.run.nunique(),
                "n_query_sets": len(set(zip(side_a.setting, side_a.set_query_lang, side_a.passage_lang))),
            }
        )
    if not rows:
        raise ValueError(f"no comparison of '{metric}' has query sets on both sides")
    used = np.flatnonzero(np.any(weights_a, axis=0) | np.any(weights_b, axis=0))
    a, b = np.array(weights_a)[:, used], np.array(weights_b)[:, used]  # (tests, units)
    values, present = matrix.values[used], matrix.present[used]
    # each question's contribution to the difference of the two macro averages; they sum to it
    per_question = ((a - b) / present.sum(axis=1)) @ values  # (tests, questions)
    involved = ((a != 0) | (b != 0)).astype(float) @ present > 0
    means = set_means(values, present, np.ones((1, values.shape[1])))[0]
    rng = np.random.default_rng(seed)
    samples = set_means(values, present, question_counts(values.shape[1], resamples, rng)) @ (a - b).T
    out = pd.DataFrame(rows)
    out["n_questions"] = involved.sum(axis=1)
    out["mean_a"], out["mean_b"] = a @ means, b @ means
    out["difference"] = per_question.sum(axis=1)
    out["ci_low"], out["ci_high"] = percentile_interval(samples, level)
    out["effect_size"] = [effect_size(d[m]) for d, m in zip(per_question, involved)]
    out["p_value"] = sign_flip_pvalues(per_question, permutations, rng)
    out["p_holm"] = holm(out.p_value)
    return out.assign(benchmark=benchmark, metric=metric)[TEST_COLUMNS]


def restrict(members: pd.DataFrame, keys: set) -> pd.DataFrame:
    """The member rows whose query set (setting, query_lang, passage_lang) is in `keys`."""
    return members[[key in keys for key in zip(members.setting, members.set_query_lang, members.passage_lang)]]


def query_set_keys(members: pd.DataFrame) -> set:
    """Query sets (setting, query_lang, passage_lang) that the member rows hold in every run."""
    per_run = [set(zip(g.setting, g.set_query_lang, g.passage_lang)) for _, g in members.groupby("run")]
    return set.intersection(*per_run) if per_run else set()


def macro_unit_weights(members: pd.DataFrame, n_units: int) -> np.ndarray:
    """Weight of each unit in the mean over runs of the macro average over each run's member units."""
    per_run = members.groupby("run").unit.transform("size").to_numpy()
    weights = np.zeros(n_units)
    np.add.at(weights, members.unit.to_numpy(), 1.0 / (per_run * members.run.nunique()))
    return weights


def effect_size(differences: np.ndarray) -> float:
    """Cohen's d_z: mean over standard deviation of paired differences (0 when all are equal)."""
    deviation = differences.std(ddof=1) if len(differences) > 1 else 0.0
    return float(differences.mean() / deviation) if deviation > 0 else 0.0


# --- the study's files ------------------------------------------------------------------------


def read_matrix(paths: dict[str, str | Path]) -> QuestionMatrix:
    """The `QuestionMatrix` of per-query Parquet files given by model tag, read one at a time."""
    return question_matrix((tag, pd.read_parquet(path)) for tag, path in paths.items())


def study_intervals(paths: dict[str, dict[str, str | Path]], languages: pd.DataFrame, roles: dict[str, dict[str, str]], **options) -> pd.DataFrame:
    """`intervals` of every benchmark; `paths[benchmark][model tag]` is a per-query Parquet file, `languages`
    the (k, draw, languages) table and `roles[benchmark]` its languages' roles; `options` go to `intervals`."""
    return pd.concat(
        [
            intervals(read_matrix(by_model), runs_table(list(by_model), languages), benchmark, roles[benchmark], **options)
            for benchmark, by_model in paths.items()
        ],
        ignore_index=True,
    )


def study_paired_tests(
    paths: dict[str, dict[str, str | Path]], languages: pd.DataFrame, roles: dict[str, dict[str, str]], metric: str, strategies: list[str], **options
) -> pd.DataFrame:
    """`paired_tests` of every benchmark (files as in `study_intervals`), Holm-adjusted over all of
    them: the family is every test the study reports."""
    tests = pd.concat(
        [
            paired_tests(read_matrix(by_model), runs_table(list(by_model), languages), benchmark, roles[benchmark], metric, strategies, **options)
            for benchmark, by_model in paths.items()
        ],
        ignore_index=True,
    )
    tests["p_holm"] = holm(tests.p_value)
    return tests


def per_query_paths(files: list[str], models: list[str], benchmarks: list[str]) -> dict[str, dict[str, str]]:
    """{benchmark: {model tag: file}} from the per-query files listed model by model, benchmark by
    benchmark (the order of Snakemake's `expand(..., model=models, benchmark=benchmarks)`)."""
    if len(files) != len(models) * len(benchmarks):
        raise ValueError(f"{len(files)} per-query files for {len(models)} models x {len(benchmarks)} benchmarks")
    paths: dict[str, dict[str, str]] = {benchmark: {} for benchmark in benchmarks}
    for i, file in enumerate(files):
        paths[benchmarks[i % len(benchmarks)]][models[i // len(benchmarks)]] = file
    return paths
