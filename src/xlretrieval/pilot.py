"""The learning-curve pilot: how much fine-tuning the study needs before k can matter.

A pilot point fine-tunes `pilot.seeds` models (a strategy at one k, for a step budget and learning rate, each with its
own seed) and, in the same job, evaluates each on the benchmark's held-out languages and its source language only
(mono and cross among them), on articles set aside for the pilot (`xlretrieval.pilot_points`); the base model is a
point with no steps. `learning_curve` turns the points into the gain over the base model on held-out languages, and
`doubling` into the rise from b to 2b steps, each with the t interval of `stats.welch` over the point's seeds and the
articles its questions come in.

The budget is chosen by a rule (`RULE`, `choose_budget`): the curve starts at `pilot.start_steps` and doubles while
a doubling still pays. `doubling_pays` judges a doubling; `walk` is the order in which the workflow trains the
doublings (one checkpoint per doubling) and `choose_budget` reads the chosen budget off the measured doublings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics
from .stats.cells import question_matrix
from .stats.welch import run_question_t

SETTINGS = ("mono", "cross")
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
    "df",
    "value",
    "base",
    "n_runs",
    "n_query_sets",
    "n_questions",
    "n_articles",
]


def held_out_units(per_query: pd.DataFrame, roles: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Per-query rows of the query sets in the held-out group (`metrics.lang_group`), by setting."""
    held = np.array(
        [metrics.lang_group(s, q, p, set(), roles) == "held-out" for s, q, p in zip(per_query.setting, per_query.query_lang, per_query.passage_lang)],
        dtype=bool,
    )
    return {setting: per_query[held & (per_query.setting == setting).to_numpy()] for setting in SETTINGS}


class Runs:
    """The pilot's runs (the base model and every seed of every point, by tag) as per-question contributions to their
    held-out RR, macro-averaged over a setting's query sets: `contributions[tag, setting]` sums to the run's value;
    `involved[setting]` marks the questions the setting's query sets hold, `clusters` each question's article."""

    def __init__(self, per_query: dict[str, pd.DataFrame], roles: dict[str, str], articles: dict[str, str]):
        units = {
            (tag, setting): rows for tag, frame in per_query.items() for setting, rows in held_out_units(frame[frame.metric == "RR"], roles).items()
        }
        kept = {key: rows for key, rows in units.items() if not rows.empty}
        matrix = question_matrix(((f"{tag}\t{setting}", rows) for (tag, setting), rows in kept.items()), articles)
        self.clusters = matrix.clusters
        self.contributions, self.query_sets, self.involved = {}, {}, {}
        for name, rows in matrix.units.groupby("model", sort=False).groups.items():
            tag, setting = name.split("\t")
            present = matrix.present[rows]
            self.contributions[tag, setting] = (1.0 / (len(rows) * present.sum(axis=1))) @ matrix.values[rows]
            sets = set(zip(matrix.units.query_lang[rows], matrix.units.passage_lang[rows]))
            if self.query_sets.setdefault(setting, sets) != sets:
                raise ValueError(f"the pilot's runs are evaluated on different query sets in {setting}")
            self.involved[setting] = present.any(axis=0)

    def settings(self) -> list[str]:
        return [setting for setting in SETTINGS if setting in self.involved]

    def difference(self, later: list[str], earlier: list[str], setting: str, level: float) -> dict[str, float]:
        """The mean over the `later` runs minus the mean over the `earlier` ones (tags) in `setting`, with its t interval
        over both sides' runs and the articles (`welch.run_question_t`; a side of one run, the base model, has no
        spread over runs)."""
        members = np.vstack([self.contributions[tag, setting] for tag in later] + [-self.contributions[tag, setting] for tag in earlier])
        group = np.repeat([0, 1], [len(later), len(earlier)])
        t = run_question_t(members, group, np.zeros(2, dtype=np.int64), self.involved[setting][None, :], clusters=self.clusters)
        low, high = t.interval(level)
        return {
            "difference": float(t.estimate[0]),
            "ci_low": float(low[0]),
            "ci_high": float(high[0]),
            "df": float(t.df[0]),
            "later": float(np.mean([self.contributions[tag, setting].sum() for tag in later])),
            "earlier": float(np.mean([self.contributions[tag, setting].sum() for tag in earlier])),
            "n_query_sets": len(self.query_sets[setting]),
            "n_questions": int(self.involved[setting].sum()),
            "n_articles": int(t.clusters[0]),
        }


def read_runs(paths: Iterable[str | Path]) -> dict[str, pd.DataFrame]:
    """Pilot runs' per-query values by tag, `{strategy}/k{k}/lr{lr}/steps{steps}/seed{seed}`: the last five parts of each
    file's path (`results/pilot/...`, rule `pilot_point`)."""
    return {"/".join(Path(path).with_suffix("").parts[-5:]): pd.read_parquet(path) for path in paths}


def point_runs(tags: Iterable[str]) -> dict[str, list[str]]:
    """The runs (`{point}/seed{seed}` tags) of each pilot point (`{strategy}/k{k}/lr{lr}/steps{steps}`)."""
    points: dict[str, list[str]] = {}
    for tag in tags:
        point, seed = tag.rsplit("/", 1)
        if not seed.startswith("seed"):
            raise ValueError(f"not a pilot run's tag: {tag!r}")
        points.setdefault(point, []).append(tag)
    return points


def learning_curve(
    points: dict[str, pd.DataFrame], base: pd.DataFrame, roles: dict[str, str], articles: dict[str, str], *, level: float = 0.95
) -> pd.DataFrame:
    """MRR gain over the base model on held-out languages per pilot point, its runs (`{strategy}/k{k}/lr{lr}/steps{steps}/
    seed{seed}` -> per-query table) averaged, with its t interval over the seeds and the articles (`articles`: question
    id -> article); `roles` are the benchmark's language roles (`config.Study.language_roles`)."""
    runs = Runs({**points, "base": base}, roles, articles)
    rows = []
    for point, tags in point_runs(points).items():
        strategy, k, lr, steps = point.split("/")
        for setting in runs.settings():
            gain = runs.difference(tags, ["base"], setting, level)
            rows.append(
                {
                    "strategy": strategy,
                    "k": int(k[1:]),
                    "learning_rate": float(lr[2:]),
                    "steps": int(steps[5:]),
                    "setting": setting,
                    "metric": "RR",
                    "gain": gain["difference"],
                    "value": gain["later"],
                    "base": gain["earlier"],
                    "n_runs": len(tags),
                    **{key: gain[key] for key in ("ci_low", "ci_high", "df", "n_query_sets", "n_questions", "n_articles")},
                }
            )
    return pd.DataFrame(rows, columns=CURVE_COLUMNS).sort_values(["setting", "k", "learning_rate", "steps"], ignore_index=True)


# The budget rule: doublings of the step budget, each judged by its rise over the same questions.

DOUBLING_COLUMNS = ["steps", "doubled", "setting", "metric", "rise", "ci_low", "ci_high", "df", "n_runs", "n_query_sets", "n_questions", "n_articles"]

RULE = (
    "Train hybrid at the largest k for start_steps, then double the budget b while the doubling pays: it pays when, in "
    "some held-out setting the pilot evaluates (mono or cross), the MRR gain rises from b to 2b steps by more than "
    "stop_share x the half-width of the rise's interval. The rise is the mean over 2b's seeds minus the mean over b's "
    "(macro-averaged over held-out query sets, on the same questions), its interval the t interval at stats.level over "
    "both budgets' seeds and the articles the questions come in (xlretrieval.stats.welch). The budget is the first b "
    "whose doubling does not pay (b, not 2b: the curve has stopped rising by that much at b), or, where every doubling "
    "paid, the last b, whose double would exceed max_steps."
)


def doubling(
    earlier: dict[str, pd.DataFrame],
    later: dict[str, pd.DataFrame],
    roles: dict[str, str],
    articles: dict[str, str],
    *,
    steps: int,
    level: float = 0.95,
) -> pd.DataFrame:
    """The rise of the held-out MRR gain from `steps` (the runs `earlier`, tag -> per-query table) to 2 x `steps`
    (`later`), by setting: the difference of the two points' means over their seeds on the same questions, which equals
    the difference of their gains over the base model, with its t interval over both points' seeds and the articles."""
    runs = Runs({**earlier, **later}, roles, articles)
    rows = []
    for setting in runs.settings():
        rise = runs.difference(list(later), list(earlier), setting, level)
        rows.append(
            {
                "steps": steps,
                "doubled": 2 * steps,
                "setting": setting,
                "metric": "RR",
                "rise": rise["difference"],
                "n_runs": f"{len(later)} vs {len(earlier)}",
                **{key: rise[key] for key in ("ci_low", "ci_high", "df", "n_query_sets", "n_questions", "n_articles")},
            }
        )
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
        "parameters": {
            "start_steps": start_steps,
            "max_steps": max_steps,
            "stop_share": stop_share,
            "level": level,
            "metric": "RR",
            "seeds": sorted({int(n) for n in curve.n_runs}),
            "articles": sorted({int(n) for n in curve.n_articles}),
        },
        "trained_steps": trained,
        "doublings": [_doubling_record(r) for r in judged.itertuples()],
        "learning_rates": [
            {
                "learning_rate": float(r.learning_rate),
                "setting": r.setting,
                "runs": int(r.n_runs),
                **{key: float(getattr(r, key)) for key in ("gain", "ci_low", "ci_high", "df")},
            }
            for r in at_start.itertuples()
        ],
    }


def _doubling_record(row) -> dict:
    """One judged doubling (a row of `judge`) as budget.json records it."""
    return {
        "steps": int(row.steps),
        "doubled": int(row.doubled),
        "setting": row.setting,
        "rise": float(row.rise),
        "ci_low": float(row.ci_low),
        "ci_high": float(row.ci_high),
        "df": float(row.df),
        "runs": str(row.n_runs),
        "articles": int(row.n_articles),
        "half_width": float(row.half_width),
        "threshold": float(row.threshold),
        "pays": bool(row.pays),
    }
