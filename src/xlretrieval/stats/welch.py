"""A t interval over runs and questions, with Welch-Satterthwaite degrees of freedom.

A number of the study (a cell, or a paired comparison) is a sum over *groups* of the mean over each group's
*members* of the member's value: a group is a set of runs (a side of a comparison, or a cell), or of run pairs
a minus b where both sides hold the same runs (`paired.run_groups_of`). Each member's value is the sum over
questions of its per-question contributions (each unit's weight over its number of questions, times its
values; 0 where a question is absent), so a group is a matrix X_g (members x questions).

The variance is that of a method-of-moments mixed model with run effects (independent across a group's
members) crossed with question effects (shared by every member and group, drawn from a population of
questions):

- run component of group g: s_g^2 / n_g, s_g^2 the sample variance of its members' values, on n_g - 1 df;
  none for a group of one member;
- question component: V_q = Q max(0, var_q(d_q) - sum_g sigma2_g / n_g), where d_q = sum_g mean over the
  members of X_g[:, q] is question q's contribution to the estimate, Q the questions the number involves
  and sigma2_g the residual (run-by-question) mean square of the two-way table X_g, which s_g^2 already
  counts (groups of one member have none to subtract); Q - 1 df;
- V = the sum of both; interval estimate +- t_{df, (1 + level) / 2} sqrt(V), df by Welch-Satterthwaite,
  V^2 / sum over components of term^2 / df, each term (s_g^2 / n_g, V_q) taken there (not in V) at the
  upper `DF_BOUND` confidence bound of its variance, term f / chi2_f(1 - DF_BOUND) (see `t_df`).

With one member in every group, the interval is the paired t interval over questions alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

# Satterthwaite's df from the variance terms as estimated is largest exactly where the interval is already too narrow:
# when a few-run term that dominates V happens to come out small. So each term enters the df at the upper 65%
# confidence bound of its variance (a factor f / chi2_f(0.35): 2.3 on 2 df, 1.5 on 5, 1.03 on 299), which weighs terms
# on few df more: where such a term dominates V the df falls towards its own. This brings the coverage of 3 vs 6 runs
# whose 3-run arm varies most from 92.5% to 94% and keeps 3 vs 6 and 6 vs 12 runs within 94-96% (docs/statistics.md,
# tests/test_stats.py). It leaves the df of a single term, and of terms on equal df, as they are.
DF_BOUND = 0.65


@dataclass(frozen=True)
class RunQuestionT:
    """Estimate and variance components of each number (`estimate`, `question_variance`, `variance`, `df`: one
    per number) and of each group (`run_variance` s_g^2, NaN for one member; `members` n_g)."""

    estimate: np.ndarray
    run_variance: np.ndarray
    members: np.ndarray
    question_variance: np.ndarray
    variance: np.ndarray
    df: np.ndarray

    @property
    def standard_error(self) -> np.ndarray:
        return np.sqrt(self.variance)

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        half = stats.t.ppf((1 + level) / 2, self.df) * self.standard_error
        return self.estimate - half, self.estimate + half

    def p_values(self) -> np.ndarray:
        """Two-sided p of a true value of 0 (1 for an estimate of 0 without variance, 0 for another)."""
        return t_pvalues(self.estimate, self.standard_error, self.df)


def t_pvalues(estimate, standard_error, df) -> np.ndarray:
    """Two-sided p-values of t = estimate / standard_error on `df` degrees of freedom."""
    estimate, standard_error = np.asarray(estimate, dtype=float), np.asarray(standard_error, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.abs(estimate) / standard_error
    p = 2 * stats.t.sf(statistic, df)
    return np.where(standard_error > 0, p, np.where(estimate == 0, 1.0, 0.0))


def satterthwaite_df(terms, dfs) -> np.ndarray:
    """Welch-Satterthwaite df of variances that sum terms (numbers x components; e.g. s_g^2 / n_g and V_q), each on
    its df (numbers x components; a term on df <= 0 must be 0 and counts for nothing): (sum of terms)^2 / sum of
    term^2 / df; infinite where every term is 0."""
    terms, dfs = np.atleast_2d(np.asarray(terms, dtype=float)), np.atleast_2d(np.asarray(dfs, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = np.where(dfs > 0, terms**2 / dfs, 0.0).sum(axis=1)
        return np.where(denominator > 0, terms.sum(axis=1) ** 2 / denominator, np.inf)


def t_df(terms, dfs) -> np.ndarray:
    """The df of the study's t intervals: `satterthwaite_df` of each term at the upper `DF_BOUND` confidence bound
    of its variance, term x df / chi2_df(1 - DF_BOUND)."""
    terms, dfs = np.atleast_2d(np.asarray(terms, dtype=float)), np.atleast_2d(np.asarray(dfs, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(dfs > 0, dfs / stats.chi2.ppf(1 - DF_BOUND, np.maximum(dfs, 1e-300)), 0.0)
    return satterthwaite_df(terms * bound, dfs)


def run_question_t(contributions: np.ndarray, group: np.ndarray, number_of_group: np.ndarray, involved: np.ndarray) -> RunQuestionT:
    """The estimate and variance components of numbers (see the module): `contributions` (members, questions)
    holds each member's per-question contributions, `group` each member's group, `number_of_group` each group's
    number and `involved` (numbers, questions) the questions each number involves (contributions elsewhere are 0).
    Vectorised over every member, group and number."""
    n_groups, n_numbers = len(number_of_group), len(involved)
    members = np.bincount(group, minlength=n_groups)
    if (members == 0).any():
        raise ValueError("every group needs a member")
    values = contributions.sum(axis=1)
    mean_of = sparse.csr_matrix((1.0 / members[group], (group, np.arange(len(group)))), shape=(n_groups, len(group)))
    columns = np.asarray(mean_of @ contributions)  # (groups, questions): the mean over each group's members
    deviations = values - (mean_of @ values)[group]
    several = members > 1
    with np.errstate(divide="ignore", invalid="ignore"):
        run_variance = np.where(several, np.bincount(group, deviations**2, minlength=n_groups) / (members - 1), np.nan)
    questions = involved.sum(axis=1).astype(float)
    questions_of = questions[number_of_group]
    # the residual of the two-way table: column-centred squares less the rows' share, (n - 1) s^2 / Q
    squares = np.bincount(group, ((contributions - columns[group]) ** 2).sum(axis=1), minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        residual = (squares - (members - 1) * np.nan_to_num(run_variance) / questions_of) / ((members - 1) * (questions_of - 1))
    residual = np.where(several & (questions_of > 1), np.maximum(residual, 0.0), 0.0)
    per_question = np.asarray(sparse.csr_matrix((np.ones(n_groups), (number_of_group, np.arange(n_groups))), shape=(n_numbers, n_groups)) @ columns)
    estimate = per_question.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = np.where(involved, per_question - (estimate / questions)[:, None], 0.0)
        spread = (centred**2).sum(axis=1) / (questions - 1)
    noise = np.bincount(number_of_group, residual / members, minlength=n_numbers)
    question_variance = np.where(questions > 1, questions * np.maximum(spread - noise, 0.0), 0.0)
    # one column per group of a number (at its rank among them), then the question component
    order = np.argsort(number_of_group, kind="stable")
    starts = np.searchsorted(number_of_group[order], np.arange(n_numbers))
    rank = np.empty(n_groups, dtype=np.int64)
    rank[order] = np.arange(n_groups) - starts[number_of_group[order]]
    terms, dfs = np.zeros((n_numbers, rank.max() + 2)), np.zeros((n_numbers, rank.max() + 2))
    terms[number_of_group, rank], dfs[number_of_group, rank] = np.where(several, run_variance / members, 0.0), members - 1
    terms[:, -1], dfs[:, -1] = question_variance, questions - 1
    return RunQuestionT(estimate, run_variance, members, question_variance, terms.sum(axis=1), t_df(terms, dfs))
