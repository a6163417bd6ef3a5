"""A model folder's layout, read in one place: sentence-transformers (modules.json naming its modules' folders) or plain
transformers (config.json and weights at the root). Reads JSON only: no torch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_SEQ_LENGTH = 256  # where a folder gives none (sentence_bert_config.json)


@dataclass(frozen=True)
class Layout:
    """Where a folder keeps each part of a bi-encoder."""

    transformer: Path  # config.json and the weights
    pooling_config: Path  # the Pooling module's config.json (absent in a plain transformers folder)
    normalize: bool  # a Normalize module (a plain transformers folder: the study normalises)
    dense: Path | None  # a Dense module's folder
    max_seq_length: int


def modules_by_type(modules: list[dict]) -> dict[str, str]:
    """modules.json's entries as {module type (its class name: Transformer, Pooling, Dense, Normalize): path}."""
    return {module["type"].rsplit(".", 1)[-1]: module["path"] for module in modules}


def layout(folder: Path) -> Layout:
    """The layout of a sentence-transformers or plain transformers folder."""
    folder = Path(folder)
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return Layout(folder, folder / "1_Pooling" / "config.json", True, None, DEFAULT_MAX_SEQ_LENGTH)
    by_type = {kind: folder / path for kind, path in modules_by_type(json.loads(modules_file.read_text())).items()}
    transformer = by_type.get("Transformer", folder)
    max_seq_length = DEFAULT_MAX_SEQ_LENGTH
    for config_dir in (transformer, folder):
        if (config_dir / "sentence_bert_config.json").is_file():
            max_seq_length = json.loads((config_dir / "sentence_bert_config.json").read_text()).get("max_seq_length", max_seq_length)
            break
    pooling = by_type.get("Pooling", folder / "1_Pooling") / "config.json"
    return Layout(transformer, pooling, "Normalize" in by_type, by_type.get("Dense"), max_seq_length)


def folder_pooling(config_file: Path) -> str | None:
    """The pooling a sentence-transformers Pooling config asks for ("mean", "cls", "lasttoken", "max", ... joined by
    "+" when several), None without one: `pooling_mode` (sentence-transformers 6) or the older `pooling_mode_*` flags."""
    if not config_file.is_file():
        return None
    config = json.loads(config_file.read_text())
    if "pooling_mode" in config:
        modes = [config["pooling_mode"]] if isinstance(config["pooling_mode"], str) else list(config["pooling_mode"])
    else:
        flags = [key.removeprefix("pooling_mode_") for key, on in config.items() if key.startswith("pooling_mode_") and on]
        modes = [flag if flag == "lasttoken" else flag.rsplit("_", 1)[0] for flag in flags] or ["mean"]
    return "+".join(modes)
