"""`Study`: the typed face of a validated configuration that the Snakefile calls, made of its parts by concern."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ..settings import Training
from .budget import Budget, resolve_budget
from .design import LanguageDesign
from .evaluation_plan import EvaluationPlan
from .sources import Sources

PROJECT_ROOT = Path(__file__).resolve().parents[3]  # where pilot.decision's relative path starts (a source checkout)


class Study(Sources, EvaluationPlan, LanguageDesign):
    """Typed view of a validated config: its data sources (`sources`), evaluation plan (`evaluation_plan`), language
    design and model grid (`design`), training settings and budget."""

    def __init__(self, config: dict[str, Any], root: Path = PROJECT_ROOT):
        self.config = config
        self.training = config["training"]
        self.evaluation = config["evaluation"]
        self.root = root

    @functools.cached_property
    def training_settings(self) -> Training:
        """How every run fine-tunes (`settings.Training`), parsed once."""
        return Training.from_config(self.training)

    @functools.cached_property
    def budget(self) -> Budget:
        """The training budget (`resolve_budget`; pilot.decision relative to the project's root)."""
        return resolve_budget(self.training, self.config["pilot"]["decision"], self.root)
