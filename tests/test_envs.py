"""The environments agree: envs/study.yaml (the rules' conda environment) pins pyproject.toml's dependencies at
the versions of envs/requirements.lock (what CI installs and tests)."""

import re

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import ROOT


def lock_versions() -> dict[str, Version]:
    pins = (re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line) for line in (ROOT / "envs" / "requirements.lock").read_text().splitlines())
    return {canonicalize_name(pin[1]): Version(pin[2]) for pin in pins if pin}


def study_pip_requirements() -> list[Requirement]:
    dependencies = yaml.safe_load((ROOT / "envs" / "study.yaml").read_text())["dependencies"]
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict))
    return [Requirement(line) for line in pip if not line.startswith("-")]


def test_study_environment_pins_the_locked_versions():
    locked = lock_versions()
    for requirement in study_pip_requirements():
        pinned = [spec for spec in requirement.specifier if spec.operator == "=="]
        assert pinned, f"envs/study.yaml: {requirement} is not pinned with =="
        # a local label names a build (torch's +cpu), not another version
        assert Version(pinned[0].version) == Version(locked[canonicalize_name(requirement.name)].public), requirement


def test_study_environment_holds_every_package_dependency():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {canonicalize_name(Requirement(d).name) for d in pyproject["project"]["dependencies"]}
    assert needed == {canonicalize_name(r.name) for r in study_pip_requirements()}


def test_every_torch_pin_in_the_docs_is_the_locked_one():
    """README's set-up commands and requirements.in name torch's version; the lock is where it is decided."""
    torch = lock_versions()["torch"].public
    for path in ("README.md", "envs/requirements.in"):
        pins = re.findall(r"torch==([0-9][0-9.]*[0-9])", (ROOT / path).read_text())
        assert pins and set(pins) == {torch}, f"{path} pins torch {set(pins)}, the lock {torch}"
