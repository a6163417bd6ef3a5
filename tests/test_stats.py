"""Intervals over runs and questions, paired tests, Holm's correction and the power table on synthetic data with known truth."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

from xlretrieval.metrics import summarise
from xlretrieval.stats import cell_intervals, cells, paired, power, resampling, significance, welch
from xlretrieval.tables import collect, languages_table, macro, paired_test_table, power_test_table, run_counts, with_base_reference

from synthetic import ROLES, per_query_frame, synthetic_study

ROLE = ROLES["xquad-r"]


def single_cell(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, sparse.csc_matrix, np.ndarray]:
    """`cell_intervals` inputs for one cell, one run, macro over every row of `values`."""
    weights = sparse.csc_matrix(np.full((len(values), 1), 1.0 / len(values)))
    return values, np.ones_like(values, dtype=bool), weights, np.zeros(1, dtype=int)


def test_cell_interval_covers_the_true_macro_mean_at_about_the_nominal_rate():
    # three languages of the same 120 questions: value = difficulty (shared, uniform on [0, 1]) +
    # a language offset + noise, so the true macro mean is 0.5 + mean(offsets) = 0.5
    rng = np.random.default_rng(1)
    offsets = np.array([-0.1, 0.0, 0.1])[:, None]
    covered = []
    for _ in range(400):
        values = rng.uniform(0, 1, 120)[None, :] + offsets + rng.normal(0, 0.3, (3, 120))
        result = cell_intervals.cell_intervals(*single_cell(values), level=0.9)
        covered.append(result.ci_low.item() <= 0.5 <= result.ci_high.item())
    assert 0.86 <= np.mean(covered) <= 0.94


def test_translations_of_a_question_move_together():
    # every language holds the same values: the macro mean's interval is that of one language, which
    # treating languages as independent questions would shrink by about sqrt(3)
    values = np.random.default_rng(0).uniform(0, 1, (1, 200))
    one = cell_intervals.cell_intervals(*single_cell(values), level=0.95)
    three = cell_intervals.cell_intervals(*single_cell(np.repeat(values, 3, axis=0)), level=0.95)
    np.testing.assert_allclose(three[["estimate", "ci_low", "ci_high", "df"]], one[["estimate", "ci_low", "ci_high", "df"]])


def test_runs_widen_the_cell_interval_by_their_spread():
    # two runs 0.3 apart on the same questions: the run component is their variance over 2 (1 df), the question
    # component the variance of the questions' mean over runs, and no run-by-question residual is left to subtract
    rng = np.random.default_rng(2)
    base = rng.uniform(0.2, 0.4, (1, 300))
    values = np.vstack([base, base + 0.3])
    weights = sparse.csc_matrix(np.eye(2))
    both = cell_intervals.cell_intervals(values, np.ones_like(values, bool), weights, np.array([0, 0]), level=0.95)
    alone = cell_intervals.cell_intervals(values, np.ones_like(values, bool), weights, np.array([0, 1]), level=0.95)
    terms = np.array([[0.3**2 / 2 / 2, base.var(ddof=1) / 300]])
    df = welch.t_df(terms, [[1, 299]])[0]
    half = stats.t.ppf(0.975, df) * np.sqrt(terms.sum())
    assert both.estimate.item() == pytest.approx(base.mean() + 0.15)
    assert (both.ci_low.item(), both.ci_high.item(), both.df.item()) == pytest.approx((base.mean() + 0.15 - half, base.mean() + 0.15 + half, df))
    assert both.ci_low.item() < base.mean() and both.ci_high.item() > base.mean() + 0.3
    assert (alone.ci_high - alone.ci_low < 0.03).all() and (alone.df == 299).all()


def test_missing_questions_are_left_out_of_their_query_set():
    values = np.array([[1.0, 0.0, 0.5]])
    present = np.array([[True, False, True]])
    means = resampling.set_means(values, present, np.array([[1.0, 1.0, 1.0], [0.0, 3.0, 0.0], [2.0, 0.0, 1.0]]))
    np.testing.assert_allclose(means[:, 0], [0.75, np.nan, 2.5 / 3])


def test_interval_estimates_equal_the_tables_macro_average():
    models, languages = synthetic_study(np.random.default_rng(3))
    matrix = cells.question_matrix(models.items())
    result = cell_intervals.intervals(matrix, cells.runs_table(list(models), languages), "xquad-r", ROLE)
    metrics = collect({(tag, "xquad-r"): summarise(frame) for tag, frame in models.items()}, languages, ROLES)
    expected = macro(with_base_reference(metrics, languages, ROLES), ["strategy", "k", "setting", "lang_group"])
    groups = result[(result.query_lang == "all") & (result.quantity == "value")].merge(expected, on=["strategy", "k", "setting", "lang_group"])
    assert len(groups) == len(expected) > 10
    np.testing.assert_allclose(groups.estimate, groups.value)
    assert (groups.ci_low <= groups.estimate).all() and (groups.estimate <= groups.ci_high).all()
    # k = 1 has two draws (runs), k = 2 one; base has a run per draw
    runs = result[result.quantity == "value"].set_index(["strategy", "k", "setting", "lang_group", "query_lang"]).n_runs
    assert runs["xx-mono", 1, "mono", "all", "all"] == 2 and runs["xx-mono", 2, "mono", "all", "all"] == 1
    assert runs["base", 1, "mono", "all", "all"] == 2
    per_language = result[(result.query_lang == "el") & (result.setting == "cross") & (result.quantity == "value")]
    assert set(per_language.n_query_sets) == {3} and set(per_language.n_questions) == {80}


def test_gain_is_the_paired_difference_to_the_base_model_on_the_same_query_sets():
    # a constant shift: every question of hybrid is its base value + 0.1 (clipped at 1)
    models, languages = synthetic_study(np.random.default_rng(10), shifts={"base": 0.0, "hybrid-a0.5": 0.0})
    base = models["base"]
    for tag in [t for t in models if t != "base"]:
        models[tag] = base.assign(value=(base.value + 0.1).clip(upper=1.0))
    expected = (base.value + 0.1).clip(upper=1.0) - base.value
    result = cell_intervals.intervals(cells.question_matrix(models.items()), cells.runs_table(list(models), languages), "xquad-r", ROLE)
    gains = result[(result.quantity == "gain") & (result.query_lang == "all") & (result.lang_group == "held-out")]
    assert set(gains.strategy) == {"hybrid-a0.5"} and set(gains.k) == {1, 2}
    mono = gains[gains.setting == "mono"]  # el-el only
    el = (base.setting == "mono") & (base.query_lang == "el")
    np.testing.assert_allclose(mono.estimate, expected[el].mean())
    # paired: the questions' shared ability cancels, so the gain's interval is far narrower than a value's
    value = result[
        (result.quantity == "value")
        & (result.strategy == "hybrid-a0.5")
        & (result.lang_group == "held-out")
        & (result.setting == "mono")
        & (result.query_lang == "all")
    ]
    assert (gains.ci_high - gains.ci_low)[gains.setting == "mono"].max() < 0.5 * (value.ci_high - value.ci_low).min()
    assert "base" not in set(result[result.quantity == "gain"].strategy)


def test_question_matrix_rejects_a_repeated_query():
    frame = per_query_frame({("mono", "en", "en", "RR"): np.array([1.0, 0.5])})
    with pytest.raises(ValueError, match="more than once"):
        cells.question_matrix([("base", pd.concat([frame, frame.iloc[:1]]))])


def test_sign_flip_test_rejects_a_planted_difference_and_not_identical_inputs():
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 0.3, (2, 200))
    differences = np.vstack([noise[0] + 0.1, np.zeros(200), noise[1]])
    p = significance.sign_flip_pvalues(differences, 5000, rng)
    assert p[0] < 0.001 and p[1] == 1.0 and p[2] > 0.05


def test_sign_flip_test_holds_its_level_under_the_null():
    rng = np.random.default_rng(6)
    p = significance.sign_flip_pvalues(rng.normal(0, 1, (400, 60)), 2000, rng)
    assert 0.02 <= np.mean(p < 0.05) <= 0.08


def test_holm_matches_hand_computed_values():
    # sorted: 0.005 x4 = 0.02; 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> 0.06 (monotone)
    np.testing.assert_allclose(significance.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(significance.holm([0.5, 0.4]), [0.8, 0.8])
    np.testing.assert_allclose(significance.holm([0.3, 0.9]), [0.6, 0.9])
    # sorted: 0.01 x3 = 0.03; 0.6 x2 = 1.2 -> 1 (clipped); 0.7 x1 = 0.7 -> 1 (monotone)
    np.testing.assert_allclose(significance.holm([0.6, 0.7, 0.01]), [1.0, 1.0, 0.03])
    np.testing.assert_allclose(significance.holm([0.02, 0.01, 0.02]), [0.04, 0.03, 0.04])  # tied p-values, tied results
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\]"):
        significance.holm([0.2, 1.5])


def holm_is_a_family_adjustment(p: np.ndarray, adjusted: np.ndarray) -> None:
    """Checks that hold for Holm over the whole family `p` (not over subsets)."""
    order = np.argsort(p, kind="stable")
    assert (np.diff(adjusted[order]) >= 0).all()  # monotone in the order of the p-values
    assert ((p <= adjusted) & (adjusted <= 1)).all()
    assert adjusted[order[0]] == pytest.approx(min(1.0, len(p) * p[order[0]]))  # the smallest times the family size
    assert adjusted[order[-1]] == pytest.approx(min(1.0, max(p.max(), adjusted[order[-2]])))


def test_holm_is_monotone_and_clipped_on_random_p_values():
    p = np.random.default_rng(10).uniform(0, 1, 50) ** 4
    adjusted = significance.holm(p)
    holm_is_a_family_adjustment(p, adjusted)
    assert (adjusted == 1).any() and (adjusted < 0.05).any()


def test_paired_tests_find_the_planted_differences_only():
    models, languages = synthetic_study(np.random.default_rng(7), shifts={"base": 0.0, "xx-mono": 0.0, "hybrid-a0.5": 0.12})
    matrix = cells.question_matrix(models.items())
    tests = paired.paired_tests(
        matrix, cells.runs_table(list(models), languages), "xquad-r", ROLE, "RR", ["xx-mono", "hybrid-a0.5"], resamples=300, permutations=2000
    )
    assert set(tests.lang_group) == {"held-out", "source"}
    strategies = tests[tests.family == "strategies"]
    assert set(zip(strategies.strategy_a, strategies.strategy_b)) == {("hybrid-a0.5", "xx-mono")}
    # k 1, 2 x (mono, cross on held-out; mono on the source: no cross-lingual set lies within one language)
    assert len(strategies) == 2 * 3
    # over questions every planted difference stands out; over runs too where each side has one run (k = 2: the t over
    # questions), while two runs a side (k = 1) leave the t on 1 df, too wide to pass Holm over 22 tests
    assert (strategies.p_value < 0.005).all() and (strategies.ci_low > 0.02).all()
    assert (strategies[strategies.k_a == 2].p_holm < 0.05).all()
    assert ((strategies.ci_low < strategies.difference) & (strategies.difference < strategies.ci_high)).all()
    assert ((strategies.ci_low_runs < strategies.difference) & (strategies.difference < strategies.ci_high_runs)).all()
    np.testing.assert_allclose(strategies.difference, strategies.mean_a - strategies.mean_b)
    vs_base = tests[tests.family == "vs-base"].set_index(["strategy_a", "k_a", "setting", "lang_group"]).sort_index()
    assert (vs_base.loc["hybrid-a0.5", 2].p_holm < 0.05).all() and (vs_base.loc["xx-mono"].p_holm > 0.05).all()
    assert set(tests[tests.family == "vs-base"].strategy_b) == {"base"}
    trend = tests[tests.family == "k-trend"]
    # no k trend is planted: none passes Holm at 1% (in this draw the primary hybrid one in mono reaches 0.045, as a
    # family-wise 5% allows now and then)
    assert set(zip(trend.k_a, trend.k_b)) == {(2, 1)} and (trend.p_holm > 0.01).all()
    rest = tests[~tests.primary]
    holm_is_a_family_adjustment(rest.p_runs.to_numpy(), rest.p_holm.to_numpy())  # every test but the primary ones


def test_k_trend_compares_the_same_held_out_query_sets_at_both_k():
    # el is held out: el-el, el-en and en-el are its query sets whatever the k=1 draws trained (en+zh, en+de)
    models, languages = synthetic_study(np.random.default_rng(8))
    matrix = cells.question_matrix(models.items())
    tests = paired.paired_tests(
        matrix, cells.runs_table(list(models), languages), "xquad-r", ROLE, "RR", ["xx-mono", "hybrid-a0.5"], resamples=100, permutations=500
    )
    trend = tests[tests.family == "k-trend"].set_index(["strategy_a", "setting", "lang_group"])
    assert trend.loc[("xx-mono", "mono", "held-out"), "n_query_sets"] == 1
    assert trend.loc[("xx-mono", "cross", "held-out"), "n_query_sets"] == 2
    assert trend.loc[("xx-mono", "mono", "source"), "n_query_sets"] == 1
    assert set(trend.n_runs_a) == {1} and set(trend.n_runs_b) == {2}


def test_level_outside_zero_one_is_an_error():
    models, languages = synthetic_study(np.random.default_rng(9))
    with pytest.raises(ValueError, match="confidence level"):
        cell_intervals.intervals(cells.question_matrix(models.items()), cells.runs_table(list(models), languages), "x", ROLE, level=95)


@pytest.mark.parametrize("df", [1.3, 2.0, 4.5, 12.0, 299.0, np.inf])
@pytest.mark.parametrize("family_size", [1, 5])
def test_detectable_effect_has_80_percent_power(df, family_size):
    # the noncentral t's power at the detectable effect over the standard error is 0.8 at alpha = 0.05 / family size
    standard_error = 0.004
    effect = significance.detectable_effect(standard_error, df, 0.95, family_size)
    critical = stats.t.ppf(1 - 0.05 / family_size / 2, df)
    shift = effect / standard_error
    assert stats.nct.sf(critical, df, shift) + np.nan_to_num(stats.nct.cdf(-critical, df, shift)) == pytest.approx(0.8, abs=1e-6)
    if np.isinf(df):  # z_{1 - alpha/2} + z_0.8 standard errors (the lower tail adds a trace)
        assert effect / standard_error == pytest.approx(stats.norm.ppf(1 - 0.025 / family_size) + stats.norm.ppf(0.8), abs=1e-3)
    np.testing.assert_allclose(significance.detectable_effect([standard_error, 2 * standard_error], df, 0.95, family_size), [effect, 2 * effect])


def test_detectable_effect_falls_with_df_and_rises_with_the_family():
    effects = significance.detectable_effect(1.0, [2, 5, 30, np.inf], 0.95, 1)
    assert (np.diff(effects) < 0).all() and effects[-1] == pytest.approx(2.8016, abs=1e-3)
    assert significance.detectable_effect(1.0, 30, 0.95, 10) > significance.detectable_effect(1.0, 30, 0.95, 2)


def two_arms(rng, runs_a: int, runs_b: int, spread_a: float, spread_b: float, *, studies: int, questions: int = 300, noise=0.05, effect=0.01):
    """Per-question contributions of `studies` simulated k contrasts (studies, runs_a + runs_b, questions; b's with
    sign -1): each question's value is its difficulty (shared by both arms), plus half a question-by-arm interaction
    (+ on a, - on b; normal, so that its mean over the questions has SE 0.002), plus the run's effect (normal; its
    spread such that the sd of a run's mean is `spread_a` or `spread_b` with the noise), plus run-by-question noise
    (normal, sd `noise`), plus `effect` on a. Returns the contributions and the true difference, `effect`."""
    run_sd = [np.sqrt(spread**2 - noise**2 / questions) for spread in (spread_a, spread_b)]
    difficulty = rng.uniform(0.2, 0.8, (studies, 1, questions))
    interaction = rng.normal(0, 0.002 * np.sqrt(questions), (studies, 1, questions))
    arms = []
    for sign, runs, sd in ((1, runs_a, run_sd[0]), (-1, runs_b, run_sd[1])):
        shift = effect * (sign > 0) + sign * interaction / 2 + rng.normal(0, sd, (studies, runs, 1))
        arms.append(sign * (difficulty + shift + rng.normal(0, noise, (studies, runs, questions))) / questions)
    return np.concatenate(arms, axis=1), effect


def study_t(contributions: np.ndarray, runs_a: int) -> welch.RunQuestionT:
    """`welch.run_question_t` of every simulated study at once: one number per study, a group per arm."""
    studies, runs, questions = contributions.shape
    group = (2 * np.arange(studies)[:, None] + (np.arange(runs) >= runs_a)[None, :]).ravel()
    return welch.run_question_t(contributions.reshape(-1, questions), group, np.repeat(np.arange(studies), 2), np.ones((studies, questions), bool))


def percentile_bootstrap_covers(contributions: np.ndarray, runs_a: int, truth: float, resamples: int, rng) -> np.ndarray:
    """The old run-level interval: a two-level percentile bootstrap that resamples the questions (one counts vector
    for both arms; one set of them per 50 studies) and, independently, each arm's runs; whether each study's 95%
    interval covers `truth`."""
    covered = []
    for chunk in np.array_split(contributions, max(1, len(contributions) // 50)):
        counts = resampling.question_counts(chunk.shape[2], resamples, rng)  # (samples, questions)
        run_values = (chunk.reshape(-1, chunk.shape[2]) @ counts.T).reshape(*chunk.shape[:2], -1)  # (studies, runs, samples)
        sample = 0.0
        for runs in (slice(0, runs_a), slice(runs_a, None)):
            n = run_values[:, runs].shape[1]
            draws = rng.multinomial(n, np.full(n, 1 / n), size=(len(chunk), resamples)) / n  # (studies, samples, runs)
            sample = sample + np.einsum("srn,srn->sr", run_values[:, runs].transpose(0, 2, 1), draws)
        low, high = resampling.percentile_interval(sample.T, 0.95)
        covered.append((low <= truth) & (truth <= high))
    return np.concatenate(covered)


# (runs a, runs b, sd of a run mean in a, in b, run-by-question noise): a k trend of 3 seeds against 6 language draws
# (the default's design before 0.9.0; since then 6 against 6, checked with article effects in ARTICLE_CASES) and twice
# as many runs; with little noise (the runs' own effects make most of their spread), and once with so much that it
# makes most of it (0.07 / sqrt(300) = 0.004)
COVERAGE_CASES = [
    (3, 6, 0.0047, 0.0056, 0.02),
    (3, 6, 0.008, 0.004, 0.02),
    (6, 12, 0.0047, 0.0056, 0.02),
    (6, 12, 0.008, 0.004, 0.02),
    (3, 6, 0.0047, 0.0056, 0.07),
]


def test_t_over_runs_and_questions_covers_at_the_nominal_rate_with_the_studys_runs():
    rng = np.random.default_rng(20)
    lines = ["runs a vs b | sd of run means a, b | noise | percentile bootstrap | t, plain Welch-Satterthwaite df | t, bounded df (the method)"]
    for runs_a, runs_b, spread_a, spread_b, noise in COVERAGE_CASES:
        covered, plain, question_variance = [], [], []
        for _ in range(5):  # 5 x 1000 studies
            contributions, truth = two_arms(rng, runs_a, runs_b, spread_a, spread_b, studies=1000, noise=noise)
            t = study_t(contributions, runs_a)
            low, high = t.interval(0.95)
            covered.append((low <= truth) & (truth <= high))
            terms = np.column_stack([t.run_variance[0::2] / runs_a, t.run_variance[1::2] / runs_b, t.question_variance])
            half = stats.t.ppf(0.975, welch.satterthwaite_df(terms, [runs_a - 1, runs_b - 1, 299])) * t.standard_error
            plain.append(np.abs(t.estimate - truth) <= half)
            question_variance.append(t.question_variance)
        old = percentile_bootstrap_covers(two_arms(rng, runs_a, runs_b, spread_a, spread_b, studies=400, noise=noise)[0], runs_a, 0.01, 400, rng)
        coverage, plain_coverage = np.concatenate(covered).mean(), np.concatenate(plain).mean()
        lines.append(
            f"{runs_a} vs {runs_b} | {spread_a:.4f}, {spread_b:.4f} | {noise:.2f} | {old.mean():.3f} | {plain_coverage:.3f} | {coverage:.3f}"
        )
        assert 0.935 <= coverage <= 0.965, lines[-1]
        assert np.concatenate(question_variance).mean() == pytest.approx(0.002**2, rel=0.1)  # V_q: the interaction's share, no noise
        if (runs_a, spread_a, noise) == (3, 0.008, 0.02):
            assert old.mean() < 0.92, lines[-1]  # the bootstrap over 3 and 6 runs is too narrow where runs vary most
    print("\n95% coverage of a k contrast (300 questions, question-by-arm interaction SE 0.002; 5000 studies a case, 400 for the bootstrap):")
    print("\n".join(lines))


def test_t_interval_is_welchs_t_test_without_a_question_component():
    # every run's contributions are equal over the questions: no question variance, no run-by-question residual
    rng = np.random.default_rng(11)
    a, b = rng.normal(0.50, 0.01, 4), rng.normal(0.48, 0.02, 4)
    questions = 40
    contributions = np.vstack([np.repeat(a[:, None], questions, 1), -np.repeat(b[:, None], questions, 1)]) / questions
    t = welch.run_question_t(contributions, np.repeat([0, 1], 4), np.array([0, 0]), np.ones((1, questions), bool))
    oracle = stats.ttest_ind(a, b, equal_var=False)
    assert t.question_variance[0] == pytest.approx(0, abs=1e-20)
    assert t.estimate[0] == pytest.approx(a.mean() - b.mean())
    assert t.standard_error[0] == pytest.approx((a.mean() - b.mean()) / oracle.statistic)
    assert t.df[0] == pytest.approx(oracle.df)  # equal runs a side: the df's bound scales both terms alike
    assert t.p_values()[0] == pytest.approx(oracle.pvalue)
    np.testing.assert_allclose(np.ravel(t.interval(0.95)), oracle.confidence_interval(0.95))
    # 3 vs 6 runs: Welch's standard error; Satterthwaite's df is Welch's, and the interval's takes each term at its bound
    a, b = a[:3], rng.normal(0.48, 0.02, 6)
    contributions = np.vstack([np.repeat(a[:, None], questions, 1), -np.repeat(b[:, None], questions, 1)]) / questions
    t = welch.run_question_t(contributions, np.repeat([0, 1], [3, 6]), np.array([0, 0]), np.ones((1, questions), bool))
    oracle = stats.ttest_ind(a, b, equal_var=False)
    assert t.standard_error[0] == pytest.approx((a.mean() - b.mean()) / oracle.statistic)
    terms = [[a.var(ddof=1) / 3, b.var(ddof=1) / 6]]
    assert welch.satterthwaite_df(terms, [[2, 5]])[0] == pytest.approx(oracle.df)
    bounds = [[2 / stats.chi2.ppf(1 - welch.DF_BOUND, 2), 5 / stats.chi2.ppf(1 - welch.DF_BOUND, 5)]]
    assert t.df[0] == pytest.approx(welch.satterthwaite_df(np.multiply(terms, bounds), [[2, 5]])[0])
    # where the 3 runs' term dominates, the bound lowers the df towards their 2
    dominated = [[terms[0][0], terms[0][1] / 10]]
    assert 2 < welch.t_df(dominated, [[2, 5]])[0] < welch.satterthwaite_df(dominated, [[2, 5]])[0]


def test_fixed_language_sets_pool_the_spread_within_each_set_and_sampled_ones_average_it():
    # no question component: b's 3 sets of 2 runs and a's 4 runs of one set, as Welch's t-test of pooled variances
    rng = np.random.default_rng(13)
    a, b = rng.normal(0.50, 0.01, 4), rng.normal(0.48, 0.02, 6) + np.repeat([0.0, 0.05, -0.03], 2)
    questions = 40
    contributions = np.vstack([np.repeat(a[:, None], questions, 1), -np.repeat(b[:, None], questions, 1)]) / questions
    group, involved = np.repeat([0, 1], [4, 6]), np.ones((1, questions), bool)
    t = welch.run_question_t(contributions, group, np.array([0, 0]), involved, np.array([0] * 4 + [0, 0, 1, 1, 2, 2]))
    pooled = ((b.reshape(3, 2) - b.reshape(3, 2).mean(axis=1, keepdims=True)) ** 2).sum() / 3
    terms = [[a.var(ddof=1) / 4, pooled / 6, 0.0]]
    assert list(t.strata) == [1, 3] and t.run_variance[1] == pytest.approx(pooled)
    assert t.variance[0] == pytest.approx(np.sum(terms)) and t.df[0] == pytest.approx(welch.t_df(terms, [[3, 3, 39]])[0])
    assert t.estimate[0] == pytest.approx(a.mean() - b.mean())
    # sampled: the sets' means are b's members, Welch's t-test of a against them
    means, means_group = welch.stratum_means(contributions, group, np.array([0] * 4 + [0, 0, 1, 1, 2, 2]))
    sampled = welch.run_question_t(means, means_group, np.array([0, 0]), involved)
    oracle = stats.ttest_ind(a, b.reshape(3, 2).mean(axis=1), equal_var=False)
    assert sampled.standard_error[0] == pytest.approx((a.mean() - b.mean()) / oracle.statistic)
    # a set of one run: the group's runs are the unit again
    lone = welch.run_question_t(contributions, group, np.array([0, 0]), involved, np.array([0] * 4 + [0, 0, 1, 1, 2, 3]))
    assert list(lone.strata) == [1, 1] and lone.run_variance[1] == pytest.approx(b.var(ddof=1))


def replicated_arms(rng, sets: int, replicates: int, runs_a: int, set_sd: float, seed_sd: float, *, studies: int, questions: int = 300, noise=0.02):
    """Simulated k contrasts (studies, runs_a + sets x replicates, questions; b's with sign -1) of a (one language set,
    `runs_a` seeds) against b (`sets` language sets of `replicates` seeds each), as `two_arms` but with a set effect
    (normal, sd `set_sd`) shared by the runs of each of b's sets and a seed effect (sd `seed_sd`) for every run. With
    the sets fixed, the truth of each study is 0.01 less the mean of its b's set effects. Returns contributions, truth."""
    difficulty = rng.uniform(0.2, 0.8, (studies, 1, questions))
    interaction = rng.normal(0, 0.002 * np.sqrt(questions), (studies, 1, questions))
    a = difficulty + 0.01 + interaction / 2 + rng.normal(0, seed_sd, (studies, runs_a, 1)) + rng.normal(0, noise, (studies, runs_a, questions))
    set_effect = rng.normal(0, set_sd, (studies, sets, 1))
    b_runs = np.repeat(set_effect, replicates, axis=1) + rng.normal(0, seed_sd, (studies, sets * replicates, 1))
    b = difficulty - interaction / 2 + b_runs + rng.normal(0, noise, (studies, sets * replicates, questions))
    return np.concatenate([a, -b], axis=1) / questions, 0.01 - set_effect[:, :, 0].mean(axis=1)


# (sets of b, runs a set, runs of a, sd of a set's effect, of a seed's): config/replicated.yaml's k = 6 vs k = 1 (6 sets
# of 2 against 6 runs) at the default study's spreads (k = 1's runs 0.009, k = 6's 0.003-0.004 apart), with more
# seed spread, and config/reverse.yaml's counts replicated (4 sets of 2 against 4)
STRATIFIED_CASES = [(6, 2, 6, 0.008, 0.0035), (6, 2, 6, 0.004, 0.006), (4, 2, 4, 0.008, 0.0035)]


def test_fixed_language_sets_cover_at_the_nominal_rate_with_replicated_runs():
    rng = np.random.default_rng(21)
    lines = ["sets x runs vs runs | sd of a set, a seed | runs as the unit | fixed sets (the method)"]
    for sets, replicates, runs_a, set_sd, seed_sd in STRATIFIED_CASES:
        covered, as_unit = [], []
        for _ in range(4):  # 4 x 1000 studies
            contributions, truth = replicated_arms(rng, sets, replicates, runs_a, set_sd, seed_sd, studies=1000)
            studies, runs, questions = contributions.shape
            group = (2 * np.arange(studies)[:, None] + (np.arange(runs) >= runs_a)[None, :]).ravel()
            stratum = np.tile(np.concatenate([np.zeros(runs_a, int), np.repeat(np.arange(sets), replicates)]), studies)
            number, involved = np.repeat(np.arange(studies), 2), np.ones((studies, questions), bool)
            for t, hits in (
                (welch.run_question_t(contributions.reshape(-1, questions), group, number, involved, stratum), covered),
                (welch.run_question_t(contributions.reshape(-1, questions), group, number, involved), as_unit),
            ):
                low, high = t.interval(0.95)
                hits.append((low <= truth) & (truth <= high))
        coverage, unit_coverage = np.concatenate(covered).mean(), np.concatenate(as_unit).mean()
        lines.append(f"{sets} x {replicates} vs {runs_a} | {set_sd:.4f}, {seed_sd:.4f} | {unit_coverage:.3f} | {coverage:.3f}")
        assert 0.935 <= coverage <= 0.965, lines[-1]
        assert unit_coverage > coverage  # the sets' spread counted as if sampled: conservative for these sets
    print("\n95% coverage of a k contrast against replicated language sets, held fixed (300 questions, 4000 studies a case):")
    print("\n".join(lines))


def clustered_arms(rng, runs_a: int, runs_b: int, run_sd: tuple[float, float], sizes, article_se: float, question_se: float, *, studies: int):
    """Simulated contrasts (studies, runs_a + runs_b, questions; b's with sign -1) whose questions come in articles of
    `sizes` questions: each question's value is its difficulty (shared by both arms), plus half the arms' interaction
    (+ on a, - on b) of its article (normal; SE of its mean over the questions `article_se`) and of its own
    (`question_se`), plus the run's effect (sd `run_sd` of each arm), plus run-by-question noise (sd 0.02), plus 0.01 on
    a. An arm with run sd 0 is the base model: one run, no noise. Returns the contributions, the truth 0.01 and each
    question's article."""
    sizes = np.asarray(sizes)
    questions, article_of = sizes.sum(), np.repeat(np.arange(len(sizes)), sizes)
    article_sd, question_sd = article_se * questions / np.sqrt((sizes**2).sum()), question_se * np.sqrt(questions)
    difficulty = rng.uniform(0.2, 0.8, (studies, 1, questions))
    interaction = rng.normal(0, article_sd, (studies, 1, len(sizes)))[:, :, article_of] + rng.normal(0, question_sd, (studies, 1, questions))
    arms = []
    for sign, runs, sd in ((1, runs_a, run_sd[0]), (-1, runs_b, run_sd[1])):
        noise = 0.02 if sd > 0 else 0.0
        shift = 0.01 * (sign > 0) + sign * interaction / 2 + rng.normal(0, sd, (studies, runs, 1))
        arms.append(sign * (difficulty + shift + rng.normal(0, noise, (studies, runs, questions))) / questions)
    return np.concatenate(arms, axis=1), 0.01, article_of


MLQA_ARTICLE_SIZES = np.random.default_rng(5).integers(2, 15, 130)  # 130 MLQA-R articles of 2-14 questions (~1050)
# (what, runs a, runs b, run sd a, b, article sizes, SE of the mean's article part, of its question part): the gains over
# the base model and the k contrasts at the design's counts: the default's 12 XQuAD-R articles (~25 questions each;
# k = 1's gain: question SE 0.0065 as independent questions, 0.0098 by article, measured on the default of 0.12.0),
# config/precise.yaml's 36, config/reverse.yaml's 130 MLQA-R articles (4 runs a k), and the pilot's doubling (2 seeds a
# budget, 12 articles)
ARTICLE_CASES = [
    ("gain over base, 12 articles", 6, 1, 0.009, 0.0, [25] * 12, 0.0073, 0.0065),
    ("k contrast, 12 articles", 6, 6, 0.004, 0.009, [25] * 12, 0.003, 0.002),
    ("gain over base, 36 articles", 6, 1, 0.009, 0.0, [25] * 36, 0.0042, 0.0038),
    ("k contrast, 36 articles", 6, 6, 0.004, 0.009, [25] * 36, 0.0017, 0.0012),
    ("gain over base, 130 MLQA-R articles", 4, 1, 0.009, 0.0, MLQA_ARTICLE_SIZES, 0.0025, 0.002),
    ("k contrast, 130 MLQA-R articles", 4, 4, 0.004, 0.009, MLQA_ARTICLE_SIZES, 0.0012, 0.001),
    ("pilot doubling, 12 articles", 2, 2, 0.004, 0.004, [25] * 12, 0.003, 0.003),
]


def test_t_over_runs_and_articles_covers_at_the_nominal_rate_at_the_designs_counts():
    rng = np.random.default_rng(22)
    lines = ["case | runs a vs b | questions | independent questions | articles (the method)"]
    for name, runs_a, runs_b, sd_a, sd_b, sizes, article_se, question_se in ARTICLE_CASES:
        covered, independent = [], []
        for _ in range(4):  # 4 x 1000 studies
            contributions, truth, article_of = clustered_arms(rng, runs_a, runs_b, (sd_a, sd_b), sizes, article_se, question_se, studies=1000)
            studies, runs, questions = contributions.shape
            group = (2 * np.arange(studies)[:, None] + (np.arange(runs) >= runs_a)[None, :]).ravel()
            number, involved = np.repeat(np.arange(studies), 2), np.ones((studies, questions), bool)
            for clusters, hits in ((article_of, covered), (None, independent)):
                low, high = welch.run_question_t(contributions.reshape(-1, questions), group, number, involved, clusters=clusters).interval(0.95)
                hits.append((low <= truth) & (truth <= high))
        coverage, plain = np.concatenate(covered).mean(), np.concatenate(independent).mean()
        lines.append(f"{name} | {runs_a} vs {runs_b} | {np.sum(sizes)} | {plain:.3f} | {coverage:.3f}")
        # 2 runs a side leave each run component 1 df, which the df's bound (welch.DF_BOUND) weighs most: conservative there
        assert 0.935 <= coverage <= (0.985 if runs_a == runs_b == 2 else 0.965), lines[-1]
        if article_se > question_se:  # where the articles carry most of the question part, counting questions is too narrow
            assert plain < coverage, lines[-1]
    print("\n95% coverage with article effects at the design's counts (4000 studies a case):")
    print("\n".join(lines))


def test_every_question_a_cluster_of_its_own_is_the_independent_question_component():
    rng = np.random.default_rng(23)
    contributions, _, article_of = clustered_arms(rng, 3, 4, (0.004, 0.009), [10] * 8, 0.003, 0.002, studies=20)
    studies, runs, questions = contributions.shape
    group = (2 * np.arange(studies)[:, None] + (np.arange(runs) >= 3)[None, :]).ravel()
    arguments = (contributions.reshape(-1, questions), group, np.repeat(np.arange(studies), 2), np.ones((studies, questions), bool))
    plain, own = welch.run_question_t(*arguments), welch.run_question_t(*arguments, clusters=np.arange(questions))
    for field in ("estimate", "question_variance", "variance", "df", "clusters"):
        np.testing.assert_array_equal(getattr(plain, field), getattr(own, field))  # to the bit
    assert (plain.clusters == questions).all()
    clustered = welch.run_question_t(*arguments, clusters=article_of)
    assert (clustered.clusters == 8).all() and clustered.question_variance.mean() > plain.question_variance.mean()
    # the bootstrap over questions and the sign flips move whole articles
    counts = resampling.question_counts(questions, 50, rng, article_of)
    assert all(len(set(row[article_of == a])) == 1 for row in counts for a in range(8)) and (counts.sum(axis=1) == questions).all()
    differences = np.repeat(rng.normal(0, 1, (2, 8)), 10, axis=1)
    np.testing.assert_allclose(
        significance.sign_flip_pvalues(differences, 2000, np.random.default_rng(1), article_of),
        significance.sign_flip_pvalues(differences[:, ::10] * 10, 2000, np.random.default_rng(1)),
    )


def test_one_run_a_side_falls_back_to_the_t_interval_over_questions():
    # one member a group: no run component; the interval is the one-sample t interval of the per-question differences
    rng = np.random.default_rng(12)
    questions = 80
    difference = rng.normal(0.02, 0.3, questions)
    t = welch.run_question_t(
        np.vstack([difference + 0.5, -np.full(questions, 0.5)]) / questions, np.array([0, 1]), np.array([0, 0]), np.ones((1, 80), bool)
    )
    oracle = stats.ttest_1samp(difference, 0.0)
    assert np.isnan(t.run_variance).all() and t.df[0] == questions - 1
    np.testing.assert_allclose(np.ravel(t.interval(0.95)), oracle.confidence_interval(0.95))
    assert t.p_values()[0] == pytest.approx(oracle.pvalue)
    # in the paired tests: each side with one run (k = 2) has no variance over runs and the df of its questions
    single = planted_tests().query("n_runs_a == 1 and n_runs_b == 1")
    assert len(single) == 9  # k = 2: hybrid vs xx-mono, each vs base; in mono and cross held-out, mono source
    assert single.var_runs_a.isna().all() and single.var_runs_b.isna().all() and (single.df_runs == single.n_questions - 1).all()


# A language-set design: k = 1 trains one pool language per draw (6 runs), k = 6 the whole pool with 3 seeds.
SET_ROLES = {"el": "held-out", "en": "source"}
LANGUAGE_SETS = [(1, d, ["en", f"p{d}"]) for d in range(6)] + [(6, 0, ["en", *(f"p{d}" for d in range(6))])]
SEEDS = {1: [0], 6: [0, 1, 2]}


def language_set_study(
    rng, strategies, k_effect, run_spread, shared=False, sets=(("mono", "el", "el"),), n_questions=60, noise=0.02, seeds=SEEDS, set_spread=0.0
):
    """(QuestionMatrix, runs) of base and `strategies` on LANGUAGE_SETS x `seeds`: a query set's value is the question's
    ability + `k_effect` at k = 6 + the run's effect (normal, spread `run_spread`: which languages it drew, its seed; with
    `shared`, one per (k, draw, seed) for every strategy) + its set's (normal, spread `set_spread`, shared by the set's
    seeds) + noise. The true k contrast is `k_effect`."""
    ability = rng.uniform(0.2, 0.8, n_questions)
    shifts = {"base": 0.0}
    for k, draw, _ in LANGUAGE_SETS:
        set_effect = rng.normal(0, set_spread)
        for seed in seeds[k]:
            effects = np.full(len(strategies), rng.normal(0, run_spread)) if shared else rng.normal(0, run_spread, len(strategies))
            shifts |= {f"{s}/k{k}/draw{draw}/seed{seed}": k_effect * (k == 6) + set_effect + e for s, e in zip(strategies, effects)}
    units = pd.DataFrame([(tag, *query_set, "RR") for tag in shifts for query_set in sets], columns=["model", *cells.UNIT_KEYS])
    values = ability + np.repeat(list(shifts.values()), len(sets))[:, None] + rng.normal(0, noise, (len(units), n_questions))
    matrix = cells.QuestionMatrix(units, values, np.ones_like(values, dtype=bool), np.array([f"q{i}" for i in range(n_questions)], dtype=object))
    return matrix, cells.runs_table(list(shifts), languages_table(LANGUAGE_SETS))


def language_set_tests(matrix, runs, strategies, **options):
    return paired.paired_tests(matrix, runs, "x", SET_ROLES, "RR", strategies, resamples=1000, permutations=200, **options)


def test_run_level_interval_covers_a_k_contrast_that_the_drawn_languages_blur():
    # the runs' language effects (spread 0.05) do not cancel in this instance: the question-only interval, narrow
    # (question noise 0.02), misses the true contrast 0.03; the interval over runs and questions covers it
    matrix, runs = language_set_study(np.random.default_rng(1), ["hybrid-a0.5"], 0.03, 0.05, sets=(("mono", "el", "el"), ("cross", "el", "en")))
    trend = language_set_tests(matrix, runs, ["hybrid-a0.5"]).query("family == 'k-trend'")
    assert len(trend) == 2 and not trend.runs_paired.any() and set(zip(trend.n_runs_a, trend.n_runs_b)) == {(3, 6)}
    assert ((trend.ci_low_runs <= 0.03) & (0.03 <= trend.ci_high_runs)).all()
    assert ((trend.ci_high < 0.03) | (0.03 < trend.ci_low)).all()
    assert (trend.ci_high_runs - trend.ci_low_runs > 5 * (trend.ci_high - trend.ci_low)).all()


def test_run_level_interval_covers_the_k_contrast_at_about_the_nominal_rate():
    # 100 replicates of the study in one: hybrids of different alpha, each with its own runs (the k trend of one uses only its own)
    replicates = [f"hybrid-a{i / 100:g}" for i in range(1, 101)]
    matrix, runs = language_set_study(np.random.default_rng(2), replicates, 0.03, 0.05, n_questions=40)
    trend = language_set_tests(matrix, runs, replicates).query("family == 'k-trend'")
    assert len(trend) == 100 and set(zip(trend.n_runs_a, trend.n_runs_b)) == {(3, 6)}
    runs_cover = ((trend.ci_low_runs <= 0.03) & (0.03 <= trend.ci_high_runs)).mean()
    questions_cover = ((trend.ci_low <= 0.03) & (0.03 <= trend.ci_high)).mean()
    assert runs_cover >= 0.9 and questions_cover <= 0.3


def test_replicated_language_sets_are_fixed_strata_of_the_paired_tests():
    # k = 1 trains each of its 6 sets twice: its variance over runs is the spread within the sets, on 12 - 6 df
    matrix, runs = language_set_study(np.random.default_rng(8), ["hybrid-a0.5"], 0.03, 0.01, seeds={1: [0, 1], 6: [0, 1, 2]})
    tests = language_set_tests(matrix, runs, ["hybrid-a0.5"]).set_index("family")
    trend = tests.loc["k-trend"]
    assert (trend.n_runs_a, trend.n_runs_b, trend.strata_a, trend.strata_b) == (3, 12, 1, 6)
    value = pd.Series(matrix.values.mean(axis=1), index=matrix.units.model)
    k1 = runs[(runs.k == 1) & (runs.strategy == "hybrid-a0.5")].assign(value=lambda r: value.loc[r.model].to_numpy())
    within = k1.value - k1.groupby("draw").value.transform("mean")
    assert trend.var_runs_b == pytest.approx((within**2).sum() / 6)
    assert trend.var_runs_a == pytest.approx(value.loc[runs[(runs.k == 6) & (runs.strategy == "hybrid-a0.5")].model].var())
    vs_base = tests.loc["vs-base"].set_index("k_a")  # k = 1's pairs with the base run of their set: 6 sets of 2 pairs
    assert vs_base.loc[1, "strata_a"] == 6 and np.isnan(vs_base.loc[1, "strata_b"]) and vs_base.loc[6, "strata_a"] == 1
    assert run_counts(trend.to_frame().T) == ["3 vs 12 (6 sets)"]
    sampled = language_set_tests(matrix, runs, ["hybrid-a0.5"], language_sets="sampled").set_index("family").loc["k-trend"]
    assert sampled.strata_b == 1 and sampled.var_runs_b == pytest.approx(k1.groupby("draw").value.mean().var())


def test_cell_intervals_hold_replicated_language_sets_fixed_or_sampled():
    # k = 1's 6 sets differ by much more (0.05) than their two seeds (0.002): fixed, its cells' intervals hold the
    # seeds' spread; sampled, the sets'. k = 6 is one set, the same either way.
    matrix, runs = language_set_study(np.random.default_rng(9), ["hybrid-a0.5"], 0.0, 0.002, seeds={1: [0, 1], 6: [0, 1, 2]}, set_spread=0.05)
    fixed, sampled = (
        cell_intervals.intervals(matrix, runs, "x", SET_ROLES, language_sets=mode)
        .query("quantity == 'gain' and lang_group == 'held-out' and strategy == 'hybrid-a0.5'")
        .set_index("k")
        for mode in ("fixed", "sampled")
    )
    width = {name: table.ci_high - table.ci_low for name, table in (("fixed", fixed), ("sampled", sampled))}
    assert width["sampled"][1] > 5 * width["fixed"][1]
    assert width["sampled"][6] == pytest.approx(width["fixed"][6]) and fixed.n_runs[1] == 12


def test_runs_both_sides_hold_are_paired():
    # each (k, draw, seed) shifts hybrid and xx-mono alike: the shift cancels run by run in hybrid vs xx-mono at one k
    # (its run-level interval stays near the question-only one, widened by the t's few df over 3 or 6 pairs),
    # not across k nor against the base model
    strategies = ["xx-mono", "hybrid-a0.5"]
    matrix, runs = language_set_study(np.random.default_rng(3), strategies, 0.03, 0.05, shared=True)
    tests = language_set_tests(matrix, runs, strategies).set_index(["family", "strategy_a", "k_a"])
    width_runs, width_questions = tests.ci_high_runs - tests.ci_low_runs, tests.ci_high - tests.ci_low
    assert tests.loc["strategies"].runs_paired.all() and tests.loc["vs-base"].runs_paired.all() and not tests.loc["k-trend"].runs_paired.any()
    assert (width_runs["strategies"] < 3 * width_questions["strategies"]).all()
    assert tests.loc["strategies"].var_runs_b.isna().all() and (tests.loc["k-trend"].var_runs_b > 0).all()
    assert (width_runs["k-trend"] > 5 * width_questions["k-trend"]).all() and (width_runs["vs-base"] > 5 * width_questions["vs-base"]).all()
    assert set(zip(tests.loc["vs-base"].n_runs_a, tests.loc["vs-base"].n_runs_b)) == {(6, 6), (3, 1)}  # k = 6: each seed with base's run


def planted_tests(**options) -> pd.DataFrame:
    models, languages = synthetic_study(np.random.default_rng(7), shifts={"base": 0.0, "xx-mono": 0.0, "hybrid-a0.5": 0.12})
    matrix = cells.question_matrix(models.items())
    return paired.paired_tests(
        matrix,
        cells.runs_table(list(models), languages),
        "xquad-r",
        ROLE,
        "RR",
        ["xx-mono", "hybrid-a0.5"],
        resamples=300,
        permutations=2000,
        **options,
    )


def test_each_holm_family_is_adjusted_on_its_t_p_values():
    tests = planted_tests()
    primary = tests[tests.primary]
    assert set(zip(primary.family, primary.strategy_a, primary.setting, primary.lang_group)) == {
        ("k-trend", "hybrid-a0.5", setting, "held-out") for setting in ("cross", "mono")
    }
    rest = tests[~tests.primary]
    np.testing.assert_allclose(primary.p_holm, significance.holm(primary.p_runs))
    np.testing.assert_allclose(rest.p_holm, significance.holm(rest.p_runs))
    for family in (primary, rest):
        # the standard error from the variance columns is the interval's half-width over its t quantile
        standard_error = (family.ci_high_runs - family.ci_low_runs) / 2 / stats.t.ppf(0.975, family.df_runs)
        np.testing.assert_allclose(np.sqrt(paired.run_level_variance(family)), standard_error, rtol=1e-9)
        np.testing.assert_allclose(family.detectable, significance.detectable_effect(standard_error, family.df_runs, 0.95, len(family)), rtol=1e-6)
    named = planted_tests(primary=[{"family": "vs-base", "strategy": "hybrid-a0.5", "setting": "mono", "lang_group": "source"}])
    assert set(zip(named[named.primary].k_a, named[named.primary].setting)) == {(1, "mono"), (2, "mono")}
    # over benchmarks (study_paired_tests), each family is Holm-adjusted over all of them
    both = paired.with_families(pd.concat([tests, tests.assign(benchmark="mlqa-r")], ignore_index=True), None, 0.95)
    np.testing.assert_allclose(both[both.primary].p_holm, significance.holm(both[both.primary].p_runs))
    assert both.primary.sum() == 4


def test_a_primary_entry_naming_no_test_is_an_error():
    with pytest.raises(ValueError, match=r"'stats.primary': .*'x-y'.* names none of the 24 paired tests"):
        planted_tests(primary=[{"family": "k-trend", "strategy": "x-y", "setting": "cross", "lang_group": "held-out"}])


def test_paired_test_table_shows_primary_tests_first_and_p_values_at_their_floor_as_bounds():
    tests = planted_tests()
    table = paired_test_table(tests, 0.95, permutations=2000)
    assert list(table.columns) == [
        "Holm family",
        "setting",
        "languages",
        "runs",
        "query sets",
        "difference [95% CI, questions]",
        "95% CI, t over runs and questions, Welch-Satterthwaite df",
        "df",
        "d_z",
        "p (sign flips)",
        "p (t, runs and questions)",
        "p (Holm)",
        "detectable (80% power)",
    ]
    assert table["Holm family"].tolist() == ["primary"] * 2 + ["other"] * 22
    assert table.index[0] == "hybrid-a0.5, k=2 vs k=1"
    hybrid = table.loc["hybrid-a0.5 vs xx-mono, k=2"].iloc[0]  # mono held-out: every sign flip below, one run a side
    assert hybrid["p (sign flips)"] == "≤ 0.0005"  # 1 / 2001, rounded up
    assert hybrid["p (t, runs and questions)"] == "< 0.0001" and hybrid["p (Holm)"] == "< 0.0001" and hybrid["df"] == "79.0"


def test_a_single_cells_interval_is_scipys_t_interval():
    """One query set, one run: the interval is the t interval of the mean over questions (scipy's oracle)."""
    values = np.random.default_rng(3).beta(0.6, 0.4, size=(1, 250))  # RR-like: piled up near 0 and 1
    ours = cell_intervals.cell_intervals(*single_cell(values), level=0.95)
    oracle = stats.ttest_1samp(values[0], 0.0).confidence_interval(0.95)
    assert ours.estimate[0] == pytest.approx(values.mean()) and ours.df[0] == 249
    assert (ours.ci_low[0], ours.ci_high[0]) == pytest.approx((oracle.low, oracle.high))


def power_rows(**columns) -> pd.DataFrame:
    """paired_tests rows for the power table: a primary k trend of 3 vs 6 runs, a paired primary test of 3 pairs,
    a k trend of 1 vs 6 runs (no variance over a's runs) and one whose question component alone exceeds the target."""
    rows = pd.DataFrame(
        {
            "benchmark": "xquad-r",
            "metric": "RR",
            "family": ["k-trend", "strategies", "k-trend", "k-trend"],
            "setting": ["cross", "cross", "mono", "mono"],
            "lang_group": "held-out",
            "strategy_a": ["hybrid-a0.5", "hybrid-a0.5", "xx-mono", "x-y"],
            "k_a": [6, 6, 6, 6],
            "strategy_b": ["hybrid-a0.5", "xx-mono", "xx-mono", "x-y"],
            "k_b": [1, 6, 1, 1],
            "primary": [True, True, False, False],
            "runs_paired": [False, True, False, False],
            "n_runs_a": [3, 3, 1, 3],
            "n_runs_b": [6, 3, 6, 6],
            "strata_a": 1,
            "strata_b": [1, np.nan, 1, 1],
            "n_questions": 300,
            "n_clusters": 300,
            "var_runs_a": [0.0047**2, 0.003**2, np.nan, 0.0047**2],
            "var_runs_b": [0.0056**2, np.nan, 0.0056**2, 0.0056**2],
            "var_questions": [0.002**2, 0.001**2, 0.002**2, 0.006**2],
            "df_runs": 5.0,
            "detectable": 0.02,
        }
    )
    return rows.assign(**columns)


def test_power_table_projects_the_detectable_effect_and_the_runs_for_the_target():
    rows = power_rows()
    table = power.power_table(rows, 0.95, 0.010)
    assert list(table.family_size) == [2, 2, 2, 2]
    projected = table[[f"detectable_n{n}" for n in power.RUNS]].to_numpy()
    assert (np.diff(projected[[0, 1, 3]], axis=1) < 0).all()  # more runs, smaller effects
    assert np.isnan(projected[2]).all() and pd.isna(table.runs_for_target[2])  # one run of a: no variance to project
    # the last: 2.8 sd of the question component alone, 0.017 > 0.010, however many runs
    assert projected[3, -1] > 0.015 and pd.isna(table.runs_for_target[3])
    for i in (0, 1):
        n = int(table.runs_for_target[i])
        assert power.projected_detectable(table.iloc[[i]], n, 0.95)[0] <= 0.010 < power.projected_detectable(table.iloc[[i]], n - 1, 0.95)[0]
    # with the study's own runs (3 pairs), the projection is the test's own variance and df
    paired_row = rows.iloc[[1]].assign(family_size=2)
    terms, dfs = [[0.003**2 / 3, 0.001**2]], [[2, 299]]
    expected = significance.detectable_effect(np.sqrt(np.sum(terms)), welch.t_df(terms, dfs), 0.95, 2)
    assert power.projected_detectable(paired_row, 3, 0.95)[0] == pytest.approx(expected)
    readable = power_test_table(table)
    assert list(readable.columns)[:5] == ["Holm family", "setting", "languages", "runs", "detectable"]
    assert readable.loc["hybrid-a0.5, k=6 vs k=1", "runs for 0.010"] == str(table.runs_for_target[0])
    assert readable.loc["hybrid-a0.5 vs xx-mono, k=6", "runs"] == "3 pairs"
    assert readable.loc["xx-mono, k=6 vs k=1", "runs for 0.010"] == "?" and readable.loc["x-y, k=6 vs k=1", "runs for 0.010"] == "> 1000"


def test_power_table_keeps_a_sides_language_sets_and_counts_the_articles():
    # k = 1 of 12 runs in 6 fixed sets: n runs a side give it max(n, 12) runs (two a set) on that many minus 6 df,
    # while the other side takes n; the question component is on its articles' df
    rows = power_rows().iloc[[0]].assign(n_runs_b=12, strata_b=6, var_runs_b=0.0035**2, n_clusters=12)
    table = power.power_table(rows, 0.95, 0.010)
    for n, (runs_a, runs_b) in {3: (3, 12), 6: (6, 12), 24: (24, 24)}.items():
        terms = [[0.0047**2 / runs_a, 0.0035**2 / runs_b, 0.002**2]]
        expected = significance.detectable_effect(np.sqrt(np.sum(terms)), welch.t_df(terms, [[runs_a - 1, runs_b - 6, 11]]), 0.95, 1)
        assert table.loc[0, f"detectable_n{n}"] == pytest.approx(expected[0])
    n = int(table.runs_for_target[0])
    assert table.loc[0, "detectable_n2"] > 0.010 or n == 2
    readable = power_test_table(table)
    assert readable.iloc[0]["runs"] == "3 vs 12 (6 sets)" and readable.iloc[0]["n=6"] == f"{table.loc[0, 'detectable_n6']:.3f}"


@pytest.mark.parametrize("shift", [0.0, 0.15, 0.4])
def test_sign_flip_pvalue_is_scipys_permutation_test(shift):
    """One test of 12 paired differences: the sign-flip p-value against scipy's exact test over all 4096 sign patterns."""
    differences = np.random.default_rng(4).normal(shift, 0.5, size=12)
    ours = significance.sign_flip_pvalues(differences[None, :], 100000, np.random.default_rng(0))[0]
    exact = stats.permutation_test((differences,), np.sum, permutation_type="samples", n_resamples=np.inf).pvalue
    assert ours == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / 100000) + 2e-5)


def test_the_source_share_arm_compares_k_at_one_english_share_and_english_at_one_k():
    """With a -half twin at k = 6 only (at k = 1 the uniform runs are its own), its k trend runs against the uniform
    k = 1, and source-share is uniform minus half at k = 6; "hybrid" in stats.primary names the uniform slug only."""
    found = paired.comparisons({"hybrid-a0.5": [1, 6], "hybrid-a0.5-half": [6]}, ["cross", "mono"])
    held_out = {(c.family, c.setting, c.strategy_a, c.k_a, c.strategy_b, c.k_b) for c in found if c.lang_group == "held-out"}
    for setting in ("cross", "mono"):
        assert {
            ("k-trend", setting, "hybrid-a0.5", 6, "hybrid-a0.5", 1),
            ("k-trend", setting, "hybrid-a0.5-half", 6, "hybrid-a0.5", 1),
            ("source-share", setting, "hybrid-a0.5", 6, "hybrid-a0.5-half", 6),
            ("vs-base", setting, "hybrid-a0.5-half", 6, "base", 6),
        } <= held_out
    assert not any(family == "strategies" for family, *_ in held_out)
    tests = pd.DataFrame(
        [c.__dict__ for c in found if c.lang_group == "held-out" and c.setting == "cross"],
    )
    marked = paired.primary_mask(tests, [{"family": "k-trend", "strategy": "hybrid", "setting": "cross", "lang_group": "held-out"}])
    assert set(tests[marked].strategy_a) == {"hybrid-a0.5"}
    named = paired.primary_mask(tests, [{"family": "source-share", "strategy": "hybrid-a0.5", "setting": "cross", "lang_group": "held-out"}])
    assert list(tests[named].family) == ["source-share"]
