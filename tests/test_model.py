import numpy as np
import pandas as pd
import pytest
import torch

from xlretrieval import model as bi
from xlretrieval.batching import make_batches
from xlretrieval.encoding import encode, open_embeddings
from xlretrieval.training import TrainingError, info_nce, train

NAME = "sentence-transformers/all-MiniLM-L6-v2"
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def texts(xquad):
    sample = pd.concat([xquad.questions.groupby("lang").head(20), xquad.candidates.groupby("lang").head(20)])
    return sample.text.tolist()


def test_encode_matches_sentence_transformers(texts):
    from sentence_transformers import SentenceTransformer

    ours = encode(bi.load(NAME, CPU), texts, batch_size=16)
    reference = SentenceTransformer(str(bi.resolve(NAME)), device="cpu").encode(texts, batch_size=16)
    assert ours.shape == (len(texts), 384)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_sharded_encoding_into_a_memory_map_equals_one_pass(tmp_path, texts):
    encoder = bi.load(NAME, CPU)
    whole = encode(encoder, texts, batch_size=16)
    mapped = open_embeddings(tmp_path / "vectors.npy", len(texts), encoder.dimension)
    encode(encoder, texts, batch_size=16, out=mapped, shard_size=7)
    mapped.flush()
    np.testing.assert_allclose(np.load(tmp_path / "vectors.npy", mmap_mode="r"), whole, atol=1e-6)


def test_info_nce_prefers_matching_pairs():
    q = torch.nn.functional.normalize(torch.randn(8, 16), dim=-1)
    assert info_nce(q, q, 0.05) < info_nce(q, q.roll(1, 0), 0.05)
    assert info_nce(q, q, 0.05).item() == pytest.approx(
        torch.nn.functional.cross_entropy(q @ q.T / 0.05, torch.arange(8)).item()
    )


def test_training_saves_a_sentence_transformers_model(tmp_path, mlqa_pairs, texts):
    from sentence_transformers import SentenceTransformer

    batches = make_batches(mlqa_pairs, ["de", "en"], 0.5, 24, 8, 0)
    encoder = bi.load(NAME, CPU, max_seq_length=64)
    before = encode(encoder, texts[:8])
    losses = train(encoder, mlqa_pairs, batches, tmp_path / "model", learning_rate=1e-4, weight_decay=0.01,
                   warmup_ratio=0.0, temperature=0.05, progress=False)
    assert len(losses) == 3 and np.isfinite(losses.loss).all()
    assert pd.read_csv(tmp_path / "model" / "loss.tsv", sep="\t").step.tolist() == [0, 1, 2]
    reloaded = encode(bi.load(str(tmp_path / "model"), CPU), texts[:8])
    assert not np.allclose(before, reloaded, atol=1e-4)  # the weights moved
    st = SentenceTransformer(str(tmp_path / "model"), device="cpu").encode(texts[:8])
    np.testing.assert_allclose(reloaded, st, atol=1e-5)
    assert not (tmp_path / "model.partial").exists()


def test_non_finite_loss_stops_with_a_clear_error(tmp_path, mlqa_pairs):
    batches = make_batches(mlqa_pairs, ["de", "en"], 0.0, 16, 8, 0)
    with pytest.raises(TrainingError, match=r"loss is (nan|inf) at step 0"):
        train(bi.load(NAME, CPU), mlqa_pairs, batches, tmp_path / "m", learning_rate=1e-4, weight_decay=0.0,
              warmup_ratio=0.0, temperature=0.0, progress=False)
    assert not (tmp_path / "m").exists()


def test_cpu_never_autocasts_to_bf16():
    with bi.autocast(CPU):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_local_folder_and_packaged_hub_id_resolve_offline(tmp_path):
    assert bi.resolve(str(tmp_path)) == tmp_path
    assert (bi.resolve(NAME) / "config.json").is_file()
