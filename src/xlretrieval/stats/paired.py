"""Paired comparisons of the study: which sides it compares, and the difference of each with its
intervals, effect size, p-values and smallest detectable effect.

Over questions, holding the trained runs fixed: a sign-flip randomisation test on per-question
differences (each question's contribution to the macro average of one side minus the other),
two-sided, and a paired bootstrap interval over questions. Over runs and questions: the t interval and
two-sided t p-value of `welch` over each side's runs (language draws and seeds), or over run pairs where
both sides hold the same runs (see `paired_runs`), and the questions; a side's language sets (its runs' draws) are
the strata of `welch` (`stats.language_sets`: fixed or sampled).

The tests named before the run (`stats.primary`) form the primary family; every other test is in the
rest. Each family is Holm-adjusted on the p-values over runs and questions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ..batching import UNIFORM
from ..metrics import FIXED_GROUPS
from ..model_tags import BASE, parse_strategy, source_share, uniform_slug
from .cells import QuestionMatrix, memberships, question_contributions
from .resampling import percentile_interval, question_counts, set_means
from .significance import detectable_effect, holm, sign_flip_pvalues
from .welch import FIXED, language_set_t

# the study's primary tests when `stats.primary` is null: the hybrid k trend on the held-out languages, those the study has
DEFAULT_PRIMARY = [
    {"family": "k-trend", "strategy": "hybrid", "setting": "cross", "lang_group": "held-out"},
    {"family": "k-trend", "strategy": "hybrid", "setting": "mono", "lang_group": "held-out"},
]

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
    "runs_paired",
    "strata_a",
    "strata_b",
    "n_query_sets",
    "n_questions",
    "n_clusters",
    "mean_a",
    "mean_b",
    "difference",
    "ci_low",
    "ci_high",
    "ci_low_runs",
    "ci_high_runs",
    "df_runs",
    "var_runs_a",
    "var_runs_b",
    "var_questions",
    "effect_size",
    "p_value",
    "p_runs",
    "primary",
    "p_holm",
    "detectable",
]


# {run: (units, weights)}: each run's units and their weights in its macro average
RunWeights = dict[int, tuple[np.ndarray, np.ndarray]]
# One group of runs (or run pairs): the (units, weights, draw) of each member, as in the mean over the group's members,
# and the language set (draw) it trained on: its stratum.
RunGroup = list[tuple[np.ndarray, np.ndarray, int]]


@dataclass(frozen=True)
class Comparison:
    """Side a minus side b of one (setting, language group)."""

    # "strategies" (same k), "vs-base" (a strategy minus the base model), "k-trend" (same strategy; a -half slug against
    # its uniform twin at k = 1) or "source-share" (a uniform slug minus its -half twin at the same k)
    family: str
    setting: str
    lang_group: str
    strategy_a: str
    k_a: int
    strategy_b: str
    k_b: int


def comparisons(strategy_ks: dict[str, list[int]], settings: list[str]) -> list[Comparison]:
    """On the fixed language groups (held-out, source) of each setting: each hybrid vs X-X-mono and vs X-Y at
    every k both are trained at, every strategy vs the base model at each of its k, every strategy at its
    largest vs its smallest k (the k trend), and each uniform slug minus its -half twin at every k both are trained
    at (source-share: less of the source language at the same k). A -half slug not trained at its twin's smallest k
    (k = 1, where the two are one design) takes its k trend from the twin's runs there."""
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
                twin = uniform_slug(strategy)
                if twin != strategy and twin in strategy_ks and min(strategy_ks[twin]) < min(ks):
                    found.append(Comparison("k-trend", setting, group, strategy, max(ks), twin, min(strategy_ks[twin])))
                elif len(ks) > 1:
                    found.append(Comparison("k-trend", setting, group, strategy, max(ks), strategy, min(ks)))
                if twin != strategy and twin in strategy_ks:
                    found += [Comparison("source-share", setting, group, twin, k, strategy, k) for k in sorted(set(ks) & set(strategy_ks[twin]))]
    return found


def paired_tests(*arguments, primary: list[dict[str, str]] | None = None, level: float = 0.95, **options) -> pd.DataFrame:
    """`differences` of one benchmark (its arguments) with the Holm families of `with_families` (`primary` as there);
    a study of several benchmarks takes the families over all of them at once (`study.study_paired_tests`)."""
    return with_families(differences(*arguments, level=level, **options), primary, level)[TEST_COLUMNS]


def differences(
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
    language_sets: str = FIXED,
) -> pd.DataFrame:
    """Paired comparisons (see `comparisons`) of `metric`: both means, their difference (a - b) with a
    bootstrap interval over questions and a t interval over runs and questions (`welch`: its df and
    variance components), effect size, sign-flip and t p-values; every column of `TEST_COLUMNS` but the Holm
    families' (`with_families`).

    Each side is its `value` cell in `cell_intervals`. Sides are compared on the query sets both hold in every
    run (the same sets: the held-out and source groups do not change with k). Comparisons without such
    query sets are left out. `effect_size` is the mean per-question difference over its standard
    deviation (Cohen's d_z). `runs_paired` says whether the runs were paired (`paired_runs`); `var_runs_a`
    is then the variance of the pairs' differences and `var_runs_b` NaN, otherwise each side's variance
    over its runs (NaN for one run). `var_questions` is the question component V_q. `strata_a` and `strata_b` are
    the language sets each side's variance is pooled within (`welch`, `language_sets`; 1 where its runs are the unit;
    `strata_b` NaN where paired); the run component's df is runs minus strata.
    """
    rows, weights_a, weights_b, run_groups = compared_sides(matrix, runs, roles, metric, strategies)
    used = np.flatnonzero(np.any(weights_a, axis=0) | np.any(weights_b, axis=0))
    a, b = np.array(weights_a)[:, used], np.array(weights_b)[:, used]  # (tests, units)
    values, present = matrix.values[used], matrix.present[used]
    # each question's contribution to the difference of the two macro averages; they sum to it
    per_question = question_contributions(a - b, values, present)  # (tests, questions)
    involved = ((a != 0) | (b != 0)).astype(float) @ present > 0
    means = set_means(values, present, np.ones((1, values.shape[1])))[0]
    rng = np.random.default_rng(seed)
    unit_samples = set_means(values, present, question_counts(values.shape[1], resamples, rng, matrix.clusters))  # (samples, units)
    out = pd.DataFrame(rows)
    out["n_questions"] = involved.sum(axis=1)
    out["mean_a"], out["mean_b"] = a @ means, b @ means
    out["difference"] = per_question.sum(axis=1)
    out["ci_low"], out["ci_high"] = percentile_interval(unit_samples @ (a - b).T, level)
    out["effect_size"] = [effect_size(d[m]) for d, m in zip(per_question, involved)]
    out["p_value"] = sign_flip_pvalues(per_question, permutations, rng, matrix.clusters)
    t = language_set_t(*member_contributions(run_groups, used, values, present), involved, language_sets, matrix.clusters)
    out["ci_low_runs"], out["ci_high_runs"] = t.interval(level)
    out["df_runs"], out["p_runs"], out["var_questions"], out["n_clusters"] = t.df, t.p_values(), t.question_variance, t.clusters
    first = np.concatenate([[0], np.cumsum([len(groups) for groups in run_groups])[:-1]])
    out["var_runs_a"] = t.run_variance[first]
    out["var_runs_b"] = [t.run_variance[i + 1] if len(groups) > 1 else np.nan for i, groups in zip(first, run_groups)]
    out["strata_a"] = t.strata[first]
    out["strata_b"] = [t.strata[i + 1] if len(groups) > 1 else np.nan for i, groups in zip(first, run_groups)]
    return out.assign(benchmark=benchmark, metric=metric)


def compared_sides(
    matrix: QuestionMatrix, runs: pd.DataFrame, roles: dict[str, str], metric: str, strategies: list[str]
) -> tuple[list[dict], list[np.ndarray], list[np.ndarray], list[list[RunGroup]]]:
    """The comparisons of `metric` that `differences` tests: for each, its row (the comparison, its runs and query
    sets), each side's weights over the matrix's units (its macro average) and its run groups (`run_groups_of`)."""
    members = memberships(matrix, runs, roles)
    members = members[(members.metric == metric) & (members.quantity == "value") & members.lang_group.isin(FIXED_GROUPS)]
    if members.empty:
        raise ValueError(f"no per-query values of metric '{metric}'")
    tuned = runs[runs.strategy.isin(strategies)]
    strategy_ks = {s: sorted(tuned[tuned.strategy == s].k.unique()) for s in strategies if s in set(tuned.strategy)}
    settings = [s for s in ("mono", "cross", "multi") if s in set(members.setting)]
    sides = dict(list(members.groupby(["setting", "lang_group", "strategy", "k"], sort=False)))
    held = {key: query_set_keys(side) for key, side in sides.items()}
    run_keys = runs.set_index("run")[["strategy", "draw", "seed"]]
    rows, weights_a, weights_b, run_groups = [], [], [], []
    for c in comparisons(strategy_ks, settings):
        key_a, key_b = (c.setting, c.lang_group, c.strategy_a, c.k_a), (c.setting, c.lang_group, c.strategy_b, c.k_b)
        if key_a not in sides or key_b not in sides:
            continue
        keys = held[key_a] & held[key_b]
        side_a, side_b = restrict(sides[key_a], keys), restrict(sides[key_b], keys)
        if side_a.empty or side_b.empty:
            continue
        runs_a, runs_b = run_unit_weights(side_a), run_unit_weights(side_b)
        weights_a.append(macro_unit_weights(runs_a, len(matrix.units)))
        weights_b.append(macro_unit_weights(runs_b, len(matrix.units)))
        pairs = paired_runs(run_keys.loc[list(runs_a)], run_keys.loc[list(runs_b)])
        run_groups.append(run_groups_of(runs_a, runs_b, pairs, run_keys.draw))
        rows.append(
            {
                **c.__dict__,
                "n_runs_a": len(runs_a),
                "n_runs_b": len(runs_b),
                "runs_paired": pairs is not None,
                "n_query_sets": len(keys),
            }
        )
    if not rows:
        raise ValueError(f"no comparison of '{metric}' has query sets on both sides")
    return rows, weights_a, weights_b, run_groups


def member_contributions(
    tests: list[list[RunGroup]], used: np.ndarray, values: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`welch.run_question_t`'s members, groups and tests: each member's per-question contributions (members,
    questions; its weights over each unit's number of questions, times the unit's values, units `used`), each
    member's group, each group's test and each member's language set."""
    members = [member for groups in tests for group in groups for member in group]
    local = np.full(used.max() + 1, -1)
    local[used] = np.arange(len(used))
    member_of = np.repeat(np.arange(len(members)), [len(units) for units, _, _ in members])
    unit_of = local[np.concatenate([units for units, _, _ in members])]
    weights = sparse.csr_matrix((np.concatenate([w for _, w, _ in members]), (member_of, unit_of)), shape=(len(members), len(used)))
    contributions = question_contributions(weights, values, present)
    group_sizes = [len(group) for groups in tests for group in groups]
    group = np.repeat(np.arange(len(group_sizes)), group_sizes)
    test_of_group = np.repeat(np.arange(len(tests)), [len(groups) for groups in tests])
    return contributions, group, test_of_group, np.array([draw for _, _, draw in members])


def paired_runs(runs_a: pd.DataFrame, runs_b: pd.DataFrame) -> list[tuple[int, int]] | None:
    """Runs (a, b) compared as pairs, from each side's rows of the runs table (by run): by (draw, seed) when both
    sides hold the same keys (e.g. two strategies at the same k); against the base model (one run per draw),
    each run of a with the base run of its draw, when a holds every base draw equally often. None: each side's
    runs vary on their own (e.g. two k)."""
    keyed_a = dict(zip(zip(runs_a.draw, runs_a.seed), runs_a.index))
    keyed_b = dict(zip(zip(runs_b.draw, runs_b.seed), runs_b.index))
    if keyed_a.keys() == keyed_b.keys():
        return [(keyed_a[key], keyed_b[key]) for key in sorted(keyed_a)]
    base_by_draw = dict(zip(runs_b.draw, runs_b.index))
    seeds_per_draw = Counter(runs_a.draw)
    if (runs_b.strategy == BASE).all() and seeds_per_draw.keys() == base_by_draw.keys() and len(set(seeds_per_draw.values())) == 1:
        return [(run, base_by_draw[draw]) for run, draw in zip(runs_a.index, runs_a.draw)]
    return None


def run_groups_of(runs_a: RunWeights, runs_b: RunWeights, pairs: list[tuple[int, int]] | None, draw_of: pd.Series) -> list[RunGroup]:
    """The run groups of a comparison, each member weighted as in the mean over its group's members (the
    side's macro average, b's with sign -1) with its language set (`draw_of` its run; a pair's is a's): one group of
    run pairs (a minus b) or a group per side."""
    if pairs is not None:
        return [[(np.concatenate([runs_a[i][0], runs_b[j][0]]), np.concatenate([runs_a[i][1], -runs_b[j][1]]), draw_of[i]) for i, j in pairs]]
    return [
        [(units, weights, draw_of[run]) for run, (units, weights) in runs_a.items()],
        [(units, -weights, draw_of[run]) for run, (units, weights) in runs_b.items()],
    ]


def run_unit_weights(side: pd.DataFrame) -> RunWeights:
    """Each run's member units and their weights in its macro average."""
    runs = {run: group.to_numpy() for run, group in side.groupby("run").unit}  # not .agg(np.array): pandas < 3 refuses arrays there
    return {run: (units, np.full(len(units), 1.0 / len(units))) for run, units in runs.items()}


def with_families(tests: pd.DataFrame, primary: list[dict[str, str]] | None, level: float) -> pd.DataFrame:
    """`tests` with `primary` (named in `primary`, see `primary_mask`), `p_holm` (Holm on `p_runs` within the
    primary family and within the rest) and `detectable`: the difference a t test over runs and questions (its
    standard error and df) at the strictest Holm threshold of its family, (1 - level) / family size, detects
    with 80% power (`significance.detectable_effect`)."""
    out = tests.copy()
    out["primary"] = primary_mask(out, primary)
    out["p_holm"], out["detectable"] = np.nan, np.nan
    standard_error = np.sqrt(run_level_variance(out))
    for family in (out.primary, ~out.primary):
        if family.any():
            out.loc[family, "p_holm"] = holm(out.p_runs[family])
            out.loc[family, "detectable"] = detectable_effect(standard_error[family], out.df_runs[family], level, int(family.sum()))
    return out


def variance_terms(tests: pd.DataFrame, n_a, n_b) -> np.ndarray:
    """The terms of the variance V of each test's difference over runs and questions (tests x 3), with `n_a` and `n_b`
    runs (or pairs) a side: var_runs_a / n_a, var_runs_b / n_b (0 where the runs are paired) and var_questions; NaN
    where a side of one run has no run variance. The one place the study adds them up (`run_level_variance`, `power`)."""
    paired = tests.runs_paired.to_numpy(dtype=bool)
    var_b = np.where(paired, 0.0, tests.var_runs_b.to_numpy(dtype=float))
    return np.column_stack([tests.var_runs_a.to_numpy(dtype=float) / n_a, var_b / n_b, tests.var_questions.to_numpy(dtype=float)])


def run_level_variance(tests: pd.DataFrame) -> np.ndarray:
    """The variance V of each test's difference at its own run counts (`variance_terms`, a side of one run adding 0)."""
    terms = variance_terms(tests, tests.n_runs_a.to_numpy(), tests.n_runs_b.to_numpy())
    terms[:, :2] = np.nan_to_num(terms[:, :2])
    return terms.sum(axis=1)


def primary_mask(tests: pd.DataFrame, primary: list[dict[str, str]] | None) -> np.ndarray:
    """Which tests an entry of `primary` names (family, strategy, setting, lang_group; the strategy "hybrid" names
    every hybrid slug, and a test's strategy is its side a). Each entry must name a test; None stands for
    `DEFAULT_PRIMARY`, whose entries the study need not have."""
    marked = np.zeros(len(tests), dtype=bool)
    for entry in DEFAULT_PRIMARY if primary is None else primary:
        named = (
            (tests.family == entry["family"])
            & (tests.setting == entry["setting"])
            & (tests.lang_group == entry["lang_group"])
            & ((tests.strategy_a == entry["strategy"]) | (tests.strategy_a.map(uniform_hybrid) == entry["strategy"]))
        ).to_numpy()
        if primary is not None and not named.any():
            raise ValueError(f"config key 'stats.primary': {entry} names none of the {len(tests)} paired tests")
        marked |= named
    return marked


def uniform_hybrid(slug: str) -> str:
    """ "hybrid" for a hybrid slug of uniform source share (what a primary entry's "hybrid" names), else the slug."""
    return "hybrid" if parse_strategy(slug)[0] == "hybrid" and source_share(slug) == UNIFORM else slug


def restrict(members: pd.DataFrame, keys: set) -> pd.DataFrame:
    """The member rows whose query set (setting, query_lang, passage_lang) is in `keys`."""
    return members[[key in keys for key in zip(members.setting, members.set_query_lang, members.passage_lang)]]


def query_set_keys(members: pd.DataFrame) -> set:
    """Query sets (setting, query_lang, passage_lang) that the member rows hold in every run."""
    per_run = [set(zip(g.setting, g.set_query_lang, g.passage_lang)) for _, g in members.groupby("run")]
    return set.intersection(*per_run) if per_run else set()


def macro_unit_weights(runs: RunWeights, n_units: int) -> np.ndarray:
    """Weight of each unit in the mean over runs of the macro average over each run's member units."""
    weights = np.zeros(n_units)
    for units, run_weights in runs.values():
        np.add.at(weights, units, run_weights / len(runs))
    return weights


def effect_size(differences: np.ndarray) -> float:
    """Cohen's d_z: mean over standard deviation of paired differences (0 when all are equal)."""
    deviation = differences.std(ddof=1) if len(differences) > 1 else 0.0
    return float(differences.mean() / deviation) if deviation > 0 else 0.0
