"""The learning-curve pilot's gains: over seeds and the articles the questions come in, on held-out query sets only;
and the rule that chooses the budget from its doublings."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from xlretrieval.config import ConfigError, Study, validate
from xlretrieval.pilot import DOUBLING_COLUMNS, budget_record, choose_budget, doubling, held_out_units, judge, learning_curve, read_doublings, walk

from conftest import ROOT, SCHEMA, study_config
from synthetic import per_query_frame

SETS = [("mono", "el", "el"), ("mono", "en", "en"), ("cross", "el", "en"), ("cross", "en", "el")]
ROLES = {"el": "held-out", "en": "source"}


def frame(values: dict) -> pd.DataFrame:
    return per_query_frame({(s, q, p, "RR"): v for (s, q, p), v in values.items()})


def test_held_out_units_keep_query_sets_that_involve_a_held_out_language():
    units = held_out_units(frame({key: np.ones(3) for key in SETS}), ROLES)
    assert set(zip(units["mono"].query_lang, units["mono"].passage_lang)) == {("el", "el")}
    assert set(zip(units["cross"].query_lang, units["cross"].passage_lang)) == {("el", "en"), ("en", "el")}


def articles_of(n_questions: int, per_article: int) -> dict[str, str]:
    """Question ids q0, q1, ... in articles of `per_article` questions."""
    return {f"q{i}": f"article {i // per_article}" for i in range(n_questions)}


def test_learning_curve_is_the_gain_over_base_averaged_over_seeds_with_an_interval():
    rng = np.random.default_rng(0)
    ability = rng.uniform(0, 0.8, 200)
    base = frame({key: ability for key in SETS})
    tuned = {
        f"hybrid-a0.5/k{k}/lr0.0001/steps{steps}/seed{seed}": frame({key: ability + gain + spread * seed for key in SETS})
        for k, steps, gain, spread in [(1, 10, 0.05, 0.0), (1, 20, 0.1, 0.02), (2, 10, 0.0, 0.0)]
        for seed in (0, 1)
    }
    curve = learning_curve(tuned, base, ROLES, articles_of(200, 20)).set_index(["k", "steps", "setting"])
    assert curve.loc[(1, 20, "cross"), "gain"] == pytest.approx(0.11) and curve.loc[(1, 10, "mono"), "gain"] == pytest.approx(0.05)
    assert curve.loc[(1, 20, "cross"), "base"] == pytest.approx(ability.mean())
    # seeds that agree on every question leave no width; seeds that differ by 0.02 give one on 1 df
    assert curve.loc[(1, 10, "cross"), "ci_low"] == pytest.approx(0.05) and curve.loc[(1, 10, "cross"), "ci_high"] == pytest.approx(0.05)
    assert curve.loc[(1, 20, "cross"), "ci_low"] < 0.11 - 0.05 and curve.loc[(1, 20, "cross"), "df"] == pytest.approx(1)
    assert curve.loc[(2, 10, "mono"), ["gain", "ci_low", "ci_high"]].tolist() == pytest.approx([0, 0, 0])
    assert set(curve.n_query_sets) == {1, 2} and set(curve.n_questions) == {200} and set(curve.n_articles) == {10} and set(curve.n_runs) == {2}
    assert set(curve.learning_rate) == {1e-4}


def test_learning_curve_rejects_different_query_sets():
    base = frame({key: np.ones(4) for key in SETS})
    tuned = {"hybrid-a0.5/k1/lr0.0001/steps10/seed0": frame({key: np.ones(4) for key in SETS[:3]})}
    with pytest.raises(ValueError, match="different query sets"):
        learning_curve(tuned, base, ROLES, articles_of(4, 2))


def test_a_doubling_is_the_rise_over_seeds_on_the_same_questions_with_an_interval_over_articles():
    rng = np.random.default_rng(0)
    ability = rng.uniform(0, 0.8, 300)
    base = frame({key: ability for key in SETS})
    article_effect = np.repeat(rng.normal(0, 0.03, 12), 25)  # the rise differs by article: its questions move together
    earlier = {f"hybrid-a0.5/k1/lr0.0001/steps10/seed{seed}": ability + rng.normal(0.05, 0.1, 300) for seed in (0, 1)}
    later = {tag.replace("steps10", "steps20"): values + 0.02 + article_effect + rng.normal(0, 0.01, 300) for tag, values in earlier.items()}
    points = {tag: frame({key: v for key in SETS}) for tag, v in {**earlier, **later}.items()}
    articles = articles_of(300, 25)
    curve = learning_curve(points, base, ROLES, articles).set_index(["steps", "setting"])
    rises = doubling({t: points[t] for t in earlier}, {t: points[t] for t in later}, ROLES, articles, steps=10)
    assert list(rises.columns) == DOUBLING_COLUMNS and set(rises.setting) == {"mono", "cross"}
    cross = rises.set_index("setting").loc["cross"]
    assert (cross.steps, cross.doubled, cross.n_runs, cross.n_articles) == (10, 20, "2 vs 2", 12)
    # the base model cancels: the rise is the difference of the two gains
    assert cross.rise == pytest.approx(curve.loc[(20, "cross"), "gain"] - curve.loc[(10, "cross"), "gain"])
    assert cross.ci_low < cross.rise < cross.ci_high
    # the articles' own rises spread it: the interval counts 12 articles, not 300 independent questions
    independent = doubling({t: points[t] for t in earlier}, {t: points[t] for t in later}, ROLES, {q: q for q in articles}, steps=10)
    half_width = (cross.ci_high - cross.ci_low) / 2
    assert half_width > 2 * (independent.set_index("setting").loc["cross", "ci_high"] - independent.set_index("setting").loc["cross", "ci_low"]) / 2


def doublings(rises: dict[int, dict[str, tuple[float, float]]]) -> pd.DataFrame:
    """Hand-made doublings: {steps: {setting: (rise, half-width of its interval)}}."""
    rows = [
        (s, 2 * s, setting, "RR", r, r - w, r + w, 3.5, "2 vs 2", 2, 100, 12) for s, settings in rises.items() for setting, (r, w) in settings.items()
    ]
    return pd.DataFrame(rows, columns=DOUBLING_COLUMNS)


def test_the_budget_is_the_first_whose_doubling_rises_by_less_than_the_share_of_its_half_width():
    # 96 -> 192 rises by 0.02 (> 0.5 x 0.01 in cross), 192 -> 384 by 0.004 (< 0.005) and mono falls: stop at 192
    curve = doublings({96: {"cross": (0.02, 0.01), "mono": (0.01, 0.01)}, 192: {"cross": (0.004, 0.01), "mono": (-0.002, 0.01)}})
    steps, reason = choose_budget(curve, start_steps=96, stop_share=0.5, max_steps=768)
    assert steps == 192
    assert "doubling 192 to 384 steps" in reason and "cross +0.0040 vs 0.0050" in reason and "mono -0.0020 vs 0.0050" in reason
    # a stricter share stops one doubling earlier, a laxer one goes on (and needs the doubling it has not measured)
    assert choose_budget(curve, start_steps=96, stop_share=2.5, max_steps=768)[0] == 96
    with pytest.raises(ValueError, match="not measured the doubling from 384 to 768"):
        choose_budget(curve, start_steps=96, stop_share=0.3, max_steps=768)


def test_the_curve_goes_on_while_either_setting_still_rises():
    mono_only = doublings({96: {"cross": (0.001, 0.01), "mono": (0.03, 0.01)}, 192: {"cross": (0.001, 0.01), "mono": (0.001, 0.01)}})
    assert choose_budget(mono_only, start_steps=96, stop_share=0.5, max_steps=768)[0] == 192
    cross_only = doublings({96: {"cross": (0.03, 0.01), "mono": (-0.01, 0.01)}, 192: {"cross": (0.0, 0.0), "mono": (0.0, 0.0)}})
    assert choose_budget(cross_only, start_steps=96, stop_share=0.5, max_steps=768)[0] == 192  # no rise never pays, even without width
    assert not judge(cross_only, 0.5).pays.iloc[2:].any() and judge(cross_only, 0.5).threshold.iloc[0] == pytest.approx(0.005)


def test_the_cap_stops_a_curve_that_still_rises():
    rising = doublings({s: {"cross": (0.02, 0.01), "mono": (0.02, 0.01)} for s in (96, 192, 384)})
    steps, reason = choose_budget(rising, start_steps=96, stop_share=0.5, max_steps=768)
    assert steps == 768 and "still rose from 384 to 768 steps" in reason and "would exceed pilot.max_steps (768)" in reason
    assert choose_budget(rising, start_steps=96, stop_share=0.5, max_steps=500)[0] == 384  # 768 would exceed 500
    steps, reason = choose_budget(rising.iloc[:0], start_steps=96, stop_share=0.5, max_steps=150)
    assert steps == 96 and reason == "doubling 96 to 192 steps would exceed pilot.max_steps (150)"


def test_walk_trains_a_double_before_judging_it_and_no_further_than_needed():
    asked = []

    def pays(steps):
        asked.append(steps)
        return steps < 200

    assert walk(96, 768, pays) == (384, [96, 192, 384, 768])  # 384 -> 768 did not pay: 768 is trained, 1536 not
    assert asked == [96, 192, 384]
    assert walk(96, 768, lambda steps: True) == (768, [96, 192, 384, 768])
    assert walk(96, 96, pays) == (96, [96])
    with pytest.raises(ValueError, match="at most max_steps"):
        walk(192, 96, pays)


def test_read_doublings_round_trips_the_checkpoints_tables(tmp_path):
    rises = doublings({96: {"cross": (0.02, 0.01)}, 192: {"cross": (0.001, 0.01)}})
    for s in (96, 192):
        rises[rises.steps == s].to_csv(tmp_path / f"steps{s}.tsv", sep="\t", index=False, float_format="%.6g")
    pd.testing.assert_frame_equal(read_doublings([tmp_path / "steps96.tsv", tmp_path / "steps192.tsv"]), rises)
    assert list(read_doublings([]).columns) == DOUBLING_COLUMNS


def curve_at(steps_by_rate: dict[float, list[int]]) -> pd.DataFrame:
    rows = [
        ("hybrid-a0.5", 6, lr, s, setting, "RR", g, g - 0.01, g + 0.01, 2.5, 2, 12)
        for lr, budgets in steps_by_rate.items()
        for s in budgets
        for setting, g in [("cross", s / 1e4), ("mono", -s / 1e4)]
    ]
    columns = ["strategy", "k", "learning_rate", "steps", "setting", "metric", "gain", "ci_low", "ci_high", "df", "n_runs", "n_articles"]
    return pd.DataFrame(rows, columns=columns)


def test_the_budget_record_holds_the_choice_the_rule_and_every_doubling():
    rises = doublings({96: {"cross": (0.02, 0.01), "mono": (0.01, 0.01)}, 192: {"cross": (0.004, 0.01), "mono": (-0.002, 0.01)}})
    curve = curve_at({3e-5: [96, 192, 384], 1e-4: [96]})
    options = {"start_steps": 96, "stop_share": 0.5, "max_steps": 768, "batch_size": 32, "learning_rate": 3e-5, "level": 0.95}
    record = budget_record(rises, curve, **options)
    assert (record["steps"], record["pairs"], record["stopped_by"]) == (192, 6144, "rule")
    assert record["trained_steps"] == [96, 192, 384] and record["parameters"]["stop_share"] == 0.5 and "stop_share" in record["rule"]
    assert (record["parameters"]["seeds"], record["parameters"]["articles"]) == ([2], [12]) and record["doublings"][0]["runs"] == "2 vs 2"
    verdicts = [(d["steps"], d["setting"], d["pays"]) for d in record["doublings"]]
    assert verdicts == [(96, "cross", True), (96, "mono", True), (192, "cross", False), (192, "mono", False)]
    assert record["doublings"][2]["threshold"] == pytest.approx(0.005) and record["doublings"][2]["half_width"] == pytest.approx(0.01)
    assert {(r["learning_rate"], r["setting"]) for r in record["learning_rates"]} == {(lr, s) for lr in (3e-5, 1e-4) for s in ("cross", "mono")}
    with pytest.raises(ValueError, match=r"the curve holds \[96, 192\] steps"):  # a point the rule trains is missing
        budget_record(rises, curve_at({3e-5: [96, 192]}), **options)


def test_pilot_points_are_the_whole_pool_at_the_training_rate_and_the_other_rates_at_the_start():
    study = Study(validate(study_config({"pilot": {"start_steps": 10, "learning_rates": [1e-4, 3e-5]}}), SCHEMA))
    assert study.training["learning_rate"] == 3e-5
    assert study.pilot_point(20) == "hybrid-a0.5/k6/lr3e-05/steps20" and study.pilot_point(10, 1e-4) == "hybrid-a0.5/k6/lr0.0001/steps10"
    assert study.pilot_learning_rate_points() == ["hybrid-a0.5/k6/lr0.0001/steps10"]  # 3e-5 is the curve's own first point
    assert study.pilot_seeds() == [0, 1]  # no study run's seed (10000 k + ...)
    with pytest.raises(ConfigError, match="pilot.seeds"):
        validate(study_config({"pilot": {"seeds": 1}}), SCHEMA)
    with pytest.raises(ConfigError, match="pilot.max_steps': 8 is below pilot.start_steps"):
        validate(study_config({"pilot": {"start_steps": 10, "max_steps": 8}}), SCHEMA)
    with pytest.raises(ConfigError, match="pilot.budgets': replaced by pilot.start_steps"):
        validate(study_config({"pilot": {"budgets": [{"learning_rate": 1e-4, "steps": [96]}]}}), SCHEMA)


def test_the_rule_imports_without_torch():
    """The workflow's input function (`pilot_curve`) imports the rule at every parse: no model code with it."""
    code = "import sys, xlretrieval.pilot; print('torch' in sys.modules)"
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment)
    assert result.stdout.strip() == "False"
