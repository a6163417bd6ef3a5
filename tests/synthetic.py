"""Per-query tables of a small synthetic study with known truth, for the statistics, tables and figures."""

import numpy as np
import pandas as pd

from xlretrieval.tables import languages_table

LANGS = ["de", "el", "en", "zh"]  # el is never trained on
ROLES = {"xquad-r": {"de": "pool", "el": "held-out", "en": "source", "zh": "pool"}}
DRAWS = [(1, 0, ["en", "zh"]), (1, 1, ["de", "en"]), (2, 0, ["de", "en", "zh"])]


def per_query_frame(values: dict[tuple[str, str, str, str], np.ndarray]) -> pd.DataFrame:
    """A per-query table from {(setting, query_lang, passage_lang, metric): values over questions q0, q1, ...}."""
    return pd.concat(
        [
            pd.DataFrame({"setting": s, "query_lang": q, "passage_lang": p, "question_id": [f"q{i}" for i in range(len(v))], "metric": m, "value": v})
            for (s, q, p, m), v in values.items()
        ],
        ignore_index=True,
    )


def query_sets(settings=("mono", "cross")) -> list[tuple[str, str, str]]:
    sets = []
    for x in LANGS:
        sets += [("mono", x, x)] if "mono" in settings else []
        sets += [("cross", x, y) for y in LANGS if y != x] if "cross" in settings else []
        sets += [("multi", x, "all")] if "multi" in settings else []
    return sets


def model_values(rng, ability, shift, metrics, settings) -> pd.DataFrame:
    """Values in [0, 1]: the question's ability (shared by all its translations) + `shift` + noise;
    rank_distance (multi only) around 20 - 40 * shift."""
    values = {}
    for setting, x, y in query_sets(settings):
        for metric in metrics:
            if metric == "rank_distance":
                if setting == "multi":
                    values[setting, x, y, metric] = np.round(rng.uniform(0, 40, len(ability)) - 40 * shift).clip(0)
            else:
                values[setting, x, y, metric] = np.clip(ability + shift + rng.normal(0, 0.2, len(ability)), 0, 1)
    return per_query_frame(values)


def synthetic_study(rng, n_questions=80, shifts=None, metrics=("RR",), settings=("mono", "cross"), sweep=()):
    """{model tag: per-query table} of base, xx-mono and hybrid-a0.5 (and those in `shifts`) at every
    (k, draw) of DRAWS, plus `sweep` hybrids at the largest k; and the (k, draw, languages) table."""
    shifts = shifts or {"base": 0.0, "xx-mono": 0.0, "hybrid-a0.5": 0.0}
    ability = rng.uniform(0, 1, n_questions)
    models = {"base": model_values(rng, ability, shifts["base"], metrics, settings)}
    for strategy in [s for s in shifts if s != "base"] + list(sweep):
        for k, draw, _ in DRAWS:
            if strategy in sweep and k != max(d[0] for d in DRAWS):
                continue
            shift = shifts.get(strategy, 0.0)
            models[f"{strategy}/k{k}/draw{draw}/seed0"] = model_values(rng, ability, shift, metrics, settings)
    return models, languages_table(DRAWS)
