"""How the runs' top-k lists are found: exact, or an approximate FAISS index per shard, and its recall.

An approximate index (`IndexSpec.type` hnsw or ivf: FAISS HNSW-Flat or IVF-Flat over inner product)
is built once per shard and searched by every query language; its merged lists become the runs, with
exact scores, while ranks stay exact and the exact lists give its recall. Since exact ranks need every
score anyway, it changes what the runs hold, not the cost; `benchmarks/scale.py` times it on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np


@dataclass(frozen=True)
class IndexSpec:
    """How the runs' top-k lists are found: `exact`, or an approximate FAISS index per shard."""

    type: str = "exact"
    shard_size: int = 65536
    hnsw_m: int = 32
    hnsw_ef_construction: int = 40
    hnsw_ef_search: int = 128
    ivf_nlist: int | None = None  # None: sqrt(shard rows), at most one list per 39 rows
    ivf_nprobe: int = 32

    def __post_init__(self):
        if self.type not in ("exact", "hnsw", "ivf"):
            raise ValueError(f"index type must be exact, hnsw or ivf, not {self.type!r}")
        if self.shard_size < 1:
            raise ValueError(f"index shard_size must be positive, not {self.shard_size}")

    @classmethod
    def from_config(cls, index: dict[str, Any]) -> IndexSpec:
        """From `evaluation.index` of the config (see the schema)."""
        hnsw, ivf = index.get("hnsw", {}), index.get("ivf", {})
        given = {
            "type": index.get("type"),
            "shard_size": index.get("shard_size"),
            "hnsw_m": hnsw.get("m"),
            "hnsw_ef_construction": hnsw.get("ef_construction"),
            "hnsw_ef_search": hnsw.get("ef_search"),
            "ivf_nlist": ivf.get("nlist"),
            "ivf_nprobe": ivf.get("nprobe"),
        }
        return cls(**{name: value for name, value in given.items() if value is not None})

    def build(self, vectors: np.ndarray) -> faiss.Index:
        """An approximate inner-product index over `vectors` (float32, C-contiguous)."""
        rows, dimension = vectors.shape
        if self.type == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.hnsw_ef_construction
            index.hnsw.efSearch = self.hnsw_ef_search
        elif self.type == "ivf":
            nlist = self.ivf_nlist or max(1, min(round(rows**0.5), rows // 39))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, min(nlist, rows), faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            index.nprobe = min(self.ivf_nprobe, index.nlist)
        else:
            raise ValueError("an exact search builds no index")
        index.add(vectors)
        return index


def recall(found: np.ndarray, exact: np.ndarray, k: int) -> np.ndarray:
    """Per query, the share of the exact top k (candidate rows, best first) among the first k found."""
    both = np.sort(np.concatenate([found[:, :k], exact[:, :k]], axis=1), axis=1)  # a list holds a row once
    hits = ((both[:, 1:] == both[:, :-1]) & (both[:, 1:] >= 0)).sum(axis=1)
    return hits / np.maximum((exact[:, :k] >= 0).sum(axis=1), 1)
