"""One configuration never overwrites another's products: a results directory records the configuration behind
its products, and a run of another one there stops before its first job."""

import hashlib
from pathlib import Path

import pytest
import yaml

from xlretrieval.config import validate
from xlretrieval.ownership import RECORD, ResultsConflict, claim

from conftest import ROOT, SCHEMA, copy_project, lareqa_file, micro, snakemake, study_config
from test_workflow import planned_jobs, shipped_configs

MODEL = "models/hybrid-a0.5/k1/draw0/seed0"


def study(**changes) -> dict:
    return validate(study_config(micro(**changes)), SCHEMA)


def digests(folder: Path, skip: Path | None = None) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not (skip and path.is_relative_to(skip))
    }


def micro_project(tmp_path: Path, overrides: dict) -> Path:
    """A copy of the project in `tmp_path` with the micro study's data and batches made (under results/micro)."""
    lareqa_file("xquad-r", "en")  # or skip: the shared data mirror is not beside the checkout
    workdir = copy_project(tmp_path)
    snakemake(workdir, "--until", "batches", overrides=overrides)
    return workdir


def test_a_directory_is_claimed_by_its_first_configuration(tmp_path):
    claim(tmp_path / "r", study(), SCHEMA)
    claim(tmp_path / "r", study(), SCHEMA)  # the same configuration resumes
    recorded = yaml.safe_load((tmp_path / "r" / RECORD).read_text())
    assert recorded["training"]["pairs"] == 16 and "results" not in recorded and "mirror" not in recorded["data"]
    with pytest.raises(ResultsConflict, match=r"r/ holds the products of another configuration \(training.pairs: 16 -> 32\): .*`results: .*r/wider`"):
        claim(tmp_path / "r", study(training={"pairs": 32}), SCHEMA, "wider")
    assert yaml.safe_load((tmp_path / "r" / RECORD).read_text()) == recorded
    claim(tmp_path / "r", study(training={"pairs": 32}, overwrite_results=True), SCHEMA)
    assert yaml.safe_load((tmp_path / "r" / RECORD).read_text())["training"]["pairs"] == 32


def test_keys_that_decide_no_product_are_no_conflict(tmp_path):
    claim(tmp_path, study(), SCHEMA)
    incidental = {
        "data": {"mirror": "/elsewhere", "hub_mirror": "/hub"},
        "training": {"checkpoint_every": 10},
        "pilot": {"start_steps": 2, "max_steps": 8, "stop_share": 1.0, "learning_rates": []},
    }
    claim(tmp_path, study(**incidental), SCHEMA)


def test_a_key_added_to_the_schema_since_the_record_is_no_conflict_at_its_default(tmp_path):
    claim(tmp_path, study(), SCHEMA)
    record = yaml.safe_load((tmp_path / RECORD).read_text())
    del record["evaluation"]["index"], record["stats"]["resamples"]  # as written by a version without these keys
    (tmp_path / RECORD).write_text(yaml.safe_dump(record))
    claim(tmp_path, study(), SCHEMA)
    with pytest.raises(ResultsConflict, match=r"stats.resamples: 2000 -> 500"):
        claim(tmp_path, study(stats={"resamples": 500}), SCHEMA)


def test_every_shipped_configuration_has_its_own_results_directory():
    directories = {}
    for configs in shipped_configs():
        merged = {}
        for name in configs:
            merged.update(yaml.safe_load((ROOT / name).read_text()))
        directories.setdefault(merged.get("results", "results"), []).append(configs)
    assert all(len(configs) == 1 for configs in directories.values()), directories


@pytest.mark.workflow
def test_another_configuration_stops_before_overwriting_and_runs_in_its_own_directory(tmp_path):
    workdir = micro_project(tmp_path, micro())
    results = workdir / "results" / "micro"
    before = digests(results)

    wider = micro(training={"pairs": 32})
    stopped = snakemake(workdir, "--until", "batches", overrides=wider, check=False)
    output = stopped.stdout + stopped.stderr
    assert stopped.returncode != 0, output
    assert "results/micro/ holds the products of another configuration (training.pairs: 16 -> 32)" in output
    assert "`results: results/micro/overrides`" in output and "`overwrite_results: true`" in output
    assert digests(results) == before

    snakemake(workdir, "--until", "batches", overrides={**wider, "results": "results/micro/wider"})
    assert digests(results, skip=results / "wider") == before
    assert planned_jobs(workdir, micro(), extra=["--until", "batches"]) == {}  # the first configuration has nothing left to do

    snakemake(workdir, "--until", "batches", overrides={**wider, "overwrite_results": True})
    assert yaml.safe_load((results / RECORD).read_text())["training"]["pairs"] == 32
