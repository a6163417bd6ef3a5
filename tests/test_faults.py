"""Fault injection: the workflow is killed (SIGKILL, the whole process tree) at a random moment while a job of each
kind runs; after `--unlock` and `--rerun-incomplete` the products are byte-identical to an uninterrupted run's, so
no half-written file was taken as complete.

Each trial runs the micro study in a fresh copy of the project and kills it during the first job of its kind;
training writes a checkpoint every step, so a killed `train` may resume. `pytest -m slow` runs 10 trials, two of each
kind; CI runs one study killed three times in a row (during train, then evaluate, then aggregate), resumed after each.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import MICRO, copy_project, micro, reproducible_products, snakemake, write_overrides

pytestmark = pytest.mark.workflow

KINDS = ("train", "embed", "search", "evaluate", "aggregate")
TYPICAL_SECONDS = {"train": 8.0, "embed": 6.0, "search": 4.0, "evaluate": 4.0, "aggregate": 3.0}  # micro study, this machine
IN_CI = ("train", "evaluate", "aggregate")  # killed in turn, in one run
OVERRIDES = micro(training={"checkpoint_every": 1})  # changes no product


def running_scripts(workdir: Path) -> set[str]:
    """Rule scripts (`.snakemake/scripts/tmpXXXX.<script>.py`) of `workdir` that are running now."""
    marker, names = str(workdir / ".snakemake" / "scripts"), set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            parts = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:  # the process ended
            continue
        names |= {Path(part).name.split(".")[-2] for part in parts if part.startswith(marker) and part.endswith(".py")}
    return names


def kill_during(workdir: Path, kind: str, delay: float, *args: str) -> set[str]:
    """Run the workflow (OVERRIDES, Snakemake `args`); `delay` seconds after a `kind` job starts, SIGKILL every
    process of the run. Returns the scripts that were running at the kill."""
    write_overrides(workdir, OVERRIDES)
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args, "--configfile", "config/tiny.yaml", "overrides.yaml"]
    run = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while kind not in running_scripts(workdir):
            assert run.poll() is None, f"the run ended before a {kind} job started"
            assert time.monotonic() < deadline, f"no {kind} job started within 600 s"
            time.sleep(0.05)
        time.sleep(delay)
        running = running_scripts(workdir)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    return running


def kill_delay(kind: str, trial: int) -> float:
    """Seconds after the start of a `kind` job to kill at, in trial `trial`: seeded, up to the job's typical length."""
    return np.random.default_rng([KINDS.index(kind), trial]).uniform(0, TYPICAL_SECONDS[kind])


def finish_and_compare(workdir: Path, reference: dict[str, bytes]):
    """Unlock, rerun what is incomplete, then: nothing left to do, the reference's bytes, no half-written file."""
    snakemake(workdir, "--unlock", overrides=OVERRIDES)
    snakemake(workdir, "--rerun-incomplete", overrides=OVERRIDES)
    assert "Nothing to be done" in snakemake(workdir, "-n", overrides=OVERRIDES).stdout
    products = reproducible_products(workdir / MICRO)
    assert sorted(products) == sorted(reference)
    assert [path for path in reference if products[path] != reference[path]] == []
    assert not [p for p in (workdir / MICRO).rglob("*") if p.name.endswith((".partial", ".checkpoint"))]


@pytest.mark.slow
@pytest.mark.parametrize("kind, trial", [(kind, trial) for kind in KINDS for trial in (0, 1)])
def test_a_run_killed_during_a_job_finishes_with_the_same_bytes(micro_study, tmp_path, kind, trial):
    workdir = copy_project(tmp_path)
    delay = kill_delay(kind, trial)
    running = kill_during(workdir, kind, delay)
    print(f"{kind} trial {trial}: killed {delay:.2f} s after it started, while {', '.join(sorted(running)) or 'no script'} ran")
    finish_and_compare(workdir, reproducible_products(micro_study / MICRO))


def test_a_run_killed_again_and_again_finishes_with_the_same_bytes(micro_study, tmp_path):
    workdir = copy_project(tmp_path)
    for kind in IN_CI:
        delay = kill_delay(kind, 0)
        running = kill_during(workdir, kind, delay, "--rerun-incomplete")
        print(f"{kind}: killed {delay:.2f} s after the job started, while {', '.join(sorted(running)) or 'no script'} ran")
        snakemake(workdir, "--unlock", overrides=OVERRIDES)
    finish_and_compare(workdir, reproducible_products(micro_study / MICRO))
