"""One entry point for every source's reader: (reader name, languages, files, options) -> tables and a manifest.

The `prepare` rule calls `read` with what `Study.reading(dataset)` gives; the manifest (what was read,
from where, with which caps) is written beside the tables.
"""

from __future__ import annotations

from pathlib import Path

from . import collections, lareqa, miracl, mmarco
from .benchmark import BenchmarkTables
from .hub import HubRepo


def read(reader: str, languages: list[str], files: list[Path], options: dict) -> tuple[BenchmarkTables, dict]:
    """Read one source. LAReQA reads `files` (one per language, in `languages` order); the hub sources
    read their repositories as `options` say (`hub_mirror`, `revisions`, and their own caps); a test
    collection reads what its config entry (`options`, with its `name`) names."""
    if reader == "lareqa":
        paths = dict(zip(languages, map(Path, files)))
        return lareqa.read_dataset(paths), {"files": {lang: str(path) for lang, path in paths.items()}}
    if reader == "collection":
        return collections.read(options["name"], languages, options)
    mirror = Path(options["hub_mirror"]) if options.get("hub_mirror") else None

    def repo(repo_id: str) -> HubRepo:
        return HubRepo(repo_id, options["revisions"].get(repo_id, "main"), mirror)

    if reader == "mmarco":
        return mmarco.read(languages, repo(options["repo"]), options["queries"], options["seed"], options["max_passage_chars"])
    if reader == "miracl":
        return miracl.read(languages, repo(options["topics_repo"]), repo(options["corpus_repo"]), options["others"], options["seed"])
    raise ValueError(f"unknown reader '{reader}' (known: lareqa, mmarco, miracl, collection)")
