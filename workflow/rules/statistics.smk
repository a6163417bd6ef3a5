rule intervals:
    input:
        metrics=per_query_files(),
        questions=expand(rules.evaluation_set.output.questions, benchmark=EVALUATION["benchmarks"]),
        languages=rules.aggregate.output.languages,
    output:
        report(f"{RESULTS}/tables/intervals.tsv", caption="../report/intervals.rst", category="Tables", labels={"table": "intervals (TSV)"}),
    params:
        code=package_code("intervals"),
        roles=study_roles(),
        models=STUDY.model_tags(),
        benchmarks=EVALUATION["benchmarks"],
        level=STATS["level"],
        language_sets=STATS["language_sets"],
    log:
        f"{RESULTS}/logs/intervals.log",
    benchmark:
        cost_file("intervals")
    resources:
        mem_mb=8000,  # 0.6 GB for the default study, 4.7 GB for config/precise.yaml
        runtime=20,
    conda:
        STUDY_ENV
    script:
        "../scripts/intervals.py"


rule paired_tests:
    input:
        metrics=per_query_files(),
        questions=expand(rules.evaluation_set.output.questions, benchmark=EVALUATION["benchmarks"]),
        languages=rules.aggregate.output.languages,
    output:
        tsv=f"{RESULTS}/tables/paired_tests.tsv",
        markdown=f"{RESULTS}/tables/paired_tests.md",
        latex=f"{RESULTS}/tables/paired_tests.tex",
        html=report(f"{RESULTS}/tables/paired_tests.html", caption="../report/paired_tests.rst", category="Tables", labels={"table": "paired tests"}),
        power_tsv=f"{RESULTS}/tables/power.tsv",
        power_md=f"{RESULTS}/tables/power.md",
    params:
        code=package_code("paired_tests"),
        roles=study_roles(),
        models=STUDY.model_tags(),
        benchmarks=EVALUATION["benchmarks"],
        metric=STATS["metric"],
        strategies=STUDY.strategies(),
        primary=STATS["primary"],
        level=STATS["level"],
        resamples=STATS["resamples"],
        permutations=STATS["permutations"],
        seed=STATS["seed"],
        target_detectable=STATS["target_detectable"],
        language_sets=STATS["language_sets"],
    log:
        f"{RESULTS}/logs/paired_tests.log",
    benchmark:
        cost_file("paired_tests")
    resources:
        mem_mb=8000,  # 0.6 GB for the default study, 4.7 GB for config/precise.yaml
        runtime=20,
    conda:
        STUDY_ENV
    script:
        "../scripts/paired_tests.py"


rule losses:
    input:
        expand(f"{RESULTS}/models/{{model}}", model=STUDY.model_tags()[1:]),
    output:
        f"{RESULTS}/tables/losses.tsv",
    params:
        code=package_code("losses"),
        models=STUDY.model_tags()[1:],
    log:
        f"{RESULTS}/logs/losses.log",
    benchmark:
        cost_file("losses")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/losses.py"


rule top_languages:
    input:
        rankings=expand(f"{RESULTS}/rankings/{{model}}/{{benchmark}}", model=STUDY.model_tags(), benchmark=multi_benchmarks()),
        evalsets=[table for benchmark in multi_benchmarks() for table in evalset(benchmark)],
    output:
        f"{RESULTS}/tables/top_languages.tsv",
    params:
        code=package_code("top_languages"),
        roles=study_roles(),
        models=STUDY.model_tags(),
        benchmarks=multi_benchmarks(),
        draws=list(STUDY.draws()),
        top=10,
    log:
        f"{RESULTS}/logs/top_languages.log",
    benchmark:
        cost_file("top_languages")
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        STUDY_ENV
    script:
        "../scripts/top_languages.py"
