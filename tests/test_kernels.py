"""The speed layer (`model.kernels`, xlretrieval.speed): `auto` takes every fast path this machine should take, `plain`
none; both give the same embeddings, and training.json and encoding.json record which paths ran, with the versions.

A fast path that this CPU and torch should take but that is not taken fails here: an upgrade of torch or transformers
that drops a private name (xlretrieval.private_apis) must not quietly fall back to the slower path."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from transformers import AutoTokenizer, BertConfig, BertModel

from xlretrieval import dropout, onednn, packing, private_apis, speed
from xlretrieval import model as bi
from xlretrieval.batching import make_batches
from xlretrieval.encoding import encode, encode_evalset, load_encoder
from xlretrieval.training import train

from conftest import NO_ONEDNN, onednn_expected

CPU = torch.device("cpu")
TOKENIZER = "sentence-transformers/all-MiniLM-L6-v2"  # a packaged copy: its tokenizer only
SIZES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


def tiny_bert(folder: Path, **config) -> str:
    """A 2-layer BERT (and its pooler, which the study does not use) of random weights with MiniLM's tokenizer, saved as a
    sentence-transformers folder."""
    tokenizer = AutoTokenizer.from_pretrained(bi.resolve(TOKENIZER))
    torch.manual_seed(0)
    transformer = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, **SIZES, **config))
    bi.BiEncoder(transformer, tokenizer, max_seq_length=64).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return tiny_bert(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def texts(xquad) -> list[str]:
    """Questions and sentences of three languages, of many lengths (the longest cut at 64 tokens)."""
    return xquad.questions.groupby("lang").head(5).text.tolist() + xquad.candidates.groupby("lang").head(5).text.tolist()


def linear_layers(encoder: bi.BiEncoder) -> list[torch.nn.Module]:
    return [m for m in encoder.transformer.modules() if isinstance(m, (torch.nn.Linear, onednn.PrepackedLinear))]


def test_auto_packs_a_bert_and_trains_it_with_the_studys_dropout_masks_on_a_cpu(tiny):
    encoder = bi.load(tiny, CPU)
    assert not encoder.transformer.use_kernels  # transformers' hub kernels: off, whatever its version's default
    assert encoder.for_inference("auto")["packing"] and encoder.packing
    trained = bi.load(tiny, CPU)
    assert trained.for_training("auto") == {"requested": "auto", "packing": True, "dropout": "own", **speed.versions()}
    assert trained.training and any(isinstance(m, dropout.FastDropout) for m in trained.modules())


@pytest.mark.skipif(not onednn_expected(), reason=NO_ONEDNN)
def test_auto_prepacks_a_berts_linear_layers_for_onednn_where_torch_has_onednn(tiny):
    """Here torch has oneDNN: its prepacked linear product must be there and taken (not a hasattr that turns it off)."""
    assert private_apis.onednn_linear(), (
        f"torch {torch.__version__} has oneDNN but not torch.ops.mkldnn.{private_apis.ONEDNN_LINEAR}: encoding falls back to "
        f"torch.nn.Linear; update xlretrieval.private_apis (checked on torch {private_apis.TORCH_CHECKED})"
    )
    assert onednn.available(CPU, torch.float32)
    encoder = load_encoder(tiny, "cpu", 64)
    assert encoder.kernels["onednn_prepack"]
    layers = linear_layers(encoder)
    assert len(layers) == 6 * SIZES["num_hidden_layers"] + 1 and all(isinstance(layer, onednn.PrepackedLinear) for layer in layers)
    assert sum(layer.gelu for layer in layers) == SIZES["num_hidden_layers"]  # each intermediate GELU folded into its product


def test_plain_takes_no_fast_path(tiny, texts):
    encoder = load_encoder(tiny, "cpu", 64, kernels="plain")
    assert encoder.kernels == {"requested": "plain", "packing": False, "onednn_prepack": False, **speed.versions()}
    assert all(type(layer) is torch.nn.Linear for layer in linear_layers(encoder))
    encode(encoder, texts, batch_size=8)
    assert private_apis.attention_implementation(encoder.transformer) != packing.ATTENTION  # transformers' own attention
    trained = bi.load(tiny, CPU)
    assert trained.for_training("plain") == {"requested": "plain", "packing": False, "dropout": "torch", **speed.versions()}
    assert not any(isinstance(m, dropout.FastDropout) for m in trained.modules())


def test_kernels_must_be_auto_or_plain(tiny):
    with pytest.raises(ValueError, match=r"kernels must be one of \('auto', 'plain'\), not 'fast'"):
        bi.load(tiny, CPU).for_inference("fast")


def test_plain_and_auto_give_the_same_embeddings_and_encoding_json_records_the_paths(tiny, texts, tmp_path):
    sets = {"questions": texts[:15], "candidates": texts[15:]}
    vectors, recorded = {}, {}
    for kernels in speed.KERNELS:
        outputs = {key: tmp_path / f"{kernels}-{key}.npy" for key in sets} | {"encoding": tmp_path / f"{kernels}-encoding.json"}
        encode_evalset(load_encoder(tiny, "cpu", 64, kernels=kernels), tiny, sets, outputs, batch_size=4)
        vectors[kernels] = np.concatenate([np.load(outputs[key]) for key in sets])
        recorded[kernels] = json.loads(outputs["encoding"].read_text())["kernels"]
    assert np.einsum("ij,ij->i", vectors["auto"], vectors["plain"]).min() >= 0.9999  # normalised: cosines
    assert recorded["auto"] == {"requested": "auto", "packing": True, "onednn_prepack": onednn_expected(), **speed.versions()}
    assert recorded["plain"] == {"requested": "plain", "packing": False, "onednn_prepack": False, **speed.versions()}
    assert recorded["auto"]["torch"] == torch.__version__ and recorded["auto"]["transformers"] == transformers.__version__


def test_plain_and_auto_train_alike_without_dropout_and_training_json_records_the_paths(tmp_path, mlqa_pairs, texts):
    """Without dropout (whose masks differ between them) the two paths compute the same steps within float rounding."""
    model = tiny_bert(tmp_path / "base", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    batches = make_batches(mlqa_pairs, ["de", "en"], 0.5, 16, 4, 0)
    settings = {"learning_rate": 1e-3, "weight_decay": 0.01, "warmup_ratio": 0.0, "temperature": 0.05, "progress": False}
    embeddings, recorded = {}, {}
    for kernels in speed.KERNELS:
        train(bi.load(model, CPU, 32), mlqa_pairs, batches, tmp_path / kernels, kernels=kernels, **settings)
        recorded[kernels] = json.loads((tmp_path / kernels / "training.json").read_text())["kernels"]
        embeddings[kernels] = encode(load_encoder(str(tmp_path / kernels), "cpu", 64, kernels="plain"), texts)
    assert recorded["auto"] == {"requested": "auto", "packing": True, "dropout": "own", **speed.versions()}
    assert recorded["plain"] == {"requested": "plain", "packing": False, "dropout": "torch", **speed.versions()}
    assert np.einsum("ij,ij->i", embeddings["auto"], embeddings["plain"]).min() >= 0.9999
    assert np.einsum("ij,ij->i", embeddings["auto"], encode(load_encoder(model, "cpu", 64, kernels="plain"), texts)).min() < 0.999  # it trained
