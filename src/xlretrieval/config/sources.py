"""The datasets and collections a study reads: each name's source, and what its reader needs."""

from __future__ import annotations

from ..data.sources import SOURCES, CollectionSource, LareqaSource, Source
from ..errors import ConfigError, ConfigKeyError


class Sources:
    """The data sources of a study (a part of `Study`)."""

    def source(self, name: str, key: str | None = None) -> Source:
        """The dataset or collection `name`; `key`, the config key `name` was read from, is named by the error for an
        unknown name."""
        entry = self.config["data"]["collections"].get(name)
        if entry is not None:
            return CollectionSource(name=name, licence=entry["licence"], languages=tuple(sorted(entry["languages"])), parallel=entry["parallel"])
        extra = self.config["data"]["datasets"].get(name)
        base = SOURCES.get(name)
        if base is None and (extra is None or "url" not in extra):
            reason = f"unknown dataset '{name}': known are {', '.join(sorted(SOURCES))} (or define it under data.datasets)"
            raise ConfigKeyError(key, reason) if key else ConfigError(reason)
        if extra is None:
            return base
        if base is not None and not isinstance(base, LareqaSource):
            raise ConfigKeyError(f"data.datasets.{name}", f"only LAReQA-format datasets are defined there, {name} is read from the hub")
        return LareqaSource(
            name=name,
            url_template=extra.get("url", base.url_template if base else ""),
            licence=extra.get("licence", base.licence if base else "unknown"),
            sha256={**(base.sha256 if base else {}), **extra.get("sha256", {})},
        )

    def datasets(self) -> list[str]:
        return sorted({self.training["dataset"], *self.evaluation["benchmarks"]})

    def lareqa_datasets(self) -> list[str]:
        """Datasets read from per-language files that the `download` rule fetches."""
        return [d for d in self.datasets() if isinstance(self.source(d), LareqaSource)]

    def dataset_languages(self, dataset: str) -> list[str]:
        """Languages of a dataset the study reads: training languages and/or a benchmark's languages, every
        language of a LAReQA-format benchmark (the training-pairs guard compares against all of them),
        the evaluated ones of a hub benchmark."""
        langs = set()
        if dataset == self.training["dataset"]:
            langs |= {self.training["source_language"], *self.training["target_pool"]}
        if dataset in self.evaluation["benchmarks"]:
            source = self.source(dataset)
            langs |= set(source.languages if isinstance(source, LareqaSource) else self.evaluation_languages(dataset))
        return sorted(langs)

    def reading(self, dataset: str) -> tuple[str, dict]:
        """(reader, options) that `xlretrieval.data.readers.read` needs for a dataset; plain values only, so
        Snakemake sees every change, and nothing here touches the network."""
        source, data = self.source(dataset), self.config["data"]
        hub = {"hub_mirror": data["hub_mirror"], "revisions": data["hub_revisions"]}
        if source.reader == "mmarco":
            return source.reader, {"repo": source.repo, **hub, **data["mmarco"]}
        if source.reader == "miracl":
            return source.reader, {"topics_repo": source.topics_repo, "corpus_repo": source.corpus_repo, **hub, **data["miracl"]}
        if source.reader == "collection":
            return source.reader, {"name": dataset, **data["collections"][dataset]}
        return source.reader, {}
