"""Which configuration a results directory's products belong to, so that a run of one configuration never
overwrites the products of another (an hour of the default study lost to a few-minute check).

The first run in a results directory records there (`config.yaml`) the configuration that decides its
products: the validated config without the keys that only say where data and products are (`results`,
`data.mirror`, `data.hub_mirror`), how a run proceeds (`overwrite_results`, `training.checkpoint_every`) or
which pilot points exist (`pilot`: its points are named by their budget, so a new budget adds points). A run
whose configuration differs stops before its first job, naming the keys that differ and a directory of its
own; `overwrite_results: true` lets it replace the products instead, and records its configuration.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError, validate
from .logs import storage_message

RECORD = "config.yaml"
INCIDENTAL = (("results",), ("overwrite_results",), ("data", "mirror"), ("data", "hub_mirror"), ("training", "checkpoint_every"), ("pilot",))
HEADER = (
    "# The configuration behind the products in this directory, without the keys that only say where data and products\n"
    "# are (xlretrieval.ownership). A run of another configuration here stops: see docs/troubleshooting.md.\n"
)
UNSET = "unset"


class ResultsConflict(RuntimeError):
    """The results directory holds the products of another configuration, or cannot be written."""


def deciding(config: dict[str, Any]) -> dict[str, Any]:
    """`config` without its incidental keys, as plain YAML values."""
    kept = copy.deepcopy(config)
    for *parents, key in INCIDENTAL:
        node = kept
        for parent in parents:
            node = node.get(parent, {})
        node.pop(key, None)
    return yaml.safe_load(yaml.safe_dump(kept))


def leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted key: value} of a nested dict; lists and empty dicts are values."""
    if not isinstance(tree, dict) or not tree:
        return {prefix: tree}
    return {key: value for name, sub in tree.items() for key, value in leaves(sub, f"{prefix}.{name}" if prefix else str(name)).items()}


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'key: recorded -> current' for every value that differs (`unset` where one side lacks the key)."""
    old, new = leaves(recorded), leaves(current)
    return [
        f"{key}: {json.dumps(old.get(key, UNSET))} -> {json.dumps(new.get(key, UNSET))}"
        for key in sorted(old.keys() | new.keys())
        if old.get(key, UNSET) != new.get(key, UNSET)
    ]


def with_incidental(written: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """`written` (a record, which leaves them out) with the incidental keys of `config` put back."""
    filled = copy.deepcopy(written)
    for *parents, key in INCIDENTAL:
        source, target = config, filled
        for parent in parents:
            source, target = source.get(parent, {}), target.setdefault(parent, {})
        if key in source:
            target[key] = copy.deepcopy(source[key])
    return filled


def recorded(record: Path, schema: str | Path, config: dict[str, Any]) -> dict[str, Any]:
    """The configuration recorded in `record`, with the defaults of keys added to the schema since it was written
    (so that a new key at its default is no difference); as written if it no longer validates. The incidental keys,
    which a record leaves out but validation needs (`data.mirror`), come from `config`."""
    try:
        written = yaml.safe_load(record.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ResultsConflict(f"cannot read {record} (the configuration behind the products there): {error}") from error
    try:
        return deciding(validate(with_incidental(written, config), schema))
    except ConfigError:
        return written


def claim(results: str | Path, config: dict[str, Any], schema: str | Path, name: str | None = None) -> None:
    """Record `config` as the configuration of `results`, unless that directory holds the products of another one
    and `overwrite_results` is off: then raise ResultsConflict, suggesting `results/<name>` (by default a digest of
    the configuration). Writing the record first also stops a run whose results directory is read-only or full."""
    results = Path(results)
    record, current = results / RECORD, deciding(config)
    if record.is_file() and not config.get("overwrite_results"):
        changed = differences(recorded(record, schema, config), current)
        if changed:
            shown = "; ".join(changed[:3]) + (f"; and {len(changed) - 3} more" if len(changed) > 3 else "")
            own = results / (name or hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:8])
            raise ResultsConflict(
                f"{results}/ holds the products of another configuration ({shown}): give this one its own directory "
                f"(`results: {own}`), or set `overwrite_results: true` to replace them"
            )
    partial = record.with_name(record.name + ".partial")
    try:
        results.mkdir(parents=True, exist_ok=True)
        partial.write_text(HEADER + yaml.safe_dump(current, sort_keys=False, allow_unicode=True))
        os.replace(partial, record)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise ResultsConflict(storage_message(error.strerror or str(error), record)) from error
