"""The same configuration in two fresh copies of the project makes the same bytes on CPU: batches, models,
embeddings, runs, metrics, tables and figures (everything but the products that record time, conftest.TIMED)."""

import shutil

import pytest

from conftest import MICRO, MICRO_STUDY, TINY, copy_project, reproducible_products, snakemake

pytestmark = pytest.mark.workflow
KINDS = ("batches/", "models/", "embeddings/", "rankings/", "metrics/", "tables/metrics.tsv", "figures/")


def assert_same_bytes(first: dict[str, bytes], second: dict[str, bytes]) -> None:
    assert all(any(path.startswith(kind) for path in first) for kind in KINDS)
    assert sorted(second) == sorted(first)
    assert [path for path in first if second[path] != first[path]] == []


def test_the_micro_study_in_two_fresh_copies_makes_the_same_bytes(micro_study, tmp_path):
    workdir = copy_project(tmp_path)
    snakemake(workdir, overrides=MICRO_STUDY)
    assert_same_bytes(reproducible_products(micro_study / MICRO), reproducible_products(workdir / MICRO))


def test_a_finished_study_moved_with_its_project_has_nothing_to_redo(micro_study, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(micro_study, moved, symlinks=True)  # keeps modification times, as `mv` or `cp -a` do
    assert "Nothing to be done" in snakemake(moved, "-n", overrides=MICRO_STUDY).stdout


@pytest.mark.slow
def test_the_tiny_study_in_two_fresh_copies_makes_the_same_bytes(tiny_study, tmp_path):
    workdir = copy_project(tmp_path)
    snakemake(workdir)
    assert_same_bytes(reproducible_products(tiny_study / TINY), reproducible_products(workdir / TINY))
