"""The learning-curve pilot: how much fine-tuning the study needs before k can matter.

A pilot point fine-tunes one model (a strategy at one k, for a step budget and learning rate) and, in the
same job, evaluates it on the benchmark's held-out languages and its source language only (mono and cross
among them), under the encoding conditions of the study; the base model is a point with no steps.
`learning_curve` turns the points into the gain over the base model on held-out languages, each with a
paired bootstrap interval over parallel question ids (the same questions on both sides).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics, model, training
from .batching import training_batches
from .data.benchmark import BenchmarkTables
from .data.splits import select_languages
from .encoding import encode
from .search.output import search
from .stats.cells import question_matrix
from .stats.resampling import percentile_interval, question_counts, set_means

CURVE_COLUMNS = [
    "strategy",
    "k",
    "learning_rate",
    "steps",
    "setting",
    "metric",
    "gain",
    "ci_low",
    "ci_high",
    "value",
    "base",
    "n_query_sets",
    "n_questions",
]


def evaluate(
    encoder: model.BiEncoder,
    tables: BenchmarkTables,
    languages: list[str],
    settings: list[str],
    *,
    depth: int,
    batch_size: int,
    measures: list[str],
    query_prefix: str = "",
    passage_prefix: str = "",
) -> pd.DataFrame:
    """Per-query `measures` of `encoder` on the query sets of `settings` among `languages`."""
    tables = select_languages(tables, languages)
    questions = encode(encoder, [query_prefix + text for text in tables.questions.text], batch_size)
    candidates = encode(encoder, [passage_prefix + text for text in tables.candidates.text], batch_size)
    with tempfile.TemporaryDirectory() as runs:
        search(tables, questions, candidates, depth, Path(runs), settings=tuple(settings))
        return metrics.per_query(tables, Path(runs), measures, tuple(settings))


def point(
    pairs: pd.DataFrame,
    tables: BenchmarkTables,
    *,
    model_name: str,
    device: str,
    precision: str,
    pooling: str,
    languages: list[str],
    evaluated: list[str],
    settings: list[str],
    alpha: float,
    steps: int,
    batch_size: int,
    seed: int,
    training_options: dict,
    max_seq_length: int,
    encoding_max_seq_length: int,
    depth: int,
    encoding_batch_size: int,
) -> pd.DataFrame:
    """Fine-tune for `steps` batches over `languages` (none: the base model) and evaluate on `evaluated`."""
    encoder = model.load(model_name, model.choose_device(device), max_seq_length, pooling, precision)
    if steps:
        batches = training_batches(pairs, languages, alpha, steps * batch_size, batch_size, seed)
        with tempfile.TemporaryDirectory() as folder:
            training.train(encoder, pairs, batches, Path(folder) / "model", seed=seed, progress=False, **training_options)
    encoder.max_seq_length = encoding_max_seq_length
    encoder.for_inference()  # as `encoding.load_encoder` evaluates every model
    prefixes = {key: training_options.get(key, "") for key in ("query_prefix", "passage_prefix")}
    return evaluate(encoder, tables, evaluated, settings, depth=depth, batch_size=encoding_batch_size, measures=["RR"], **prefixes)


def held_out_units(per_query: pd.DataFrame, roles: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Per-query rows of the query sets in the held-out group (`metrics.lang_group`), by setting."""
    held = np.array(
        [metrics.lang_group(s, q, p, set(), roles) == "held-out" for s, q, p in zip(per_query.setting, per_query.query_lang, per_query.passage_lang)],
        dtype=bool,
    )
    return {setting: per_query[held & (per_query.setting == setting).to_numpy()] for setting in ("mono", "cross")}


def gain(tuned: pd.DataFrame, base: pd.DataFrame, *, level: float, resamples: int, seed: int) -> dict[str, float]:
    """Macro-averaged gain of `tuned` over `base` on the same query sets, with a paired bootstrap interval over
    question ids (one counts vector for both sides)."""
    matrix = question_matrix([("tuned", tuned), ("base", base)])
    sides = matrix.units.model.to_numpy()
    weights = np.where(sides == "tuned", 1.0, -1.0) / (sides == "tuned").sum()
    if (sides == "tuned").sum() != (sides == "base").sum():
        raise ValueError("tuned and base models are evaluated on different query sets")
    ones = np.ones((1, matrix.values.shape[1]))
    means = set_means(matrix.values, matrix.present, ones)[0]
    counts = question_counts(matrix.values.shape[1], resamples, np.random.default_rng(seed))
    low, high = percentile_interval(set_means(matrix.values, matrix.present, counts) @ weights, level)
    return {
        "gain": float(means @ weights),
        "ci_low": float(low),
        "ci_high": float(high),
        "value": float(means[sides == "tuned"].mean()),
        "base": float(means[sides == "base"].mean()),
        "n_query_sets": int((sides == "tuned").sum()),
        "n_questions": int(matrix.present.any(axis=0).sum()),
    }


def learning_curve(
    points: dict[str, pd.DataFrame], base: pd.DataFrame, roles: dict[str, str], *, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """MRR gain over the base model on held-out languages per pilot point (`{strategy}/k{k}/lr{lr}/steps{steps}`);
    `roles` are the benchmark's language roles (`config.Study.language_roles`)."""
    base_units = held_out_units(base[base.metric == "RR"], roles)
    rows = []
    for tag, per_query in points.items():
        strategy, k, lr, steps = tag.split("/")
        for setting, units in held_out_units(per_query[per_query.metric == "RR"], roles).items():
            if units.empty:
                continue
            rows.append(
                {
                    "strategy": strategy,
                    "k": int(k[1:]),
                    "learning_rate": float(lr[2:]),
                    "steps": int(steps[5:]),
                    "setting": setting,
                    "metric": "RR",
                    **gain(units, base_units[setting], level=level, resamples=resamples, seed=seed),
                }
            )
    return pd.DataFrame(rows, columns=CURVE_COLUMNS).sort_values(["setting", "k", "learning_rate", "steps"], ignore_index=True)
