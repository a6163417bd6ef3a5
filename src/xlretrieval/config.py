"""Validated configuration: schema defaults, clear errors, and the study's derived sets."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import yaml

from .availability import EMBEDDED_MODELS, looks_like_path
from .batching import HALF, UNIFORM
from .data.collections import BEIR_LAYOUT
from .data.sources import SOURCES, CollectionSource, LareqaSource, Source
from .families import Unsupported, check_model
from .model_tags import BASE, ModelSpec, parse_strategy, source_share, strategy_slugs

COVER = "cover"  # training.language_draws: disjoint language sets that cover the pool at each k


def run_seed(k: int, draw: int, replicate: int) -> int:
    """The training seed of one run: distinct for every (k, draw, replicate) with draw and replicate below 100 (the
    schema's bounds), so that no seed is shared across k and a seed's effect cannot pass for one of k."""
    return 10000 * k + 100 * draw + replicate


RENAMED = {
    ("training", "freeze_embeddings"): "training.word_embeddings (true: frozen, false: dense; or sparse)",  # since 0.5.0
    # since 0.9.0: every run has a seed of its own (`Study.seeds`), so a config gives how many runs, not which seeds
    ("training", "seeds"): "training.replicates (runs per language set, each with its own seed)",
    ("training", "full_pool_seeds"): "training.full_pool_replicates (runs of the whole pool, each with its own seed)",
    # since 0.9.0: the pilot doubles its budget until a rule stops it (`pilot.choose_budget`)
    ("pilot", "budgets"): "pilot.start_steps, max_steps and stop_share (the curve doubles until a rule stops it) and pilot.learning_rates",
}


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""


PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where pilot.decision's relative path starts (a source checkout)


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
        raise ConfigError(f"config key 'training.pairs': pilot, but pilot.decision {decision} cannot be read ({error})") from None
    for key in ("batch_size", "learning_rate"):
        if f"{chosen[key]:g}" != f"{training[key]:g}":
            raise ConfigError(
                f"config key 'training.pairs': pilot, but the pilot's decision ({decision}) was made at {key} {chosen[key]:g}, "
                f"training.{key} is {training[key]:g}: give training.pairs a count (as a new pilot at this {key} needs too)"
            )
    return Budget(int(chosen["pairs"]), int(chosen["steps"]), f"pilot.decision {decision}")


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
            raise ConfigError(f"config key '{section}.{key}': replaced by {successor}")
    errors = sorted(_Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        if error.validator == "additionalProperties":
            message = error.message.replace("Additional properties are not allowed", "unknown key")
        else:
            message = error.message
        raise ConfigError(f"config key '{_key(error.absolute_path)}': {message}")
    Study(config, root).check()
    return config


def check_collections(data: dict[str, Any]) -> None:
    """`data.collections`: a name of its own, a folder or an ir_datasets id (not both), and a `{lang}` in what is
    read per language."""
    for name, entry in data["collections"].items():
        key = f"config key 'data.collections.{name}'"
        download_key = f"config key 'data.collections.{name}.download'"
        if name in SOURCES or name in data["datasets"]:
            raise ConfigError(f"{key}: {name} is a built-in or data.datasets benchmark; give the collection a name of its own")
        if ("path" in entry) == ("ir_datasets" in entry):
            raise ConfigError(f"{key}: give either path (a folder per language) or ir_datasets (an id per language)")
        if "path" in entry:
            if entry["download"]:
                raise ConfigError(f"{download_key}: only an ir_datasets id downloads; a folder (path) is read as it is")
            layout = {**BEIR_LAYOUT, **entry}
            templates = {part: f"{entry['path']}/{layout[part]}" for part in ("corpus", "queries", "qrels")}
        else:
            folder_keys = sorted(set(entry) & set(BEIR_LAYOUT))
            if folder_keys:
                raise ConfigError(f"{key}: {', '.join(folder_keys)} belong to a folder (path); an ir_datasets id names its own files")
            templates = {"ir_datasets": entry["ir_datasets"]}
        for part, template in templates.items():
            if len(entry["languages"]) > 1 and "{lang}" not in template:
                raise ConfigError(f"{key}: {part} ({template}) has no {{lang}}, so all its {len(entry['languages'])} languages would read the same")


class Study:
    """Typed view of a validated config."""

    def __init__(self, config: dict[str, Any], root: Path = PROJECT_ROOT):
        self.config = config
        self.training = config["training"]
        self.evaluation = config["evaluation"]
        self.root = root

    @functools.cached_property
    def budget(self) -> Budget:
        """The training budget (`resolve_budget`; pilot.decision relative to the project's root)."""
        return resolve_budget(self.training, self.config["pilot"]["decision"], self.root)

    def source(self, name: str, key: str | None = None) -> Source:
        """The dataset or collection `name`; `key`, the config key `name` was read from, is named by the error for an
        unknown name."""
        entry = self.config["data"]["collections"].get(name)
        if entry is not None:
            return CollectionSource(name=name, licence=entry["licence"], languages=tuple(sorted(entry["languages"])), parallel=entry["parallel"])
        extra = self.config["data"]["datasets"].get(name)
        base = SOURCES.get(name)
        if base is None and (extra is None or "url" not in extra):
            where = f"config key '{key}': " if key else ""
            raise ConfigError(f"{where}unknown dataset '{name}': known are {', '.join(sorted(SOURCES))} (or define it under data.datasets)")
        if extra is None:
            return base
        if base is not None and not isinstance(base, LareqaSource):
            raise ConfigError(f"config key 'data.datasets.{name}': only LAReQA-format datasets are defined there, {name} is read from the hub")
        return LareqaSource(
            name=name,
            url_template=extra.get("url", base.url_template if base else ""),
            licence=extra.get("licence", base.licence if base else "unknown"),
            sha256={**(base.sha256 if base else {}), **extra.get("sha256", {})},
        )

    def check(self) -> None:
        """The checks that relate several config keys, beyond the schema, section by section."""
        self._check_data()
        self._check_model()
        self._check_training()
        self._check_evaluation()
        self._check_stats()
        self._check_figure()
        self._check_pilot()

    def _check_data(self) -> None:
        """Every dataset defined under data.datasets must resolve to a source (see `source`); data.collections' entries
        are checked by `check_collections`."""
        for name in self.config["data"]["datasets"]:
            self.source(name)
        check_collections(self.config["data"])

    def _check_model(self) -> None:
        """A model.name meant as a folder must be one; a hub id is checked before the first job (`availability`). A model
        whose config.json is at hand (a folder, the hub cache) must be one the study can train, pooled as is right for it
        (`families.check`; a hub id not yet cached is checked before the first job too)."""
        name = self.config["model"]["name"]
        if looks_like_path(name) and not Path(name).expanduser().is_dir():
            raise ConfigError(f"config key 'model.name': {name} is not a folder (a hub id reads owner/name)")
        file = self.config["model"].get("file")
        if file and name not in EMBEDDED_MODELS:
            raise ConfigError(f"config key 'model.file': only a model built from a file a package ships ({', '.join(EMBEDDED_MODELS)}) reads one")
        if file and not Path(file).expanduser().is_file():
            raise ConfigError(f"config key 'model.file': {file} is not a file")
        try:
            check_model(name, self.config["model"]["pooling"])
        except Unsupported as error:
            raise ConfigError(str(error)) from None

    def _check_training(self) -> None:
        t = self.training
        source = self.source(t["dataset"], "training.dataset")
        if not source.trains:
            raise ConfigError(f"config key 'training.dataset': {t['dataset']} is an evaluation benchmark only")
        train_langs = source.languages
        for key, langs in (("training.source_language", [t["source_language"]]), ("training.target_pool", t["target_pool"])):
            unknown = sorted(set(langs) - set(train_langs))
            if unknown:
                raise ConfigError(f"config key '{key}': {t['dataset']} has no language {', '.join(unknown)} (it has {', '.join(train_langs)})")
        if t["source_language"] in t["target_pool"]:
            raise ConfigError("config key 'training.target_pool': must not contain the source language")
        too_big = [k for k in t["k"] if k > len(t["target_pool"])]
        if too_big:
            raise ConfigError(f"config key 'training.k': {too_big} exceeds the {len(t['target_pool'])} languages of training.target_pool")
        uneven = [k for k in t["k"] if len(t["target_pool"]) % k]
        if t["language_draws"] == COVER and uneven:
            raise ConfigError(
                f"config key 'training.k': language_draws 'cover' cuts the {len(t['target_pool'])} pool languages into sets of k, "
                f"which {uneven} do not divide"
            )
        if self.budget.pairs < t["batch_size"]:
            raise ConfigError("config key 'training.pairs': must be at least training.batch_size")
        stopping = t["early_stopping"]
        if stopping["dev_fraction"] > 0 and stopping["dev_pairs"] < t["batch_size"]:
            raise ConfigError("config key 'training.early_stopping.dev_pairs': must be at least training.batch_size")
        unknown = sorted(set(t["every_k"] or []) - set(t["strategies"]))
        if unknown:
            raise ConfigError(f"config key 'training.every_k': {', '.join(unknown)} not in training.strategies")
        sweep_k = t["alpha_sweep"]["k"]
        if sweep_k is not None and sweep_k not in t["k"]:
            raise ConfigError(f"config key 'training.alpha_sweep.k': {sweep_k} is not one of training.k {t['k']}")
        if t["alpha_sweep"]["alpha"] and "hybrid" not in t["strategies"]:
            raise ConfigError("config key 'training.alpha_sweep.alpha': sweeps hybrid, which training.strategies lacks")

    def _check_evaluation(self) -> None:
        t, e = self.training, self.evaluation
        for name in e["benchmarks"]:
            if not self.source(name, "evaluation.benchmarks").evaluates:
                raise ConfigError(f"config key 'evaluation.benchmarks': {name} is a training source only")
        for name, settings in e["settings"].items():
            if name not in e["benchmarks"]:
                raise ConfigError(f"config key 'evaluation.settings.{name}': not in evaluation.benchmarks")
            unsupported = [s for s in settings if s not in self.source(name).settings]
            if unsupported:
                raise ConfigError(
                    f"config key 'evaluation.settings.{name}': {name} supports only {', '.join(self.source(name).settings)} "
                    f"(its question ids are not parallel across languages), not {', '.join(unsupported)}"
                )
        for name, langs in e["languages"].items():
            if name not in e["benchmarks"]:
                raise ConfigError(f"config key 'evaluation.languages.{name}': not in evaluation.benchmarks")
            unknown = sorted(set(langs) - set(self.source(name).languages))
            if unknown:
                raise ConfigError(f"config key 'evaluation.languages.{name}': unknown language {', '.join(unknown)}")
        for name, langs in e["held_out"].items():
            if name not in e["benchmarks"]:
                raise ConfigError(f"config key 'evaluation.held_out.{name}': not in evaluation.benchmarks")
            trained = sorted(set(langs) & {t["source_language"], *t["target_pool"]})
            if trained:
                raise ConfigError(
                    f"config key 'evaluation.held_out.{name}': {', '.join(trained)} can be trained on "
                    "(training.source_language or training.target_pool)"
                )
            unknown = sorted(set(langs) - set(self.evaluation_languages(name)))
            if unknown:
                raise ConfigError(f"config key 'evaluation.held_out.{name}': {', '.join(unknown)} not evaluated on {name}")
        if isinstance(e["articles"], float) and e["articles"] > 1:
            raise ConfigError("config key 'evaluation.articles': a fraction must be at most 1.0 (or give a whole count)")
        for name in e["benchmarks"]:
            self._check_comparable(name)

    def _check_comparable(self, benchmark: str) -> None:
        """A benchmark must evaluate a fixed language group (every curve over k and paired test is drawn on those):
        the source language or a held-out one, and in cross alone a pair of them; cross or multi needs two languages."""
        langs, held_out = self.evaluation_languages(benchmark), self.held_out(benchmark)
        has_source = self.training["source_language"] in langs
        if not has_source and not held_out:
            raise ConfigError(
                f"config key 'evaluation.languages.{benchmark}': {', '.join(langs)} holds neither training.source_language "
                f"({self.training['source_language']}) nor a held-out language, the fixed groups that curves over k and paired tests compare"
            )
        between = [s for s in self.evaluation["settings"].get(benchmark, []) if s != "mono"]
        if len(langs) < 2 and between:
            raise ConfigError(
                f"config key 'evaluation.settings.{benchmark}': {' and '.join(between)} need two evaluated languages, {benchmark} has {langs[0]} only"
            )
        if self.settings(benchmark) == ["cross"] and not (len(held_out) > 1 or (has_source and held_out)):
            raise ConfigError(
                f"config key 'evaluation.settings.{benchmark}': cross alone has no fixed language group in {', '.join(langs)}: "
                f"that needs two held-out languages, or training.source_language ({self.training['source_language']}) and one"
            )

    def _check_stats(self) -> None:
        self._check_metric("stats.metric", self.config["stats"]["metric"])

    def _check_figure(self) -> None:
        self._check_metric("figure.metric", self.config["figure"]["metric"])

    def _check_pilot(self) -> None:
        pilot = self.config["pilot"]
        if pilot["start_steps"] > pilot["max_steps"]:
            raise ConfigError(f"config key 'pilot.max_steps': {pilot['max_steps']} is below pilot.start_steps ({pilot['start_steps']})")

    def _check_metric(self, key: str, metric: str) -> None:
        """A metric that `key` reports on must be one the evaluation measures."""
        if metric not in [*self.evaluation["measures"], "rank_distance"]:
            raise ConfigError(f"config key '{key}': '{metric}' is none of evaluation.measures or rank_distance")
        if metric != "rank_distance":
            return
        without_multi = [b for b in self.evaluation["benchmarks"] if "multi" not in self.settings(b)]
        if without_multi:
            raise ConfigError(
                f"config key '{key}': rank_distance is measured in the multi setting, which {', '.join(without_multi)} is not evaluated in"
            )

    # --- languages -------------------------------------------------------------------------
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

    def datasets(self) -> list[str]:
        return sorted({self.training["dataset"], *self.evaluation["benchmarks"]})

    # --- data sources ---------------------------------------------------------------------
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

    def lareqa_datasets(self) -> list[str]:
        """Datasets read from per-language files that the `download` rule fetches."""
        return [d for d in self.datasets() if isinstance(self.source(d), LareqaSource)]

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

    # --- models ---------------------------------------------------------------------------
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
