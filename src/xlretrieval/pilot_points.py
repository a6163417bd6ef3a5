"""A pilot point: fine-tune one model for a step budget and evaluate it, in one job (`xlretrieval.pilot` reads the
points). Apart from the rule's module, so that editing the rule does not retrain the points. Imports the model code
(torch) only inside the functions, so that the workflow's input functions import it in milliseconds."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import metrics

if TYPE_CHECKING:
    from .data.benchmark import BenchmarkTables
    from .model import BiEncoder


def evaluate(
    encoder: BiEncoder,
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
    from .data.splits import select_languages
    from .encoding import encode
    from .search.output import search

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
    kernels: str,
    languages: list[str],
    evaluated: list[str],
    settings: list[str],
    alpha: float,
    steps: int,
    batch_size: int,
    seed: int,
    training: dict,
    max_seq_length: int,
    encoding_max_seq_length: int,
    depth: int,
    encoding_batch_size: int,
) -> pd.DataFrame:
    """Fine-tune for `steps` batches over `languages` (none: the base model) as `training` says (`settings.Training.param`)
    and evaluate on `evaluated` in the retrieval `settings` (mono, cross), with the fast paths of `kernels` (`model.kernels`)
    in both."""
    from . import model  # torch: imported by the jobs that train, not by the workflow's input functions
    from .batching import training_batches
    from .settings import Training
    from .training import train

    fine_tuning = Training.from_param(training)
    encoder = model.load(model_name, model.choose_device(device), max_seq_length, pooling, precision)
    if steps:
        batches = training_batches(pairs, languages, alpha, steps * batch_size, batch_size, seed)
        with tempfile.TemporaryDirectory() as folder:
            train(encoder, pairs, batches, Path(folder) / "model", fine_tuning, seed=seed, kernels=kernels, progress=False)
    encoder.max_seq_length = encoding_max_seq_length
    encoder.for_inference(kernels)  # as `encoding.load_encoder` evaluates every model
    return evaluate(encoder, tables, evaluated, settings, depth=depth, batch_size=encoding_batch_size, measures=["RR"], **fine_tuning.prefixes())
