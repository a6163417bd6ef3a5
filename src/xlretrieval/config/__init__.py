"""Validated configuration: schema defaults, clear errors naming the key, and the study's derived sets, by concern:
the schema (`schema`), the checks across keys (`checks`), the budget (`budget`), data sources (`sources`), the evaluation
plan (`evaluation_plan`), the language design and model grid (`design`), and `Study`, their face."""

from ..errors import ConfigError
from .schema import validate
from .study import Study

__all__ = ["ConfigError", "Study", "validate"]
