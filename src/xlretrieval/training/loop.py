"""The training loop: InfoNCE with in-batch negatives over L2-normalised embeddings, with optional early stopping on
the loss of held-out dev batches (the best checkpoint is the one saved), and optional checkpoints of the whole training
state from which a killed run resumes to the same weights."""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .. import speed
from ..batching import language_shares
from ..model import BiEncoder
from ..precision import describe
from ..settings import Training
from .card import model_card
from .checkpoints import Checkpoint, TrainingState, beside, run_key
from .optimizers import optimizer_for
from .stopping import Stopping

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training diverged or its inputs are inconsistent."""


def info_nce(queries: torch.Tensor, passages: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of each query against all in-batch passages; the diagonal holds the positives."""
    logits = queries @ passages.T / temperature
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(queries), device=logits.device))


def batch_loss(model: BiEncoder, q_texts: list[str], p_texts: list[str], temperature: float, block_size: int | None = None) -> torch.Tensor:
    with model.autocast():
        return info_nce(model.embed(q_texts, block_size).float(), model.embed(p_texts, block_size).float(), temperature)


def train(
    model: BiEncoder,
    pairs: pd.DataFrame,
    batches: pd.DataFrame,
    output: Path,
    settings: Training,
    *,
    seed: int = 0,
    kernels: str = "auto",
    progress: bool = True,
    checkpoint_every: int | None = None,
    card: dict | None = None,
    budget: dict | None = None,
) -> pd.DataFrame:
    """Fine-tune `model` on `batches` (in file order) as `settings` say, with the fast paths of `kernels` (`speed.plan`),
    and save it to `output` with `loss.tsv` (each step's loss and the learning rate it used), `training.json`
    (`training_info`: the steps behind the saved weights, the settings, what ran) and, given `card` (`card.model_card`'s
    facts), its model card; `budget` (`config.Budget.record`) is recorded in training.json.

    `pairs` supplies texts: question by (question_id, lang), passage by candidate_id. Batches whose `split` is "dev" are
    not trained on: as `settings.early_stopping` says their mean loss is measured, the best checkpoint is kept, and
    training stops early (`stopping.Stopping`); `dev_loss.tsv` logs the measurements. The model is written to a
    temporary folder and moved into place only when training finished.

    With `checkpoint_every`, the state of training is saved every that many steps to `<output>.checkpoint`
    (`checkpoints`): a call with the same model, data and settings resumes from there and saves the same weights as an
    uninterrupted run. The checkpoint is deleted once the model is saved.
    """
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    texts = batch_texts(pairs, **settings.prefixes())
    groups, dev_texts = split_batches(batches, texts)
    if dev_texts and settings.early_stopping is None:
        raise TrainingError("the batches hold dev batches but early stopping is off (training.early_stopping.dev_fraction 0)")
    checkpoint = (
        Checkpoint(beside(Path(output), ".checkpoint"), run_key(model, pairs, batches, settings, seed, kernels), checkpoint_every)
        if checkpoint_every
        else None
    )
    plan = model.for_training(kernels)
    optimizer = optimizer_for(model, settings.word_embeddings, settings.learning_rate, settings.weight_decay, fused=plan.fused_adamw)
    ran = speed.record(plan, model.paths_taken() | {"fused_adamw": optimizer.fused})
    warmup_steps = math.ceil(settings.warmup_ratio * len(groups))
    schedule = get_linear_schedule_with_warmup(optimizer.dense, warmup_steps, len(groups))
    state = TrainingState(model, optimizer, schedule, Stopping(settings.early_stopping))
    if checkpoint and checkpoint.resume(state):
        log.info("resumed from %s at step %d of %d", checkpoint.path, state.step, len(groups))
    run_steps(state, groups, texts, dev_texts, settings.temperature, checkpoint, progress)
    if state.stopping.best is not None:
        model.load_state_dict(state.stopping.best.weights)
    losses = pd.DataFrame(state.history, columns=["step", "loss", "learning_rate", "batch_kind"])
    kept = losses[losses.step < state.stopping.best.steps] if state.stopping.best else losses  # the steps behind the saved weights
    info = training_info(model, settings, ran, optimizer.describe(), kept, groups, steps_run=len(losses), warmup_steps=warmup_steps, seed=seed)
    info |= {"budget": budget} if budget else {}
    save(model, losses, state.stopping.table() if dev_texts else None, Path(output), info, model_card(info, card) if card else None)
    if checkpoint:
        checkpoint.remove()
    return losses


def split_batches(batches: pd.DataFrame, texts) -> tuple[list[pd.DataFrame], list[tuple[list[str], list[str]]]]:
    """The training batches (one frame each, in batch order) and the dev batches' texts (`texts`: `batch_texts`)."""
    is_dev = (batches.split == "dev") if "split" in batches else pd.Series(False, index=batches.index)
    groups = [group for _, group in batches[~is_dev].groupby("batch", sort=True)]
    return groups, [texts(b, group) for b, group in batches[is_dev].groupby("batch", sort=True)]


def run_steps(
    state: TrainingState, groups: list[pd.DataFrame], texts, dev_texts: list, temperature: float, checkpoint: Checkpoint | None, progress: bool
) -> None:
    """Train `state` from its step on through `groups`, measuring the dev loss and saving checkpoints as they fall due;
    stop early where the dev loss says so."""
    steps = len(groups)
    bar = tqdm(groups[state.step :], initial=state.step, total=steps, disable=not progress, desc="train", unit="step")
    for step, group in enumerate(bar, state.step):
        learning_rate_used = state.optimizer.param_groups[0]["lr"]  # the schedule moves it after the step
        where = f"step {step} (batch {int(group.batch.iloc[0])})"
        loss = optimizer_step(state.model, state.optimizer, state.schedule, *texts(step, group), temperature, where)
        state.history.append((step, loss, learning_rate_used, group.kind.iloc[0]))
        state.step = step + 1
        bar.set_postfix(loss=f"{loss:.3f}")
        if (
            dev_texts
            and state.stopping.due(step + 1, steps)
            and state.stopping.stop(state.model, step + 1, dev_loss(state.model, dev_texts, temperature))
        ):
            break
        if checkpoint and checkpoint.due(step + 1, steps):
            checkpoint.save(state)


def training_info(
    model: BiEncoder, settings: Training, kernels: dict, optimizer: str, kept: pd.DataFrame, groups: list[pd.DataFrame], **counts
) -> dict:
    """training.json: the steps behind the saved weights (`kept`) and how many were X-X-mono, each language's share of
    their texts, the hardware and precision, the fast paths that ran (`speed.record`), the settings, the optimiser, and
    `counts` (steps run, warmup steps, seed)."""
    xx_mono = int((kept.batch_kind == "xx-mono").sum())
    return {
        "steps": len(kept),
        "xx_mono_batches": xx_mono,
        "xx_mono_share": xx_mono / max(len(kept), 1),
        "batch_size": max(map(len, groups), default=0),
        "max_seq_length": model.max_seq_length,
        "precision": model.precision,
        "hardware": describe(model.device),
        "kernels": kernels,
        **asdict(settings),
        **counts,
        "language_shares": language_shares(pd.concat(groups[: len(kept)])) if len(kept) else {},
        "optimizer": optimizer,
    }


def batch_texts(pairs: pd.DataFrame, query_prefix: str, passage_prefix: str):
    """texts(step, batch) -> (questions, passages) of a batch's rows, prefixed; a row the pairs lack is a TrainingError."""
    question = dict(zip(zip(pairs.question_id, pairs.lang), pairs.question))
    passage = dict(zip(pairs.candidate_id, pairs.answer))

    def texts(step: int, group: pd.DataFrame) -> tuple[list[str], list[str]]:
        try:
            return (
                [query_prefix + question[key] for key in zip(group.question_id, group.question_lang)],
                [passage_prefix + passage[cid] for cid in group.passage_id],
            )
        except KeyError as missing:
            raise TrainingError(f"batch {step} names {missing}, which the training pairs do not hold") from missing

    return texts


def optimizer_step(model: BiEncoder, optimizer, schedule, questions: list[str], passages: list[str], temperature: float, where: str) -> float:
    """One step on one batch (loss, backward, update, schedule, zeroed gradients); the loss, or a TrainingError where
    it is not finite."""
    loss = batch_loss(model, questions, passages, temperature)
    if not torch.isfinite(loss):
        raise TrainingError(f"loss is {loss.item()} at {where}: lower training.learning_rate or raise training.temperature")
    loss.backward()
    optimizer.step()
    schedule.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def dev_loss(model: BiEncoder, dev_texts: list[tuple[list[str], list[str]]], temperature: float) -> float:
    """Mean InfoNCE loss over the dev batches, without dropout or gradients."""
    model.eval()
    with torch.no_grad():
        value = float(np.mean([batch_loss(model, q, p, temperature).item() for q, p in dev_texts]))
    model.train()
    return value


def save(model: BiEncoder, losses: pd.DataFrame, dev: pd.DataFrame | None, output: Path, info: dict, card: str | None = None) -> None:
    """Write the model, its logs, `training.json` (`info`) and its model card (README.md) to a `.partial` folder,
    then move it to `output`; a failed write (a full disk) leaves no `.partial` folder behind."""
    partial = beside(output, ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        model.save(partial)
        losses.to_csv(partial / "loss.tsv", sep="\t", index=False, float_format="%.6g")
        (partial / "training.json").write_text(json.dumps(info, indent=2) + "\n")
        if card is not None:
            (partial / "README.md").write_text(card)
        if dev is not None:
            dev.to_csv(partial / "dev_loss.tsv", sep="\t", index=False, float_format="%.6g")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(output, ignore_errors=True)
    partial.rename(output)


def mean_loss(losses: pd.DataFrame, window: int = 10) -> tuple[float, float]:
    """Mean loss over the first and last `window` steps (a quick check that training learned)."""
    values = losses.loss.to_numpy()
    return float(np.mean(values[:window])), float(np.mean(values[-window:]))
