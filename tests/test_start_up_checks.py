"""What a run needs from outside (the model, the data files still to fetch) is checked before its first job: a
failure is one message naming the config key, and no job has started."""

import shutil

import pytest

from xlretrieval.availability import ModelUnavailable, check_available, unreachable_files

from conftest import SHARED, TINY, copy_project, lareqa_file, snakemake

UNREACHABLE = "http://127.0.0.1:9/{lang}.json"  # the discard port: refused at once


def test_installed_models_and_folders_are_available_and_unknown_ones_are_not(tmp_path, monkeypatch):
    check_available("sentence-transformers/all-MiniLM-L6-v2")  # the pip package's copy
    check_available(str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match=r"nobody/no-such-model is neither a folder nor in the Hugging Face cache"):
        check_available("nobody/no-such-model")


def test_a_file_neither_mirrored_nor_reachable_is_named_with_both_places(tmp_path):
    mirrored = tmp_path / "de.json"
    shutil.copy(lareqa_file("xquad-r", "de"), mirrored)
    files = {"xquad-r/de.json": (mirrored, UNREACHABLE.format(lang="de")), "xquad-r/el.json": (tmp_path / "el.json", UNREACHABLE.format(lang="el"))}
    [problem] = unreachable_files(files, timeout=5)
    assert problem.startswith(f"xquad-r/el.json: {tmp_path / 'el.json'} does not exist and http://127.0.0.1:9/el.json cannot be reached")


@pytest.mark.workflow
def test_a_model_that_cannot_be_had_stops_the_run_before_its_first_job(tmp_path, monkeypatch):
    workdir = copy_project(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = snakemake(workdir, overrides={"model": {"name": "nobody/no-such-model"}}, check=False)
    assert result.returncode != 0
    assert "config key 'model.name': nobody/no-such-model is neither a folder nor in the Hugging Face cache" in result.stderr
    assert not (workdir / TINY / "raw").exists()


@pytest.mark.workflow
def test_a_mirror_missing_a_needed_file_stops_the_run_before_its_first_job(tmp_path):
    if not (SHARED / "xquad-r" / "en.json").is_file():
        pytest.skip("the shared data mirror is not beside the checkout")
    (tmp_path / "project").mkdir()
    workdir = copy_project(tmp_path / "project")
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED, mirror)
    (mirror / "xquad-r" / "th.json").unlink()
    overrides = {"data": {"mirror": str(mirror), "datasets": {"xquad-r": {"url": UNREACHABLE}}}}
    result = snakemake(workdir, overrides=overrides, check=False)
    assert result.returncode != 0
    assert "config key 'data.mirror': files the study needs cannot be had:" in result.stderr
    assert f"xquad-r/th.json: {mirror / 'xquad-r' / 'th.json'} does not exist and http://127.0.0.1:9/th.json cannot be reached" in result.stderr
    assert "xquad-r/de.json" not in result.stderr and not (workdir / TINY / "raw").exists()
