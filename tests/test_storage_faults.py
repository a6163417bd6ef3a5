"""A full or read-only results directory: one line naming the path, and the products already made stay intact."""

import errno
import os
import subprocess
import sys

import pytest

from conftest import ROOT, copy_project, lareqa_file, micro, snakemake
from test_ownership import MODEL, digests

FULL = "error: No space left on device: {} (free space there, or set `results:` to another directory"


@pytest.mark.parametrize(
    "error, named",
    [
        ("OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))", "results/"),
        # torch.save: the OSError is the context of a RuntimeError; safetensors keeps only the operating system's words
        ("RuntimeError('unexpected pos') from OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))", "results/"),
        ("RuntimeError('Error while serializing: I/O error: No space left on device (os error 28)')", "results/"),
        ("OSError(errno.EROFS, os.strerror(errno.EROFS), 'results/tables/metrics.tsv')", "results/tables/metrics.tsv"),
    ],
    ids=["full", "wrapped", "words", "read-only"],
)
def test_a_storage_fault_in_a_rule_script_is_one_line_naming_the_path(tmp_path, error, named):
    (tmp_path / "results" / "logs" / "train").mkdir(parents=True)
    script = f"import errno, os\nfrom xlretrieval.logs import to_file\nto_file('results/logs/train/x.log')\nraise {error}\n"
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert result.returncode == 1
    words = os.strerror(errno.EROFS if "EROFS" in error else errno.ENOSPC)
    assert result.stderr.startswith(f"error: {words}: {named} (") and len(result.stderr.splitlines()) == 1  # the traceback is in the log
    log = (tmp_path / "results" / "logs" / "train" / "x.log").read_text()
    assert "Traceback" in log and result.stderr in log


@pytest.fixture
def small_results(tmp_path):
    """A project whose results/ is a 64 MB tmpfs: room for the micro study's data and batches, not for a model."""
    lareqa_file("xquad-r", "en")  # or skip: the shared data mirror is not beside the checkout
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    workdir = copy_project(tmp_path)
    (workdir / "results").mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(workdir / "results")], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield workdir
    finally:
        subprocess.run(["umount", "-l", str(workdir / "results")], check=True)


@pytest.mark.workflow
def test_a_full_then_read_only_results_directory_stops_with_the_path_and_keeps_the_products(small_results):
    results = small_results / "results" / "micro"
    snakemake(small_results, "--until", "batches", overrides=micro())
    before = digests(results)

    full = snakemake(small_results, "--until", "train", overrides=micro(), check=False)
    assert full.returncode != 0 and FULL.format("results/micro/") in full.stdout + full.stderr
    assert {path: digest for path, digest in digests(results).items() if path in before} == before
    assert not (results / MODEL).exists() and not list(results.rglob("*.partial"))

    subprocess.run(["mount", "-o", "remount,ro", str(small_results / "results")], check=True)
    read_only = snakemake(small_results, "--until", "train", overrides=micro(), check=False)
    output = read_only.stdout + read_only.stderr
    assert read_only.returncode != 0 and "error: Read-only file system: results/micro/config.yaml (make it writable" in output
    assert {path: digest for path, digest in digests(results).items() if path in before} == before
