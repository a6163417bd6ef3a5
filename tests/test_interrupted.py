"""A run killed during training: finished models are kept, the next run redoes only the unfinished train jobs, and
the one killed after a checkpoint resumes from it (Snakemake deletes an incomplete job's output, not the checkpoint
beside it). Killed during any kind of job, the products end up the same bytes: tests/test_faults.py."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import MICRO, SHARED, copy_project, micro, snakemake, write_overrides
from test_workflow import planned_jobs

pytestmark = pytest.mark.workflow
OVERRIDES = micro(training={"k": [1, 2], "strategies": ["xx-mono", "hybrid"], "pairs": 48, "checkpoint_every": 2})  # 12 steps
MODELS = 4  # 2 strategies x k in {1, 2}


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_run_killed_during_training_keeps_finished_models_and_resumes_from_the_checkpoint(tmp_path):
    if not (SHARED / "xquad-r" / "en.json").is_file():
        pytest.skip("the shared data mirror is not beside the checkout")
    workdir = copy_project(tmp_path)
    write_overrides(workdir, OVERRIDES)
    models, logs = workdir / MICRO / "models", workdir / MICRO / "logs" / "train"
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/tiny.yaml", "overrides.yaml", "--until", "train"]
    run = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    finished = lambda: [p for p in models.glob("*/k*/draw*/seed*") if p.is_dir() and not p.name.endswith(".partial")]  # noqa: E731
    checkpoints = lambda: [p for p in models.glob("*/k*/draw*/seed*.checkpoint") if not p.with_suffix("").exists()]  # noqa: E731
    try:
        wait_for(lambda: finished() and checkpoints(), 1800, "a finished model and a checkpoint of the next one")
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the whole job tree dies at once, as on a crash
        run.wait()
    kept = {path: path.stat().st_mtime_ns for path in finished()}
    [checkpoint] = checkpoints()
    assert 1 <= len(kept) < MODELS

    unlock = [sys.executable, "-m", "snakemake", "--unlock", "--configfile", "config/tiny.yaml", "overrides.yaml"]
    subprocess.run(unlock, cwd=workdir, check=True, capture_output=True)
    plan = planned_jobs(workdir, OVERRIDES, extra=["--until", "train", "--rerun-incomplete"])
    assert plan["train"] == MODELS - len(kept)
    snakemake(workdir, "--until", "train", "--rerun-incomplete", overrides=OVERRIDES)
    assert {path: path.stat().st_mtime_ns for path in kept} == kept
    assert len(finished()) == MODELS and not any(models.glob("*/k*/draw*/seed*.partial")) and not checkpoints()
    log = (logs / checkpoint.relative_to(models).with_suffix(".log")).read_text()
    assert f"resumed from {checkpoint.relative_to(workdir)} at step " in log and "of 12" in log
