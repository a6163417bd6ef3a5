"""Bootstrap intervals, paired tests and Holm's correction on synthetic data with known truth."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from xlretrieval.metrics import summarise
from xlretrieval.stats import bootstrap, cells, paired, resampling, significance
from xlretrieval.tables import collect, languages_table, macro, paired_test_table, with_base_reference

from synthetic import ROLES, per_query_frame, synthetic_study

ROLE = ROLES["xquad-r"]


def single_cell(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, sparse.csc_matrix, np.ndarray]:
    """Bootstrap inputs for one cell, one run, macro over every row of `values`."""
    weights = sparse.csc_matrix(np.full((len(values), 1), 1.0 / len(values)))
    return values, np.ones_like(values, dtype=bool), weights, np.zeros(1, dtype=int)


def test_bootstrap_interval_covers_the_true_macro_mean_at_about_the_nominal_rate():
    # three languages of the same 120 questions: value = difficulty (shared, uniform on [0, 1]) +
    # a language offset + noise, so the true macro mean is 0.5 + mean(offsets) = 0.5
    rng = np.random.default_rng(1)
    offsets = np.array([-0.1, 0.0, 0.1])[:, None]
    covered = []
    for _ in range(300):
        values = rng.uniform(0, 1, 120)[None, :] + offsets + rng.normal(0, 0.3, (3, 120))
        result = bootstrap.cell_bootstrap(*single_cell(values), level=0.9, resamples=400, rng=rng)
        covered.append(result.ci_low.item() <= 0.5 <= result.ci_high.item())
    assert 0.85 <= np.mean(covered) <= 0.95


def test_translations_of_a_question_move_together():
    # every language holds the same values: the macro mean's interval is that of one language, which
    # resampling languages independently would shrink by about sqrt(3)
    values = np.random.default_rng(0).uniform(0, 1, (1, 200))
    one = bootstrap.cell_bootstrap(*single_cell(values), level=0.95, resamples=500, rng=np.random.default_rng(5))
    three = bootstrap.cell_bootstrap(*single_cell(np.repeat(values, 3, axis=0)), level=0.95, resamples=500, rng=np.random.default_rng(5))
    np.testing.assert_allclose(three[["estimate", "ci_low", "ci_high"]], one[["estimate", "ci_low", "ci_high"]])


def test_run_resampling_widens_the_interval_by_the_spread_of_runs():
    # two runs 0.3 apart: with runs resampled the interval spans both; each run alone is narrow
    rng = np.random.default_rng(2)
    base = rng.uniform(0.2, 0.4, (1, 300))
    values = np.vstack([base, base + 0.3])
    weights = sparse.csc_matrix(np.eye(2))
    both = bootstrap.cell_bootstrap(values, np.ones_like(values, bool), weights, np.array([0, 0]), level=0.95, resamples=1000, rng=rng)
    alone = bootstrap.cell_bootstrap(values, np.ones_like(values, bool), weights, np.array([0, 1]), level=0.95, resamples=1000, rng=rng)
    assert both.estimate.item() == pytest.approx(base.mean() + 0.15)
    assert both.ci_low.item() < base.mean() + 0.01 and both.ci_high.item() > base.mean() + 0.29
    assert (alone.ci_high - alone.ci_low < 0.03).all()


def test_missing_questions_are_left_out_of_their_query_set():
    values = np.array([[1.0, 0.0, 0.5]])
    present = np.array([[True, False, True]])
    means = resampling.set_means(values, present, np.array([[1.0, 1.0, 1.0], [0.0, 3.0, 0.0], [2.0, 0.0, 1.0]]))
    np.testing.assert_allclose(means[:, 0], [0.75, np.nan, 2.5 / 3])


def test_interval_estimates_equal_the_tables_macro_average():
    models, languages = synthetic_study(np.random.default_rng(3))
    matrix = cells.question_matrix(models.items())
    result = bootstrap.intervals(matrix, cells.runs_table(list(models), languages), "xquad-r", ROLE, resamples=200)
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
    result = bootstrap.intervals(cells.question_matrix(models.items()), cells.runs_table(list(models), languages), "xquad-r", ROLE, resamples=300)
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
    assert (strategies.p_holm < 0.05).all() and (strategies.ci_low > 0.02).all()
    assert ((strategies.ci_low < strategies.difference) & (strategies.difference < strategies.ci_high)).all()
    np.testing.assert_allclose(strategies.difference, strategies.mean_a - strategies.mean_b)
    vs_base = tests[tests.family == "vs-base"].set_index(["strategy_a", "k_a", "setting", "lang_group"])
    assert (vs_base.loc["hybrid-a0.5"].p_holm < 0.05).all() and (vs_base.loc["xx-mono"].p_holm > 0.05).all()
    assert set(tests[tests.family == "vs-base"].strategy_b) == {"base"}
    trend = tests[tests.family == "k-trend"]
    assert set(zip(trend.k_a, trend.k_b)) == {(2, 1)} and (trend.p_holm > 0.05).all()
    rest = tests[~tests.primary]
    holm_is_a_family_adjustment(rest.p_value.to_numpy(), rest.p_holm.to_numpy())  # every test but the primary ones


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
        bootstrap.intervals(cells.question_matrix(models.items()), cells.runs_table(list(models), languages), "x", ROLE, level=95)


def test_bootstrap_p_value_is_twice_the_smaller_tail_and_floored():
    samples = np.column_stack([np.linspace(-1, 1, 101), np.full(101, 0.3), np.r_[np.full(10, -1.0), np.full(90, 1.0), np.nan]])
    np.testing.assert_allclose(significance.bootstrap_pvalues(samples, 100), [1.0, 1 / 101, 0.2])


def test_detectable_effect_is_2_8_standard_errors_for_one_test():
    # z_0.975 + z_0.8 = 2.80; with the half-width 1.96 standard errors: 1.43 half-widths; a family of 5 tests at 0.01 each
    assert significance.detectable_difference(1.0, 0.95, 1) == pytest.approx(2.8016 / 1.95996, abs=1e-4)
    assert significance.detectable_difference(1.0, 0.95, 5) == pytest.approx((2.5758 + 0.8416) / 1.95996, abs=1e-4)


# A language-set design: k = 1 trains one pool language per draw (6 runs), k = 6 the whole pool with 3 seeds.
SET_ROLES = {"el": "held-out", "en": "source"}
LANGUAGE_SETS = [(1, d, ["en", f"p{d}"]) for d in range(6)] + [(6, 0, ["en", *(f"p{d}" for d in range(6))])]
SEEDS = {1: [0], 6: [0, 1, 2]}


def language_set_study(rng, strategies, k_effect, run_spread, shared=False, sets=(("mono", "el", "el"),), n_questions=60, noise=0.02):
    """(QuestionMatrix, runs) of base and `strategies` on LANGUAGE_SETS x SEEDS: a query set's value is the question's
    ability + `k_effect` at k = 6 + the run's effect (normal, spread `run_spread`: which languages it drew, its seed; with
    `shared`, one per (k, draw, seed) for every strategy) + noise. The true k contrast is `k_effect`."""
    ability = rng.uniform(0.2, 0.8, n_questions)
    shifts = {"base": 0.0}
    for k, draw, _ in LANGUAGE_SETS:
        for seed in SEEDS[k]:
            effects = np.full(len(strategies), rng.normal(0, run_spread)) if shared else rng.normal(0, run_spread, len(strategies))
            shifts |= {f"{s}/k{k}/draw{draw}/seed{seed}": k_effect * (k == 6) + e for s, e in zip(strategies, effects)}
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
    # 50 replicates of the study in one: hybrids of different alpha, each with its own runs (the k trend of one uses only its own)
    replicates = [f"hybrid-a{i / 100:g}" for i in range(1, 51)]
    matrix, runs = language_set_study(np.random.default_rng(2), replicates, 0.03, 0.05, n_questions=40)
    trend = language_set_tests(matrix, runs, replicates).query("family == 'k-trend'")
    assert len(trend) == 50
    runs_cover = ((trend.ci_low_runs <= 0.03) & (0.03 <= trend.ci_high_runs)).mean()
    questions_cover = ((trend.ci_low <= 0.03) & (0.03 <= trend.ci_high)).mean()
    # the percentile bootstrap of a mean over 3 and 6 runs is somewhat narrow (about 90% for 95%)
    assert runs_cover >= 0.8 and questions_cover <= 0.3


def test_run_level_interval_is_the_question_interval_when_each_side_has_one_run():
    tests = planted_tests()
    single = tests[(tests.n_runs_a == 1) & (tests.n_runs_b == 1)]
    assert len(single) == 9  # k = 2: hybrid vs xx-mono, each vs base; in mono and cross held-out, mono source
    np.testing.assert_array_equal(single[["ci_low_runs", "ci_high_runs"]], single[["ci_low", "ci_high"]])


def test_runs_both_sides_hold_are_resampled_jointly():
    # each (k, draw, seed) shifts hybrid and xx-mono alike: the shift cancels run by run in hybrid vs xx-mono at one k
    # (its run-level interval stays near the question-only one, widened only by each run's own question noise, which
    # resampling runs counts once more), not across k nor against the base model
    strategies = ["xx-mono", "hybrid-a0.5"]
    matrix, runs = language_set_study(np.random.default_rng(3), strategies, 0.03, 0.05, shared=True)
    tests = language_set_tests(matrix, runs, strategies).set_index(["family", "strategy_a", "k_a"])
    width_runs, width_questions = tests.ci_high_runs - tests.ci_low_runs, tests.ci_high - tests.ci_low
    assert tests.loc["strategies"].runs_paired.all() and tests.loc["vs-base"].runs_paired.all() and not tests.loc["k-trend"].runs_paired.any()
    assert (width_runs["strategies"] < 2 * width_questions["strategies"]).all()
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


def test_primary_tests_form_a_holm_family_on_run_level_p_values():
    tests = planted_tests()
    primary = tests[tests.primary]
    assert set(zip(primary.family, primary.strategy_a, primary.setting, primary.lang_group)) == {
        ("k-trend", "hybrid-a0.5", setting, "held-out") for setting in ("cross", "mono")
    }
    rest = tests[~tests.primary]
    np.testing.assert_allclose(primary.p_holm, significance.holm(primary.p_runs))
    np.testing.assert_allclose(rest.p_holm, significance.holm(rest.p_value))
    for family in (primary, rest):
        expected = significance.detectable_difference((family.ci_high_runs - family.ci_low_runs) / 2, 0.95, len(family))
        np.testing.assert_allclose(family.detectable, expected)
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
    table = paired_test_table(tests, 0.95, permutations=2000, resamples=300)
    assert list(table.columns) == [
        "Holm family",
        "setting",
        "languages",
        "query sets",
        "difference [95% CI, questions]",
        "95% CI, runs and questions",
        "d_z",
        "p (sign flips)",
        "p (runs)",
        "p (Holm)",
        "detectable (80% power)",
    ]
    assert table["Holm family"].tolist() == ["primary"] * 2 + ["other"] * 22
    assert table.index[0] == "hybrid-a0.5, k=2 vs k=1"
    hybrid = table.loc["hybrid-a0.5 vs xx-mono, k=1"].iloc[0]  # mono held-out: every sign flip and bootstrap sample below
    assert (hybrid["p (sign flips)"], hybrid["p (runs)"]) == ("≤ 0.0005", "≤ 0.0034")  # 1 / 2001, 1 / 301, rounded up
    assert hybrid["p (Holm)"] == f"≤ {np.ceil(22 / 2001 * 1e4) / 1e4:.4f}"  # the smallest of the 22 others
    assert not any(cell.startswith("≤") for cell in table.loc[table["Holm family"] == "primary", "p (runs)"])


def test_a_single_cells_interval_is_scipys_percentile_bootstrap():
    """One query set, one run: the interval is the percentile bootstrap of the mean over questions (scipy's oracle)."""
    from scipy import stats

    values = np.random.default_rng(3).beta(0.6, 0.4, size=(1, 250))  # RR-like: piled up near 0 and 1
    ours = bootstrap.cell_bootstrap(*single_cell(values), level=0.95, resamples=20000, rng=np.random.default_rng(0))
    oracle = stats.bootstrap((values[0],), np.mean, confidence_level=0.95, n_resamples=20000, method="percentile", rng=1)
    standard_error = oracle.standard_error
    assert ours.estimate[0] == pytest.approx(values.mean())
    assert ours.ci_low[0] == pytest.approx(oracle.confidence_interval.low, abs=0.1 * standard_error)
    assert ours.ci_high[0] == pytest.approx(oracle.confidence_interval.high, abs=0.1 * standard_error)


@pytest.mark.parametrize("shift", [0.0, 0.15, 0.4])
def test_sign_flip_pvalue_is_scipys_permutation_test(shift):
    """One test of 12 paired differences: the sign-flip p-value against scipy's exact test over all 4096 sign patterns."""
    from scipy import stats

    differences = np.random.default_rng(4).normal(shift, 0.5, size=12)
    ours = significance.sign_flip_pvalues(differences[None, :], 100000, np.random.default_rng(0))[0]
    exact = stats.permutation_test((differences,), np.sum, permutation_type="samples", n_resamples=np.inf).pvalue
    assert ours == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / 100000) + 2e-5)
