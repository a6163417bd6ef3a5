"""The study's one error for a bad configuration: it names the config key to change."""

from __future__ import annotations


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""


class ConfigKeyError(ConfigError):
    """A value of config key `key` the study cannot use, and why (`reason`); its message is "config key '<key>': <reason>"."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"config key '{key}': {reason}")
        self.key, self.reason = key, reason
