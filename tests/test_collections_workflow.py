"""A tiny study whose benchmarks are test collections added by config only: two BEIR-layout fixtures, one with
parallel query ids (mono, cross, multi) and one without (mono only), evaluated through Snakemake to `all`."""

import json

import pandas as pd
import pytest
import yaml

from collection_fixtures import write_beir
from conftest import SHARED, copy_project, snakemake, with_chain

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def collection_study(tmp_path_factory):
    """Hybrid at k = 1 and 2 on MLQA-R (en + k of de, es), evaluated on the collections `par` (de, en; parallel ids;
    corpus capped at the judged passages + 3 of 20 fillers) and `solo` (en, sw; not parallel)."""
    if not (SHARED / "mlqa-r" / "en.json").is_file():
        pytest.skip("the shared data mirror is not beside the checkout")
    data = tmp_path_factory.mktemp("collections")
    write_beir(data / "par", ["de", "en"], parallel=True, fillers=20)
    write_beir(data / "solo", ["en", "sw"], parallel=False)
    workdir = copy_project(tmp_path_factory.mktemp("study"))
    (workdir / "config" / "collections.yaml").write_text(
        yaml.safe_dump(
            with_chain(
                {
                    "data": {
                        "collections": {
                            "par": {"path": f"{data}/par/{{lang}}", "languages": ["de", "en"], "parallel": True, "others": 3},
                            "solo": {"path": f"{data}/solo/{{lang}}", "languages": ["en", "sw"], "parallel": False},
                        }
                    },
                    "training": {
                        "target_pool": ["de", "es"],
                        "language_draws": [0],
                        "k": [1, 2],
                        "strategies": ["hybrid"],
                        "pairs": 32,
                        "batch_size": 8,
                    },
                    "evaluation": {"benchmarks": ["par", "solo"], "depth": 20},
                }
            )
        )
    )
    snakemake(workdir, config="config/collections.yaml")
    return workdir / "results"


def test_collections_added_by_config_are_evaluated_in_their_settings(collection_study):
    metrics = pd.read_csv(collection_study / "tables" / "metrics.tsv", sep="\t")
    assert set(metrics.model) == {"base", "hybrid-a0.5/k1/draw0/seed10000", "hybrid-a0.5/k2/draw0/seed20000"}
    settings = metrics.groupby("benchmark").setting.unique().map(sorted).to_dict()
    assert settings == {"par": ["cross", "mono", "multi"], "solo": ["mono"]}
    rr = metrics[(metrics.metric == "RR") & (metrics.model == "base")]
    assert rr.value.between(0, 1).all() and (rr.n_queries == 3).all()  # q1..q3 in every query set; q4 has no relevant passage
    assert {"nDCG@10", "AP", "rank_distance"} <= set(metrics[metrics.benchmark == "par"].metric)
    assert set(metrics[metrics.benchmark == "solo"].lang_group) == {"source", "held-out"}  # sw is never trained on
    qrels = (collection_study / "qrels" / "par" / "multi" / "en-all.qrels").read_text()
    assert "par/q1 0 par/de/d1 2\n" in qrels and "par/q1 0 par/en/d2 1\n" in qrels  # graded, both languages' answers
    for name in ("table1_par.md", "table1_solo.md", "headline_solo.md"):
        assert "hybrid-a0.5" in (collection_study / "tables" / name).read_text()
    assert "paper†" not in (collection_study / "tables" / "table1_par.md").read_text()  # the paper reports XQuAD-R and MLQA-R only


def test_the_corpus_cap_and_the_files_read_are_in_the_manifest(collection_study):
    manifest = json.loads((collection_study / "data" / "par" / "manifest.json").read_text())
    assert manifest["reader"] == "collection" and manifest["questions_in_every_language"] == 3
    for lang in ("de", "en"):
        cap = manifest["languages"][lang]
        assert (cap["corpus_passages"], cap["judged_passages"], cap["kept_passages"], cap["others"]) == (26, 6, 9, 3)
        assert cap["files"][0].endswith(f"par/{lang}/corpus.jsonl")
    candidates = pd.read_parquet(collection_study / "evalsets" / "par" / "candidates.parquet")
    assert candidates.groupby("lang").size().to_dict() == {"de": 9, "en": 9}
