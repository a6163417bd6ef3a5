"""The tiny study end to end through Snakemake, then a dry run that must find nothing to do."""

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, SHARED

pytestmark = pytest.mark.workflow


def snakemake(workdir, *args, config="config/tiny.yaml", overrides=None, check=True):
    """Run Snakemake in `workdir` on `config` (a file or a list of files), the shared data mirror and
    `overrides` (a config dict)."""
    override_file = workdir / "overrides.yaml"
    override_file.write_text(yaml.safe_dump({"data": {"mirror": str(SHARED)}, **(overrides or {})}))
    configs = [config] if isinstance(config, str) else list(config)
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", *configs, override_file.name, *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def copy_project(target):
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, target / name)
    for name in ("workflow", "config", "src", "envs"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return target


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    if not (SHARED / "xquad-r" / "en.json").is_file():
        pytest.skip("the shared data mirror is not beside the checkout")
    workdir = copy_project(tmp_path_factory.mktemp("study"))
    snakemake(workdir)
    return workdir


def test_tiny_study_produces_the_tables_and_figure(tiny_study):
    results = tiny_study / "results"
    metrics = pd.read_csv(results / "tables" / "metrics.tsv", sep="\t")
    assert set(metrics.model) == {"base"} | {f"{s}/k{k}/draw0/seed0" for s in ("xx-mono", "x-y", "hybrid-a0.5") for k in (1, 2)}
    assert set(metrics.setting) == {"mono", "cross", "multi"}
    assert {"RR", "AP", "R@1", "R@10", "nDCG@10", "R@100", "RR@10", "rank_distance"} == set(metrics.metric)
    rr = metrics[metrics.metric == "RR"]
    assert rr.value.between(0, 1).all() and (rr.n_queries > 0).all()
    # 4 languages: 4 mono + 12 cross + 4 multi query sets per model
    assert rr.groupby("model").size().eq(20).all()
    assert set(metrics[metrics.model != "base"].lang_group) == {"seen", "zero-shot"}
    assert (results / "figures" / "scaling_RR.png").stat().st_size > 10_000
    table = (results / "tables" / "table1_xquad-r.md").read_text()
    assert "hybrid-a0.5" in table and "Multi rank dist." in table
    assert "\\begin{table}" in (results / "tables" / "table1_xquad-r.tex").read_text()


def test_reciprocal_rank_agrees_with_exact_ranks(tiny_study):
    results = tiny_study / "results"
    model = "hybrid-a0.5/k2/draw0/seed0"
    ranks = pd.read_parquet(results / "ranks" / model / "xquad-r.parquet")
    values = pd.read_parquet(results / "metrics" / model / "xquad-r.parquet")
    mono_rank = ranks[ranks.setting == "mono"].set_index(["query_lang", "question_id"])["rank"]
    mono_rr = values[(values.setting == "mono") & (values.metric == "RR")].set_index(["query_lang", "question_id"]).value
    expected = np.where(mono_rank <= 20, 1.0 / mono_rank, 0.0)
    np.testing.assert_allclose(mono_rr.loc[mono_rank.index].to_numpy(), expected, atol=1e-6)


def test_trained_models_are_distinct_and_logged(tiny_study):
    models = tiny_study / "results" / "models"
    loss = pd.read_csv(models / "x-y" / "k1" / "draw0" / "seed0" / "loss.tsv", sep="\t")
    assert len(loss) == 8 and set(loss.batch_kind) == {"x-y"}
    batches = pd.read_csv(tiny_study / "results" / "batches" / "xx-mono" / "k2" / "draw0" / "seed0.tsv", sep="\t")
    assert len(batches) == 64 and (batches.question_lang == batches.passage_lang).all()


def test_complete_run_leaves_nothing_to_do(tiny_study):
    result = snakemake(tiny_study, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_invalid_config_is_one_clear_error(tmp_path):
    workdir = copy_project(tmp_path)
    result = snakemake(workdir, "-n", overrides={"training": {"strategies": ["xx-mono", "hybird"]}}, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "invalid configuration: config key 'training.strategies[1]': 'hybird' is not one of" in output


def test_article_split_protocol_keeps_training_and_evaluation_apart(tmp_path):
    workdir = copy_project(tmp_path)
    snakemake(workdir, "--until", "training_pairs", config="config/xquad-split.yaml")
    results = workdir / "results"
    pairs = pd.read_parquet(results / "training" / "xquad-r" / "pairs.parquet")
    held_out = pd.read_parquet(results / "evalsets" / "xquad-r" / "questions.parquet")
    mlqa = pd.read_parquet(results / "evalsets" / "mlqa-r" / "candidates.parquet")
    assert pairs.article.nunique() + held_out.article.nunique() <= 48
    assert set(pairs.article).isdisjoint(held_out.article)
    assert set(pairs.question_id).isdisjoint(held_out.question_id)
    assert set(pairs.answer).isdisjoint(mlqa.text)
    assert {"el", "vi"}.isdisjoint(pairs.lang) and "el" in set(held_out.lang)


def planned_jobs(workdir, overrides=None, config="config/tiny.yaml") -> dict[str, int]:
    """{rule: job count} that a dry run of `config` with `overrides` plans; {} when there is nothing to do."""
    return job_counts(snakemake(workdir, "-n", config=config, overrides=overrides))


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


SUMMARY = {"aggregate": 1, "figure": 1, "paper_table": 1, "costs": 1}


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"figure": {"width": 5}}, {"figure": 1}),
        ({"evaluation": {"measures": ["RR", "AP", "R@1"]}}, {"evaluate": 7, **SUMMARY}),
        ({"evaluation": {"depth": 30}}, {"search": 7, "evaluate": 7, **SUMMARY}),
        ({"training": {"learning_rate": 5.0e-5}}, {"train": 6, "embed": 6, "search": 6, "evaluate": 6, **SUMMARY}),
        ({"training": {"k": [1, 2, 3]}}, {"batches": 3, "train": 3, "embed": 3, "search": 3, "evaluate": 3, **SUMMARY}),
        ({"evaluation": {"settings": {"xquad-r": ["mono", "cross"]}}}, {"search": 7, "evaluate": 7, **SUMMARY}),
        ({"training": {"early_stopping": {"every": 10, "patience": 2, "dev_pairs": 64}}}, {}),
    ],
    ids=["figure-option", "measures", "depth", "learning-rate", "new-k", "settings", "early-stopping-while-off"],
)
def test_a_change_reruns_exactly_what_depends_on_it(tiny_study, overrides, expected):
    assert planned_jobs(tiny_study, overrides) == expected
