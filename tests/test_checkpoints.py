"""A training run killed after a checkpoint resumes from it, with its early-stopping state, to the weights of an
uninterrupted run, bit for bit on CPU (a killed train job under Snakemake: tests/test_interrupted.py)."""

import itertools

import pytest
import torch
from safetensors.torch import load_file

from xlretrieval import model as bi
from xlretrieval import training
from xlretrieval.batching import training_batches
from xlretrieval.data.splits import hold_out_dev
from xlretrieval.settings import EarlyStopping, Training
from xlretrieval.training import checkpoints, loop

NAME = "sentence-transformers/all-MiniLM-L6-v2"
SETTINGS = dict(learning_rate=1e-3, weight_decay=0.01, warmup_ratio=0.25, temperature=0.05, early_stopping=EarlyStopping(every=2, patience=10))


class Killed(Exception):
    """Stands for the SIGKILL of a train job."""


@pytest.fixture(scope="module")
def data(mlqa_pairs):
    """6 training steps of 8 pairs and a dev loss every 2 steps."""
    pairs = hold_out_dev(mlqa_pairs, 0.1, 0)
    return pairs, training_batches(pairs, ["de", "en"], 0.5, 48, 8, 0, dev_pairs=16)


def run(data, output, monkeypatch, kill_at=None, word_embeddings="dense", **options) -> int:
    """Train into `output`; raise Killed when training step `kill_at` starts. Returns the training steps computed."""
    steps, real = itertools.count(), training.batch_loss

    def batch_loss(model, *args):
        if model.training and next(steps) == kill_at:
            raise Killed
        return real(model, *args)

    monkeypatch.setattr(loop, "batch_loss", batch_loss)
    settings = Training(**SETTINGS, word_embeddings=word_embeddings)
    training.train(bi.load(NAME, torch.device("cpu"), 32), *data, output, settings, progress=False, **options)
    return next(steps)


@pytest.mark.parametrize("word_embeddings", ["dense", "sparse"])  # sparse: two optimisers' states in one checkpoint
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, data, monkeypatch, word_embeddings):
    assert run(data, tmp_path / "whole", monkeypatch, word_embeddings=word_embeddings) == 6
    resumed, checkpoint = tmp_path / "resumed", tmp_path / "resumed.checkpoint"
    with pytest.raises(Killed):  # killed in step 4, after the checkpoint at 3 and the dev loss at 2
        run(data, resumed, monkeypatch, kill_at=4, checkpoint_every=3, word_embeddings=word_embeddings)
    assert checkpoint.is_file() and not resumed.exists()
    assert run(data, resumed, monkeypatch, checkpoint_every=3, word_embeddings=word_embeddings) == 3  # steps 3, 4 and 5 only
    whole, again = load_file(tmp_path / "whole" / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert whole.keys() == again.keys() and all(torch.equal(whole[name], again[name]) for name in whole)
    for log in ("loss.tsv", "dev_loss.tsv", "training.json"):  # the same losses, dev losses, best checkpoint and steps
        assert (resumed / log).read_text() == (tmp_path / "whole" / log).read_text()
    assert not checkpoint.exists() and not (tmp_path / "resumed.checkpoint.partial").exists()


def test_a_checkpoint_of_another_run_is_not_resumed(tmp_path, data, monkeypatch):
    encoder = bi.load(NAME, torch.device("cpu"), 32)
    assert checkpoints.run_key(encoder, *data, 1e-3) != checkpoints.run_key(encoder, *data, 5e-4)  # other settings, another run
    torch.save({"run": checkpoints.run_key(encoder, *data, 5e-4)}, tmp_path / "model.checkpoint")
    assert run(data, tmp_path / "model", monkeypatch, checkpoint_every=3) == 6  # started over
    assert not (tmp_path / "model.checkpoint").exists()
