"""The checks that relate several config keys, beyond the schema, a function per section (file and model look-ups
included: a folder or hub-cache model that the study cannot train stops the run before its first job)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..availability import EMBEDDED_MODELS, locate
from ..data.collections import BEIR_LAYOUT
from ..data.sources import SOURCES
from ..errors import ConfigKeyError
from ..families import check_model as check_family
from .design import COVER

if TYPE_CHECKING:
    from .study import Study


def check(study: Study) -> None:
    """The checks that relate several config keys, beyond the schema, section by section."""
    check_data(study)
    check_model(study)
    check_training(study)
    check_evaluation(study)
    check_stats(study)
    check_figure(study)
    check_pilot(study)


def check_data(study: Study) -> None:
    """Every dataset defined under data.datasets must resolve to a source (see `source`); data.collections' entries
    are checked by `check_collections`."""
    for name in study.config["data"]["datasets"]:
        study.source(name)
    check_collections(study.config["data"])


def check_model(study: Study) -> None:
    """A model.name meant as a folder must be one; a hub id is checked before the first job (`availability`). A model
    whose config.json is at hand (a folder, the hub cache) must be one the study can train, pooled as is right for it
    (`families.check`; a hub id not yet cached is checked before the first job too)."""
    name = study.config["model"]["name"]
    locate(name)  # a name meant as a folder must be one: ModelUnavailable, a ConfigError naming model.name
    file = study.config["model"].get("file")
    if file and name not in EMBEDDED_MODELS:
        raise ConfigKeyError("model.file", f"only a model built from a file a package ships ({', '.join(EMBEDDED_MODELS)}) reads one")
    if file and not Path(file).expanduser().is_file():
        raise ConfigKeyError("model.file", f"{file} is not a file")
    check_family(name, study.config["model"]["pooling"])  # Unsupported: a ConfigError naming its key


def check_training(study: Study) -> None:
    t = study.training
    source = study.source(t["dataset"], "training.dataset")
    if not source.trains:
        raise ConfigKeyError("training.dataset", f"{t['dataset']} is an evaluation benchmark only")
    train_langs = source.languages
    for key, langs in (("training.source_language", [t["source_language"]]), ("training.target_pool", t["target_pool"])):
        unknown = sorted(set(langs) - set(train_langs))
        if unknown:
            raise ConfigKeyError(f"{key}", f"{t['dataset']} has no language {', '.join(unknown)} (it has {', '.join(train_langs)})")
    if t["source_language"] in t["target_pool"]:
        raise ConfigKeyError("training.target_pool", "must not contain the source language")
    too_big = [k for k in t["k"] if k > len(t["target_pool"])]
    if too_big:
        raise ConfigKeyError("training.k", f"{too_big} exceeds the {len(t['target_pool'])} languages of training.target_pool")
    uneven = [k for k in t["k"] if len(t["target_pool"]) % k]
    if t["language_draws"] == COVER and uneven:
        raise ConfigKeyError(
            "training.k", f"language_draws 'cover' cuts the {len(t['target_pool'])} pool languages into sets of k, which {uneven} do not divide"
        )
    if study.budget.pairs < t["batch_size"]:
        raise ConfigKeyError("training.pairs", "must be at least training.batch_size")
    stopping = t["early_stopping"]
    if stopping["dev_fraction"] > 0 and stopping["dev_pairs"] < t["batch_size"]:
        raise ConfigKeyError("training.early_stopping.dev_pairs", "must be at least training.batch_size")
    unknown = sorted(set(t["every_k"] or []) - set(t["strategies"]))
    if unknown:
        raise ConfigKeyError("training.every_k", f"{', '.join(unknown)} not in training.strategies")
    sweep_k = t["alpha_sweep"]["k"]
    if sweep_k is not None and sweep_k not in t["k"]:
        raise ConfigKeyError("training.alpha_sweep.k", f"{sweep_k} is not one of training.k {t['k']}")
    if t["alpha_sweep"]["alpha"] and "hybrid" not in t["strategies"]:
        raise ConfigKeyError("training.alpha_sweep.alpha", "sweeps hybrid, which training.strategies lacks")


def check_evaluation(study: Study) -> None:
    t, e = study.training, study.evaluation
    for name in e["benchmarks"]:
        if not study.source(name, "evaluation.benchmarks").evaluates:
            raise ConfigKeyError("evaluation.benchmarks", f"{name} is a training source only")
    for name, settings in e["settings"].items():
        if name not in e["benchmarks"]:
            raise ConfigKeyError(f"evaluation.settings.{name}", "not in evaluation.benchmarks")
        unsupported = [s for s in settings if s not in study.source(name).settings]
        if unsupported:
            raise ConfigKeyError(
                f"evaluation.settings.{name}",
                f"{name} supports only {', '.join(study.source(name).settings)} "
                f"(its question ids are not parallel across languages), not {', '.join(unsupported)}",
            )
    for name, langs in e["languages"].items():
        if name not in e["benchmarks"]:
            raise ConfigKeyError(f"evaluation.languages.{name}", "not in evaluation.benchmarks")
        unknown = sorted(set(langs) - set(study.source(name).languages))
        if unknown:
            raise ConfigKeyError(f"evaluation.languages.{name}", f"unknown language {', '.join(unknown)}")
    for name, langs in e["held_out"].items():
        if name not in e["benchmarks"]:
            raise ConfigKeyError(f"evaluation.held_out.{name}", "not in evaluation.benchmarks")
        trained = sorted(set(langs) & {t["source_language"], *t["target_pool"]})
        if trained:
            raise ConfigKeyError(
                f"evaluation.held_out.{name}", f"{', '.join(trained)} can be trained on (training.source_language or training.target_pool)"
            )
        unknown = sorted(set(langs) - set(study.evaluation_languages(name)))
        if unknown:
            raise ConfigKeyError(f"evaluation.held_out.{name}", f"{', '.join(unknown)} not evaluated on {name}")
    if isinstance(e["articles"], float) and e["articles"] > 1:
        raise ConfigKeyError("evaluation.articles", "a fraction must be at most 1.0 (or give a whole count)")
    for name in e["benchmarks"]:
        check_comparable(study, name)


def check_comparable(study: Study, benchmark: str) -> None:
    """A benchmark must evaluate a fixed language group (every curve over k and paired test is drawn on those):
    the source language or a held-out one, and in cross alone a pair of them; cross or multi needs two languages."""
    langs, held_out = study.evaluation_languages(benchmark), study.held_out(benchmark)
    has_source = study.training["source_language"] in langs
    if not has_source and not held_out:
        raise ConfigKeyError(
            f"evaluation.languages.{benchmark}",
            f"{', '.join(langs)} holds neither training.source_language "
            f"({study.training['source_language']}) nor a held-out language, the fixed groups that curves over k and paired tests compare",
        )
    between = [s for s in study.evaluation["settings"].get(benchmark, []) if s != "mono"]
    if len(langs) < 2 and between:
        raise ConfigKeyError(
            f"evaluation.settings.{benchmark}", f"{' and '.join(between)} need two evaluated languages, {benchmark} has {langs[0]} only"
        )
    if study.settings(benchmark) == ["cross"] and not (len(held_out) > 1 or (has_source and held_out)):
        raise ConfigKeyError(
            f"evaluation.settings.{benchmark}",
            f"cross alone has no fixed language group in {', '.join(langs)}: "
            f"that needs two held-out languages, or training.source_language ({study.training['source_language']}) and one",
        )


def check_stats(study: Study) -> None:
    check_metric(study, "stats.metric", study.config["stats"]["metric"])


def check_figure(study: Study) -> None:
    check_metric(study, "figure.metric", study.config["figure"]["metric"])


def check_pilot(study: Study) -> None:
    pilot = study.config["pilot"]
    if pilot["start_steps"] > pilot["max_steps"]:
        raise ConfigKeyError("pilot.max_steps", f"{pilot['max_steps']} is below pilot.start_steps ({pilot['start_steps']})")


def check_metric(study: Study, key: str, metric: str) -> None:
    """A metric that `key` reports on must be one the evaluation measures."""
    if metric not in [*study.evaluation["measures"], "rank_distance"]:
        raise ConfigKeyError(f"{key}", f"'{metric}' is none of evaluation.measures or rank_distance")
    if metric != "rank_distance":
        return
    without_multi = [b for b in study.evaluation["benchmarks"] if "multi" not in study.settings(b)]
    if without_multi:
        raise ConfigKeyError(f"{key}", f"rank_distance is measured in the multi setting, which {', '.join(without_multi)} is not evaluated in")


def check_collections(data: dict[str, Any]) -> None:
    """`data.collections`: a name of its own, a folder or an ir_datasets id (not both), and a `{lang}` in what is
    read per language."""
    for name, entry in data["collections"].items():
        key = f"data.collections.{name}"
        if name in SOURCES or name in data["datasets"]:
            raise ConfigKeyError(key, f"{name} is a built-in or data.datasets benchmark; give the collection a name of its own")
        if ("path" in entry) == ("ir_datasets" in entry):
            raise ConfigKeyError(key, "give either path (a folder per language) or ir_datasets (an id per language)")
        if "path" in entry:
            if entry["download"]:
                raise ConfigKeyError(f"{key}.download", "only an ir_datasets id downloads; a folder (path) is read as it is")
            layout = {**BEIR_LAYOUT, **entry}
            templates = {part: f"{entry['path']}/{layout[part]}" for part in ("corpus", "queries", "qrels")}
        else:
            folder_keys = sorted(set(entry) & set(BEIR_LAYOUT))
            if folder_keys:
                raise ConfigKeyError(key, f"{', '.join(folder_keys)} belong to a folder (path); an ir_datasets id names its own files")
            templates = {"ir_datasets": entry["ir_datasets"]}
        for part, template in templates.items():
            if len(entry["languages"]) > 1 and "{lang}" not in template:
                raise ConfigKeyError(key, f"{part} ({template}) has no {{lang}}, so all its {len(entry['languages'])} languages would read the same")
