"""Send a rule's logging and warnings to its log file, and name a full or read-only results directory in one line."""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path
from types import TracebackType

# What the operating system says when a write fails for want of space or permission.
STORAGE_FAULTS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)


def storage_fault(error: BaseException | None) -> tuple[str, str | None] | None:
    """(the operating system's words, the path if known) when `error` or an exception it was raised from is a write
    that failed for want of space or permission; libraries such as safetensors keep only the words in their message."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        for code in STORAGE_FAULTS:
            if getattr(error, "errno", None) == code or os.strerror(code) in str(error):
                return os.strerror(code), getattr(error, "filename", None)
        error = error.__cause__ or error.__context__
    return None


def storage_message(words: str, path: str | Path) -> str:
    """One line: what failed, where, and what to do."""
    remedy = "free space there" if words in (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT)) else "make it writable"
    return f"error: {words}: {path} ({remedy}, or set `results:` to another directory; finished products are kept, rerun to go on)"


def to_file(path: str | None, name: str = "xlretrieval") -> logging.Logger:
    """Log (and redirect stderr, where progress bars and library warnings go) to `path`. An exception that is a full,
    read-only or unwritable filesystem is also reported in one line on the terminal's stderr, naming the path, or
    else the results directory that holds the log (`<results>/logs/...`)."""
    results = next((parent.parent for parent in Path(path or ".").parents if parent.name == "logs"), Path(path or ".").parent)

    def report(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        fault = storage_fault(error)
        if fault:
            line = storage_message(fault[0], fault[1] or f"{results}/")
            for stream in {sys.__stderr__, sys.stderr}:
                print(line, file=stream, flush=True)
        sys.__excepthook__(kind, error, trace)

    sys.excepthook = report
    if path:
        sys.stderr = open(path, "a", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    return logging.getLogger(name)
