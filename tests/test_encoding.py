"""Evaluation encoding: every model truncated alike, and what the encoding was recorded beside it."""

import json

import numpy as np
import pytest
import torch

from xlretrieval import model as bi
from xlretrieval import speed
from xlretrieval.encoding import encode, encode_evalset, load_encoder
from xlretrieval.precision import describe

from conftest import onednn_expected

NAME = "sentence-transformers/all-MiniLM-L6-v2"
LONG = " ".join(["the prime number theorem describes the asymptotic distribution of primes"] * 15)  # 212 tokens


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """A fine-tuned-format folder with the base model's weights, saved at training's length (128)."""
    folder = tmp_path_factory.mktemp("tuned") / "model"
    bi.load(NAME, torch.device("cpu"), max_seq_length=128).save(folder)
    return str(folder)


def test_base_and_fine_tuned_models_truncate_alike(tuned):
    base, fine_tuned = load_encoder(NAME, "cpu", 256), load_encoder(tuned, "cpu", 256)
    assert base.max_seq_length == fine_tuned.max_seq_length == 256
    assert 128 < len(base.tokenize([LONG])["input_ids"][0]) < 256
    texts = [LONG, "Which number is prime?"]
    np.testing.assert_allclose(encode(base, texts), encode(fine_tuned, texts), atol=1e-6)
    saved = bi.load(tuned, torch.device("cpu"))  # at the length the folder saved, the long text is cut
    assert saved.max_seq_length == 128 and not np.allclose(encode(saved, texts)[0], encode(base, texts)[0], atol=1e-3)


def test_encoding_is_recorded_beside_the_embeddings(tmp_path, tuned):
    encoder = load_encoder(tuned, "cpu", 64)
    texts = {"questions": ["Which number is prime?", LONG], "candidates": ["Two is prime.", LONG, LONG]}
    outputs = {key: tmp_path / f"{key}.npy" for key in texts} | {"encoding": tmp_path / "encoding.json"}
    info = encode_evalset(encoder, tuned, texts, outputs, batch_size=2)
    assert json.loads((tmp_path / "encoding.json").read_text()) == info
    assert info == {
        "model": tuned,
        "max_seq_length": 64,
        "pooling": "mean",
        "device": "cpu",
        "precision": "fp32",
        "hardware": describe(torch.device("cpu")),
        "batch_size": 2,
        "kernels": {"requested": "auto", "packing": True, "onednn_prepack": onednn_expected(), **speed.versions(), "missing": []},
        "texts": {"questions": 2, "candidates": 3},
        "truncated": {"questions": 1, "candidates": 2},
    }
    np.testing.assert_allclose(np.load(tmp_path / "candidates.npy"), encode(encoder, texts["candidates"]), atol=1e-6)


def test_an_encoder_that_does_not_pack_gets_padded_batches_with_the_same_embeddings(monkeypatch, xquad):
    texts = xquad.candidates.groupby("lang").head(3).text.tolist()
    packed = encode(load_encoder(NAME, "cpu", 128), texts, batch_size=8)
    encoder = load_encoder(NAME, "cpu", 128, kernels="plain")  # as for a family packing does not cover
    calls = []
    monkeypatch.setattr(bi.BiEncoder, "embed_tokens", lambda *args: calls.append(args))
    np.testing.assert_allclose(encode(encoder, texts, batch_size=8), packed, atol=1e-5)
    assert not calls
