rule download:
    output:
        f"{RESULTS}/raw/{{dataset}}/{{lang}}.json",
    params:
        code=package_code("download"),
        mirror=mirror(),
        url=lambda w: STUDY.source(w.dataset).url(w.lang),
        sha256=lambda w: STUDY.source(w.dataset).sha256.get(w.lang),
    log:
        f"{RESULTS}/logs/download/{{dataset}}/{{lang}}.log",
    benchmark:
        cost_file("download", "{dataset}/{lang}")
    resources:
        mem_mb=500,
        runtime=15,
    retries: 1
    conda:
        STUDY_ENV
    script:
        "../scripts/download.py"


rule prepare:
    input:
        lambda w: [*raw_files(w.dataset).values(), *collection_files(w.dataset)],
    output:
        questions=f"{RESULTS}/data/{{dataset}}/questions.parquet",
        candidates=f"{RESULTS}/data/{{dataset}}/candidates.parquet",
        qrels=f"{RESULTS}/data/{{dataset}}/qrels.parquet",
        manifest=f"{RESULTS}/data/{{dataset}}/manifest.json",
    params:
        code=package_code("prepare"),
        languages=lambda w: STUDY.dataset_languages(w.dataset),
        reader=lambda w: STUDY.reading(w.dataset)[0],
        options=lambda w: STUDY.reading(w.dataset)[1],
    log:
        f"{RESULTS}/logs/prepare/{{dataset}}.log",
    benchmark:
        cost_file("prepare", "{dataset}")
    resources:  # LAReQA: measured 0.13 GB, 1 s on the tiny study's 4 MLQA-R languages; ~0.3 GB for 7.
        # hub sources download and stream multi-GB files (mMARCO collections, MIRACL corpora)
        mem_mb=lambda w: 32000 if hub_source(w.dataset) else 1000,
        runtime=lambda w: 480 if hub_source(w.dataset) else 10,
    conda:
        STUDY_ENV
    script:
        "../scripts/prepare.py"


rule evaluation_set:
    input:
        lambda w: prepared(w.benchmark),
    output:
        questions=f"{RESULTS}/evalsets/{{benchmark}}/questions.parquet",
        candidates=f"{RESULTS}/evalsets/{{benchmark}}/candidates.parquet",
        qrels=f"{RESULTS}/evalsets/{{benchmark}}/qrels.parquet",
        trec_qrels=directory(f"{RESULTS}/qrels/{{benchmark}}"),
    params:
        code=package_code("evaluation_set"),
        languages=lambda w: STUDY.evaluation_languages(w.benchmark),
        articles=lambda w: STUDY.article_subset(w.benchmark),
        subset_seed=EVALUATION["subset_seed"],
        holdout=lambda w: holdout(w.benchmark),
        reserved=lambda w: STUDY.pilot_reserve(w.benchmark),  # the pilot's articles, which no study evaluates
        settings=lambda w: list(STUDY.source(w.benchmark).settings),  # qrels of every setting the source has
    log:
        f"{RESULTS}/logs/evaluation_set/{{benchmark}}.log",
    benchmark:
        cost_file("evaluation_set", "{benchmark}")
    resources:  # under 1 s (too short for the benchmark's memory samples); pandas on a few MB of tables
        mem_mb=1000,
        runtime=10,
    conda:
        STUDY_ENV
    script:
        "../scripts/evaluation_set.py"


rule training_pairs:
    input:
        data=prepared(TRAINING["dataset"]),
        # all of each benchmark, not the evaluated subset: evaluation.articles and .languages leave the pairs as they are
        benchmarks=expand(f"{RESULTS}/data/{{benchmark}}/candidates.parquet", benchmark=EVALUATION["benchmarks"]),
    output:
        f"{RESULTS}/training/{TRAINING['dataset']}/pairs.parquet",
    params:
        code=package_code("training_pairs"),
        languages=[TRAINING["source_language"], *TRAINING["target_pool"]],
        holdout=holdout(TRAINING["dataset"]),
        benchmark_holdouts=[holdout(benchmark) for benchmark in EVALUATION["benchmarks"]],
        dev=early_stopping("dev_fraction", "seed"),
    log:
        f"{RESULTS}/logs/training_pairs.log",
    benchmark:
        cost_file("training_pairs")
    resources:  # measured 0.2 GB, 1 s (tiny study: MLQA-R against all 11 XQuAD-R languages)
        mem_mb=1000,
        runtime=10,
    conda:
        STUDY_ENV
    script:
        "../scripts/training_pairs.py"
