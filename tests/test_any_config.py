"""Valid config => complete run: configurations drawn from the schema's space (hypothesis, seeded) are either rejected
at start-up with a message naming a key, or plan and run to `all` on a micro budget.

CI dry-runs every drawn config and runs a seeded few to the end (drawn alike, kept to at most CI_MODELS trained
models); `pytest -m slow -s` runs all of them to the end (about an hour on 2 cores), printing a line per config.
"""

import copy
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, event, given, settings
from hypothesis import strategies as st
from snakemake.utils import update_config

from xlretrieval.config import ConfigError, Study, validate

from conftest import CHAIN, ROOT, SCHEMA, SHARED, copy_project, snakemake
from test_workflow import job_counts

pytestmark = pytest.mark.workflow

DRAWN_IN_CI = 20  # configurations dry-run in CI (about 3.5 s each on a 2-core Xeon)
DRAWN = 40  # configurations dry-run and run to the end under the slow marker
RUN_IN_CI = 2  # of them run to the end in CI (about 67 s each on a 2-core Xeon; the slow marker runs all DRAWN)
CI_MODELS = 3  # at most, in each of those (drawn configs train 4.9 on average, up to 36): CI keeps its time
POOL = ["ar", "de", "es", "zh"]  # in MLQA-R and XQuAD-R alike
LANGUAGES = {
    "xquad-r": ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"],
    "mlqa-r": ["ar", "de", "en", "es", "hi", "vi", "zh"],
}
# Mistakes a new user makes, each (where in the config, value): drawn into some configs, which must then be rejected.
MISTAKES = [
    (("training", "k"), [9]),
    (("training", "alpha"), [1.5]),
    (("training", "strategies"), ["hybird"]),
    (("training", "strategies"), []),
    (("training", "target_pool"), ["en", "de"]),
    (("training", "learning_rate"), -1.0e-4),
    (("training", "batch_size"), 64),
    (("training", "batch_sise"), 8),
    (("evaluation", "benchmarks"), ["xquad"]),
    (("evaluation", "languages"), {"xquad-r": ["xx"]}),
    (("evaluation", "depth"), 0),
    (("evaluation", "index"), {"type": "flat"}),
    (("model", "name"), "/nonexistent/model"),
]
KEY_ERROR = re.compile(r"invalid configuration: config key '([\w.\-\[\]]+)'")


def sub_lists(draw, items, min_size=1, max_size=None):
    return draw(st.lists(st.sampled_from(items), min_size=min_size, max_size=max_size or len(items), unique=True))


def evaluated_languages(draw, benchmark, pool):
    """One to three languages of the benchmark, one of them in a fixed group (the source language or one never trained on)."""
    fixed = draw(st.sampled_from([lang for lang in LANGUAGES[benchmark] if lang not in pool]))
    return sorted({fixed, *sub_lists(draw, LANGUAGES[benchmark], min_size=0, max_size=2)})


@st.composite
def study_configs(draw, mistakes=True):
    """A micro study (one article, a few pairs) over the schema's choices; with `mistakes`, sometimes one of MISTAKES."""
    dataset = draw(st.sampled_from(["mlqa-r", "xquad-r"]))
    pool = sub_lists(draw, POOL, max_size=3)
    strategies = sub_lists(draw, ["xx-mono", "x-y", "hybrid"])
    ks = sub_lists(draw, list(range(1, len(pool) + 1)), max_size=2)
    alpha = draw(st.sampled_from([[0.5], [0.25], [0.25, 0.75]]))
    batch_size = draw(st.integers(2, 3))
    training = {
        "dataset": dataset,
        "target_pool": pool,
        "k": ks,
        "strategies": strategies,
        "every_k": draw(st.one_of(st.none(), st.lists(st.sampled_from(strategies), unique=True))),
        "language_draws": draw(st.sampled_from([[0], [1], [0, 1]])),
        "replicates": draw(st.integers(1, 2)),
        "full_pool_replicates": draw(st.sampled_from([None, 2])),
        "alpha": alpha,
        "alpha_sweep": {
            "alpha": draw(st.sampled_from([[], [0.3]])) if "hybrid" in strategies else [],
            "k": draw(st.one_of(st.none(), st.sampled_from(ks))),
        },
        "pairs": batch_size * draw(st.integers(1, 2)),
        "batch_size": batch_size,
    }
    benchmarks = draw(st.sampled_from([["xquad-r"], ["mlqa-r"], ["xquad-r", "mlqa-r"]]))
    evaluation = {
        "benchmarks": benchmarks,
        "languages": {b: evaluated_languages(draw, b, pool) for b in benchmarks},
        "settings": {b: sub_lists(draw, ["mono", "cross", "multi"]) for b in benchmarks if draw(st.booleans())},
        "articles": 1,
        "depth": draw(st.integers(1, 20)),
        "index": {"type": draw(st.sampled_from(["exact", "hnsw", "ivf"]))},
    }
    metric = draw(st.sampled_from(["RR", "R@10", "nDCG@10"]))
    config = {
        "results": "results/drawn",
        "training": training,
        "evaluation": evaluation,
        "stats": {"resamples": 100, "permutations": 100, "metric": draw(st.sampled_from([metric, "rank_distance"]))},
        "figure": {"metric": metric},
    }
    if mistakes and draw(st.integers(0, 3)) == 0:
        (section, key), value = draw(st.sampled_from(MISTAKES))
        config.setdefault(section, {})[key] = value
    return config


def drawn_defaults() -> dict:
    """config.yaml with CHAIN merged over it: the defaults every drawn config is merged over (the drawn configs test the
    chain over the schema's choices, not the default model)."""
    merged = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(merged, copy.deepcopy(CHAIN))
    return merged


def drawn_project(folder: Path) -> Path:
    """A copy of the project whose config.yaml is `drawn_defaults()`."""
    workdir = copy_project(folder)
    (workdir / "config.yaml").write_text(yaml.safe_dump(drawn_defaults()))
    return workdir


def as_the_workflow_sees_it(config: dict) -> dict:
    """The drawn defaults, the shared mirror and the drawn config, merged as Snakemake merges config files."""
    merged = drawn_defaults()
    update_config(merged, {"data": {"mirror": str(SHARED)}, **copy.deepcopy(config)})
    return merged


def study_of(config: dict) -> Study:
    """The study a valid drawn config describes."""
    return Study(validate(as_the_workflow_sees_it(config), SCHEMA))


def start_up_error(config: dict) -> ConfigError | None:
    """The error the workflow's start-up validation gives the drawn config, if any."""
    try:
        validate(as_the_workflow_sees_it(config), SCHEMA)
    except ConfigError as error:
        return error
    return None


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    if not (SHARED / "xquad-r" / "en.json").is_file():
        pytest.skip("the shared data mirror is not beside the checkout")
    return drawn_project(tmp_path_factory.mktemp("drawn"))


# Seeded (derandomize: the same draws on every run, from the test's name), no example database; no shrinking either:
# each example runs Snakemake, so hypothesis reports the first failing config as drawn.
DRAW = settings(
    max_examples=DRAWN,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@settings(DRAW, max_examples=DRAWN_IN_CI)
@given(config=study_configs())
def test_every_drawn_config_is_rejected_naming_a_key_or_plans_the_study(project, config):
    rejected_naming_a_key_or_planned(project, config)


@pytest.mark.slow
@DRAW
@given(config=study_configs())
def test_all_drawn_configs_are_rejected_naming_a_key_or_plan_the_study(project, config):
    rejected_naming_a_key_or_planned(project, config)


def rejected_naming_a_key_or_planned(project, config):
    """A drawn config is rejected at start-up naming a key, as validation in-process says, or Snakemake plans its study."""
    error = start_up_error(config)
    result = snakemake(project, "-n", config="config.yaml", overrides=config, check=False)
    said = result.stdout + result.stderr
    event("rejected at start-up" if error is not None else "planned")
    if error is not None:
        assert result.returncode != 0 and KEY_ERROR.search(said), f"rejected in-process ({error}) but Snakemake said:\n{said[-2000:]}"
        assert f"invalid configuration: {error}" in said
    else:
        assert result.returncode == 0, said[-3000:]
        plan = job_counts(result)
        assert plan["train"] == len(study_of(config).models()) and plan["aggregate"] == 1


def run_to_the_end(config):
    """Run a drawn valid config to `all` in a fresh copy of the project; then nothing is left to do."""
    study = study_of(config)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="drawn-") as folder:
        workdir = drawn_project(Path(folder))
        snakemake(workdir, config="config.yaml", overrides=config)
        assert "Nothing to be done" in snakemake(workdir, "-n", config="config.yaml", overrides=config).stdout
        metrics = (workdir / "results" / "drawn" / "tables" / "metrics.tsv").read_text().splitlines()
        models = {line.split("\t")[0] for line in metrics[1:]}
        assert models == set(study.model_tags())
        shutil.rmtree(workdir / "results")
    print(
        f"ran to the end in {time.monotonic() - started:.0f} s, {len(study.models())} models: {json.dumps(config)}", flush=True
    )  # -s shows progress


@settings(DRAW, max_examples=RUN_IN_CI)
@given(config=study_configs(mistakes=False))
def test_drawn_configs_run_to_the_end(project, config):
    assume(start_up_error(config) is None)
    assume(len(study_of(config).models()) <= CI_MODELS)
    run_to_the_end(config)


@pytest.mark.slow
@DRAW
@given(config=study_configs(mistakes=False))
def test_all_drawn_configs_run_to_the_end(project, config):
    assume(start_up_error(config) is None)
    run_to_the_end(config)
