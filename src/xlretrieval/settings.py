"""Typed settings: sections of the (schema-checked) configuration as frozen dataclasses, parsed once, which the
package's functions take and its records (training.json, the model card) are written from.

Snakemake tracks a rule's `params:` only where they are Python builtins (a dataclass is not compared, so a change
would re-run nothing): rules pass `param()`, a plain dict, and scripts rebuild the object with `from_param`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

WORD_EMBEDDINGS = ("frozen", "sparse", "dense")  # how training treats the word-embedding table (`training.optimizers`)


@dataclass(frozen=True)
class EarlyStopping:
    """`training.early_stopping` while it is on: the dev loss is measured every `every` steps, and training stops after
    `patience` measurements without a lower one."""

    every: int
    patience: int


@dataclass(frozen=True)
class Training:
    """How a model is fine-tuned (`training.*` of the config), the same for every run of a study; a run adds its seed,
    batches and budget."""

    learning_rate: float
    weight_decay: float
    warmup_ratio: float
    temperature: float
    word_embeddings: str = "dense"
    query_prefix: str = ""
    passage_prefix: str = ""
    early_stopping: EarlyStopping | None = None

    def __post_init__(self) -> None:
        if self.word_embeddings not in WORD_EMBEDDINGS:
            raise ValueError(f"word_embeddings must be one of {WORD_EMBEDDINGS}, not '{self.word_embeddings}'")

    @classmethod
    def from_config(cls, training: dict[str, Any]) -> Training:
        """From the config's `training` section (early stopping: None while `dev_fraction` is 0)."""
        stopping = training["early_stopping"]
        return cls(
            learning_rate=training["learning_rate"],
            weight_decay=training["weight_decay"],
            warmup_ratio=training["warmup_ratio"],
            temperature=training["temperature"],
            word_embeddings=training["word_embeddings"],
            query_prefix=training["query_prefix"],
            passage_prefix=training["passage_prefix"],
            early_stopping=EarlyStopping(stopping["every"], stopping["patience"]) if stopping["dev_fraction"] else None,
        )

    def param(self) -> dict[str, Any]:
        """As a rule's param: a plain dict, which Snakemake compares between runs."""
        return asdict(self)

    @classmethod
    def from_param(cls, param: dict[str, Any]) -> Training:
        stopping = param.get("early_stopping")
        return cls(**{**param, "early_stopping": EarlyStopping(**stopping) if stopping else None})

    def prefixes(self) -> dict[str, str]:
        """The query and passage prefixes, as keyword arguments."""
        return {"query_prefix": self.query_prefix, "passage_prefix": self.passage_prefix}
