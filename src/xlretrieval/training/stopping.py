"""Early stopping on the loss of held-out dev batches: the weights of the lowest are kept."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from ..settings import EarlyStopping


@dataclass(frozen=True)
class Best:
    """The lowest dev loss so far: after how many steps, its value, and the weights then (on the CPU)."""

    steps: int
    loss: float
    weights: dict[str, torch.Tensor]


@dataclass
class Stopping:
    """The dev loss measured as `settings` says (None: never): the weights of the lowest are kept (`best`), and
    training stops after `settings.patience` measurements without a lower one."""

    settings: EarlyStopping | None
    log: list[tuple[int, float]] = field(default_factory=list)  # (steps trained, dev loss)
    best: Best | None = None
    stale: int = 0

    def due(self, trained: int, steps: int) -> bool:
        return self.settings is not None and (trained % self.settings.every == 0 or trained == steps)

    def stop(self, model: torch.nn.Module, trained: int, loss: float) -> bool:
        """Record the dev loss after `trained` steps; True when training should stop."""
        self.log.append((trained, loss))
        if self.best is None or loss < self.best.loss:
            self.best, self.stale = Best(trained, loss, {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}), 0
            return False
        self.stale += 1
        return self.stale >= self.settings.patience

    def table(self) -> pd.DataFrame:
        """dev_loss.tsv: each measurement, and which one's weights were kept."""
        kept = self.best.steps if self.best else -1
        return pd.DataFrame(self.log, columns=["step", "dev_loss"]).assign(kept=lambda d: d.step == kept)
