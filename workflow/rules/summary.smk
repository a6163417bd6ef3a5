rule aggregate:
    input:
        expand(f"{RESULTS}/metrics/{{model}}/{{benchmark}}.parquet", model=STUDY.model_tags(), benchmark=EVALUATION["benchmarks"]),
    output:
        metrics=f"{RESULTS}/tables/metrics.tsv",
        languages=f"{RESULTS}/tables/languages.tsv",
    params:
        code=package_code("aggregate"),
        roles=study_roles(),
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


rule paper_table:
    input:
        metrics=rules.aggregate.output.metrics,
        languages=rules.aggregate.output.languages,
        intervals=f"{RESULTS}/tables/intervals.tsv",
        published=PUBLISHED_TABLE1,  # the paper's own numbers, shown beside the study's
    output:
        markdown=f"{RESULTS}/tables/table1_{{benchmark}}.md",
        latex=f"{RESULTS}/tables/table1_{{benchmark}}.tex",
        html=report(
            f"{RESULTS}/tables/table1_{{benchmark}}.html",
            caption="../report/table1.rst",
            category="Tables",
            subcategory="{benchmark}",
            labels={"table": "Table 1 (paper layout)"},
        ),
    params:
        code=package_code("paper_table"),
        roles=study_roles(),
        strategies=STUDY.strategies(),
        level=STATS["level"],
    log:
        f"{RESULTS}/logs/paper_table/{{benchmark}}.log",
    benchmark:
        cost_file("paper_table", "{benchmark}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/paper_table.py"


rule headline_table:
    input:
        intervals=f"{RESULTS}/tables/intervals.tsv",
    output:
        markdown=f"{RESULTS}/tables/headline_{{benchmark}}.md",
        latex=f"{RESULTS}/tables/headline_{{benchmark}}.tex",
        html=report(
            f"{RESULTS}/tables/headline_{{benchmark}}.html",
            caption="../report/headline.rst",
            category="Tables",
            subcategory="{benchmark}",
            labels={"table": "held-out gain over base"},
        ),
    params:
        code=package_code("headline_table"),
        strategies=STUDY.strategies(),
        metric=config["figure"]["metric"],
        level=STATS["level"],
    log:
        f"{RESULTS}/logs/headline_table/{{benchmark}}.log",
    benchmark:
        cost_file("headline_table", "{benchmark}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/headline_table.py"


rule language_table:
    input:
        metrics=rules.aggregate.output.metrics,
        languages=rules.aggregate.output.languages,
        intervals=f"{RESULTS}/tables/intervals.tsv",
    output:
        markdown=f"{RESULTS}/tables/per_language_{{benchmark}}.md",
        latex=f"{RESULTS}/tables/per_language_{{benchmark}}.tex",
        html=report(
            f"{RESULTS}/tables/per_language_{{benchmark}}.html",
            caption="../report/per_language.rst",
            category="Tables",
            subcategory="{benchmark}",
            labels={"table": "per query language"},
        ),
    params:
        code=package_code("language_table"),
        roles=study_roles(),
        strategies=STUDY.strategies(),
        metric=config["figure"]["metric"],
        level=STATS["level"],
    log:
        f"{RESULTS}/logs/language_table/{{benchmark}}.log",
    benchmark:
        cost_file("language_table", "{benchmark}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/language_table.py"


rule costs:
    input:
        cost_files(),
    output:
        jobs=f"{RESULTS}/costs.tsv",
        by_rule=f"{RESULTS}/tables/time_by_rule.md",
    params:
        code=package_code("costs"),
        root=lambda w, output: os.path.splitext(output.jobs)[0],  # costs.tsv sits beside costs/
        # where train and embed jobs recorded the precision they ran in, by the job's wildcards
        records={"train": f"{RESULTS}/models/{{}}/training.json", "embed": f"{RESULTS}/embeddings/{{}}/encoding.json"},
    log:
        f"{RESULTS}/logs/costs.log",
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/costs.py"
