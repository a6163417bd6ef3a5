"""Model families by capability: what the study and its fast paths can do with a model, decided from the model's
config.json (and, in a sentence-transformers folder, modules.json and its pooling config) without importing torch.

- **Position offset**: a packed row numbers each text's positions itself, as the architecture does: BERT from 0,
  RoBERTa and XLM-R from their padding id + 1 (`position_offset`; None where positions are no absolute embeddings).
- **Pooling**: what the folder's sentence-transformers Pooling config says; without one, the last token of a causal
  language model (as sentence-transformers decides) and the mean of an encoder's tokens.
- **Packing** (`packable`): exact for an encoder of transformers' own code (no `auto_map`) whose positions are absolute
  embeddings and whose only exchange between tokens is attention through transformers' attention interface:
  the architectures of `ARCHITECTURES` marked so (BERT, RoBERTa, XLM-R).
- **Prepacked oneDNN layers** (`prepack`, `activation`): the linear layers of an architecture the code knows, with the
  activation of a BERT-style feed-forward layer (`intermediate.dense` then `intermediate_act_fn`) folded into the
  product where oneDNN has it (exact or tanh GELU, ReLU; `FOLDED`).

A family the fast paths do not cover (ModernBERT, DistilBERT, ...) is encoded and trained in padded batches through
torch's own linear layers. One the study cannot train (code of its own, a decoder or encoder-decoder, a pooling the
study does not implement) or a configured pooling that is wrong for it stops the run before its first job (`check`,
from the configuration's start-up checks), naming the config key.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigKeyError
from .folders import folder_pooling, layout, modules_by_type

log = logging.getLogger(__name__)

POOLING_MODES = ("mean", "cls")  # what the bi-encoder pools (model.BiEncoder)


@dataclass(frozen=True)
class Architecture:
    """What the code knows of a transformers architecture (its `model_type`)."""

    positions_from: str | None  # "zero" (BERT), "padding" (padding id + 1: RoBERTa, XLM-R), None (not absolute, e.g. rotary)
    packs: bool  # attention only through transformers' attention interface: a packed row gives what padding gives
    feed_forward: str  # "intermediate": BERT's `dense` then `intermediate_act_fn` (the activation folds); "gated": it does not


ARCHITECTURES = {
    "bert": Architecture("zero", packs=True, feed_forward="intermediate"),
    "roberta": Architecture("padding", packs=True, feed_forward="intermediate"),
    "xlm-roberta": Architecture("padding", packs=True, feed_forward="intermediate"),
    # rotary positions, attention that unpads by itself, a gated (GeGLU) feed-forward layer: padded batches, plain linear
    # layers prepacked without a folded activation
    "modernbert": Architecture(None, packs=False, feed_forward="gated"),
}
# config.json's activation name -> oneDNN's post-op (`private_apis.linear_pointwise`'s attr and algorithm)
FOLDED = {"gelu": ("gelu", "none"), "gelu_new": ("gelu", "tanh"), "gelu_pytorch_tanh": ("gelu", "tanh"), "relu": ("relu", "")}


class Unsupported(ConfigKeyError):
    """A model the study cannot train, or a pooling wrong for it (model.name or model.pooling)."""


@dataclass(frozen=True)
class Family:
    """What the code does with one model (`of_config`, `read`)."""

    model_type: str
    pooling: str  # the model's own: "mean", "cls", or one the study does not implement ("lasttoken", "max", "cls+mean", ...)
    causal: bool  # a decoder: each token sees only the tokens before it
    position_offset: int | None  # added to a text's token positions in a packed row; None: no absolute position embeddings
    packable: bool
    prepack: bool  # its linear layers may be prepacked for oneDNN
    activation: str | None  # config.json's name of the activation folded into the prepacked feed-forward product, if any
    problem: str | None  # why the study cannot train it (None: it can)


def of_config(config: dict, pooling: str | None = None) -> Family:
    """The family of a model from its config.json (`config`) and the pooling its folder asks for (None: none says)."""
    model_type = str(config.get("model_type", ""))
    known = ARCHITECTURES.get(model_type)
    architectures = config.get("architectures") or []
    causal = bool(config.get("is_decoder")) or bool(architectures and str(architectures[0]).endswith("ForCausalLM") and config.get("is_causal", True))
    pooling = pooling or ("lasttoken" if causal else "mean")
    remote = config.get("auto_map") or {}
    absolute = config.get("position_embedding_type") in (None, "absolute")  # transformers writes null for the default
    own_code = known is not None and not remote
    offset = None
    if own_code and absolute and known.positions_from == "zero":
        offset = 0
    elif own_code and absolute and known.positions_from == "padding":  # transformers' create_position_ids_from_input_ids
        offset = (1 if config.get("pad_token_id") is None else int(config["pad_token_id"])) + 1
    activation = config.get("hidden_act") or config.get("hidden_activation")
    folds = own_code and known.feed_forward == "intermediate" and activation in FOLDED
    problem = None
    if remote:
        problem = (
            f"its config.json maps {', '.join(sorted(remote))} to code of its own (auto_map), which the study does not run: "
            f"its model_type '{model_type}' would load transformers' own {model_type or 'model'} with another architecture's weights"
        )
    elif config.get("is_encoder_decoder"):
        problem = f"it is an encoder-decoder ({model_type}): the study trains encoders"
    elif causal:
        problem = (
            f"it is a causal decoder ({model_type}), embedding a text as its last token (pooling lasttoken): the study trains "
            "encoders pooled by the mean or the first (CLS) token of their output"
        )
    return Family(
        model_type=model_type,
        pooling=pooling,
        causal=causal,
        position_offset=offset,
        packable=own_code and known.packs and offset is not None and not causal,
        prepack=own_code and not causal,
        activation=activation if folds else None,
        problem=problem,
    )


def read(folder: Path) -> Family:
    """The family of the model in a local folder (sentence-transformers or plain transformers)."""
    parts = layout(folder)
    return of_config(json.loads((parts.transformer / "config.json").read_text()), folder_pooling(parts.pooling_config))


def from_hub(name: str, download: bool = False) -> Family | None:
    """The family of hub id `name` from its config.json (and sentence-transformers files) in the local Hugging Face
    cache, or, with `download`, fetched from the hub (a few small files); None where they cannot be had (logged where the
    hub could not be asked: the start-up check of the model's family is then skipped, not passed)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError

    def file(path: str) -> Path | None:
        found = try_to_load_from_cache(name, path)
        if isinstance(found, str):
            return Path(found)
        if not download or found is not None:  # not cached, or cached as absent from the repository
            return None
        try:
            return Path(hf_hub_download(name, path))
        except EntryNotFoundError:  # absent from the repository (modules.json of a plain transformers model)
            return None
        except Exception as error:  # the hub unreachable: the HTTP client's errors vary by version
            log.warning("cannot fetch %s of %s from the hub (%r): its family is not checked before the run", path, name, error)
            return None

    config = file("config.json")
    if config is None:
        return None
    modules, pooling = file("modules.json"), None
    if modules is not None:
        folder = modules_by_type(json.loads(modules.read_text())).get("Pooling")
        pooling_config = file(f"{folder}/config.json") if folder is not None else None
        pooling = folder_pooling(pooling_config) if pooling_config is not None else None
    return of_config(json.loads(config.read_text()), pooling)


# The folder the `base_model` rule builds from a file a package ships (`availability.EMBEDDED_MODELS`; `embedded.bert_config`):
# BERT, exact GELU, mean pooling.
EMBEDDED = of_config({"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}, "mean")


def of_model(name: str, download: bool = False) -> Family | None:
    """The family of model.name `name` (`availability.locate`: a built-in embedded model, a folder, a package's copy, a hub
    id in the hub cache or, with `download`, on the hub); None where its config.json is not at hand."""
    from .availability import locate

    location = locate(name)
    if location.kind == "embedded":
        return EMBEDDED
    if location.folder is not None:
        return read(location.folder) if (layout(location.folder).transformer / "config.json").is_file() else None
    return from_hub(name, download)


def check_model(name: str, pooling: str, download: bool = False) -> None:
    """`check` the family of model.name `name` where its config.json is at hand (`of_model`)."""
    family = of_model(name, download)
    if family is not None:
        check(family, name, pooling)


def check(family: Family, name: str, pooling: str) -> None:
    """Raise Unsupported, naming the config key, where the study cannot train `family` (model.name `name`) or where
    `pooling` (model.pooling: auto, mean or cls) is wrong for it."""
    if pooling != "auto" and family.causal:
        raise Unsupported(
            "model.pooling",
            f"{pooling} pooling is wrong for {name}, a causal decoder ({family.model_type}): each token sees "
            "only the tokens before it, so only the last has read the whole text; the study pools neither the last token nor a decoder: "
            "keep model.pooling: auto and choose an encoder for model.name",
        )
    if family.problem is not None:
        raise Unsupported("model.name", f"the study cannot train {name}: {family.problem}")
    if family.pooling == "lasttoken":
        raise Unsupported(
            "model.name",
            f"the study cannot train {name}: its embedding is its last token (sentence-transformers' "
            "lasttoken pooling), which the study does not implement, and mean or cls pooling would be wrong for it: choose a model "
            "pooled by the mean or the first (CLS) token",
        )
    if pooling == "auto" and family.pooling not in POOLING_MODES:
        raise Unsupported(
            "model.pooling",
            f"{name} pools '{family.pooling}', which the study does not implement (it pools mean or cls): set model.pooling to mean or cls",
        )
