"""Contrastive fine-tuning, by concern: the loop (`loop`), the optimiser (`optimizers`), early stopping (`stopping`),
checkpoints (`checkpoints`) and the model card (`card`). A run's settings are `settings.Training`."""

from .loop import TrainingError, batch_loss, batch_texts, info_nce, mean_loss, train
from .optimizers import adamw, optimizer_for

__all__ = ["TrainingError", "adamw", "batch_loss", "batch_texts", "info_nce", "mean_loss", "optimizer_for", "train"]
