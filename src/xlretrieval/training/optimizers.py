"""The optimiser of a fine-tuning run: AdamW, fused where the speed plan says (`speed.plan`), and SparseAdam over the
word-embedding table's rows where it trains sparsely (`settings.Training.word_embeddings`)."""

from __future__ import annotations

import logging

import torch

from ..model import BiEncoder
from ..settings import WORD_EMBEDDINGS

log = logging.getLogger(__name__)


class Optimiser:
    """AdamW over the dense parameters (`dense`, which the learning-rate schedule drives) and, where the word-embedding
    table trains sparsely, SparseAdam over its rows (`rows`, which follows AdamW's learning rate): stepped, zeroed,
    saved and restored as one optimiser."""

    def __init__(self, dense: torch.optim.AdamW, rows: torch.optim.SparseAdam | None = None):
        self.dense, self.rows = dense, rows

    @property
    def param_groups(self) -> list[dict]:
        return self.dense.param_groups

    @property
    def fused(self) -> bool:
        """Whether AdamW runs as one kernel."""
        return bool(self.dense.defaults.get("fused"))

    def step(self) -> None:
        if self.rows is not None:
            for group in self.rows.param_groups:
                group["lr"] = self.dense.param_groups[0]["lr"]
        self.dense.step()
        if self.rows is not None:
            self.rows.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.dense.zero_grad(set_to_none=set_to_none)
        if self.rows is not None:
            self.rows.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"dense": self.dense.state_dict(), "rows": None if self.rows is None else self.rows.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.dense.load_state_dict(state["dense"])
        if self.rows is not None:
            self.rows.load_state_dict(state["rows"])

    def describe(self) -> str:
        """AdamW, "(fused)" where it runs as one kernel, and the word embeddings' SparseAdam where there is one."""
        name = type(self.dense).__name__ + (" (fused)" if self.fused else "")
        return name + (" and SparseAdam (word embeddings)" if self.rows is not None else "")


def optimizer_for(model: BiEncoder, word_embeddings: str, learning_rate: float, weight_decay: float, fused: bool) -> Optimiser:
    """AdamW (`adamw`, fused where `fused`) over every trained parameter, the word-embedding table as `word_embeddings`
    says.

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
    dense = adamw([p for p in model.parameters() if p.requires_grad and not (table.sparse and p is table.weight)], learning_rate, weight_decay, fused)
    return Optimiser(dense, torch.optim.SparseAdam([table.weight], lr=learning_rate) if table.sparse else None)


def adamw(parameters: list[torch.nn.Parameter], learning_rate: float, weight_decay: float, fused: bool) -> torch.optim.AdamW:
    """AdamW; with `fused`, as one kernel for every parameter's update (the same algorithm, 5-10x faster on a CPU than
    torch's default loop over tensors for a model with a 250k-row embedding table). Where the plan expected the fused
    kernel and torch has none for these parameters, it says so in the log, and training.json's "kernels" records it
    missing (`speed.record`)."""
    if fused:
        try:
            return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay, fused=True)
        except RuntimeError as error:  # no fused kernel for this device or dtype
            log.warning("fused AdamW is not available here (%s): training with torch's default AdamW", error)
    return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
