"""Fast batched encoding: tokenise once, sort by token length, pad per batch, fp32 on CPU."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .model import BiEncoder, autocast


def encode(model: BiEncoder, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Embeddings (float32, one row per text, input order).

    Sorting by token count (not characters, as `SentenceTransformer.encode` does) keeps padding low
    on mixed-script text.
    """
    out = np.zeros((len(texts), model.dimension), dtype=np.float32)
    if not texts:
        return out
    tokens = model.tokenize(texts)
    ids, masks = tokens["input_ids"], tokens["attention_mask"]
    order = np.argsort([-len(x) for x in ids], kind="stable")
    device = model.device
    model.eval()
    with torch.inference_mode(), autocast(device):
        for start in tqdm(range(0, len(texts), batch_size), disable=not progress, desc="encode", unit="batch"):
            rows = order[start : start + batch_size]
            batch = model.tokenizer.pad({"input_ids": [ids[i] for i in rows], "attention_mask": [masks[i] for i in rows]}, return_tensors="pt")
            out[rows] = model(batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu().numpy()
    return out
