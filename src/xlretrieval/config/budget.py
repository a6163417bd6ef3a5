"""The training budget every run of a study trains: a count the config gives, or the pilot's committed decision."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigKeyError


@dataclass(frozen=True)
class Budget:
    """The training budget of every run: `pairs` (`steps` x batch size) and where it was set (`source`: the config's
    training.pairs, or the pilot's committed decision)."""

    pairs: int
    steps: int
    source: str

    def record(self) -> dict:
        """As training.json records it."""
        return {"pairs": self.pairs, "steps": self.steps, "from": self.source}


def resolve_budget(training: dict[str, Any], decision: str, root: Path) -> Budget:
    """`training.pairs`: a count as it is, or `pilot`, the pairs of the pilot's decision (`decision`, a budget.json
    relative to `root`) where its batch size and learning rate are training's."""
    batch_size = training["batch_size"]
    if training["pairs"] != "pilot":
        return Budget(training["pairs"], training["pairs"] // batch_size, "training.pairs")
    path = root / decision
    try:
        chosen = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigKeyError("training.pairs", f"pilot, but pilot.decision {decision} cannot be read ({error})") from None
    for key in ("batch_size", "learning_rate"):
        if f"{chosen[key]:g}" != f"{training[key]:g}":
            raise ConfigKeyError(
                "training.pairs",
                f"pilot, but the pilot's decision ({decision}) was made at {key} {chosen[key]:g}, "
                f"training.{key} is {training[key]:g}: give training.pairs a count (as a new pilot at this {key} needs too)",
            )
    return Budget(int(chosen["pairs"]), int(chosen["steps"]), f"pilot.decision {decision}")
