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
- question component, over the *clusters* the questions come in (a benchmark's articles: questions of one article
  share its passages and its topic, so they are not independent; a question without one is a cluster of its own):
  V_q = A max(0, var_a(D_a) - (Q / A) sum_g sigma2_g / n_g), where d_q = sum_g mean over the members of X_g[:, q]
  is question q's contribution to the estimate, D_a the sum of d_q over cluster a's questions, A the clusters and
  Q the questions the number involves, and sigma2_g the residual (run-by-question) mean square of the two-way
  table X_g, which s_g^2 already counts (groups of one member have none to subtract; a cluster of Q / A questions
  holds Q / A times it); A - 1 df. With every question a cluster of its own (A = Q) this is
  Q max(0, var_q(d_q) - sum_g sigma2_g / n_g), the component of independent questions;
- V = the sum of both; interval estimate +- t_{df, (1 + level) / 2} sqrt(V), df by Welch-Satterthwaite,
  V^2 / sum over components of term^2 / df, each term (s_g^2 / n_g, V_q) taken there (not in V) at the
  upper `DF_BOUND` confidence bound of its variance, term f / chi2_f(1 - DF_BOUND) (see `t_df`).

With one member in every group, the interval is the paired t interval over questions alone.

Runs of one language set (a *stratum*: the same k target languages, other seeds) share that set's effect. Where the
study's claim is for the sets it trained (`FIXED`: under `cover` they are the whole pool), a group whose strata each
hold two members or more has its run component from the spread within its strata: s_g^2 pooled over them, on
n_g - S_g df (S_g strata), and its run-by-question residual within them too; a group with a stratum of one member
keeps its members as the unit. Where the sets are a sample of the possible ones (`SAMPLED`), each stratum's members
are first averaged (`stratum_means`), so the unit is the language set, on S_g - 1 df (a group of one set keeps its
runs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

from .resampling import check_level, cluster_codes, cluster_indicator

# Satterthwaite's df from the variance terms as estimated is largest exactly where the interval is already too narrow:
# when a few-run term that dominates V happens to come out small. So each term enters the df at the upper 65%
# confidence bound of its variance (a factor f / chi2_f(0.35): 2.3 on 2 df, 1.5 on 5, 1.03 on 299), which weighs terms
# on few df more: where such a term dominates V the df falls towards its own. This brings the coverage of 3 vs 6 runs
# whose 3-run arm varies most from 92.5% to 94% and keeps 3 vs 6 and 6 vs 12 runs within 94-96% (docs/statistics.md,
# tests/test_stats.py). It leaves the df of a single term, and of terms on equal df, as they are.
DF_BOUND = 0.65

FIXED, SAMPLED = "fixed", "sampled"  # what a k's language sets are to the study's claim (`stats.language_sets`)


@dataclass(frozen=True)
class RunQuestionT:
    """Estimate and variance components of each number (`estimate`, `question_variance`, `clusters` A, `variance`,
    `df`: one per number) and of each group (`run_variance` s_g^2, NaN where it has no df; `members` n_g; `strata`
    S_g, the strata its variance is pooled within, 1 where its members are the unit)."""

    estimate: np.ndarray
    run_variance: np.ndarray
    members: np.ndarray
    strata: np.ndarray
    question_variance: np.ndarray
    clusters: np.ndarray
    variance: np.ndarray
    df: np.ndarray

    @property
    def standard_error(self) -> np.ndarray:
        return np.sqrt(self.variance)

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        check_level(level)
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


def stratum_means(contributions: np.ndarray, group: np.ndarray, stratum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`SAMPLED`: the members of each (group, stratum) averaged into one, and its group; the mean over a group's new
    members is the mean over its strata of their means. A group of one stratum (k = the whole pool: the one set there
    is, not a sample) keeps its members."""
    _, first = _codes(group, stratum)
    single = np.bincount(group[first]) == 1
    code, first = _codes(group, np.where(single[group], -1 - np.arange(len(group)), stratum))
    counts = np.bincount(code)
    mean_of = sparse.csr_matrix((1.0 / counts[code], (code, np.arange(len(code)))), shape=(len(counts), len(code)))
    return np.asarray(mean_of @ contributions), group[first]


def fixed_strata(group: np.ndarray, stratum: np.ndarray | None) -> np.ndarray:
    """`FIXED`: each member's stratum code (unique across groups), or its group's own where the group has a stratum
    of one member (its members are then the unit); None: each group is one stratum."""
    if stratum is None:
        return np.asarray(group)
    code, _ = _codes(group, stratum)
    lone = np.bincount(group, (np.bincount(code)[code] < 2).astype(float)) > 0
    return _codes(group, np.where(lone[group], -1, stratum))[0]


def _codes(group: np.ndarray, stratum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A code per distinct (group, stratum), for each member, and the first member of each code."""
    _, first, code = np.unique(np.column_stack([group, stratum]), axis=0, return_index=True, return_inverse=True)
    return code.ravel(), first


def language_set_t(
    contributions: np.ndarray,
    group: np.ndarray,
    number_of_group: np.ndarray,
    stratum: np.ndarray | None,
    involved: np.ndarray,
    language_sets: str,
    clusters: np.ndarray | None = None,
) -> RunQuestionT:
    """`run_question_t` with each member's language set as its stratum, fixed or sampled (`language_sets`; None:
    every member on a set of its own), and the questions in `clusters`."""
    if language_sets not in (FIXED, SAMPLED):
        raise ValueError(f"language sets are '{FIXED}' or '{SAMPLED}', not '{language_sets}'")
    if language_sets == SAMPLED and stratum is not None:
        contributions, group = stratum_means(contributions, group, stratum)
        return run_question_t(contributions, group, number_of_group, involved, clusters=clusters)
    return run_question_t(contributions, group, number_of_group, involved, stratum, clusters)


def cluster_variance(per_question: np.ndarray, involved: np.ndarray, noise: np.ndarray, clusters: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The question component V_q of each number (see the module) and its clusters A: `per_question` (numbers,
    questions) holds the contributions d_q, `noise` each number's sum_g sigma2_g / n_g and `clusters` each question's
    cluster code (None: every question its own)."""
    n_questions = per_question.shape[1]
    codes = np.arange(n_questions) if clusters is None else cluster_codes(clusters, n_questions)
    of_cluster = cluster_indicator(codes)
    sums = (sparse.csr_matrix(per_question) @ of_cluster).toarray()  # (numbers, clusters): D_a
    held = (sparse.csr_matrix(involved.astype(float)) @ of_cluster).toarray() > 0
    count = held.sum(axis=1).astype(float)
    questions = involved.sum(axis=1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = np.where(held, sums - (per_question.sum(axis=1) / count)[:, None], 0.0)
        spread = (centred**2).sum(axis=1) / (count - 1)
        variance = count * np.maximum(spread - questions / count * noise, 0.0)
    return np.where(count > 1, variance, 0.0), count


def run_question_t(
    contributions: np.ndarray,
    group: np.ndarray,
    number_of_group: np.ndarray,
    involved: np.ndarray,
    stratum: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
) -> RunQuestionT:
    """The estimate and variance components of numbers (see the module): `contributions` (members, questions)
    holds each member's per-question contributions, `group` each member's group, `number_of_group` each group's
    number and `involved` (numbers, questions) the questions each number involves (contributions elsewhere are 0).
    `stratum` (optional) labels each member's language set, fixed (`fixed_strata`; `stratum_means` first for
    `SAMPLED`); `clusters` (optional) each question's cluster, its article (None: every question its own).
    Vectorised over every member, group and number."""
    n_groups, n_numbers = len(number_of_group), len(involved)
    members = np.bincount(group, minlength=n_groups)
    if (members == 0).any():
        raise ValueError("every group needs a member")
    strata_of = fixed_strata(group, stratum)
    in_stratum = np.bincount(strata_of)
    group_of_stratum = np.zeros(len(in_stratum), dtype=np.int64)
    group_of_stratum[strata_of] = group
    strata = np.bincount(group_of_stratum, minlength=n_groups)
    values = contributions.sum(axis=1)
    mean_of = sparse.csr_matrix((1.0 / members[group], (group, np.arange(len(group)))), shape=(n_groups, len(group)))
    columns = np.asarray(mean_of @ contributions)  # (groups, questions): the mean over each group's members
    stratum_mean_of = sparse.csr_matrix((1.0 / in_stratum[strata_of], (strata_of, np.arange(len(group)))), shape=(len(in_stratum), len(group)))
    deviations = values - (stratum_mean_of @ values)[strata_of]
    within = members - strata  # df of the run component
    several = within > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        run_variance = np.where(several, np.bincount(group, deviations**2, minlength=n_groups) / within, np.nan)
    questions = involved.sum(axis=1).astype(float)
    questions_of = questions[number_of_group]
    # the residual of the two-way table (within strata): column-centred squares less the rows' share, within s^2 / Q
    centred = contributions - np.asarray(stratum_mean_of @ contributions)[strata_of]
    squares = np.bincount(group, (centred**2).sum(axis=1), minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        residual = (squares - within * np.nan_to_num(run_variance) / questions_of) / (within * (questions_of - 1))
    residual = np.where(several & (questions_of > 1), np.maximum(residual, 0.0), 0.0)
    per_question = np.asarray(sparse.csr_matrix((np.ones(n_groups), (number_of_group, np.arange(n_groups))), shape=(n_numbers, n_groups)) @ columns)
    estimate = per_question.sum(axis=1)
    noise = np.bincount(number_of_group, residual / members, minlength=n_numbers)
    question_variance, count = cluster_variance(per_question, involved, noise, clusters)
    # one column per group of a number (at its rank among them), then the question component
    order = np.argsort(number_of_group, kind="stable")
    starts = np.searchsorted(number_of_group[order], np.arange(n_numbers))
    rank = np.empty(n_groups, dtype=np.int64)
    rank[order] = np.arange(n_groups) - starts[number_of_group[order]]
    terms, dfs = np.zeros((n_numbers, rank.max() + 2)), np.zeros((n_numbers, rank.max() + 2))
    terms[number_of_group, rank], dfs[number_of_group, rank] = np.where(several, run_variance / members, 0.0), within
    terms[:, -1], dfs[:, -1] = question_variance, count - 1
    return RunQuestionT(estimate, run_variance, members, strata, question_variance, count, terms.sum(axis=1), t_df(terms, dfs))
