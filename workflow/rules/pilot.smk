# The learning-curve pilot (`snakemake pilot`, not part of `all`): hybrid at the largest k, pilot.seeds runs a budget,
# evaluated on held-out languages against the base model, on articles set aside for it that no study evaluates. Its
# curve starts at pilot.start_steps and doubles while the doubling pays (xlretrieval.pilot.RULE): the checkpoint `pilot_doubling` measures the doubling from
# b to 2b, and the `pilot` target's input function (`pilot_curve`) asks for 4b only after it paid.


rule pilot_set:
    input:
        lambda w: prepared(w.benchmark),
    output:
        questions=f"{RESULTS}/pilot/evalset/{{benchmark}}/questions.parquet",
        candidates=f"{RESULTS}/pilot/evalset/{{benchmark}}/candidates.parquet",
        qrels=f"{RESULTS}/pilot/evalset/{{benchmark}}/qrels.parquet",
    params:
        code=package_code("pilot_set"),
        languages=lambda w: STUDY.evaluation_languages(w.benchmark),
        reserve=lambda w: STUDY.pilot_reserve(w.benchmark),
        holdout=lambda w: holdout(w.benchmark),
    log:
        f"{RESULTS}/logs/pilot/evalset/{{benchmark}}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        STUDY_ENV
    script:
        "../scripts/pilot_set.py"


rule pilot_point:
    input:
        pairs=rules.training_pairs.output[0],
        evalset=expand(rules.pilot_set.output, benchmark=STUDY.pilot_benchmark()),
        base=base_model_input(),
    output:
        f"{RESULTS}/pilot/{{strategy}}/k{{k}}/lr{{lr}}/steps{{steps}}/seed{{seed}}.parquet",
    params:
        code=package_code("pilot_point"),
        point=lambda w: pilot_params(int(w.steps), int(w.k), float(w.lr), parse_strategy(w.strategy)[1], int(w.seed)),
    log:
        f"{RESULTS}/logs/pilot/{{strategy}}/k{{k}}/lr{{lr}}/steps{{steps}}/seed{{seed}}.log",
    benchmark:
        cost_file("pilot", "{strategy}/k{k}/lr{lr}/steps{steps}/seed{seed}")
    threads: 4
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        STUDY_ENV
    script:
        "../scripts/pilot_point.py"


use rule pilot_point as pilot_base with:
    output:
        f"{RESULTS}/pilot/base.parquet",
    params:
        code=package_code("pilot_point"),
        point=pilot_params(0, min(TRAINING["k"]), 0.0, 0.0, 0),
    log:
        f"{RESULTS}/logs/pilot/base.log",
    benchmark:
        cost_file("pilot", "base")


checkpoint pilot_doubling:
    input:
        earlier=lambda w: pilot_files(int(w.steps)),
        later=lambda w: pilot_files(2 * int(w.steps)),
        questions=expand(rules.pilot_set.output.questions, benchmark=STUDY.pilot_benchmark()),
    output:
        pilot_doubling_file("{steps}"),
    params:
        code=package_code("pilot_doubling"),
        steps=lambda w: int(w.steps),
        roles=STUDY.language_roles(STUDY.pilot_benchmark()),
        level=STATS["level"],
    log:
        f"{RESULTS}/logs/pilot/doublings/steps{{steps}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        STUDY_ENV
    script:
        "../scripts/pilot_doubling.py"


rule pilot:
    input:
        unpack(pilot_curve),
        learning_rates=[f"{RESULTS}/pilot/{point}/seed{seed}.parquet" for point in STUDY.pilot_learning_rate_points() for seed in STUDY.pilot_seeds()],
        base=rules.pilot_base.output[0],
        questions=expand(rules.pilot_set.output.questions, benchmark=STUDY.pilot_benchmark()),
    output:
        curve=f"{RESULTS}/pilot/learning_curve.tsv",
        png=f"{RESULTS}/pilot/learning_curve.png",
        pdf=f"{RESULTS}/pilot/learning_curve.pdf",
        budget=f"{RESULTS}/pilot/budget.json",
    params:
        code=package_code("pilot"),
        start_steps=config["pilot"]["start_steps"],
        max_steps=config["pilot"]["max_steps"],
        stop_share=config["pilot"]["stop_share"],
        batch_size=TRAINING["batch_size"],
        learning_rate=TRAINING["learning_rate"],
        roles=STUDY.language_roles(STUDY.pilot_benchmark()),
        level=STATS["level"],
    log:
        f"{RESULTS}/logs/pilot/learning_curve.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        STUDY_ENV
    script:
        "../scripts/pilot.py"
