"""Bootstrap intervals, paired tests and Holm's correction on synthetic data with known truth."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from xlretrieval import stats
from xlretrieval.metrics import summarise
from xlretrieval.tables import collect, macro, with_base_reference

from synthetic import per_query_frame, synthetic_study

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
        result = stats.cell_bootstrap(*single_cell(values), level=0.9, resamples=400, rng=rng)
        covered.append(result.ci_low.item() <= 0.5 <= result.ci_high.item())
    assert 0.85 <= np.mean(covered) <= 0.95


def test_translations_of_a_question_move_together():
    # every language holds the same values: the macro mean's interval is that of one language, which
    # resampling languages independently would shrink by about sqrt(3)
    values = np.random.default_rng(0).uniform(0, 1, (1, 200))
    one = stats.cell_bootstrap(*single_cell(values), level=0.95, resamples=500, rng=np.random.default_rng(5))
    three = stats.cell_bootstrap(*single_cell(np.repeat(values, 3, axis=0)), level=0.95, resamples=500, rng=np.random.default_rng(5))
    np.testing.assert_allclose(three[["estimate", "ci_low", "ci_high"]], one[["estimate", "ci_low", "ci_high"]])


def test_run_resampling_widens_the_interval_by_the_spread_of_runs():
    # two runs 0.3 apart: with runs resampled the interval spans both; each run alone is narrow
    rng = np.random.default_rng(2)
    base = rng.uniform(0.2, 0.4, (1, 300))
    values = np.vstack([base, base + 0.3])
    weights = sparse.csc_matrix(np.eye(2))
    both = stats.cell_bootstrap(values, np.ones_like(values, bool), weights, np.array([0, 0]), level=0.95, resamples=1000, rng=rng)
    alone = stats.cell_bootstrap(values, np.ones_like(values, bool), weights, np.array([0, 1]), level=0.95, resamples=1000, rng=rng)
    assert both.estimate.item() == pytest.approx(base.mean() + 0.15)
    assert both.ci_low.item() < base.mean() + 0.01 and both.ci_high.item() > base.mean() + 0.29
    assert (alone.ci_high - alone.ci_low < 0.03).all()


def test_missing_questions_are_left_out_of_their_query_set():
    values = np.array([[1.0, 0.0, 0.5]])
    present = np.array([[True, False, True]])
    means = stats.set_means(values, present, np.array([[1.0, 1.0, 1.0], [0.0, 3.0, 0.0], [2.0, 0.0, 1.0]]))
    np.testing.assert_allclose(means[:, 0], [0.75, np.nan, 2.5 / 3])


def test_interval_estimates_equal_the_tables_macro_average():
    models, languages = synthetic_study(np.random.default_rng(3))
    matrix = stats.question_matrix(models.items())
    result = stats.intervals(matrix, stats.runs_table(list(models), languages), "xquad-r", resamples=200)
    metrics = collect({(tag, "xquad-r"): summarise(frame) for tag, frame in models.items()}, languages)
    expected = macro(with_base_reference(metrics, languages), ["strategy", "k", "setting", "lang_group"])
    groups = result[result.query_lang == "all"].merge(expected, on=["strategy", "k", "setting", "lang_group"])
    assert len(groups) == len(expected) > 10
    np.testing.assert_allclose(groups.estimate, groups.value)
    assert (groups.ci_low <= groups.estimate).all() and (groups.estimate <= groups.ci_high).all()
    # k = 1 has two draws (runs), k = 2 one; base has a run per draw
    runs = result.set_index(["strategy", "k", "setting", "lang_group", "query_lang"]).n_runs
    assert runs["xx-mono", 1, "mono", "all", "all"] == 2 and runs["xx-mono", 2, "mono", "all", "all"] == 1
    assert runs["base", 1, "mono", "all", "all"] == 2
    per_language = result[(result.query_lang == "el") & (result.setting == "cross")]
    assert set(per_language.n_query_sets) == {3} and set(per_language.n_questions) == {80}


def test_question_matrix_rejects_a_repeated_query():
    frame = per_query_frame({("mono", "en", "en", "RR"): np.array([1.0, 0.5])})
    with pytest.raises(ValueError, match="more than once"):
        stats.question_matrix([("base", pd.concat([frame, frame.iloc[:1]]))])


def test_sign_flip_test_rejects_a_planted_difference_and_not_identical_inputs():
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 0.3, (2, 200))
    differences = np.vstack([noise[0] + 0.1, np.zeros(200), noise[1]])
    p = stats.sign_flip_pvalues(differences, 5000, rng)
    assert p[0] < 0.001 and p[1] == 1.0 and p[2] > 0.05


def test_sign_flip_test_holds_its_level_under_the_null():
    rng = np.random.default_rng(6)
    p = stats.sign_flip_pvalues(rng.normal(0, 1, (400, 60)), 2000, rng)
    assert 0.02 <= np.mean(p < 0.05) <= 0.08


def test_holm_matches_hand_computed_values():
    # sorted: 0.005 x4 = 0.02; 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> 0.06 (monotone)
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(stats.holm([0.5, 0.4]), [0.8, 0.8])
    np.testing.assert_allclose(stats.holm([0.3, 0.9]), [0.6, 0.9])
    # sorted: 0.01 x3 = 0.03; 0.6 x2 = 1.2 -> 1 (clipped); 0.7 x1 = 0.7 -> 1 (monotone)
    np.testing.assert_allclose(stats.holm([0.6, 0.7, 0.01]), [1.0, 1.0, 0.03])
    np.testing.assert_allclose(stats.holm([0.02, 0.01, 0.02]), [0.04, 0.03, 0.04])  # tied p-values, tied results
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\]"):
        stats.holm([0.2, 1.5])


def holm_is_a_family_adjustment(p: np.ndarray, adjusted: np.ndarray) -> None:
    """Checks that hold for Holm over the whole family `p` (not over subsets)."""
    order = np.argsort(p, kind="stable")
    assert (np.diff(adjusted[order]) >= 0).all()  # monotone in the order of the p-values
    assert ((p <= adjusted) & (adjusted <= 1)).all()
    assert adjusted[order[0]] == pytest.approx(min(1.0, len(p) * p[order[0]]))  # the smallest times the family size
    assert adjusted[order[-1]] == pytest.approx(min(1.0, max(p.max(), adjusted[order[-2]])))


def test_holm_is_monotone_and_clipped_on_random_p_values():
    p = np.random.default_rng(10).uniform(0, 1, 50) ** 4
    adjusted = stats.holm(p)
    holm_is_a_family_adjustment(p, adjusted)
    assert (adjusted == 1).any() and (adjusted < 0.05).any()


def test_paired_tests_find_the_planted_strategy_difference_only():
    models, languages = synthetic_study(np.random.default_rng(7), shifts={"base": 0.0, "xx-mono": 0.0, "hybrid-a0.5": 0.12})
    matrix = stats.question_matrix(models.items())
    tests = stats.paired_tests(matrix, stats.runs_table(list(models), languages), "xquad-r", "RR", ["xx-mono", "hybrid-a0.5"],
                               resamples=300, permutations=2000)
    strategies = tests[tests.family == "strategies"]
    assert set(zip(strategies.strategy_a, strategies.strategy_b)) == {("hybrid-a0.5", "xx-mono")}
    assert len(strategies) == 2 * 2 * 2  # k 1, 2 x mono, cross x seen, zero-shot
    assert (strategies.p_holm < 0.01).all() and (strategies.ci_low > 0.02).all()
    assert ((strategies.ci_low < strategies.difference) & (strategies.difference < strategies.ci_high)).all()
    np.testing.assert_allclose(strategies.difference, strategies.mean_a - strategies.mean_b)
    steps = tests[tests.family == "k-step"]
    assert (steps.p_holm > 0.05).all()
    holm_is_a_family_adjustment(tests.p_value.to_numpy(), tests.p_holm.to_numpy())  # one family: every test


def test_k_step_compares_on_the_query_sets_zero_shot_at_both_k():
    # k=1 draws train en+zh and en+de; k=2 trains en+de+zh: zero-shot in every run at both k are the
    # query sets involving el only (el-el, el-X, X-el)
    models, languages = synthetic_study(np.random.default_rng(8))
    matrix = stats.question_matrix(models.items())
    tests = stats.paired_tests(matrix, stats.runs_table(list(models), languages), "xquad-r", "RR", ["xx-mono", "hybrid-a0.5"],
                               resamples=100, permutations=500)
    step = tests[(tests.family == "k-step") & (tests.lang_group == "zero-shot")].set_index(["strategy_a", "setting"])
    assert step.loc[("xx-mono", "mono"), "n_query_sets"] == 1 and step.loc[("xx-mono", "cross"), "n_query_sets"] == 6
    assert set(step.n_runs_a) == {1} and set(step.n_runs_b) == {2}
    # seen at both k in every run: en only (mono en-en; no cross pair is seen in both k=1 draws)
    seen = tests[(tests.family == "k-step") & (tests.lang_group == "seen")]
    assert set(seen.setting) == {"mono"} and set(seen.n_query_sets) == {1}


def test_level_outside_zero_one_is_an_error():
    models, languages = synthetic_study(np.random.default_rng(9))
    with pytest.raises(ValueError, match="confidence level"):
        stats.intervals(stats.question_matrix(models.items()), stats.runs_table(list(models), languages), "x", level=95)
