"""The download boundary for Hugging Face hub dataset repositories.

A file is taken from a local directory laid out like the hub (`<mirror>/<repo id>/<path in repo>`,
e.g. `hub/miracl/miracl/miracl-v1.0-de/topics/...`) when the mirror holds it, else downloaded by
`huggingface_hub.hf_hub_download` into its cache (set `HF_HUB_OFFLINE=1` to read that cache only).
Nothing here runs at workflow planning time: readers call it inside their jobs.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from .sources import DataError


def natural_key(path: str) -> list:
    """Sort key that orders `docs-2` before `docs-10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


@dataclass(frozen=True)
class HubRepo:
    """A dataset repository on the hub at a revision, optionally mirrored locally."""

    repo_id: str
    revision: str = "main"
    mirror: Path | None = None

    @property
    def local(self) -> Path | None:
        return Path(self.mirror) / self.repo_id if self.mirror is not None else None

    def file(self, path: str) -> Path:
        """The local path of `path` in the repository: the mirror's copy, or the hub cache's after downloading."""
        if self.local is not None and (self.local / path).is_file():
            return self.local / path
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(self.repo_id, path, repo_type="dataset", revision=self.revision))
        except Exception as error:  # network, gated repository, missing file, offline cache miss
            where = f"{self.local / path} does not exist and " if self.local is not None else ""
            raise DataError(
                f"{where}cannot download {path} from the hub dataset {self.repo_id}@{self.revision} "
                f"({type(error).__name__}: {error}); set data.hub_mirror to a directory holding {self.repo_id}/{path}"
            ) from error

    def files(self, pattern: str) -> list[str]:
        """Paths in the repository matching a glob `pattern`, in natural order: from the mirror when it holds
        the repository's folder, else from the hub's file listing."""
        if self.local is not None and self.local.is_dir():
            found = [p.relative_to(self.local).as_posix() for p in self.local.glob(pattern) if p.is_file()]
        else:
            from huggingface_hub import HfApi

            try:
                listing = HfApi().list_repo_files(self.repo_id, repo_type="dataset", revision=self.revision)
            except Exception as error:
                raise DataError(f"cannot list the hub dataset {self.repo_id}@{self.revision} ({type(error).__name__}: {error})") from error
            found = fnmatch.filter(listing, pattern)
        if not found:
            raise DataError(f"no file of {self.repo_id}@{self.revision} matches {pattern} (mirror: {self.local})")
        return sorted(found, key=natural_key)
