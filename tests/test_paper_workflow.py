"""mMARCO training and MIRACL evaluation through the workflow on hub-format fixtures, and the paper study's plan."""

import json

import pandas as pd
import pytest
import yaml

from conftest import copy_project, snakemake, with_chain
from hub_fixtures import write_miracl, write_mmarco
from test_workflow import job_counts

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def hub_study(tmp_path_factory):
    """The tiny study trained on mMARCO (en + k of de, fr) and evaluated on MIRACL (de, en, sw), read from a
    local hub mirror; MiniLM, two hybrid models, early stopping on."""
    hub = tmp_path_factory.mktemp("hub")
    write_mmarco(hub, ["de", "en", "fr"])
    write_miracl(hub, ["de", "en", "sw"])
    workdir = copy_project(tmp_path_factory.mktemp("study"))
    (workdir / "config" / "hub.yaml").write_text(
        yaml.safe_dump(
            with_chain(
                {
                    "data": {"hub_mirror": str(hub), "mmarco": {"queries": 60, "max_passage_chars": 40}, "miracl": {"others": 20}},
                    "training": {
                        "dataset": "mmarco",
                        "target_pool": ["de", "fr"],
                        "k": [1, 2],
                        "language_draws": [0],
                        "strategies": ["hybrid"],
                        "alpha_sweep": {"alpha": []},
                        "pairs": 32,
                        "batch_size": 8,
                        "early_stopping": {"dev_fraction": 0.25, "dev_pairs": 16, "every": 2, "patience": 1},
                    },
                    "evaluation": {"benchmarks": ["miracl"], "languages": {"miracl": ["de", "en", "sw"]}, "depth": 20},
                }
            )
        )
    )
    snakemake(workdir, config="config/hub.yaml")
    return workdir / "results"


def test_mmarco_pairs_are_parallel_guarded_and_split(hub_study):
    manifest = json.loads((hub_study / "data" / "mmarco" / "manifest.json").read_text())
    assert manifest["reader"] == "mmarco" and "data/google/collections/french_collection.tsv" in manifest["files"]
    pairs = pd.read_parquet(hub_study / "training" / "mmarco" / "pairs.parquet")
    assert pairs.groupby("question_id").lang.nunique().eq(3).all() and pairs.answer.str.len().max() <= 40
    assert "mmarco/1001" not in set(pairs.question_id)  # its German passage is in MIRACL's corpus
    assert pairs.groupby("question_id").split.nunique().eq(1).all() and (pairs.split == "dev").sum() == 3 * 15


def test_miracl_is_evaluated_mono_only_with_its_cap_recorded(hub_study):
    manifest = json.loads((hub_study / "data" / "miracl" / "manifest.json").read_text())
    assert {lang: m["kept_passages"] for lang, m in manifest["languages"].items()} == {"de": 35, "en": 35, "sw": 35}
    assert {m["others"] for m in manifest["languages"].values()} == {20}
    assert sorted(p.name for p in (hub_study / "qrels" / "miracl").iterdir() if p.is_dir()) == ["mono"]
    metrics = pd.read_csv(hub_study / "tables" / "metrics.tsv", sep="\t")
    assert set(metrics.benchmark) == {"miracl"} and set(metrics.setting) == {"mono"}
    assert {"RR@10", "nDCG@10", "R@100"} <= set(metrics.metric) and metrics.n_queries.eq(7).all()
    tuned = metrics[metrics.model != "base"]
    groups = tuned.groupby("query_lang").lang_group.unique().map(list).to_dict()
    assert groups == {"sw": ["held-out"], "en": ["source"], "de": ["trained"]} or groups["de"] == ["not-drawn", "trained"]
    assert "Mono MRR" in (hub_study / "tables" / "table1_miracl.md").read_text()


def test_training_stops_on_the_dev_loss(hub_study):
    model = hub_study / "models" / "hybrid-a0.5" / "k2" / "draw0" / "seed20000"
    dev = pd.read_csv(model / "dev_loss.tsv", sep="\t")
    assert dev.step.tolist()[0] == 2 and dev.kept.sum() == 1 and dev.dev_loss[dev.kept].item() == dev.dev_loss.min()
    batches = pd.read_csv(hub_study / "batches" / "hybrid-a0.5" / "k2" / "draw0" / "seed20000.tsv", sep="\t")
    assert batches.groupby("split").size().to_dict() == {"dev": 16, "train": 32}


PAPER_PLAN = {
    "download": 18,
    "prepare": 4,
    "evaluation_set": 3,
    "training_pairs": 1,
    "batches": 17,
    "train": 17,
    "embed": 54,
    "search": 54,
    "evaluate": 54,
    "aggregate": 1,
    "costs": 1,
    "intervals": 1,
    "paired_tests": 1,
    "losses": 1,
    "loss_figure": 1,
    "top_languages": 1,
    "paper_table": 3,
    "language_table": 3,
    "headline_table": 2,
    # per benchmark: MIRACL (mono only) has no language-pair, rank-distance or top-language figures
    # MLQA-R has no held-out language: all of its languages are in mMARCO's pool
    "scaling_figure": 3,
    "groups_figure": 3,
    "held_out_figure": 2,
    "alpha_figure": 3,
    "language_pairs_figure": 2,
    "rank_distance_figure": 2,
    "top_languages_figure": 2,
}


@pytest.mark.parametrize("overlay", [[], ["config/paper-labse.yaml"], ["config/paper-e5.yaml"]], ids=["xlm-r", "labse", "e5"])
def test_the_paper_study_plans_offline(tmp_path, overlay):
    workdir = copy_project(tmp_path)
    result = snakemake(workdir, "-n", config=["config/paper.yaml", *overlay])
    assert job_counts(result) == PAPER_PLAN
    family = {"config/paper-labse.yaml": "labse", "config/paper-e5.yaml": "e5"}.get(next(iter(overlay), ""), "xlm-r")
    assert f"results/{family}/models/hybrid-a0.5/k12/draw0/seed120000" in result.stdout
