rule aggregate:
    input:
        expand(f"{RESULTS}/metrics/{{model}}/{{benchmark}}.parquet", model=STUDY.model_tags(), benchmark=EVALUATION["benchmarks"]),
    output:
        metrics=f"{RESULTS}/tables/metrics.tsv",
        languages=f"{RESULTS}/tables/languages.tsv",
    params:
        code=package_code("aggregate"),
        models=STUDY.model_tags(),
        benchmarks=EVALUATION["benchmarks"],
        draws=list(STUDY.draws()),
    log:
        f"{RESULTS}/logs/aggregate.log",
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        STUDY_ENV
    script:
        "../scripts/aggregate.py"


rule figure:
    input:
        metrics=rules.aggregate.output.metrics,
        languages=rules.aggregate.output.languages,
    output:
        png=f"{RESULTS}/figures/scaling_{{metric}}.png",
        pdf=f"{RESULTS}/figures/scaling_{{metric}}.pdf",
    params:
        code=package_code("figure"),
        size=[config["figure"]["width"], config["figure"]["height"]],
    log:
        f"{RESULTS}/logs/figure/{{metric}}.log",
    conda:
        STUDY_ENV
    script:
        "../scripts/figure.py"


rule paper_table:
    input:
        metrics=rules.aggregate.output.metrics,
        languages=rules.aggregate.output.languages,
    output:
        markdown=f"{RESULTS}/tables/table1_{{benchmark}}.md",
        latex=f"{RESULTS}/tables/table1_{{benchmark}}.tex",
    params:
        code=package_code("paper_table"),
    log:
        f"{RESULTS}/logs/paper_table/{{benchmark}}.log",
    conda:
        STUDY_ENV
    script:
        "../scripts/paper_table.py"


rule costs:
    input:
        benchmark_files(),
    output:
        jobs=f"{RESULTS}/benchmarks.tsv",
        by_rule=f"{RESULTS}/tables/time_by_rule.md",
    params:
        code=package_code("costs"),
        root=f"{RESULTS}/benchmarks",
    log:
        f"{RESULTS}/logs/costs.log",
    conda:
        STUDY_ENV
    script:
        "../scripts/costs.py"
