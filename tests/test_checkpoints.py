"""A training run killed after a checkpoint resumes from it, with its early-stopping state, to the weights of an
uninterrupted run, bit for bit on CPU; and a killed train job does so when Snakemake reruns it."""

import itertools
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from xlretrieval import model as bi
from xlretrieval import training
from xlretrieval.batching import training_batches
from xlretrieval.data.splits import hold_out_dev

from conftest import micro, snakemake
from test_ownership import MODEL, micro_project

NAME = "sentence-transformers/all-MiniLM-L6-v2"
SETTINGS = dict(learning_rate=1e-3, weight_decay=0.01, warmup_ratio=0.25, temperature=0.05, every=2, patience=10, progress=False)


class Killed(Exception):
    """Stands for the SIGKILL of a train job."""


@pytest.fixture(scope="module")
def data(mlqa_pairs):
    """6 training steps of 8 pairs and a dev loss every 2 steps."""
    pairs = hold_out_dev(mlqa_pairs, 0.1, 0)
    return pairs, training_batches(pairs, ["de", "en"], 0.5, 48, 8, 0, dev_pairs=16)


def run(data, output, monkeypatch, kill_at=None, **options) -> int:
    """Train into `output`; raise Killed when training step `kill_at` starts. Returns the training steps computed."""
    steps, real = itertools.count(), training.batch_loss

    def batch_loss(model, *args):
        if model.training and next(steps) == kill_at:
            raise Killed
        return real(model, *args)

    monkeypatch.setattr(training, "batch_loss", batch_loss)
    training.train(bi.load(NAME, torch.device("cpu"), 32), *data, output, **SETTINGS, **options)
    return next(steps)


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, data, monkeypatch):
    assert run(data, tmp_path / "whole", monkeypatch) == 6
    resumed, checkpoint = tmp_path / "resumed", tmp_path / "resumed.checkpoint"
    with pytest.raises(Killed):
        run(data, resumed, monkeypatch, kill_at=4, checkpoint_every=3)  # killed in step 4, after the checkpoint at 3 and the dev loss at 2
    assert checkpoint.is_file() and not resumed.exists()
    assert run(data, resumed, monkeypatch, checkpoint_every=3) == 3  # steps 3, 4 and 5 only
    whole, again = load_file(tmp_path / "whole" / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert whole.keys() == again.keys() and all(torch.equal(whole[name], again[name]) for name in whole)
    for log in ("loss.tsv", "dev_loss.tsv", "training.json"):  # the same losses, dev losses, best checkpoint and steps
        assert (resumed / log).read_text() == (tmp_path / "whole" / log).read_text()
    assert not checkpoint.exists() and not (tmp_path / "resumed.checkpoint.partial").exists()


def test_a_checkpoint_of_another_run_is_not_resumed(tmp_path, data, monkeypatch):
    encoder = bi.load(NAME, torch.device("cpu"), 32)
    assert training.run_key(encoder, *data, 1e-3) != training.run_key(encoder, *data, 5e-4)  # other settings, another run
    torch.save({"run": training.run_key(encoder, *data, 5e-4)}, tmp_path / "model.checkpoint")
    assert run(data, tmp_path / "model", monkeypatch, checkpoint_every=3) == 6  # started over
    assert not (tmp_path / "model.checkpoint").exists()


@pytest.mark.workflow
def test_a_killed_train_job_resumes_from_its_checkpoint(tmp_path):
    """Snakemake deletes an incomplete job's output, not the checkpoint beside it: the rerun resumes."""
    overrides = micro(training={"pairs": 48, "checkpoint_every": 2})  # 12 steps
    workdir = micro_project(tmp_path, overrides)
    results = workdir / "results" / "micro"
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/tiny.yaml", "overrides.yaml", "--until", "train"]
    run = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    checkpoint = results / f"{MODEL}.checkpoint"
    try:
        deadline = time.monotonic() + 600
        while not checkpoint.is_file() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the whole job tree dies at once, as on a crash
        run.wait()
    assert checkpoint.is_file() and not (results / MODEL).exists()

    unlock = [sys.executable, "-m", "snakemake", "--unlock", "--configfile", "config/tiny.yaml", "overrides.yaml"]
    subprocess.run(unlock, cwd=workdir, check=True, capture_output=True)
    snakemake(workdir, "--until", "train", "--rerun-incomplete", overrides=overrides)
    log = (results / "logs" / "train" / "hybrid-a0.5" / "k1" / "draw0" / "seed0.log").read_text()
    assert f"resumed from {checkpoint.relative_to(workdir)} at step " in log and "of 12" in log
    assert (results / MODEL / "model.safetensors").is_file() and not checkpoint.exists()
