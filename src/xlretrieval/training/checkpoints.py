"""Checkpoints of the whole training state, from which a killed run resumes to the same weights: saved beside the
model's output (where Snakemake does not delete them when it reruns the job), whole or not at all, and resumed only by
the run that wrote them (`run_key`)."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from ..model import BiEncoder
from .optimizers import Optimiser
from .stopping import Best, Stopping

log = logging.getLogger(__name__)


@dataclass
class TrainingState:
    """What a training run changes as it goes: the model, optimiser, schedule, early stopping, the loss history
    (step, loss, learning rate, batch kind) and how many steps were trained."""

    model: BiEncoder
    optimizer: Optimiser
    schedule: torch.optim.lr_scheduler.LRScheduler
    stopping: Stopping
    history: list[tuple[int, float, float, str]] = field(default_factory=list)
    step: int = 0

    def snapshot(self, run: str) -> dict:
        """The state after `step` steps as a checkpoint of run `run` holds it (tensors and builtins only)."""
        best = self.stopping.best
        return {
            "run": run,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.model.device.type == "cuda" else None,
            "history": self.history,
            "dev_log": self.stopping.log,
            "best": None if best is None else {"steps": best.steps, "loss": best.loss, "weights": best.weights},
            "stale": self.stopping.stale,
        }

    def restore(self, state: dict) -> None:
        """Put a checkpoint's state back (weights, optimiser, schedule, random generators, early stopping, history)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.stopping.log, self.stopping.stale = state["dev_log"], state["stale"]
        self.stopping.best = Best(**state["best"]) if state["best"] is not None else None
        self.step, self.history = state["step"], state["history"]


@dataclass(frozen=True)
class Checkpoint:
    """Where run `run` keeps its checkpoints (`path`) and how often (every `every` steps)."""

    path: Path
    run: str
    every: int

    def resume(self, state: TrainingState) -> bool:
        """Restore `state` from this run's checkpoint where there is one; whether it did (a stale one, written by
        another run, is replaced by the next)."""
        if not self.path.is_file():
            return False
        saved = torch.load(self.path, map_location="cpu", weights_only=True)
        if saved["run"] != self.run:
            log.warning("%s was written by another training run (other data, settings or model): starting over", self.path)
            return False
        state.restore(saved)
        return True

    def due(self, trained: int, steps: int) -> bool:
        return trained % self.every == 0 and trained < steps

    def save(self, state: TrainingState) -> None:
        """Write the state to a temporary file, flushed to disk, then rename it over `path`: a kill at any moment leaves
        the previous checkpoint or the new one, whole."""
        partial = beside(self.path, ".partial")
        try:
            with open(partial, "wb") as handle:
                torch.save(state.snapshot(self.run), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.path)
        finally:
            partial.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the checkpoint (and a partial one, where a kill came during a save): the model is saved."""
        for leftover in (self.path, beside(self.path, ".partial")):
            leftover.unlink(missing_ok=True)


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
