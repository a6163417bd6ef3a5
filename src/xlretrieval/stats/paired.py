"""Paired comparisons of the study: which sides it compares, and the difference of each with its
interval, effect size and p-values.

Paired tests condition on the trained runs and ask whether a difference holds over questions: a
sign-flip randomisation test on per-question differences (each question's contribution to the
macro average of one side minus the other), two-sided, with Holm's step-down adjustment across the
whole family; the effect's interval is a paired bootstrap over questions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics import FIXED_GROUPS
from ..runs import BASE
from .cells import QuestionMatrix, memberships
from .resampling import check_level, percentile_interval, question_counts, set_means
from .significance import holm, sign_flip_pvalues

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
