"""Contrastive fine-tuning: InfoNCE with in-batch negatives over L2-normalised embeddings."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .model import BiEncoder, autocast


class TrainingError(RuntimeError):
    """Training diverged or its inputs are inconsistent."""


def info_nce(queries: torch.Tensor, passages: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of each query against all in-batch passages; the diagonal holds the positives."""
    logits = queries @ passages.T / temperature
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(queries), device=logits.device))


def train(
    model: BiEncoder,
    pairs: pd.DataFrame,
    batches: pd.DataFrame,
    output: Path,
    *,
    learning_rate: float,
    weight_decay: float,
    warmup_ratio: float,
    temperature: float,
    query_prefix: str = "",
    passage_prefix: str = "",
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Fine-tune `model` on `batches` (in file order) and save it to `output` with `loss.tsv`.

    `pairs` supplies texts: question by (question_id, lang), passage by candidate_id. The model is
    written to a temporary folder and moved into place only when training finished.
    """
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    question = dict(zip(zip(pairs.question_id, pairs.lang), pairs.question))
    passage = dict(zip(pairs.candidate_id, pairs.answer))
    groups = [group for _, group in batches.groupby("batch", sort=True)]
    steps = len(groups)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, math.ceil(warmup_ratio * steps), steps)
    model.train()
    log = []
    bar = tqdm(groups, disable=not progress, desc="train", unit="step")
    for step, group in enumerate(bar):
        try:
            q_texts = [query_prefix + question[key] for key in zip(group.question_id, group.question_lang)]
            p_texts = [passage_prefix + passage[cid] for cid in group.passage_id]
        except KeyError as missing:
            raise TrainingError(f"batch {step} names {missing}, which the training pairs do not hold") from missing
        with autocast(model.device):
            loss = info_nce(model.embed(q_texts).float(), model.embed(p_texts).float(), temperature)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"loss is {loss.item()} at step {step} (batch {int(group.batch.iloc[0])}): lower training.learning_rate "
                "or raise training.temperature"
            )
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        log.append((step, loss.item(), schedule.get_last_lr()[0], group.kind.iloc[0]))
        bar.set_postfix(loss=f"{loss.item():.3f}")
    losses = pd.DataFrame(log, columns=["step", "loss", "learning_rate", "batch_kind"])
    save(model, losses, Path(output))
    return losses


def save(model, losses: pd.DataFrame, output: Path) -> None:
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save(partial)
    losses.to_csv(partial / "loss.tsv", sep="\t", index=False, float_format="%.6g")
    shutil.rmtree(output, ignore_errors=True)
    partial.rename(output)


def mean_loss(losses: pd.DataFrame, window: int = 10) -> tuple[float, float]:
    """Mean loss over the first and last `window` steps (a quick check that training learned)."""
    values = losses.loss.to_numpy()
    return float(np.mean(values[:window])), float(np.mean(values[-window:]))
