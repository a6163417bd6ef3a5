"""Fast batched encoding: tokenise once, sort by token length, pad per batch, fp32 on CPU.

Texts are processed in shards (tokenised, length-sorted and encoded shard by shard) so memory stays
bounded for any number of texts; embeddings go to an array the caller may memory-map (`open_embeddings`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .model import BiEncoder, autocast

SHARD_SIZE = 65536


def open_embeddings(path: Path, rows: int, dimension: int) -> np.ndarray:
    """A float32 `.npy` file of shape (rows, dimension), memory-mapped for writing."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, dimension))


def encode(
    model: BiEncoder,
    texts: list[str],
    batch_size: int = 64,
    progress: bool = False,
    out: np.ndarray | None = None,
    shard_size: int = SHARD_SIZE,
) -> np.ndarray:
    """Embeddings (float32, one row per text, input order), written into `out` when given.

    Sorting by token count (not characters, as `SentenceTransformer.encode` does) keeps padding low
    on mixed-script text.
    """
    if out is None:
        out = np.zeros((len(texts), model.dimension), dtype=np.float32)
    device = model.device
    model.eval()
    bar = tqdm(total=len(texts), disable=not progress, desc="encode", unit="text")
    with torch.inference_mode(), autocast(device):
        for first in range(0, len(texts), shard_size):
            tokens = model.tokenize(texts[first : first + shard_size])
            ids, masks = tokens["input_ids"], tokens["attention_mask"]
            order = np.argsort([-len(x) for x in ids], kind="stable")
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                batch = model.tokenizer.pad({"input_ids": [ids[i] for i in rows], "attention_mask": [masks[i] for i in rows]}, return_tensors="pt")
                out[first + rows] = model(batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu().numpy()
                bar.update(len(rows))
    bar.close()
    return out
