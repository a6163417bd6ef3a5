"""The learning-curve pilot's gains: paired over questions, on held-out query sets only."""

import numpy as np
import pandas as pd
import pytest

from xlretrieval.pilot import held_out_units, learning_curve

from synthetic import per_query_frame

SETS = [("mono", "el", "el"), ("mono", "en", "en"), ("cross", "el", "en"), ("cross", "en", "el")]
ROLES = {"el": "held-out", "en": "source"}


def frame(values: dict) -> pd.DataFrame:
    return per_query_frame({(s, q, p, "RR"): v for (s, q, p), v in values.items()})


def test_held_out_units_keep_query_sets_that_involve_a_held_out_language():
    units = held_out_units(frame({key: np.ones(3) for key in SETS}), ROLES)
    assert set(zip(units["mono"].query_lang, units["mono"].passage_lang)) == {("el", "el")}
    assert set(zip(units["cross"].query_lang, units["cross"].passage_lang)) == {("el", "en"), ("en", "el")}


def test_learning_curve_is_the_paired_gain_over_base_with_an_interval():
    rng = np.random.default_rng(0)
    ability = rng.uniform(0, 0.8, 200)
    base = frame({key: ability for key in SETS})
    tuned = {
        f"hybrid-a0.5/k{k}/lr0.0001/steps{steps}": frame({key: ability + gain for key in SETS})
        for k, steps, gain in [(1, 10, 0.05), (1, 20, 0.1), (2, 10, 0.0)]
    }
    curve = learning_curve(tuned, base, ROLES, resamples=200).set_index(["k", "steps", "setting"])
    assert curve.loc[(1, 20, "cross"), "gain"] == pytest.approx(0.1) and curve.loc[(1, 10, "mono"), "gain"] == pytest.approx(0.05)
    assert curve.loc[(1, 20, "cross"), "base"] == pytest.approx(ability.mean())
    # every question gains the same: the paired interval has no width; no gain, no interval
    assert curve.loc[(1, 20, "cross"), "ci_low"] == pytest.approx(0.1) and curve.loc[(1, 20, "cross"), "ci_high"] == pytest.approx(0.1)
    assert curve.loc[(2, 10, "mono"), ["gain", "ci_low", "ci_high"]].tolist() == pytest.approx([0, 0, 0])
    assert set(curve.n_query_sets) == {1, 2} and set(curve.n_questions) == {200}
    assert set(curve.learning_rate) == {1e-4}


def test_learning_curve_rejects_different_query_sets():
    base = frame({key: np.ones(4) for key in SETS})
    tuned = {"hybrid-a0.5/k1/lr0.0001/steps10": frame({key: np.ones(4) for key in SETS[:3]})}
    with pytest.raises(ValueError, match="different query sets"):
        learning_curve(tuned, base, ROLES, resamples=100)
