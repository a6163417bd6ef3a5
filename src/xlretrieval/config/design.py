"""The language design and the model grid: which languages each run trains on, its seed, and every model the study
trains (the pilot's points among them)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..batching import HALF, UNIFORM
from ..model_tags import BASE, ModelSpec, parse_strategy, source_share, strategy_slugs

COVER = "cover"  # training.language_draws: disjoint language sets that cover the pool at each k


def run_seed(k: int, draw: int, replicate: int) -> int:
    """The training seed of one run: distinct for every (k, draw, replicate) with draw and replicate below 100 (the
    schema's bounds), so that no seed is shared across k and a seed's effect cannot pass for one of k."""
    return 10000 * k + 100 * draw + replicate


class LanguageDesign:
    """The language design and model grid of a study (a part of `Study`: `self.training` is the config's section)."""

    def training_languages(self, k: int, draw: int) -> list[str]:
        """Source language plus k of the target pool: the first k of a permutation seeded by `draw`, or under
        `language_draws: cover` the `draw`-th block of k of the permutation seeded by 0."""
        pool = sorted(self.training["target_pool"])
        cover = self.training["language_draws"] == COVER
        order = np.random.default_rng(0 if cover else draw).permutation(len(pool))
        start = draw * k if cover else 0
        if start + k > len(pool):
            raise ValueError(f"language set {draw} of size {k} does not exist in a pool of {len(pool)}")
        return [self.training["source_language"]] + sorted(pool[i] for i in order[start : start + k])

    def language_draws(self, k: int) -> list[int]:
        """The draws at k: the configured seeds, or under `cover` one per disjoint set of k pool languages."""
        draws = self.training["language_draws"]
        return list(range(len(self.training["target_pool"]) // k)) if draws == COVER else list(draws)

    def seeds(self, k: int, draw: int) -> list[int]:
        """Training seeds of the runs of language set `draw` at k, one per replicate and none shared with another
        (k, draw): `training.replicates`, or `full_pool_replicates` when k is the whole pool."""
        replicates = self.training["replicates"]
        if k == len(self.training["target_pool"]) and self.training["full_pool_replicates"] is not None:
            replicates = self.training["full_pool_replicates"]
        return [run_seed(k, draw, r) for r in range(replicates)]

    def strategies(self) -> list[str]:
        return strategy_slugs(self.training["strategies"], self.training["alpha"], tuple(self.training["source_shares"]))

    def draws(self) -> Iterator[tuple[int, int, list[str]]]:
        """(k, draw, training languages) for every k and distinct draw.

        A draw that picks the same languages as an earlier draw at the same k (always the case when k
        is the whole pool) would train the same models again, so only the first such draw is kept.
        """
        for k in sorted(self.training["k"]):
            seen = set()
            for d in self.language_draws(k):
                languages = self.training_languages(k, d)
                if tuple(languages) not in seen:
                    seen.add(tuple(languages))
                    yield k, d, languages

    def strategy_ks(self, slug: str) -> list[int]:
        """The k a strategy (slug) is trained at: every k if `training.every_k` names it (or is null), else the
        smallest and largest; a -half slug beside its uniform twin not at k = 1, where the two are one design."""
        ks, every = sorted(self.training["k"]), self.training["every_k"]
        ks = ks if every is None or parse_strategy(slug)[0] in every else sorted({ks[0], ks[-1]})
        if source_share(slug) == HALF and UNIFORM in self.training["source_shares"]:
            return [k for k in ks if k > 1]  # at k = 1 a -half slug's runs are its uniform twin's (`batching`)
        return ks

    def pilot_point(self, steps: int, learning_rate: float | None = None) -> str:
        """A pilot point `{strategy}/k{k}/lr{lr}/steps{steps}`: hybrid (the first alpha) at the largest k (the whole pool
        at its largest, so the budget is chosen by where its held-out gain stops rising, not by the k contrast), trained
        for `steps` at `learning_rate` (default: training.learning_rate, the rate of the pilot's curve), once for each
        of `pilot_seeds`."""
        strategy = strategy_slugs(["hybrid"], self.training["alpha"][:1])[0]
        rate = self.training["learning_rate"] if learning_rate is None else learning_rate
        return f"{strategy}/k{max(self.training['k'])}/lr{rate:g}/steps{steps}"

    def pilot_seeds(self) -> list[int]:
        """The seeds of a pilot point's runs (0, 1, ...: none is a study run's, `run_seed`)."""
        return list(range(self.config["pilot"]["seeds"]))

    def pilot_learning_rate_points(self) -> list[str]:
        """The pilot's learning-rate comparison: a point at pilot.start_steps for each of pilot.learning_rates other than
        training.learning_rate (whose point there is the curve's first)."""
        pilot = self.config["pilot"]
        rates = [lr for lr in pilot["learning_rates"] if f"{lr:g}" != f"{self.training['learning_rate']:g}"]
        return [self.pilot_point(pilot["start_steps"], lr) for lr in rates]

    def sweep_k(self) -> int | None:
        """The k at which `training.alpha_sweep.alpha` trains extra hybrid models (None: no sweep)."""
        sweep = self.training["alpha_sweep"]
        if not set(sweep["alpha"]) - set(self.training["alpha"]):
            return None
        return sweep["k"] if sweep["k"] is not None else max(self.training["k"])

    def alpha_k(self) -> int | None:
        """The k at which the alpha figure compares strategies (the sweep's, else the largest k); None
        when fewer than two alphas are trained there (X-Y is alpha 0, X-X-mono alpha 1)."""
        k = self.sweep_k() or max(self.training["k"])
        alphas = {self.xx_mono_share(spec.strategy) for spec in self.models() if spec.k == k}
        return k if len(alphas) >= 2 else None

    def xx_mono_share(self, slug: str) -> float:
        """Share of X-X-mono batches a strategy trains on: its alpha rounded to whole batches (`batching.batch_kinds`;
        on 2 batches, alpha 0.25 trains on none, as X-Y does)."""
        batches = self.budget.pairs // self.training["batch_size"]
        return round(parse_strategy(slug)[1] * batches) / batches

    def models(self) -> list[ModelSpec]:
        """Every fine-tuned model: each strategy at each (k, distinct draw) and seed, plus the alpha sweep."""
        models = [
            ModelSpec(s, k, d, seed) for s in self.strategies() for k, d, _ in self.draws() if k in self.strategy_ks(s) for seed in self.seeds(k, d)
        ]
        sweep_k = self.sweep_k()
        if sweep_k is not None:
            extra = [a for a in self.training["alpha_sweep"]["alpha"] if a not in self.training["alpha"]]
            models += [
                ModelSpec(slug, k, d, seed)
                for slug in strategy_slugs(["hybrid"], extra)
                for k, d, _ in self.draws()
                if k == sweep_k
                for seed in self.seeds(k, d)
            ]
        return models

    def model_tags(self) -> list[str]:
        return [BASE] + [m.tag for m in self.models()]
