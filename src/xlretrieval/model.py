"""The bi-encoder: resolve a model name (local folder, offline package or hub), load, pool, save.

Models are read and written in the sentence-transformers folder format (modules.json, a pooling
config, optional Dense and Normalize), so `SentenceTransformer(path)` loads every model this study
saves, without importing sentence-transformers here (its import alone costs seconds per job).

Model families: XLM-R (a plain transformers folder: mean pooling, L2 normalisation), multilingual-E5
(sentence-transformers folder: mean pooling, Normalize; its "query: " / "passage: " prefixes are the
`training.*_prefix` settings) and LaBSE as `sentence-transformers/LaBSE`, whose embedding is CLS pooling
then a Dense layer (768 -> 768, tanh: BERT's pooler weights) then Normalize. The Dense module is loaded,
trained and saved like the transformer, so the hub id that most users know gives LaBSE's real embedding
and a fine-tuned LaBSE stays loadable by sentence-transformers (`setu4993/LaBSE`, whose transformers
`pooler_output` is the same vector, would need a pooling mode of its own).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

from . import families, onednn, private_apis, speed
from . import packing as packed
from . import precision as arithmetic
from .availability import UNUSED_HUB_FILES, ModelUnavailable, locate
from .dropout import own_masks, use_fast_dropout
from .families import POOLING_MODES
from .folders import folder_pooling, layout

log = logging.getLogger(__name__)


def resolve(name: str) -> Path:
    """The folder of model.name `name` (`availability.locate`): a local folder or an installed package's copy as it is; a
    hub id from the local cache or downloaded. An embedded model is built by the workflow (rule `base_model`), not here."""
    location = locate(name)
    if location.folder is not None:
        return location.folder
    if location.kind == "embedded":
        raise ModelUnavailable(f"{name} is built from its package's file by the workflow's base_model rule: load the folder it builds")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(name, ignore_patterns=UNUSED_HUB_FILES))


def choose_device(requested: str = "auto") -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("model.device is 'cuda' but no CUDA device is available")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


# Texts per padded attention block in `BiEncoder.embed` (training), by device type: see `packing`.
ATTENTION_BLOCK = {"cpu": 8, "cuda": 64}


class Dense(torch.nn.Module):
    """A sentence-transformers Dense module: a linear layer and an activation applied to the pooled vector."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation_function: str = "torch.nn.modules.activation.Tanh"):
        super().__init__()
        self.linear = torch.nn.Linear(in_features, out_features, bias=bias)
        self.activation_function = activation_function
        activation = getattr(torch.nn, activation_function.rsplit(".", 1)[-1], None)
        if not activation_function.startswith("torch.nn.") or not (isinstance(activation, type) and issubclass(activation, torch.nn.Module)):
            raise ValueError(f"Dense activation '{activation_function}' is not a torch.nn module class")
        self.activation = activation()

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(pooled))

    @classmethod
    def load(cls, folder: Path) -> Dense:
        """From a sentence-transformers Dense folder (config.json and model.safetensors or pytorch_model.bin)."""
        config = json.loads((folder / "config.json").read_text())
        dense = cls(
            config["in_features"],
            config["out_features"],
            config.get("bias", True),
            config.get("activation_function", "torch.nn.modules.activation.Tanh"),
        )
        if (folder / "model.safetensors").is_file():
            from safetensors.torch import load_file

            weights = load_file(folder / "model.safetensors")
        else:
            weights = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
        dense.load_state_dict(weights)
        return dense

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text(
            json.dumps(
                {
                    "in_features": self.linear.in_features,
                    "out_features": self.linear.out_features,
                    "bias": self.linear.bias is not None,
                    "activation_function": self.activation_function,
                },
                indent=2,
            )
        )
        save_file({name: tensor.detach().contiguous().cpu() for name, tensor in self.state_dict().items()}, folder / "model.safetensors")


class PreparationError(RuntimeError):
    """A model prepared twice, or for training after inference (`BiEncoder.prepare`)."""


class BiEncoder(torch.nn.Module):
    """Shared transformer, mean or CLS pooling, an optional Dense layer, optional L2 normalisation.

    `precision` ("fp32" or "bf16", resolved by `precision.resolve`) is the arithmetic it runs in: training
    keeps fp32 weights, optimiser state and loss and runs the forward pass under bf16 autocast;
    `for_inference` casts the weights themselves to bf16. Embeddings are always returned in fp32.

    Its family (`families`) is worked out once, here. `for_training` and `for_inference` prepare it once each (training
    first, if at all), with the fast paths `model.kernels` asks for (`speed.plan`); `plan` is the plan applied and
    `kernels` the record of what ran. Unprepared, it runs no fast path: padded batches, torch's own layers.
    """

    def __init__(
        self,
        transformer,
        tokenizer,
        pooling: str = "mean",
        normalize: bool = True,
        max_seq_length: int = 256,
        dense: Dense | None = None,
        precision: str = "fp32",
    ):
        super().__init__()
        if pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}, not '{pooling}'")
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be fp32 or bf16 (resolved), not '{precision}'")
        self.transformer, self.tokenizer, self.dense = transformer, tokenizer, dense
        self.pooling, self.normalize, self.max_seq_length, self.precision = pooling, normalize, max_seq_length, precision
        self.family = families.of_config(transformer.config.to_dict())
        self.plan: speed.KernelsPlan | None = None  # the last preparation's (`prepare`)
        self.kernels: dict | None = None  # what the inference preparation ran (`speed.record`)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dimension(self) -> int:
        return self.dense.linear.out_features if self.dense is not None else self.transformer.config.hidden_size

    @property
    def packing(self) -> bool:
        """Whether `embed` packs a batch's texts into one row (a plan took packing)."""
        return self.plan is not None and self.plan.packing

    def autocast(self):
        """bf16 autocast when the model runs in bf16 (matrix products in bf16, reductions in fp32), else a no-op."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def for_training(self, kernels: str = "auto") -> speed.KernelsPlan:
        """Training mode, with the fast paths `kernels` asks for (`speed.plan`): auto takes packed rows where the model's
        family allows them and, on a CPU, the study's dropout masks (`dropout.use_fast_dropout`); plain takes padded
        batches and torch's dropout. Returns the plan: its optimiser (`training.optimizer_for`) takes fused AdamW from it,
        and training.json records what ran (`paths_taken`)."""
        self.prepare(speed.plan(kernels, self.family, self.device.type, "training"))
        self.train()
        return self.plan

    def for_inference(self, kernels: str = "auto") -> dict:
        """Evaluation mode, with bf16 weights when running in bf16 (faster than autocast: no cast per product) and the
        fast paths `kernels` asks for (`speed.plan`): auto takes packed batches where the model's family allows them and,
        where oneDNN runs them (`onednn.expected`), the transformer's linear layers prepacked (`onednn.prepack`); plain
        takes padded batches through torch's linear layers. Returns what ran (`kernels`), as encoding.json records it."""
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        plan = speed.plan(kernels, self.family, self.device.type, "inference", onednn.expected(self.device, dtype))
        self.to(dtype).eval()
        self.prepare(plan)
        self.kernels = speed.record(plan, self.paths_taken())
        return self.kernels

    def prepare(self, plan: speed.KernelsPlan) -> None:
        """Apply `plan` (`speed.plan`): packed attention, the study's dropout masks, prepacked oneDNN layers as it says.
        A second preparation, or one for training after one for inference (whose prepacked layers would stop learning),
        is a PreparationError."""
        if self.plan is not None and (plan.mode == "training" or self.plan.mode == "inference"):
            raise PreparationError(
                f"this model was already prepared for {self.plan.mode} (model.kernels: {self.plan.requested}); a model is prepared "
                "once, for training first if at all: load it again to prepare it otherwise"
            )
        unchecked = private_apis.unchecked_versions() if plan.packing or plan.onednn_prepack else []
        if unchecked:
            log.warning("model.kernels: the fast paths use private names checked on other versions than %s", "; ".join(unchecked))
        if plan.packing:
            packed.prepare(self.transformer, self.family)
        if plan.own_dropout:
            use_fast_dropout(self.transformer)
        if plan.onednn_prepack and private_apis.onednn_linear():
            onednn.prepack(self.transformer, self.family.activation)
        self.plan = plan

    def paths_taken(self) -> dict[str, bool]:
        """The fast paths the prepared model runs, read back from its modules (`speed.record` names them)."""
        taken = {"packing": self.packing and packed.prepared(self.transformer)}
        if self.plan is not None and self.plan.mode == "training":
            return taken | {"dropout": own_masks(self.transformer)}
        return taken | {"onednn_prepack": onednn.prepacked(self.transformer)}

    def tokenize(self, texts: list[str]):
        """Unpadded, truncated token ids and masks (`embed_tokens` packs them into one row)."""
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Embeddings of a padded batch of token ids."""
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        if self.pooling == "cls":
            return self.head(hidden[:, 0])
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return self.head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))

    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        """The embedding of pooled token vectors: the Dense layer where there is one, then L2 normalisation."""
        if self.dense is not None:
            pooled = self.dense(pooled.to(self.dense.linear.weight.dtype)).float()
        return torch.nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled

    def embed(self, texts: list[str], block_size: int | None = None) -> torch.Tensor:
        """Embeddings in input order, from one packed forward pass (`packing`): the texts' tokens in one row without
        padding, attention in padded blocks of `block_size` length-sorted texts.

        The result equals a padded forward pass (pooling ignores padding) within float rounding, at the cost of the real
        tokens alone; gradients flow as usual. `block_size` defaults to the device's (`ATTENTION_BLOCK`): small on a CPU,
        which pays for every padded position, larger on a GPU, which pays for every kernel launch. A model that does not
        pack (`packing`: unprepared, its family, `families`, or `model.kernels: plain`) gets one padded batch instead.
        """
        return self.embed_tokens(self.tokenize(texts)["input_ids"], block_size)

    def embed_tokens(self, ids: list[list[int]], block_size: int | None = None) -> torch.Tensor:
        """`embed` of texts already tokenised (`tokenize`'s input ids)."""
        if not self.packing:
            pad = self.transformer.config.pad_token_id or 0
            width = max(map(len, ids))
            input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in ids], device=self.device)
            mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids], device=self.device)
            return self(input_ids, mask)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        block_size = block_size or ATTENTION_BLOCK.get(self.device.type, ATTENTION_BLOCK["cuda"])
        hidden, packing = packed.forward(self.transformer, [ids[i] for i in order], block_size, self.family.position_offset)
        hidden = hidden.float()
        pooled = self.head(packing.first(hidden) if self.pooling == "cls" else packing.mean(hidden))
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return pooled[inverse.to(self.device)]

    def save(self, path: Path) -> None:
        """Write a sentence-transformers folder: transformer at the root, 1_Pooling, then 2_Dense and/or Normalize."""
        path = Path(path)
        self.transformer.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        write_modules(path, self.dimension, self.pooling, self.normalize, self.max_seq_length, dense=self.dense is not None)
        if self.dense is not None:
            self.dense.save(path / "2_Dense")


def write_modules(path: Path, dimension: int, pooling: str, normalize: bool, max_seq_length: int, dense: bool = False) -> None:
    """The sentence-transformers files of a folder whose transformer sits at its root: modules.json (Transformer,
    Pooling, then a Dense module at 2_Dense when `dense`, then Normalize when `normalize`), the Pooling config and
    sentence_bert_config.json."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if dense:
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    if normalize:
        idx = len(modules)
        modules.append({"idx": idx, "name": str(idx), "path": f"{idx}_Normalize", "type": "sentence_transformers.models.Normalize"})
        (path / f"{idx}_Normalize").mkdir(exist_ok=True)
    (path / "1_Pooling").mkdir(exist_ok=True)
    (path / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": dimension,
                "pooling_mode_cls_token": pooling == "cls",
                "pooling_mode_mean_tokens": pooling == "mean",
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
            },
            indent=2,
        )
    )
    (path / "modules.json").write_text(json.dumps(modules, indent=2))
    (path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}))


def _folder_pooling(config_file: Path) -> str:
    """The pooling a sentence-transformers Pooling config asks for (mean when there is none; `folders.folder_pooling`),
    a ValueError where it is none of `POOLING_MODES`."""
    pooling = folder_pooling(config_file) or "mean"
    if pooling in POOLING_MODES:
        return pooling
    raise ValueError(f"{config_file}: pooling {pooling.split('+')} is not supported (only CLS or mean): set model.pooling")


def load(name: str, device: torch.device, max_seq_length: int | None = None, pooling: str = "auto", precision: str = "fp32") -> BiEncoder:
    """Load a bi-encoder (fp32 weights) from a folder or hub id; a plain transformers checkpoint gets mean
    pooling + L2 norm.

    `pooling` "auto" keeps the folder's pooling; "mean" or "cls" overrides it (a Dense layer stays).
    `precision` is `model.precision` (auto, fp32, bf16), resolved for `device` (`precision.resolve`).
    """
    precision = arithmetic.resolve(precision, device)  # before the weights: fail fast
    parts = layout(resolve(name))
    pooling = _folder_pooling(parts.pooling_config) if pooling == "auto" else pooling
    encoder = BiEncoder(
        # without the hub's kernels, which transformers 5.25 swaps in by default (GELU on a GPU, fetched from the hub):
        # the fast paths are the study's own (`speed`), recorded, as under 5.24
        AutoModel.from_pretrained(parts.transformer, dtype=torch.float32, use_kernels=False),
        AutoTokenizer.from_pretrained(parts.transformer),
        pooling,
        parts.normalize,
        max_seq_length or parts.max_seq_length,
        Dense.load(parts.dense) if parts.dense is not None else None,
        precision,
    )
    return encoder.to(device)
