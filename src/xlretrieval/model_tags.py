"""Names of the study's models (tags), strategies and evaluation settings, shared by the workflow, tables and figures.

Model tags name every fine-tuned model as `{strategy}/k{k}/draw{draw}/seed{seed}`, and `base` the
un-fine-tuned encoder (k = 0); the strategy slug of hybrid carries its alpha (`hybrid-a0.5`), and a slug whose source
language keeps half the training texts at every k (`batching.HALF`) ends in `-half` (`hybrid-a0.5-half`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BASE = "base"
SETTINGS = ("mono", "cross", "multi")  # evaluation settings: see xlretrieval.querysets
# Patterns of the strategy slug and of a fine-tuned model's tag (strategy, k, draw, seed as unnamed groups), also
# the workflow's wildcard constraints.
STRATEGY_SLUG = r"(?:xx-mono|x-y|hybrid-a[0-9.]+)(?:-half)?"
MODEL_TAG = rf"({STRATEGY_SLUG})/k(\d+)/draw(\d+)/seed(\d+)"
HALF_SUFFIX = "-half"


def strategy_slugs(strategies: list[str], alphas: list[float], source_shares: tuple[str, ...] = ("uniform",)) -> list[str]:
    """Strategy wildcards: hybrid expands to one slug per alpha, and each slug to one per source share (`uniform`:
    the slug as it is; `half`: it with `HALF_SUFFIX`)."""
    slugs = []
    for strategy in strategies:
        slugs += [f"hybrid-a{alpha:g}" for alpha in alphas] if strategy == "hybrid" else [strategy]
    return [slug + ("" if share == "uniform" else HALF_SUFFIX) for share in source_shares for slug in slugs]


def source_share(slug: str) -> str:
    """How a slug's batches draw the source language (`batching.SOURCE_SHARES`): "half" for a `-half` slug."""
    return "half" if slug.endswith(HALF_SUFFIX) else "uniform"


def uniform_slug(slug: str) -> str:
    """The slug with the same strategy and alpha whose batches draw every language alike."""
    return slug.removesuffix(HALF_SUFFIX)


def parse_strategy(slug: str) -> tuple[str, float]:
    """(strategy, alpha): alpha is the share of X-X-mono batches (1 for xx-mono, 0 for x-y)."""
    slug = uniform_slug(slug)
    if slug == "xx-mono":
        return "xx-mono", 1.0
    if slug == "x-y":
        return "x-y", 0.0
    if slug.startswith("hybrid-a"):
        return "hybrid", float(slug[len("hybrid-a") :])
    raise ValueError(f"unknown strategy '{slug}'")


@dataclass(frozen=True)
class ModelSpec:
    strategy: str
    k: int
    draw: int
    seed: int

    @property
    def tag(self) -> str:
        return f"{self.strategy}/k{self.k}/draw{self.draw}/seed{self.seed}"

    @classmethod
    def parse(cls, tag: str) -> ModelSpec | None:
        """The spec of a fine-tuned model's tag; None for the base model."""
        if tag == BASE:
            return None
        match = re.fullmatch(MODEL_TAG, tag)
        if not match:
            raise ValueError(f"not a model tag: '{tag}'")
        strategy, k, draw, seed = match.groups()
        return cls(strategy, int(k), int(draw), int(seed))
