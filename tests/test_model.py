import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from xlretrieval import model as bi
from xlretrieval.batching import make_batches
from xlretrieval.encoding import encode, open_embeddings
from xlretrieval.settings import EarlyStopping, Training
from xlretrieval.training import TrainingError, batch_texts, info_nce, train

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


def test_packed_training_embeddings_equal_a_padded_batchs_whatever_the_attention_blocks(texts):
    encoder = bi.load(NAME, CPU)
    encoder.for_training()  # packed, as in training
    encoder.eval()  # without dropout
    assert encoder.packing
    with torch.no_grad():
        batch = encoder.tokenizer(texts[:40], truncation=True, max_length=encoder.max_seq_length, padding=True, return_tensors="pt")
        padded = encoder(batch["input_ids"], batch["attention_mask"])
        for block_size in (None, 3, 40, bi.ATTENTION_BLOCK["cuda"]):
            torch.testing.assert_close(encoder.embed(texts[:40], block_size), padded, atol=1e-5, rtol=0)
    assert padded.shape == (40, 384)


def test_info_nce_of_a_hand_computed_2x2_case():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    # logits q @ p.T / 0.5 = [[1.2, 0], [1.6, 2]]; the positives sit on the diagonal
    expected = (math.log(1 + math.exp(-1.2)) + math.log(1 + math.exp(-0.4))) / 2
    assert info_nce(q, p, 0.5).item() == pytest.approx(expected, rel=1e-6)
    # swapped roles: logits [[1.2, 1.6], [0, 2]]
    assert info_nce(p, q, 0.5).item() == pytest.approx((math.log(1 + math.exp(0.4)) + math.log(1 + math.exp(-2))) / 2, rel=1e-6)


def test_info_nce_limits():
    separated = torch.eye(6)
    assert info_nce(separated, separated, 0.01).item() < 1e-6  # each positive is 100 logits ahead
    assert info_nce(separated, separated.roll(1, 0), 0.01).item() == pytest.approx(100, rel=1e-4)  # every positive 100 behind
    same = torch.nn.functional.normalize(torch.ones(6, 4), dim=-1)
    assert info_nce(same, same, 0.05).item() == pytest.approx(math.log(6), rel=1e-6)  # no way to tell the 6 apart


def test_training_saves_a_sentence_transformers_model(tmp_path, mlqa_pairs, texts):
    from sentence_transformers import SentenceTransformer

    batches = make_batches(mlqa_pairs, ["de", "en"], 0.5, 24, 8, 0)
    encoder = bi.load(NAME, CPU, max_seq_length=64)
    before = encode(encoder, texts[:8])
    losses = train(encoder, mlqa_pairs, batches, tmp_path / "model", Training(1e-4, 0.01, 0.0, 0.05), progress=False)
    assert len(losses) == 3 and np.isfinite(losses.loss).all()
    assert pd.read_csv(tmp_path / "model" / "loss.tsv", sep="\t").step.tolist() == [0, 1, 2]
    reloaded = encode(bi.load(str(tmp_path / "model"), CPU), texts[:8])
    assert not np.allclose(before, reloaded, atol=1e-4)  # the weights moved
    st = SentenceTransformer(str(tmp_path / "model"), device="cpu").encode(texts[:8])
    np.testing.assert_allclose(reloaded, st, atol=1e-5)
    assert not (tmp_path / "model.partial").exists()


CARD = {
    "base_model": NAME,
    "base_provenance": None,
    "dataset": "mlqa-r",
    "licence": "CC BY-NC 4.0",
    "languages": ["de", "en"],
    "strategy": "hybrid",
    "alpha": 0.5,
    "k": 1,
    "draw": 0,
    "seed": 0,
    "tag": "hybrid-a0.5/k1/draw0/seed0",
}


@pytest.mark.parametrize(
    "word_embeddings, optimizer, card_says",
    [
        ("frozen", "AdamW (fused)", "frozen (as pretrained)"),
        ("sparse", "AdamW (fused) and SparseAdam (word embeddings)", "trained, only the rows of each batch's tokens (SparseAdam)"),
        ("dense", "AdamW (fused)", "trained, every row every step (AdamW)"),
    ],
)
def test_word_embeddings_move_as_configured_and_the_card_says_how(tmp_path, mlqa_pairs, word_embeddings, optimizer, card_says):
    """frozen: no row moves; sparse: exactly the rows of the batches' tokens move; dense: every row (weight decay)."""
    from sentence_transformers import SentenceTransformer

    batches = make_batches(mlqa_pairs, ["de", "en"], 0.5, 16, 8, 0)
    encoder = bi.load(NAME, CPU, max_seq_length=32)
    table = encoder.transformer.get_input_embeddings().weight.detach().clone()
    layer = encoder.transformer.encoder.layer[0].attention.self.query.weight.detach().clone()
    texts = batch_texts(mlqa_pairs, "", "")
    questions, passages = zip(*(texts(b, group) for b, group in batches.groupby("batch")))
    touched = torch.zeros(len(table), dtype=torch.bool)
    touched[[i for ids in encoder.tokenize([t for batch in questions + passages for t in batch])["input_ids"] for i in ids]] = True
    settings = Training(learning_rate=1e-3, weight_decay=0.01, warmup_ratio=0.0, temperature=0.05, word_embeddings=word_embeddings)
    train(encoder, mlqa_pairs, batches, tmp_path / "model", settings, card=CARD, progress=False)
    saved = bi.load(str(tmp_path / "model"), CPU)
    moved = (saved.transformer.get_input_embeddings().weight != table).any(dim=1)
    expected = {"frozen": torch.zeros_like(touched), "sparse": touched, "dense": torch.ones_like(touched)}[word_embeddings]
    assert torch.equal(moved, expected)
    assert not torch.allclose(saved.transformer.encoder.layer[0].attention.self.query.weight, layer)
    info = json.loads((tmp_path / "model" / "training.json").read_text())
    assert info["word_embeddings"] == word_embeddings and info["optimizer"] == optimizer
    card = (tmp_path / "model" / "README.md").read_text()
    assert f"base_model: {NAME}" in card and "language: [de, en]" in card and "hybrid, alpha 0.5" in card
    assert f"| word embeddings | {card_says} |" in card and "non-commercial use only" in card and "2 of 2 steps" not in card
    assert "`results/metrics/hybrid-a0.5/k1/draw0/seed0/`" in card
    SentenceTransformer(str(tmp_path / "model"), device="cpu")  # the card is where sentence-transformers expects one


def test_logged_learning_rate_is_the_one_each_step_used_and_training_json_records_the_mix(tmp_path, mlqa_pairs):
    from transformers import get_linear_schedule_with_warmup

    batches = make_batches(mlqa_pairs, ["de", "en"], 0.25, 32, 4, 0)  # 8 steps, round(0.25 * 8) = 2 X-X-mono
    losses = train(
        bi.load(NAME, CPU, max_seq_length=32),
        mlqa_pairs,
        batches,
        tmp_path / "model",
        Training(learning_rate=1e-4, weight_decay=0.0, warmup_ratio=0.25, temperature=0.05),
        progress=False,
    )
    factor = get_linear_schedule_with_warmup(torch.optim.SGD([torch.zeros(1)], lr=1.0), 2, 8).lr_lambdas[0]
    assert losses.learning_rate.tolist() == pytest.approx([1e-4 * factor(step) for step in range(8)])
    assert losses.learning_rate.iloc[0] == 0.0 and losses.learning_rate.iloc[-1] == pytest.approx(1e-4 / 6)  # warmup starts at 0
    info = json.loads((tmp_path / "model" / "training.json").read_text())
    assert info["steps"] == info["steps_run"] == 8 and info["batch_size"] == 4 and info["max_seq_length"] == 32
    assert info["xx_mono_batches"] == 2 == (losses.batch_kind == "xx-mono").sum() and info["xx_mono_share"] == 0.25
    assert info["learning_rate"] == 1e-4 and info["warmup_steps"] == 2
    assert info["kernels"]["dropout"] == "own" and info["kernels"]["fused_adamw"]  # on a CPU: the study's masks, fused AdamW
    shares = info["language_shares"]  # counted from the batches trained on: each side of each of the 32 pairs
    assert shares["questions"]["en"] == pytest.approx((batches.question_lang == "en").mean())
    assert shares["texts"]["de"] == pytest.approx(((batches.question_lang == "de").sum() + (batches.passage_lang == "de").sum()) / 64)
    assert sum(shares["texts"].values()) == pytest.approx(1.0) and set(shares["passages"]) == {"de", "en"}


def test_non_finite_loss_stops_with_a_clear_error(tmp_path, mlqa_pairs):
    batches = make_batches(mlqa_pairs, ["de", "en"], 0.0, 16, 8, 0)
    with pytest.raises(TrainingError, match=r"loss is (nan|inf) at step 0"):
        train(
            bi.load(NAME, CPU),
            mlqa_pairs,
            batches,
            tmp_path / "m",
            Training(learning_rate=1e-4, weight_decay=0.0, warmup_ratio=0.0, temperature=0.0),
            progress=False,
        )
    assert not (tmp_path / "m").exists()


def test_only_a_bf16_model_autocasts_and_its_embeddings_stay_fp32(texts):
    encoder = bi.load(NAME, CPU)
    with encoder.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    encoder.precision = "bf16"
    with encoder.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with torch.no_grad():
        assert encoder.embed(texts[:3]).dtype == torch.float32


def test_local_folder_and_packaged_hub_id_resolve_offline(tmp_path):
    assert bi.resolve(str(tmp_path)) == tmp_path
    assert (bi.resolve(NAME) / "config.json").is_file()


@pytest.fixture(scope="module")
def labse_like(tmp_path_factory):
    """A LaBSE-shaped sentence-transformers folder saved by sentence-transformers itself: a small random BERT,
    CLS pooling, a 32 -> 16 tanh Dense layer, Normalize."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    root = tmp_path_factory.mktemp("labse-like")
    tokenizer = AutoTokenizer.from_pretrained(bi.resolve(NAME))
    torch.manual_seed(0)
    BertModel(
        BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    ).save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    modules = [
        models.Transformer(str(root / "bert")),
        models.Pooling(32, "cls"),
        models.Dense(32, 16, activation_function=torch.nn.Tanh()),
        models.Normalize(),
    ]
    SentenceTransformer(modules=modules, device="cpu").save(str(root / "st"))
    return root / "st"


def test_dense_layer_folder_is_loaded_trained_and_saved_like_sentence_transformers(tmp_path, labse_like, mlqa_pairs, texts):
    from sentence_transformers import SentenceTransformer

    encoder = bi.load(str(labse_like), CPU)
    assert encoder.pooling == "cls" and encoder.dense is not None and encoder.dimension == 16
    reference = SentenceTransformer(str(labse_like), device="cpu").encode(texts[:8])
    np.testing.assert_allclose(encode(encoder, texts[:8]), reference, atol=1e-5)
    before = encoder.dense.linear.weight.detach().clone()
    batches = make_batches(mlqa_pairs, ["de", "en"], 0.5, 16, 8, 0)
    train(encoder, mlqa_pairs, batches, tmp_path / "model", Training(1e-3, 0.01, 0.0, 0.05), progress=False)
    assert not torch.allclose(before, encoder.dense.linear.weight)  # the Dense layer is fine-tuned too
    ours = encode(bi.load(str(tmp_path / "model"), CPU), texts[:8])
    np.testing.assert_allclose(ours, SentenceTransformer(str(tmp_path / "model"), device="cpu").encode(texts[:8]), atol=1e-5)


def test_pooling_setting_overrides_the_folder(texts):
    encoder = bi.load(NAME, CPU, pooling="cls")
    assert encoder.pooling == "cls" and bi.load(NAME, CPU, pooling="auto").pooling == "mean"
    tokens = encoder.tokenizer(texts[:4], padding=True, return_tensors="pt")
    with torch.no_grad():
        cls = encoder.transformer(**tokens).last_hidden_state[:, 0]
    np.testing.assert_allclose(encode(encoder, texts[:4]), torch.nn.functional.normalize(cls, dim=-1).numpy(), atol=1e-5)


def test_unsupported_folder_pooling_is_named(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_max_tokens": true, "pooling_mode_mean_tokens": false}')
    (tmp_path / "modules.json").write_text('[{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]')
    with pytest.raises(ValueError, match=r"pooling \['max'\] is not supported .* set model.pooling"):
        bi.load(str(tmp_path), CPU)


def test_early_stopping_keeps_the_best_checkpoint(tmp_path, mlqa_pairs, texts):
    from xlretrieval.batching import training_batches
    from xlretrieval.data.splits import hold_out_dev

    pairs = hold_out_dev(mlqa_pairs, 0.1, 0)
    batches = training_batches(pairs, ["de", "en"], 0.5, 80, 8, 0, dev_pairs=16)
    settings = Training(learning_rate=1e-3, weight_decay=0.0, warmup_ratio=0.0, temperature=0.05, early_stopping=EarlyStopping(every=1, patience=2))
    losses = train(bi.load(NAME, CPU, 64), pairs, batches, tmp_path / "stopped", settings, progress=False)
    dev = pd.read_csv(tmp_path / "stopped" / "dev_loss.tsv", sep="\t")
    assert len(losses) == 3 < batches[batches.split == "train"].batch.nunique()  # stopped after 2 evaluations without a gain
    assert dev.step.tolist() == [1, 2, 3] and dev.kept.tolist() == [True, False, False] and dev.dev_loss.idxmin() == 0
    info = json.loads((tmp_path / "stopped" / "training.json").read_text())
    assert info["steps"] == 1 and info["steps_run"] == 3  # the saved weights saw the first batch only
    assert info["xx_mono_batches"] == (losses.batch_kind.iloc[:1] == "xx-mono").sum()
    # the saved model is the step-1 checkpoint: one step of the same schedule gives the same weights
    first = batches[(batches.split == "train") & (batches.batch == 0)]
    train(bi.load(NAME, CPU, 64), pairs, first, tmp_path / "one-step", settings, progress=False)
    np.testing.assert_allclose(
        encode(bi.load(str(tmp_path / "stopped"), CPU), texts[:8]), encode(bi.load(str(tmp_path / "one-step"), CPU), texts[:8]), atol=1e-6
    )
