"""Send a rule's logging and warnings to its log file."""

from __future__ import annotations

import logging
import sys


def to_file(path: str | None, name: str = "xlretrieval") -> logging.Logger:
    """Log (and redirect stderr, where progress bars and library warnings go) to `path`."""
    if path:
        sys.stderr = open(path, "a", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    return logging.getLogger(name)
