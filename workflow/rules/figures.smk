# The figures, each as PNG (in the report, with its caption from workflow/report/) and PDF.


rule scaling_figure:
    input:
        intervals=rules.intervals.output[0],
    output:
        **figure_files("scaling_{metric}", "scaling", "1. {metric} vs k"),
    params:
        code=package_code("scaling_figure"),
        strategies=STUDY.strategies(),
        size=[config["figure"]["width"], config["figure"]["height"]],
    log:
        f"{RESULTS}/logs/scaling_figure/{{benchmark}}/{{metric}}.log",
    benchmark:
        cost_file("scaling_figure", "{benchmark}/{metric}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/scaling_figure.py"


rule groups_figure:
    input:
        intervals=rules.intervals.output[0],
    output:
        **figure_files("groups_{metric}", "groups", "1b. {metric} vs k by language group"),
    params:
        code=package_code("groups_figure"),
        strategies=STUDY.strategies(),
        size=[config["figure"]["width"], config["figure"]["height"]],
    log:
        f"{RESULTS}/logs/groups_figure/{{benchmark}}/{{metric}}.log",
    benchmark:
        cost_file("groups_figure", "{benchmark}/{metric}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/groups_figure.py"


rule language_pairs_figure:
    input:
        metrics=rules.aggregate.output.metrics,
        languages=rules.aggregate.output.languages,
    output:
        **figure_files("language_pairs_{metric}", "language_pairs", "2. {metric} by language pair"),
    params:
        code=package_code("language_pairs_figure"),
        strategies=STUDY.strategies(),
    log:
        f"{RESULTS}/logs/language_pairs_figure/{{benchmark}}/{{metric}}.log",
    benchmark:
        cost_file("language_pairs_figure", "{benchmark}/{metric}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/language_pairs_figure.py"


rule rank_distance_figure:
    input:
        intervals=rules.intervals.output[0],
    output:
        **figure_files("rank_distance", "rank_distance", "3. language bias vs k"),
    params:
        code=package_code("rank_distance_figure"),
        strategies=STUDY.strategies(),
    log:
        f"{RESULTS}/logs/rank_distance_figure/{{benchmark}}.log",
    benchmark:
        cost_file("rank_distance_figure", "{benchmark}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/rank_distance_figure.py"


rule held_out_figure:
    input:
        intervals=rules.intervals.output[0],
    output:
        **figure_files("held_out_languages_{metric}", "held_out_languages", "4. each held-out language"),
    params:
        code=package_code("held_out_figure"),
        strategies=STUDY.strategies(),
        held_out=lambda w: STUDY.held_out(w.benchmark),
    log:
        f"{RESULTS}/logs/held_out_figure/{{benchmark}}/{{metric}}.log",
    benchmark:
        cost_file("held_out_figure", "{benchmark}/{metric}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/held_out_figure.py"


rule loss_figure:
    input:
        rules.losses.output[0],
    output:
        **figure_files("training_loss", "training_loss", "5. training loss", per_benchmark=False),
    params:
        code=package_code("loss_figure"),
    log:
        f"{RESULTS}/logs/loss_figure.log",
    benchmark:
        cost_file("loss_figure")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/loss_figure.py"


rule top_languages_figure:
    input:
        rules.top_languages.output[0],
    output:
        **figure_files("top_languages", "top_languages", "6. languages of the multi top 10"),
    params:
        code=package_code("top_languages_figure"),
        strategies=STUDY.strategies(),
    log:
        f"{RESULTS}/logs/top_languages_figure/{{benchmark}}.log",
    benchmark:
        cost_file("top_languages_figure", "{benchmark}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/top_languages_figure.py"


rule alpha_figure:
    input:
        intervals=rules.intervals.output[0],
        losses=rules.losses.output[0],
    output:
        **figure_files("alpha_{metric}", "alpha", "7. {metric} vs alpha"),
    params:
        code=package_code("alpha_figure"),
        k=STUDY.alpha_k(),
    log:
        f"{RESULTS}/logs/alpha_figure/{{benchmark}}/{{metric}}.log",
    benchmark:
        cost_file("alpha_figure", "{benchmark}/{metric}")
    localrule: True
    conda:
        STUDY_ENV
    script:
        "../scripts/alpha_figure.py"
