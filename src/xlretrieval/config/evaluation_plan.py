"""The evaluation plan: which languages and settings each benchmark is evaluated in, the role of each language, and
the articles set aside for the pilot."""

from __future__ import annotations


class EvaluationPlan:
    """The evaluation plan of a study (a part of `Study`)."""

    def evaluation_languages(self, benchmark: str) -> list[str]:
        return sorted(self.evaluation["languages"].get(benchmark, self.source(benchmark).languages))

    def held_out(self, benchmark: str) -> list[str]:
        """Evaluated languages never trained on at any k (`evaluation.held_out`, else those neither the source
        language nor in the target pool): a language group whose membership does not change with k."""
        if benchmark in self.evaluation["held_out"]:
            return sorted(self.evaluation["held_out"][benchmark])
        trainable = {self.training["source_language"], *self.training["target_pool"]}
        return [lang for lang in self.evaluation_languages(benchmark) if lang not in trainable]

    def language_roles(self, benchmark: str) -> dict[str, str]:
        """Role of each evaluated language of a benchmark (see `metrics.lang_group`): source, held-out, pool
        (trained at some k) or other (neither, when `evaluation.held_out` names fewer languages)."""
        held_out, pool = set(self.held_out(benchmark)), set(self.training["target_pool"])
        roles = {}
        for lang in self.evaluation_languages(benchmark):
            if lang == self.training["source_language"]:
                roles[lang] = "source"
            else:
                roles[lang] = "held-out" if lang in held_out else "pool" if lang in pool else "other"
        return roles

    def settings(self, benchmark: str) -> list[str]:
        """Evaluation settings of a benchmark: those configured, else every one its source supports (mono only where
        one language is evaluated)."""
        if benchmark in self.evaluation["settings"]:
            return list(self.evaluation["settings"][benchmark])
        return list(self.source(benchmark).settings if len(self.evaluation_languages(benchmark)) > 1 else ["mono"])

    def article_subset(self, benchmark: str) -> int | float | None:
        """`evaluation.articles` for a benchmark organised in articles; None (everything) for one that is not."""
        return self.evaluation["articles"] if self.source(benchmark).articles else None

    def pilot_benchmark(self) -> str:
        """The first evaluation benchmark with a cross setting (held-out cross is what the budget must resolve)."""
        benchmarks = self.evaluation["benchmarks"]
        return next((b for b in benchmarks if "cross" in self.settings(b)), benchmarks[0])

    def pilot_reserve(self, benchmark: str) -> dict | None:
        """The articles set aside for the pilot in `benchmark` (`data.splits.pilot_articles`' count and seed): in the
        pilot benchmark where it is organised in articles, else None."""
        if benchmark != self.pilot_benchmark() or not self.source(benchmark).articles or not self.config["pilot"]["articles"]:
            return None
        return {"articles": self.config["pilot"]["articles"], "seed": self.evaluation["subset_seed"]}
