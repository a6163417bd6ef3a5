"""Fast batched encoding: tokenise once, sort by token length, pack (or pad) per batch, in the model's precision.

Texts are processed in shards (tokenised, length-sorted and encoded shard by shard) so memory stays
bounded for any number of texts; embeddings go to an array the caller may memory-map (`open_embeddings`).
Every evaluated model, base or fine-tuned, is loaded with the same truncation (`load_encoder`), and
`encode_evalset` records how a benchmark was encoded beside its embeddings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .model import BiEncoder, choose_device, load
from .precision import describe

SHARD_SIZE = 65536


def open_embeddings(path: Path, rows: int, dimension: int) -> np.ndarray:
    """A float32 `.npy` file of shape (rows, dimension), memory-mapped for writing. Its blocks are allocated first: on
    a full disk that is an OSError here, where writing to the map would kill the process (SIGBUS)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, dimension))
    if hasattr(os, "posix_fallocate"):
        with open(path, "r+b") as handle:
            os.posix_fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
    return array


def encode(
    model: BiEncoder,
    texts: list[str],
    batch_size: int = 64,
    progress: bool = False,
    out: np.ndarray | None = None,
    shard_size: int = SHARD_SIZE,
) -> np.ndarray:
    """Embeddings (float32, one row per text, input order), written into `out` when given.

    Texts go in batches of `batch_size` sorted by token count (not characters, as `SentenceTransformer.encode` does):
    an encoder that packs (`BiEncoder.packing`) gets each batch's tokens in one row without padding
    (`BiEncoder.embed_tokens`, attention in blocks of similar lengths), any other a padded batch.
    """
    if out is None:
        out = np.zeros((len(texts), model.dimension), dtype=np.float32)
    device, pack = model.device, model.packing
    model.eval()
    bar = tqdm(total=len(texts), disable=not progress, desc="encode", unit="text")
    with torch.inference_mode(), model.autocast():
        for first in range(0, len(texts), shard_size):
            tokens = model.tokenize(texts[first : first + shard_size])
            ids, masks = tokens["input_ids"], tokens["attention_mask"]
            order = np.argsort([-len(x) for x in ids], kind="stable")
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                if pack:
                    vectors = model.embed_tokens([ids[i] for i in rows])
                else:
                    batch = model.tokenizer.pad(
                        {"input_ids": [ids[i] for i in rows], "attention_mask": [masks[i] for i in rows]}, return_tensors="pt"
                    )
                    vectors = model(batch["input_ids"].to(device), batch["attention_mask"].to(device))
                out[first + rows] = vectors.float().cpu().numpy()
                bar.update(len(rows))
    bar.close()
    return out


def load_encoder(name: str, device: str, max_seq_length: int, pooling: str = "auto", precision: str = "fp32", kernels: str = "auto") -> BiEncoder:
    """A model to evaluate, truncating at `max_seq_length` tokens whatever its folder saved (a fine-tuned
    model saves training's length, the base model its own), so base and fine-tuned models see the same text;
    in `precision` (`model.precision`, resolved on this machine) and with the fast paths of `kernels` (`model.kernels`,
    `BiEncoder.for_inference`), every model alike."""
    encoder = load(name, choose_device(device), max_seq_length=max_seq_length, pooling=pooling, precision=precision)
    encoder.for_inference(kernels)
    return encoder


def count_truncated(model: BiEncoder, texts: list[str], shard_size: int = SHARD_SIZE) -> int:
    """How many texts are longer than the model's `max_seq_length` tokens (special tokens included), so cut."""
    return sum(
        sum(len(ids) > model.max_seq_length for ids in model.tokenizer(texts[first : first + shard_size], verbose=False)["input_ids"])
        for first in range(0, len(texts), shard_size)
    )


def encode_evalset(model: BiEncoder, name: str, texts: Mapping[str, list[str]], outputs: Mapping[str, str | Path], batch_size: int) -> dict:
    """Encode each set of `texts` (questions, candidates: prefixed as encoded) into the `.npy` file `outputs`
    names for it, and write the encoding's settings, the fast paths it took (`BiEncoder.kernels`) and truncated-text
    counts to `outputs["encoding"]`; return those."""
    for key, batch in texts.items():
        vectors = open_embeddings(outputs[key], len(batch), model.dimension)
        encode(model, batch, batch_size, progress=True, out=vectors)
        vectors.flush()
    info = {
        "model": name,
        "max_seq_length": model.max_seq_length,
        "pooling": model.pooling,
        "device": str(model.device),
        "hardware": describe(model.device),
        "precision": model.precision,
        "batch_size": batch_size,
        "kernels": model.kernels,
        "texts": {key: len(batch) for key, batch in texts.items()},
        "truncated": {key: count_truncated(model, batch) for key, batch in texts.items()},
    }
    Path(outputs["encoding"]).write_text(json.dumps(info, indent=2) + "\n")
    return info
