"""A pilot point: fine-tune one model for a step budget and evaluate it, in one job (`xlretrieval.pilot` reads the
points). Apart from the rule's module, so that editing the rule does not retrain the points. Imports the model code
(torch) only inside the functions, so that the workflow's input functions import it in milliseconds."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import metrics
from .settings import Training

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


@dataclass(frozen=True)
class PilotPoint:
    """One pilot run: the base model as `model.*` says, fine-tuned for `steps` batches of `batch_size` over `languages`
    (none: the base model) with hybrid batches of `alpha` and `seed`, as `training` says, then evaluated on `evaluated`
    in the retrieval `settings` (mono, cross) with the evaluation's length, depth and batch size."""

    model_name: str
    device: str
    precision: str
    pooling: str
    kernels: str
    languages: list[str]
    evaluated: list[str]
    settings: list[str]
    alpha: float
    steps: int
    batch_size: int
    seed: int
    training: Training
    max_seq_length: int
    encoding_max_seq_length: int
    depth: int
    encoding_batch_size: int

    @classmethod
    def from_param(cls, param: dict) -> PilotPoint:
        """From the rule's param (plain values: `training` as `settings.Training.param`)."""
        return cls(**{**param, "training": Training.from_param(param["training"])})


def point(pairs: pd.DataFrame, tables: BenchmarkTables, spec: PilotPoint) -> pd.DataFrame:
    """The per-query RR of pilot run `spec`, with the fast paths of `spec.kernels` (`model.kernels`) in training and
    evaluation alike."""
    from . import model  # torch: imported by the jobs that train, not by the workflow's input functions
    from .batching import training_batches
    from .training import train

    encoder = model.load(spec.model_name, model.choose_device(spec.device), spec.max_seq_length, spec.pooling, spec.precision)
    if spec.steps:
        batches = training_batches(pairs, spec.languages, spec.alpha, spec.steps * spec.batch_size, spec.batch_size, spec.seed)
        with tempfile.TemporaryDirectory() as folder:
            train(encoder, pairs, batches, Path(folder) / "model", spec.training, seed=spec.seed, kernels=spec.kernels, progress=False)
    encoder.max_seq_length = spec.encoding_max_seq_length
    encoder.for_inference(spec.kernels)  # as `encoding.load_encoder` evaluates every model
    options = {"depth": spec.depth, "batch_size": spec.encoding_batch_size, "measures": ["RR"], **spec.training.prefixes()}
    return evaluate(encoder, tables, spec.evaluated, spec.settings, **options)
