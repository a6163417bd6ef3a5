rule embed:
    input:
        evalset=lambda w: evalset(w.benchmark),
        model=model_input,
    output:
        questions=f"{RESULTS}/embeddings/{{model}}/{{benchmark}}/questions.npy",
        candidates=f"{RESULTS}/embeddings/{{model}}/{{benchmark}}/candidates.npy",
        encoding=f"{RESULTS}/embeddings/{{model}}/{{benchmark}}/encoding.json",
    params:
        code=package_code("embed"),
        model=model_path,
        pooling=config["model"]["pooling"],
        device=config["model"]["device"],
        precision=config["model"]["precision"],  # resolved by the job on its machine
        kernels=config["model"]["kernels"],
        max_seq_length=EVALUATION["max_seq_length"],  # every model alike, not the length its folder saved
        batch_size=EVALUATION["batch_size"],
        query_prefix=TRAINING["query_prefix"],
        passage_prefix=TRAINING["passage_prefix"],
    log:
        f"{RESULTS}/logs/embed/{{model}}/{{benchmark}}.log",
    benchmark:
        cost_file("embed", "{model}/{benchmark}")
    # measured 1.0 GB, 21 s (tiny study, 2 CPUs); default study 67 s, full XQuAD-R ~270 s per model. Memory 4x
    # (CUDA's host-side libraries on a GPU node); time 6x the full XQuAD-R on CPUs. threads: as for train.
    threads: 4
    resources:
        mem_mb=4000,
        runtime=30,
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
        rankings=directory(f"{RESULTS}/rankings/{{model}}/{{benchmark}}"),
        ranks=f"{RESULTS}/ranks/{{model}}/{{benchmark}}.parquet",
    params:
        code=package_code("search"),
        depth=EVALUATION["depth"],
        index=EVALUATION["index"],
        settings=lambda w: STUDY.settings(w.benchmark),
    log:
        f"{RESULTS}/logs/search/{{model}}/{{benchmark}}.log",
    benchmark:
        cost_file("search", "{model}/{benchmark}")
    threads: 1
    resources:  # measured 0.15 GB, 2 s (tiny study); exact search over the full XQuAD-R holds < 0.1 GB of scores
        mem_mb=2000,
        runtime=30,
    conda:
        STUDY_ENV
    script:
        "../scripts/search.py"


rule evaluate:
    input:
        evalset=lambda w: evalset(w.benchmark),
        rankings=rules.search.output.rankings,
        ranks=rules.search.output.ranks,
    output:
        f"{RESULTS}/metrics/{{model}}/{{benchmark}}.parquet",
    params:
        code=package_code("evaluate"),
        measures=EVALUATION["measures"],
        settings=lambda w: STUDY.settings(w.benchmark),
        depth=EVALUATION["depth"],
        exact=EVALUATION["index"]["type"] == "exact",  # measures from the exact ranks, not by re-reading the runs
    log:
        f"{RESULTS}/logs/evaluate/{{model}}/{{benchmark}}.log",
    benchmark:
        cost_file("evaluate", "{model}/{benchmark}")
    threads: 1
    resources:  # measured 0.16 GB, 2 s (tiny study); rankings grow linearly with the queries (~25x for the full XQuAD-R)
        mem_mb=2000,
        runtime=30,
    conda:
        STUDY_ENV
    script:
        "../scripts/evaluate.py"
