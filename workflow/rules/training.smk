rule batches:
    input:
        rules.training_pairs.output,
    output:
        f"{RESULTS}/batches/{{strategy}}/k{{k}}/draw{{draw}}/seed{{seed}}.tsv",
    params:
        code=package_code("batches"),
        languages=lambda w: STUDY.training_languages(int(w.k), int(w.draw)),
        alpha=lambda w: parse_strategy(w.strategy)[1],
        source_share=lambda w: source_share(w.strategy),
        pairs=STUDY.budget.pairs,
        batch_size=TRAINING["batch_size"],
        dev=early_stopping("dev_pairs"),
    log:
        f"{RESULTS}/logs/batches/{{strategy}}/k{{k}}/draw{{draw}}/seed{{seed}}.log",
    benchmark:
        cost_file("batches", "{strategy}/k{k}/draw{draw}/seed{seed}")
    resources:  # measured 0.15 GB, 1 s (tiny study)
        mem_mb=1000,
        runtime=5,
    conda:
        STUDY_ENV
    script:
        "../scripts/batches.py"


rule base_model_file:
    output:
        f"{RESULTS}/raw/base_model/{{name}}.bin",
    params:
        code=package_code("base_model_file"),
    log:
        f"{RESULTS}/logs/base_model_file/{{name}}.log",
    benchmark:
        cost_file("base_model_file", "{name}")
    resources:  # a 91 MB wheel, streamed to disk
        mem_mb=500,
        runtime=15,
    retries: 1
    conda:
        STUDY_ENV
    script:
        "../scripts/base_model_file.py"


rule base_model:
    input:
        lambda w: packaged_model_file(),
    output:
        directory(f"{RESULTS}/base_model/{{name}}"),
    params:
        code=package_code("base_model"),
    log:
        f"{RESULTS}/logs/base_model/{{name}}.log",
    benchmark:
        cost_file("base_model", "{name}")
    resources:  # measured ~1.5 GB, ~15 s (multilingual-e5-small: 118M weights dequantised, 250k pieces)
        mem_mb=4000,
        runtime=10,
    conda:
        STUDY_ENV
    script:
        "../scripts/base_model.py"


rule train:
    input:
        pairs=rules.training_pairs.output[0],
        batches=rules.batches.output[0],
        base=base_model_input(),
    output:
        directory(f"{RESULTS}/models/{{strategy}}/k{{k}}/draw{{draw}}/seed{{seed}}"),
    params:
        code=package_code("train"),
        model=base_model_param,
        pooling=config["model"]["pooling"],
        device=config["model"]["device"],
        precision=config["model"]["precision"],  # resolved by the job on its machine
        kernels=config["model"]["kernels"],
        max_seq_length=TRAINING["max_seq_length"],
        training=STUDY.training_settings.param(),
        budget=STUDY.budget.record(),
        card=model_card_facts,
    log:
        f"{RESULTS}/logs/train/{{strategy}}/k{{k}}/draw{{draw}}/seed{{seed}}.log",
    benchmark:
        cost_file("train", "{strategy}/k{k}/draw{draw}/seed{seed}")
    # measured 1.2 GB, 50 s (tiny study, 8 steps of 8 pairs, 2 CPUs); default study ~100 s per model. Memory 3x
    # (larger batches, CUDA's host-side libraries on a GPU node); time for ~15x the default training on CPUs.
    # threads: torch's CPU threads, capped by --cores locally (set-threads in a profile changes them).
    threads: 4
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        STUDY_ENV
    script:
        "../scripts/train.py"
