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

from xlretrieval import dropout, families, onednn, packing, private_apis, speed
from xlretrieval import model as bi
from xlretrieval.batching import make_batches
from xlretrieval.encoding import encode, encode_evalset, load_encoder
from xlretrieval.settings import Training
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
    assert not encoder.packing and encoder.kernels is None  # unprepared: no fast path, nothing to record
    assert encoder.for_inference("auto")["packing"] and encoder.packing
    assert private_apis.attention_implementation(encoder.transformer) == packing.ATTENTION  # recorded as it runs
    trained = bi.load(tiny, CPU)
    plan = trained.for_training("auto")
    assert plan == speed.KernelsPlan("auto", "training", packing=True, own_dropout=True, onednn_prepack=False, fused_adamw=True)
    assert trained.paths_taken() == {"packing": True, "dropout": True}
    assert trained.training and any(isinstance(m, dropout.FastDropout) for m in trained.modules())


@pytest.mark.skipif(not onednn_expected(), reason=NO_ONEDNN)
def test_auto_prepacks_a_berts_linear_layers_for_onednn_where_torch_has_onednn(tiny):
    """Here torch has oneDNN: its prepacked linear product must be there and taken (not a hasattr that turns it off)."""
    assert private_apis.onednn_linear(), (
        f"torch {torch.__version__} has oneDNN but not torch.ops.mkldnn.{private_apis.ONEDNN_LINEAR}: encoding falls back to "
        f"torch.nn.Linear; update xlretrieval.private_apis (checked on torch {private_apis.TORCH_CHECKED})"
    )
    assert onednn.expected(CPU, torch.float32)
    encoder = load_encoder(tiny, "cpu", 64)
    assert encoder.kernels["onednn_prepack"]
    layers = linear_layers(encoder)
    assert len(layers) == 6 * SIZES["num_hidden_layers"] + 1 and all(isinstance(layer, onednn.PrepackedLinear) for layer in layers)
    assert sum(layer.gelu for layer in layers) == SIZES["num_hidden_layers"]  # each intermediate GELU folded into its product


def test_plain_takes_no_fast_path(tiny, texts):
    encoder = load_encoder(tiny, "cpu", 64, kernels="plain")
    assert encoder.kernels == {"requested": "plain", "packing": False, "onednn_prepack": False, **speed.versions(), "missing": []}
    assert all(type(layer) is torch.nn.Linear for layer in linear_layers(encoder))
    encode(encoder, texts, batch_size=8)
    assert private_apis.attention_implementation(encoder.transformer) != packing.ATTENTION  # transformers' own attention
    trained = bi.load(tiny, CPU)
    assert trained.for_training("plain") == speed.KernelsPlan("plain", "training", False, False, False, False)
    assert trained.paths_taken() == {"packing": False, "dropout": False}
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
    assert recorded["auto"] == {"requested": "auto", "packing": True, "onednn_prepack": onednn_expected(), **speed.versions(), "missing": []}
    assert recorded["plain"] == {"requested": "plain", "packing": False, "onednn_prepack": False, **speed.versions(), "missing": []}
    assert recorded["auto"]["torch"] == torch.__version__ and recorded["auto"]["transformers"] == transformers.__version__


def test_plain_and_auto_train_alike_without_dropout_and_training_json_records_the_paths(tmp_path, mlqa_pairs, texts):
    """Without dropout (whose masks differ between them) the two paths compute the same steps within float rounding."""
    model = tiny_bert(tmp_path / "base", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    batches = make_batches(mlqa_pairs, ["de", "en"], 0.5, 16, 4, 0)
    settings = Training(learning_rate=1e-3, weight_decay=0.01, warmup_ratio=0.0, temperature=0.05)
    embeddings, recorded = {}, {}
    for kernels in speed.KERNELS:
        train(bi.load(model, CPU, 32), mlqa_pairs, batches, tmp_path / kernels, settings, kernels=kernels, progress=False)
        recorded[kernels] = json.loads((tmp_path / kernels / "training.json").read_text())["kernels"]
        embeddings[kernels] = encode(load_encoder(str(tmp_path / kernels), "cpu", 64, kernels="plain"), texts)
    assert recorded["auto"] == {"requested": "auto", "packing": True, "dropout": "own", "fused_adamw": True, **speed.versions(), "missing": []}
    assert recorded["plain"] == {"requested": "plain", "packing": False, "dropout": "torch", "fused_adamw": False, **speed.versions(), "missing": []}
    assert np.einsum("ij,ij->i", embeddings["auto"], embeddings["plain"]).min() >= 0.9999
    assert np.einsum("ij,ij->i", embeddings["auto"], encode(load_encoder(model, "cpu", 64, kernels="plain"), texts)).min() < 0.999  # it trained


BERT = families.of_config({"model_type": "bert", "hidden_act": "gelu"})
MODERNBERT = families.of_config({"model_type": "modernbert", "hidden_activation": "gelu"})


@pytest.mark.parametrize(
    "kernels, family, device, mode, onednn_here, expected",
    [
        ("auto", BERT, "cpu", "training", True, (True, True, False, True)),
        ("auto", BERT, "cuda", "training", False, (True, False, False, True)),  # torch's dropout masks on a GPU
        ("auto", BERT, "cpu", "inference", True, (True, False, True, False)),
        ("auto", BERT, "cpu", "inference", False, (True, False, False, False)),  # no oneDNN for this dtype here
        ("auto", MODERNBERT, "cpu", "inference", True, (False, False, True, False)),  # not packable; its linear layers prepack
        ("auto", MODERNBERT, "cpu", "training", True, (False, True, False, True)),
        ("plain", BERT, "cpu", "training", True, (False, False, False, False)),
        ("plain", BERT, "cpu", "inference", True, (False, False, False, False)),
    ],
)
def test_the_plan_is_decided_by_the_family_the_device_and_the_mode_alone(kernels, family, device, mode, onednn_here, expected):
    plan = speed.plan(kernels, family, device, mode, onednn_here)
    assert (plan.packing, plan.own_dropout, plan.onednn_prepack, plan.fused_adamw) == expected
    assert plan == speed.plan(kernels, family, device, mode, onednn_here)  # pure: the same inputs, the same plan


def test_a_model_is_prepared_once_and_for_training_before_inference(tiny):
    inferred = bi.load(tiny, CPU)
    inferred.for_inference()
    with pytest.raises(bi.PreparationError, match="already prepared for inference"):
        inferred.for_training()  # its prepacked layers would not learn
    with pytest.raises(bi.PreparationError, match="already prepared for inference"):
        inferred.for_inference("plain")  # would record plain over auto's layers
    trained = bi.load(tiny, CPU)
    trained.for_training()
    with pytest.raises(bi.PreparationError, match="already prepared for training"):
        trained.for_training("plain")
    assert trained.for_inference()["packing"]  # train, then encode: the pilot's order


def test_packing_refuses_a_transformer_not_prepared_for_it(tiny):
    encoder = bi.load(tiny, CPU)
    with pytest.raises(ValueError, match="not packed attention: prepare it for packing first"):
        packing.forward(encoder.transformer, [[101, 7, 102]], 8, encoder.family.position_offset)


@pytest.mark.skipif(not onednn_expected(), reason=NO_ONEDNN)
def test_an_expected_path_that_does_not_run_is_logged_and_recorded_missing(tiny, monkeypatch, caplog):
    monkeypatch.setattr(private_apis, "onednn_linear", lambda: False)  # as a torch that dropped the private ops would
    with caplog.at_level("WARNING", logger="xlretrieval.speed"):
        recorded = load_encoder(tiny, "cpu", 64).kernels
    assert recorded["onednn_prepack"] is False and recorded["missing"] == ["onednn_prepack"]
    assert "the fast path 'onednn_prepack' was expected here but did not run" in caplog.text


def test_private_names_used_on_versions_they_were_not_checked_on_are_named_in_the_log(tiny, monkeypatch, caplog):
    monkeypatch.setattr(private_apis, "TRANSFORMERS_CHECKED", (transformers.__version__,))
    monkeypatch.setattr(private_apis, "TORCH_CHECKED", ("0.0.1",))
    assert private_apis.unchecked_versions() == [f"torch {torch.__version__.split('+')[0]} (checked on 0.0.1)"]
    with caplog.at_level("WARNING", logger="xlretrieval.model"):
        bi.load(tiny, CPU).for_inference()
    assert "checked on other versions than torch" in caplog.text
