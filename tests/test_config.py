import json

import pytest
import yaml

from xlretrieval.config import ConfigError, Study, validate
from xlretrieval.model_tags import ModelSpec

from conftest import ROOT, SCHEMA, study_config


def schema_node(schema: dict, path: tuple[str, ...]) -> dict:
    for key in path:
        schema = schema["properties"][key]
    return schema


def leaf_keys(config: dict, path: tuple[str, ...] = ()):
    for key, value in config.items():
        if isinstance(value, dict) and value:
            yield from leaf_keys(value, (*path, key))
        else:
            yield (*path, key)


def test_each_value_has_one_home():
    """config.yaml gives exactly the keys the schema has no default for: none restated, none missing."""
    schema = yaml.safe_load(SCHEMA.read_text())
    given = list(leaf_keys(yaml.safe_load((ROOT / "config.yaml").read_text())))
    restated = [".".join(path) for path in given if "default" in schema_node(schema, path)]
    assert not restated, f"config.yaml restates the schema's defaults of {restated}"
    config = validate(study_config(), SCHEMA)  # raises where a key without a default is missing from config.yaml
    assert config["training"]["temperature"] == 0.05 and config["training"]["k"] == [1, 6]
    without_k = study_config()
    del without_k["training"]["k"]
    with pytest.raises(ConfigError, match=r"config key 'training.k': missing: config.yaml gives its value"):
        validate(without_k, SCHEMA)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"training": {"strategies": ["hybird"]}}, r"'training.strategies\[0\]': 'hybird' is not one of"),
        ({"training": {"batch_sise": 32}}, r"'training': unknown key \('batch_sise' was unexpected\)"),
        ({"training": {"k": "4"}}, r"'training.k': '4' is not of type 'array'"),
        ({"training": {"freeze_embeddings": True}}, r"'training.freeze_embeddings': replaced by training.word_embeddings \(true: frozen"),
        ({"training": {"word_embeddings": "lazy"}}, r"'training.word_embeddings': 'lazy' is not one of \['frozen', 'sparse', 'dense'\]"),
        ({"evaluation": {"depth": 0}}, r"'evaluation.depth': 0 is less than the minimum"),
        ({"training": {"k": [7]}}, r"'training.k': \[7\] exceeds the 6 languages"),
        ({"training": {"target_pool": ["de", "xx"]}}, r"'training.target_pool': mlqa-r has no language xx"),
        ({"evaluation": {"benchmarks": ["xquad"]}}, r"'evaluation.benchmarks': unknown dataset 'xquad'"),  # found by test_any_config
        ({"training": {"dataset": "mlqa"}}, r"'training.dataset': unknown dataset 'mlqa'"),
        ({"stats": {"metric": "MRR"}}, r"'stats.metric': 'MRR' is none of evaluation.measures or rank_distance"),
        ({"stats": {"level": 95}}, r"'stats.level': 95 is greater than or equal to the maximum of 1"),
        ({"training": {"dataset": "miracl"}}, r"'training.dataset': miracl is an evaluation benchmark only"),
        ({"evaluation": {"benchmarks": ["mmarco"]}}, r"'evaluation.benchmarks': mmarco is a training source only"),
        (
            {"evaluation": {"benchmarks": ["miracl"], "settings": {"miracl": ["mono", "cross"]}}},
            r"'evaluation.settings.miracl': miracl supports only mono .* not cross",
        ),
        ({"training": {"dataset": "mmarco", "target_pool": ["de", "sw"]}}, r"'training.target_pool': mmarco has no language sw"),
        ({"data": {"datasets": {"mmarco": {"licence": "x"}}}}, r"'data.datasets.mmarco': only LAReQA-format datasets"),
        ({"training": {"early_stopping": {"dev_fraction": 0.1, "dev_pairs": 8}}}, r"'training.early_stopping.dev_pairs': must be at least"),
        ({"training": {"strategies": ["hybrid"], "every_k": ["x-y"]}}, r"'training.every_k': x-y not in training.strategies"),
        ({"training": {"every_k": ["hybird"]}}, r"'training.every_k\[0\]': 'hybird' is not one of"),
        ({"evaluation": {"held_out": {"xquad-r": ["el", "de"]}}}, r"'evaluation.held_out.xquad-r': de can be trained on"),
        ({"evaluation": {"held_out": {"xquad-r": ["xx"]}}}, r"'evaluation.held_out.xquad-r': xx not evaluated on xquad-r"),
        ({"evaluation": {"held_out": {"mlqa-r": ["el"]}}}, r"'evaluation.held_out.mlqa-r': not in evaluation.benchmarks"),
        # found by tests/test_any_config.py: nothing to compare (paired_tests), a multi figure of no language pair
        ({"evaluation": {"languages": {"xquad-r": ["ar"]}}}, r"'evaluation.languages.xquad-r': ar holds neither training.source_language \(en\)"),
        (
            {"evaluation": {"languages": {"xquad-r": ["el"]}, "settings": {"xquad-r": ["mono", "multi"]}}},
            r"'evaluation.settings.xquad-r': multi need two evaluated languages, xquad-r has el only",
        ),
        # found in CI: cross between a held-out and a pool language only (mixed), so no paired test
        (
            {"evaluation": {"languages": {"xquad-r": ["de", "el"]}, "settings": {"xquad-r": ["cross"]}}},
            r"'evaluation.settings.xquad-r': cross alone has no fixed language group in de, el: that needs two held-out",
        ),
        (
            {"evaluation": {"settings": {"xquad-r": ["mono", "cross"]}}, "stats": {"metric": "rank_distance"}},
            r"'stats.metric': rank_distance is measured in the multi setting, which xquad-r is not evaluated in",
        ),
        ({"model": {"name": "/nonexistent/model"}}, r"'model.name': /nonexistent/model is not a folder"),
        ({"model": {"name": "models/mine/v1"}}, r"'model.name': models/mine/v1 is not a folder"),
    ],
)
def test_config_errors_name_the_key(config, message):
    with pytest.raises(ConfigError, match=message):
        validate(study_config(config), SCHEMA)


SHIPPED = [ROOT / "config.yaml", *sorted((ROOT / "config").glob("*.yaml"))]


def test_shipped_configs_are_valid():
    for path in SHIPPED:
        validate(study_config(yaml.safe_load(path.read_text())), SCHEMA)


def test_every_shipped_config_trains_the_pilots_budget_or_gives_its_own_with_a_reason():
    """The budget has one home, the pilot's committed decision: a config that trains another says so itself, with a
    comment on the line that gives it."""
    decision = json.loads((ROOT / "config" / "pilot" / "budget.json").read_text())
    default = Study(validate(study_config(), SCHEMA)).budget
    assert (default.pairs, default.steps) == (decision["pairs"], decision["steps"]) and default.source == "pilot.decision config/pilot/budget.json"
    assert default.record() == {"pairs": decision["pairs"], "steps": decision["steps"], "from": "pilot.decision config/pilot/budget.json"}
    for path in SHIPPED:
        budget = Study(validate(study_config(yaml.safe_load(path.read_text())), SCHEMA)).budget
        if budget.source != "training.pairs":
            continue
        given = [line for line in path.read_text().splitlines() if line.strip().startswith("pairs:")]
        assert given and "#" in given[0] or "#" in path.read_text().split("pairs:")[0].splitlines()[-1], f"{path.name}: another budget, no reason"


def test_a_pilot_decision_made_at_another_batch_size_or_rate_is_refused(tmp_path):
    decision = json.loads((ROOT / "config" / "pilot" / "budget.json").read_text())
    (tmp_path / "budget.json").write_text(json.dumps({**decision, "learning_rate": 1e-4}))
    with pytest.raises(ConfigError, match=r"'training.pairs': pilot, but the pilot's decision \(budget.json\) was made at learning_rate 0.0001"):
        validate(study_config({"pilot": {"decision": "budget.json"}}), SCHEMA, tmp_path)
    with pytest.raises(ConfigError, match="pilot.decision missing.json cannot be read"):
        validate(study_config({"pilot": {"decision": "missing.json"}}), SCHEMA, tmp_path)


def test_the_source_share_arm_reuses_k1_and_pairs_its_k6_runs_by_seed():
    study = Study(validate(study_config(yaml.safe_load((ROOT / "config" / "english-share.yaml").read_text())), SCHEMA))
    assert study.strategies() == ["hybrid-a0.5", "hybrid-a0.5-half"]
    assert study.strategy_ks("hybrid-a0.5") == [1, 6] and study.strategy_ks("hybrid-a0.5-half") == [6]
    tags = [m.tag for m in study.models()]
    assert len(tags) == 18 and sum(tag.startswith("hybrid-a0.5-half/k6/") for tag in tags) == 6
    default = {m.tag for m in Study(validate(study_config(), SCHEMA)).models()}
    assert default <= set(tags)  # the default's 12 models, same paths
    half_seeds = sorted(m.seed for m in study.models() if m.strategy.endswith("-half"))
    assert half_seeds == sorted(m.seed for m in study.models() if m.strategy == "hybrid-a0.5" and m.k == 6)


# The paper's grid of nested draws, on which the tests of draws, tags and strategies below count models.
NESTED = {"k": [1, 2, 4, 6], "language_draws": [0], "full_pool_replicates": None, "strategies": ["xx-mono", "x-y", "hybrid"]}


def nested(**training) -> dict:
    """config.yaml with the nested grid and `training` merged over it."""
    return study_config({"training": {**NESTED, **training}})


def test_language_draws_are_seeded_and_nested():
    study = Study(validate(nested(), SCHEMA))
    for draw in (0, 1):
        sets = [study.training_languages(k, draw) for k in (1, 2, 4, 6)]
        assert all(s[0] == "en" for s in sets)
        assert all(set(a) < set(b) for a, b in zip(sets, sets[1:]))
        assert sets[-1] == ["en", "ar", "de", "es", "hi", "vi", "zh"]
    assert study.training_languages(2, 0) == study.training_languages(2, 0)
    assert {tuple(study.training_languages(1, d)) for d in range(6)} != {tuple(study.training_languages(1, 0))}


def test_model_tags_round_trip():
    study = Study(validate(nested(alpha=[0.25, 0.5]), SCHEMA))
    tags = study.model_tags()
    assert tags[0] == "base" and "hybrid-a0.25/k4/draw0/seed40000" in tags and len(tags) == 1 + 4 * 4
    assert all(ModelSpec.parse(t).tag == t for t in tags[1:])


def test_draws_that_pick_the_same_languages_train_once():
    study = Study(validate(study_config({"training": {"language_draws": [0, 1, 2], "k": [1, 6]}}), SCHEMA))
    draws = [(k, d) for k, d, _ in study.draws()]
    assert [d for k, d in draws if k == 6] == [0]
    assert len({tuple(langs) for k, _, langs in study.draws() if k == 1}) == len([1 for k, _ in draws if k == 1])
    assert not any(m.k == 6 and m.draw > 0 for m in study.models())


def test_alpha_sweep_adds_hybrids_at_one_k_only():
    study = Study(validate(nested(language_draws=[0, 1], alpha_sweep={"alpha": [0.25, 0.5, 0.75]}), SCHEMA))
    sweep = [m for m in study.models() if m.strategy in ("hybrid-a0.25", "hybrid-a0.75")]
    assert {(m.strategy, m.k, m.draw) for m in sweep} == {("hybrid-a0.25", 6, 0), ("hybrid-a0.75", 6, 0)}
    assert len([m for m in study.models() if m.strategy == "hybrid-a0.5"]) == 7  # k 1, 2, 4 x 2 draws + k 6
    with pytest.raises(ConfigError, match="'training.alpha_sweep.k': 3 is not one of training.k"):
        validate(nested(alpha_sweep={"alpha": [0.25], "k": 3}), SCHEMA)


@pytest.mark.parametrize(
    "training, k",
    [
        ({"alpha_sweep": {"alpha": [0.25], "k": 2}}, 2),
        ({"alpha_sweep": {"alpha": []}}, 6),  # X-Y, hybrid and X-X-mono at the largest k
        ({"alpha_sweep": {"alpha": []}, "strategies": ["hybrid"]}, None),
        ({"alpha_sweep": {"alpha": [0.75]}, "strategies": ["hybrid"]}, 6),
        # found by tests/test_any_config.py: on 2 batches alpha 0.25 rounds to no X-X-mono batch, as X-Y trains
        ({"strategies": ["x-y", "hybrid"], "alpha": [0.25], "pairs": 6, "batch_size": 3}, None),
        ({"strategies": ["x-y", "hybrid"], "alpha": [0.25], "pairs": 12, "batch_size": 3}, 6),
    ],
)
def test_alpha_figure_needs_two_alphas_at_its_k(training, k):
    assert Study(validate(nested(**training), SCHEMA)).alpha_k() == k


def test_paper_study_reads_hub_sources_and_splits_languages_by_training():
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    study = Study(validate(study_config(config), SCHEMA))
    reader, options = study.reading("mmarco")
    assert reader == "mmarco" and options["queries"] == 100000 and options["hub_mirror"] is None
    assert study.reading("miracl")[1]["others"] == 1000000 and study.reading("xquad-r") == ("lareqa", {})
    assert study.settings("miracl") == ["mono"] and study.settings("xquad-r") == ["mono", "cross", "multi"]
    assert study.article_subset("miracl") is None and study.lareqa_datasets() == ["mlqa-r", "xquad-r"]
    trained = set(study.training_languages(4, 0))
    assert len(trained) == 5 and trained <= set(study.source("mmarco").languages)
    zero_shot = set(study.evaluation_languages("miracl")) - trained
    assert {"bn", "fa", "fi", "ko", "sw", "te", "th", "yo"} <= zero_shot and len(zero_shot) == 18 - len(
        trained & set(study.evaluation_languages("miracl"))
    )
    assert {m.k for m in study.models()} == {1, 2, 4, 8, 12} and len(study.models()) == 17


def test_reverse_study_trains_on_xquad_r_only_and_holds_out_mlqa_r_languages():
    """config/reverse.yaml: en + k of el, ru, th, tr from all of XQuAD-R (not evaluated, so no article split); MLQA-R
    evaluated, its en the source and its six other languages never trained on."""
    study = Study(validate(study_config(yaml.safe_load((ROOT / "config" / "reverse.yaml").read_text())), SCHEMA))
    assert study.training["dataset"] == "xquad-r" and study.evaluation["benchmarks"] == ["mlqa-r"]
    assert study.datasets() == ["mlqa-r", "xquad-r"] and study.dataset_languages("xquad-r") == ["el", "en", "ru", "th", "tr"]
    assert study.held_out("mlqa-r") == ["ar", "de", "es", "hi", "vi", "zh"]
    roles = study.language_roles("mlqa-r")
    assert roles.pop("en") == "source" and set(roles.values()) == {"held-out"}
    trained = {lang for _, _, langs in study.draws() for lang in langs}
    assert trained == {"en", "el", "ru", "th", "tr"} and trained.isdisjoint(study.held_out("mlqa-r"))
    assert [(k, len(langs) - 1) for k, _, langs in study.draws()] == [(1, 1)] * 4 + [(2, 2)] * 2 + [(4, 4)]  # cover
    assert study.article_subset("mlqa-r") == 130 and study.config["results"] == "results/reverse"


def test_held_out_languages_are_derived_from_the_config_and_overridable():
    study = Study(validate(study_config(), SCHEMA))
    assert study.held_out("xquad-r") == ["el", "ru", "th", "tr"]
    roles = study.language_roles("xquad-r")
    assert roles["en"] == "source" and roles["de"] == "pool" and roles["th"] == "held-out" and len(roles) == 11
    narrow = Study(validate(study_config({"evaluation": {"held_out": {"xquad-r": ["el", "ru"]}}}), SCHEMA))
    assert narrow.held_out("xquad-r") == ["el", "ru"] and narrow.language_roles("xquad-r")["th"] == "other"
    tiny = Study(validate(study_config(yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())), SCHEMA))
    assert tiny.held_out("xquad-r") == ["el"]


def test_strategies_can_be_trained_at_fewer_k():
    study = Study(validate(nested(language_draws=[0, 1], every_k=["hybrid"]), SCHEMA))
    ks = {}
    for m in study.models():
        ks.setdefault(m.strategy, set()).add(m.k)
    assert ks == {"xx-mono": {1, 6}, "x-y": {1, 6}, "hybrid-a0.5": {1, 2, 4, 6}}
    assert len(study.models()) == 3 + 3 + 7  # k=6 is one draw
    assert len(Study(validate(nested(language_draws=[0, 1]), SCHEMA)).models()) == 3 * 7


def test_cover_trains_every_pool_language_once_per_k():
    study = Study(validate(study_config({"training": {"language_draws": "cover", "k": [1, 2, 3, 6], "full_pool_replicates": 3}}), SCHEMA))
    pool = set(study.training["target_pool"])
    for k in (1, 2, 3, 6):
        sets = [set(langs) - {"en"} for kk, _, langs in study.draws() if kk == k]
        assert len(sets) == 6 // k and all(len(s) == k for s in sets)
        assert set().union(*sets) == pool and sum(map(len, sets)) == len(pool)  # disjoint, covering
    runs = [(m.k, m.draw, m.seed) for m in study.models() if m.strategy == "hybrid-a0.5"]
    assert [r for r in runs if r[0] == 6] == [(6, 0, 60000), (6, 0, 60001), (6, 0, 60002)]  # full_pool_replicates: the one set, three runs
    assert sum(1 for r in runs if r[0] == 1) == 6


def test_every_run_has_a_seed_of_its_own_and_strategies_share_a_runs_seed():
    training = {**NESTED, "k": [1, 2, 6], "language_draws": "cover", "replicates": 2, "full_pool_replicates": 4}
    study = Study(validate(study_config({"training": training}), SCHEMA))
    runs = {(m.k, m.draw, m.seed) for m in study.models()}
    assert len({seed for _, _, seed in runs}) == len(runs)  # no seed serves two runs, at one k or across k
    assert [sum(1 for k, _, _ in runs if k == kk) for kk in (1, 2, 6)] == [6 * 2, 3 * 2, 4]
    by_strategy = {s: {(m.k, m.draw, m.seed) for m in study.models() if m.strategy == s} for s in ("xx-mono", "x-y", "hybrid-a0.5")}
    assert by_strategy["xx-mono"] == by_strategy["x-y"] == by_strategy["hybrid-a0.5"]  # strategies are compared run by run


@pytest.mark.parametrize("key", ["seeds", "full_pool_seeds"])
def test_a_list_of_seeds_is_refused_naming_its_successor(key):
    with pytest.raises(ConfigError, match=rf"training.{key}': replaced by training.(full_pool_)?replicates"):
        validate(study_config({"training": {key: [0, 1]}}), SCHEMA)


def test_cover_needs_every_k_to_divide_the_pool():
    with pytest.raises(ConfigError, match=r"training.k.*\[4\]"):
        Study(validate(study_config({"training": {"language_draws": "cover", "k": [1, 4, 6]}}), SCHEMA)).check()


def test_one_evaluated_language_is_evaluated_mono_only():
    study = Study(validate(study_config({"evaluation": {"languages": {"xquad-r": ["el"]}}}), SCHEMA))
    assert study.settings("xquad-r") == ["mono"] and study.held_out("xquad-r") == ["el"]


def test_cross_alone_is_valid_on_a_fixed_pair():
    for languages in (["el", "th"], ["de", "en", "th"]):  # two held out; the source and one held out
        study = Study(validate(study_config({"evaluation": {"languages": {"xquad-r": languages}, "settings": {"xquad-r": ["cross"]}}}), SCHEMA))
        assert study.settings("xquad-r") == ["cross"]


def test_the_schemas_enums_are_the_packages_constants():
    """A value the schema admits is one the package handles, and the reverse: each list has one meaning in both."""
    from xlretrieval.batching import SOURCE_SHARES
    from xlretrieval.families import POOLING_MODES
    from xlretrieval.precision import PRECISIONS
    from xlretrieval.settings import WORD_EMBEDDINGS
    from xlretrieval.speed import KERNELS

    schema = yaml.safe_load(SCHEMA.read_text())
    enums = {
        ("model", "kernels"): KERNELS,
        ("model", "precision"): PRECISIONS,
        ("model", "pooling"): ("auto", *POOLING_MODES),  # auto: read from the model folder
        ("training", "word_embeddings"): WORD_EMBEDDINGS,
    }
    for path, constant in enums.items():
        assert schema_node(schema, path)["enum"] == list(constant), path
    assert schema_node(schema, ("training", "source_shares"))["items"]["enum"] == list(SOURCE_SHARES)


def test_the_training_settings_are_parsed_once_and_travel_as_a_plain_param():
    """`settings.Training` from the config's section; as a rule's param a plain dict (Snakemake compares only builtins),
    rebuilt to the same object by the script; early stopping only while it is on."""
    from xlretrieval.settings import EarlyStopping, Training

    study = Study(validate(study_config({"training": {"early_stopping": {"dev_fraction": 0.1, "every": 4, "patience": 2}}}), SCHEMA))
    settings = study.training_settings
    assert settings.early_stopping == EarlyStopping(every=4, patience=2) and settings.query_prefix == study.training["query_prefix"]
    param = settings.param()
    assert json.loads(json.dumps(param)) == param and Training.from_param(param) == settings
    off = Study(validate(study_config({"training": {"early_stopping": {"dev_fraction": 0.0, "every": 4}}}), SCHEMA)).training_settings
    assert off.early_stopping is None and Training.from_param(off.param()) == off
    with pytest.raises(ValueError, match="word_embeddings must be one of"):
        Training(1e-5, 0.0, 0.0, 0.05, word_embeddings="lazy")
