"""The learning-curve pilot: how much fine-tuning the study needs before k can matter.

A pilot point fine-tunes one model (a strategy at one k, for a step budget and learning rate) and, in the
same job, evaluates it on the benchmark's held-out languages and its source language only (mono and cross
among them), under the encoding conditions of the study; the base model is a point with no steps.
`learning_curve` turns the points into the gain over the base model on held-out languages, each with a
paired bootstrap interval over parallel question ids (the same questions on both sides).

The budget is chosen by a rule (`RULE`, `choose_budget`): the curve starts at `pilot.start_steps` and doubles while
a doubling still pays. `doubling` measures the rise from b to 2b steps, the paired difference of the two points on the
same questions, with its own interval; `doubling_pays` judges it; `walk` is the order in which the workflow trains
the doublings (one checkpoint per doubling) and `choose_budget` reads the chosen budget off the measured doublings.
The module imports the model code (torch) only inside `point` and `evaluate`, so that the workflow's input functions
import it in milliseconds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import metrics
from .stats.cells import question_matrix
from .stats.resampling import percentile_interval, question_counts, set_means

if TYPE_CHECKING:
    from .data.benchmark import BenchmarkTables
    from .model import BiEncoder

CURVE_COLUMNS = [
    "strategy",
    "k",
    "learning_rate",
    "steps",
    "setting",
    "metric",
    "gain",
    "ci_low",
    "ci_high",
    "value",
    "base",
    "n_query_sets",
    "n_questions",
]


def held_out_units(per_query: pd.DataFrame, roles: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Per-query rows of the query sets in the held-out group (`metrics.lang_group`), by setting."""
    held = np.array(
        [metrics.lang_group(s, q, p, set(), roles) == "held-out" for s, q, p in zip(per_query.setting, per_query.query_lang, per_query.passage_lang)],
        dtype=bool,
    )
    return {setting: per_query[held & (per_query.setting == setting).to_numpy()] for setting in ("mono", "cross")}


def gain(tuned: pd.DataFrame, base: pd.DataFrame, *, level: float, resamples: int, seed: int) -> dict[str, float]:
    """Macro-averaged gain of `tuned` over `base` on the same query sets, with a paired bootstrap interval over
    question ids (one counts vector for both sides)."""
    matrix = question_matrix([("tuned", tuned), ("base", base)])
    sides = matrix.units.model.to_numpy()
    weights = np.where(sides == "tuned", 1.0, -1.0) / (sides == "tuned").sum()
    if (sides == "tuned").sum() != (sides == "base").sum():
        raise ValueError("tuned and base models are evaluated on different query sets")
    ones = np.ones((1, matrix.values.shape[1]))
    means = set_means(matrix.values, matrix.present, ones)[0]
    counts = question_counts(matrix.values.shape[1], resamples, np.random.default_rng(seed))
    low, high = percentile_interval(set_means(matrix.values, matrix.present, counts) @ weights, level)
    return {
        "gain": float(means @ weights),
        "ci_low": float(low),
        "ci_high": float(high),
        "value": float(means[sides == "tuned"].mean()),
        "base": float(means[sides == "base"].mean()),
        "n_query_sets": int((sides == "tuned").sum()),
        "n_questions": int(matrix.present.any(axis=0).sum()),
    }


def learning_curve(
    points: dict[str, pd.DataFrame], base: pd.DataFrame, roles: dict[str, str], *, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """MRR gain over the base model on held-out languages per pilot point (`{strategy}/k{k}/lr{lr}/steps{steps}`);
    `roles` are the benchmark's language roles (`config.Study.language_roles`)."""
    base_units = held_out_units(base[base.metric == "RR"], roles)
    rows = []
    for tag, per_query in points.items():
        strategy, k, lr, steps = tag.split("/")
        for setting, units in held_out_units(per_query[per_query.metric == "RR"], roles).items():
            if units.empty:
                continue
            rows.append(
                {
                    "strategy": strategy,
                    "k": int(k[1:]),
                    "learning_rate": float(lr[2:]),
                    "steps": int(steps[5:]),
                    "setting": setting,
                    "metric": "RR",
                    **gain(units, base_units[setting], level=level, resamples=resamples, seed=seed),
                }
            )
    return pd.DataFrame(rows, columns=CURVE_COLUMNS).sort_values(["setting", "k", "learning_rate", "steps"], ignore_index=True)


# The budget rule: doublings of the step budget, each judged by its rise over the same questions.

DOUBLING_COLUMNS = ["steps", "doubled", "setting", "metric", "rise", "ci_low", "ci_high", "n_query_sets", "n_questions"]

RULE = (
    "Train hybrid at the largest k for start_steps, then double the budget b while the doubling pays: it pays when, in "
    "some held-out setting the pilot evaluates (mono or cross), the MRR gain rises from b to 2b steps by more than "
    "stop_share x the half-width of the rise's interval. The rise is the paired difference of the two points over the "
    "same questions (2b minus b, macro-averaged over held-out query sets like the gain over the base model, which "
    "cancels), its interval a paired bootstrap over question ids at stats.level. The budget is the first b whose "
    "doubling does not pay (b, not 2b: the curve has stopped rising by that much at b), or, where every doubling paid, "
    "the last b, whose double would exceed max_steps."
)


def doubling(
    earlier: pd.DataFrame, later: pd.DataFrame, roles: dict[str, str], *, steps: int, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """The rise of the held-out MRR gain from `steps` (per-query `earlier`) to 2 x `steps` (`later`), by setting: the
    paired difference later - earlier on the same questions, which equals the difference of the two points' gains over
    the base model, with a paired bootstrap interval over question ids (`gain` with `earlier` as the base). Its
    interval is narrower than either gain's, as both points answer the same questions."""
    earlier_units = held_out_units(earlier[earlier.metric == "RR"], roles)
    rows = []
    for setting, units in held_out_units(later[later.metric == "RR"], roles).items():
        if not units.empty:
            rise = gain(units, earlier_units[setting], level=level, resamples=resamples, seed=seed)
            rows.append({"steps": steps, "doubled": 2 * steps, "setting": setting, "metric": "RR", "rise": rise.pop("gain"), **rise})
    return pd.DataFrame(rows).reindex(columns=DOUBLING_COLUMNS)


def read_doublings(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Measured doublings (`doubling`'s TSVs, as the checkpoint `pilot_doubling` writes them) in one table."""
    frames = [pd.read_csv(path, sep="\t") for path in paths]
    return pd.concat(frames, ignore_index=True).reindex(columns=DOUBLING_COLUMNS) if frames else pd.DataFrame(columns=DOUBLING_COLUMNS)


def judge(doublings: pd.DataFrame, stop_share: float) -> pd.DataFrame:
    """`doublings` (`DOUBLING_COLUMNS`) with the rule's verdict per row: `half_width` of the rise's interval,
    `threshold` = stop_share x half_width, and `pays` when the rise exceeds the threshold (so a rise of zero, or a
    fall, never pays, even with an interval of no width)."""
    judged = doublings.copy()
    judged["half_width"] = (judged.ci_high - judged.ci_low) / 2
    judged["threshold"] = stop_share * judged.half_width
    judged["pays"] = judged.rise > judged.threshold
    return judged


def doubling_pays(rows: pd.DataFrame, stop_share: float) -> bool:
    """Whether one doubling (its rows, a setting each) pays: its rise exceeds the threshold in some setting."""
    if rows.empty:
        raise ValueError("a doubling without rises: the pilot evaluated no held-out query set")
    return bool(judge(rows, stop_share).pays.any())


def walk(start_steps: int, max_steps: int, pays: Callable[[int], bool]) -> tuple[int, list[int]]:
    """The pilot's doublings: budgets start_steps, 2 start_steps, ... while `pays(b)` (the doubling from b to 2b paid)
    and the double stays within `max_steps`. Returns the chosen budget and the budgets trained, in order: the chosen
    one, those before it, and its double where the rule (not the cap) stopped the curve. `pays(b)` is asked only
    once b and 2b are among the budgets trained (the workflow's checkpoint `pilot_doubling` measures them)."""
    if not 0 < start_steps <= max_steps:
        raise ValueError(f"the pilot starts at {start_steps} steps, which must be at least 1 and at most max_steps ({max_steps})")
    steps, trained = start_steps, [start_steps]
    while 2 * steps <= max_steps:
        trained.append(2 * steps)
        if not pays(steps):
            break
        steps *= 2
    return steps, trained


def _rises(rows: pd.DataFrame) -> str:
    return ", ".join(f"{r.setting} {r.rise:+.4f} vs {r.threshold:.4f}" for r in rows.itertuples())


def choose_budget(doublings: pd.DataFrame, *, start_steps: int, stop_share: float, max_steps: int) -> tuple[int, str]:
    """The step budget by `RULE` from the measured doublings (`DOUBLING_COLUMNS`, a row per doubling `steps` ->
    `doubled` and setting), and why in words. Raises when the walk needs a doubling that `doublings` lacks."""
    steps, _, reason = _choose(doublings, start_steps=start_steps, stop_share=stop_share, max_steps=max_steps)
    return steps, reason


def _choose(doublings: pd.DataFrame, *, start_steps: int, stop_share: float, max_steps: int) -> tuple[int, list[int], str]:
    def pays(steps: int) -> bool:
        rows = doublings[doublings.steps == steps]
        if rows.empty:
            raise ValueError(f"the pilot has not measured the doubling from {steps} to {2 * steps} steps")
        return doubling_pays(rows, stop_share)

    steps, trained = walk(start_steps, max_steps, pays)
    judged = judge(doublings, stop_share)
    if trained[-1] != steps:  # the rule stopped the curve at `steps`
        rows = judged[judged.steps == steps]
        reason = (
            f"doubling {steps} to {2 * steps} steps raised the held-out gain by no more than {stop_share:g} x the half-width "
            f"of the rise's interval in any setting (rise vs threshold: {_rises(rows)})"
        )
        return steps, trained, reason
    last = judged[judged.steps == steps // 2] if steps > start_steps else judged.iloc[:0]
    still = f"the curve still rose from {steps // 2} to {steps} steps ({_rises(last)}), and " if not last.empty else ""
    return steps, trained, f"{still}doubling {steps} to {2 * steps} steps would exceed pilot.max_steps ({max_steps})"


def budget_record(
    doublings: pd.DataFrame,
    curve: pd.DataFrame,
    *,
    start_steps: int,
    stop_share: float,
    max_steps: int,
    batch_size: int,
    learning_rate: float,
    level: float,
) -> dict:
    """The pilot's decision (`results/pilot/budget.json`): the chosen steps and pairs (steps x batch_size), the rule
    and its parameters, every doubling's rise against its threshold, and why the curve stopped. `curve` is the
    `learning_curve` of the points trained; where it holds other learning rates (single points), their gains at
    start_steps stand beside the curve's own first point (`learning_rates`; the rule does not use them)."""
    steps, trained, reason = _choose(doublings, start_steps=start_steps, stop_share=stop_share, max_steps=max_steps)
    on_curve = sorted({int(s) for s in curve[curve.learning_rate.map("{:g}".format) == f"{learning_rate:g}"].steps})  # as the tags name it
    if on_curve != trained:
        raise ValueError(f"the curve holds {on_curve} steps at lr {learning_rate:g}, the rule trains {trained}")
    judged = judge(doublings, stop_share).sort_values(["steps", "setting"])
    at_start = curve[curve.steps == start_steps].sort_values(["learning_rate", "setting"])
    return {
        "steps": int(steps),
        "pairs": int(steps * batch_size),
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "stopped_by": "max_steps" if 2 * steps > max_steps else "rule",
        "reason": reason,
        "rule": RULE,
        "parameters": {"start_steps": start_steps, "max_steps": max_steps, "stop_share": stop_share, "level": level, "metric": "RR"},
        "trained_steps": trained,
        "doublings": [
            {
                "steps": int(r.steps),
                "doubled": int(r.doubled),
                "setting": r.setting,
                "rise": float(r.rise),
                "ci_low": float(r.ci_low),
                "ci_high": float(r.ci_high),
                "half_width": float(r.half_width),
                "threshold": float(r.threshold),
                "pays": bool(r.pays),
            }
            for r in judged.itertuples()
        ],
        "learning_rates": [
            {"learning_rate": float(r.learning_rate), "setting": r.setting, **{key: float(getattr(r, key)) for key in ("gain", "ci_low", "ci_high")}}
            for r in at_start.itertuples()
        ],
    }
