"""The configuration read against its schema: defaults filled in, renamed keys named, then the checks that relate
several keys (`checks`)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..errors import ConfigKeyError
from .checks import check
from .study import PROJECT_ROOT, Study

RENAMED = {
    ("training", "freeze_embeddings"): "training.word_embeddings (true: frozen, false: dense; or sparse)",  # since 0.5.0
    # since 0.9.0: every run has a seed of its own (`Study.seeds`), so a config gives how many runs, not which seeds
    ("training", "seeds"): "training.replicates (runs per language set, each with its own seed)",
    ("training", "full_pool_seeds"): "training.full_pool_replicates (runs of the whole pool, each with its own seed)",
    # since 0.9.0: the pilot doubles its budget until a rule stops it (`pilot.choose_budget`)
    ("pilot", "budgets"): "pilot.start_steps, max_steps and stop_share (the curve doubles until a rule stops it) and pilot.learning_rates",
}


def _with_defaults(validator_class):
    """Fill a missing key with its schema default. In the configuration's own sections (the top level and every object
    with a default), a key without one is the config files' to give (config.yaml gives every such value of the default
    study): missing, it is an error; entries a user names (a dataset, a collection) keep their optional keys."""
    set_defaults = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            section = "default" in schema or "$schema" in schema
            for name, sub in props.items():
                if name in instance:
                    continue
                if "default" in sub:
                    instance[name] = copy.deepcopy(sub["default"])
                elif section:
                    yield jsonschema.ValidationError("missing: config.yaml gives its value", validator="required", path=[name])
        yield from set_defaults(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(config: dict[str, Any], schema_path: str | Path, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Fill defaults and validate against the schema, then check cross-key rules (files such as pilot.decision relative
    to the project's `root`); raise ConfigError."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    config = copy.deepcopy(dict(config))
    for (section, key), successor in RENAMED.items():
        if key in (config.get(section) or {}):
            raise ConfigKeyError(f"{section}.{key}", f"replaced by {successor}")
    errors = sorted(_Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        if error.validator == "additionalProperties":
            message = error.message.replace("Additional properties are not allowed", "unknown key")
        else:
            message = error.message
        raise ConfigKeyError(f"{_key(error.absolute_path)}", f"{message}")
    check(Study(config, root))
    return config
