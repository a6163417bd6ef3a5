"""The costs table: one row per job from Snakemake's cost files, with the precision train and embed jobs recorded."""

import json

from xlretrieval.costs import job_costs, time_by_rule

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_jobs_are_named_by_their_cost_file_and_carry_their_recorded_precision(tmp_path):
    costs, models = tmp_path / "costs", tmp_path / "models"
    train, search = costs / "train" / "hybrid-a0.5" / "k1" / "draw0" / "seed0.tsv", costs / "search" / "base" / "xquad-r.tsv"
    for path, seconds in ((train, 200.5), (search, 7.25)):
        path.parent.mkdir(parents=True)
        path.write_text(HEADER + f"{seconds}\t0:00:01\t1500.0\t0\t0\t0\t0\t0\t90\t{seconds * 2}\n")
    (models / "hybrid-a0.5" / "k1" / "draw0" / "seed0").mkdir(parents=True)
    (models / "hybrid-a0.5" / "k1" / "draw0" / "seed0" / "training.json").write_text(json.dumps({"precision": "bf16", "hardware": "CPU X"}))
    jobs = job_costs([train, search], costs, {"train": f"{models}/{{}}/training.json"})
    assert jobs.to_dict("records") == [
        {
            "rule": "train",
            "wildcards": "hybrid-a0.5/k1/draw0/seed0",
            "seconds": 200.5,
            "max_rss_mb": 1500.0,
            "cpu_seconds": 401.0,
            "precision": "bf16",
            "hardware": "CPU X",
        },
        {"rule": "search", "wildcards": "base/xquad-r", "seconds": 7.25, "max_rss_mb": 1500.0, "cpu_seconds": 14.5, "precision": "", "hardware": ""},
    ]
    by_rule = time_by_rule(jobs)
    assert by_rule.rule.tolist() == ["train", "search"] and abs(by_rule.share.sum() - 1) < 1e-12
