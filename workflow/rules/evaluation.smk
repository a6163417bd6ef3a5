rule embed:
    input:
        evalset=lambda w: evalset(w.benchmark),
        model=model_input,
    output:
        questions=f"{RESULTS}/embeddings/{{model}}/{{benchmark}}/questions.npy",
        candidates=f"{RESULTS}/embeddings/{{model}}/{{benchmark}}/candidates.npy",
    params:
        code=package_code("embed"),
        model=lambda w: config["model"]["name"] if w.model == BASE else f"{RESULTS}/models/{w.model}",
        pooling=config["model"]["pooling"],
        device=config["model"]["device"],
        batch_size=EVALUATION["batch_size"],
        query_prefix=TRAINING["query_prefix"],
        passage_prefix=TRAINING["passage_prefix"],
    log:
        f"{RESULTS}/logs/embed/{{model}}/{{benchmark}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/embed/{{model}}/{{benchmark}}.tsv"
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        STUDY_ENV
    script:
        "../scripts/embed.py"


rule search:
    input:
        evalset=lambda w: evalset(w.benchmark),
        questions=rules.embed.output.questions,
        candidates=rules.embed.output.candidates,
    output:
        runs=directory(f"{RESULTS}/runs/{{model}}/{{benchmark}}"),
        ranks=f"{RESULTS}/ranks/{{model}}/{{benchmark}}.parquet",
    params:
        code=package_code("search"),
        depth=EVALUATION["depth"],
        settings=lambda w: STUDY.settings(w.benchmark),
    log:
        f"{RESULTS}/logs/search/{{model}}/{{benchmark}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/search/{{model}}/{{benchmark}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        STUDY_ENV
    script:
        "../scripts/search.py"


rule evaluate:
    input:
        evalset=lambda w: evalset(w.benchmark),
        runs=rules.search.output.runs,
        ranks=rules.search.output.ranks,
    output:
        f"{RESULTS}/metrics/{{model}}/{{benchmark}}.parquet",
    params:
        code=package_code("evaluate"),
        measures=EVALUATION["measures"],
        settings=lambda w: STUDY.settings(w.benchmark),
    log:
        f"{RESULTS}/logs/evaluate/{{model}}/{{benchmark}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{model}}/{{benchmark}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        STUDY_ENV
    script:
        "../scripts/evaluate.py"
