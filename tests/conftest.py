import copy
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
LOCAL_CORES = 2
TINY = "results/tiny"  # config/tiny.yaml's results directory
MICRO = "results/micro"
# One hybrid model at k = 1 on a few pairs, one XQuAD-R article in 3 languages: the workflow tests' micro study (over
# config/tiny.yaml; under a minute).
MICRO_STUDY = {
    "results": MICRO,
    "training": {
        "target_pool": ["de", "es"],
        "k": [1],
        "language_draws": [0],
        "strategies": ["hybrid"],
        "pairs": 16,
        "batch_size": 4,
        "max_seq_length": 32,
    },
    "evaluation": {"languages": {"xquad-r": ["de", "el", "en"]}, "articles": 1},
}
# Over config.yaml (not tiny.yaml), what a workflow test of the chain changes: English-only MiniLM (fast on CI's 2 cores),
# without E5's prefixes, frozen embeddings or extra full-pool seeds. The default model's own chain has a test of its own
# (test_workflow.test_the_default_model_is_built_trained_and_described).
CHAIN = {
    "model": {"name": "sentence-transformers/all-MiniLM-L6-v2"},
    "training": {"query_prefix": "", "passage_prefix": "", "word_embeddings": "dense", "full_pool_replicates": None},
}


def study_config(overrides: dict | None = None) -> dict:
    """config.yaml with `overrides` merged over it, as Snakemake merges a --configfile over the Snakefile's."""
    from snakemake.utils import update_config

    merged = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(merged, copy.deepcopy(overrides or {}))
    return merged


def with_chain(config: dict) -> dict:
    """`config` merged over CHAIN (a new dict)."""
    from snakemake.utils import update_config

    merged = copy.deepcopy(CHAIN)
    update_config(merged, copy.deepcopy(config))
    return merged


# Products that record when or how long something ran (logs, Snakemake's cost files, the time table): every other
# file a study writes is the same bytes on every run of the same config on the same machine.
TIMED = ("logs", "costs", "costs.tsv", "tables/time_by_rule.md")


# Where oneDNN's prepacked linear layers are expected (xlretrieval.onednn): torch built with oneDNN on x86-64 or aarch64.
# There a torch that drops the ops they need (xlretrieval.private_apis) fails the tests instead of skipping them.
NO_ONEDNN = "oneDNN's prepacked linear layers are expected only where torch is built with oneDNN (mkldnn) on x86-64 or aarch64"


def onednn_expected() -> bool:
    import torch

    return platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64") and torch.backends.mkldnn.is_available()


def lareqa_file(dataset: str, lang: str) -> Path:
    path = SHARED / dataset / f"{lang}.json"
    if not path.is_file():
        pytest.skip(f"{path} not available (the shared data mirror sits beside the checkout)")
    return path


@pytest.fixture(scope="session")
def xquad():
    from xlretrieval.data.lareqa import read_dataset

    return read_dataset({lang: lareqa_file("xquad-r", lang) for lang in ("de", "en", "zh")})


@pytest.fixture(scope="session")
def mlqa():
    from xlretrieval.data.lareqa import read_dataset

    return read_dataset({lang: lareqa_file("mlqa-r", lang) for lang in ("ar", "de", "en", "es", "hi", "vi", "zh")})


@pytest.fixture(scope="session")
def mlqa_pairs(mlqa, xquad):
    from xlretrieval.data.splits import training_pairs

    return training_pairs(mlqa, [xquad])[0]


def write_overrides(workdir: Path, overrides: dict | None) -> Path:
    """`workdir`/overrides.yaml: the shared data mirror and `overrides`, the last config file of a test's run."""
    path = workdir / "overrides.yaml"
    path.write_text(yaml.safe_dump({"data": {"mirror": str(SHARED)}, **(overrides or {})}))
    return path


def snakemake(workdir, *args, config="config/tiny.yaml", overrides=None, check=True, execution=("--cores", str(LOCAL_CORES))):
    """Run Snakemake in `workdir` on `config` (a file or a list of files), the shared data mirror and
    `overrides` (a config dict).

    `execution` says how jobs run: on local cores by default, or e.g. through a profile.
    """
    override_file = write_overrides(workdir, overrides)
    configs = [config] if isinstance(config, str) else list(config)
    command = [sys.executable, "-m", "snakemake", *execution, *args, "--configfile", *configs, override_file.name]  # --configfile takes the rest
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def micro(**changes) -> dict:
    """MICRO_STUDY with `changes` merged into its sections (training={"pairs": 32} changes one key)."""
    config = dict(MICRO_STUDY)
    for key, value in changes.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return config


def reproducible_products(results: Path) -> dict[str, bytes]:
    """{path under `results`: bytes} of every product but the TIMED ones."""
    files = sorted(p for p in results.rglob("*") if p.is_file())
    return {str(p.relative_to(results)): p.read_bytes() for p in files if not str(p.relative_to(results)).startswith(TIMED)}


def copy_project(target):
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, target / name)
    for name in ("workflow", "config", "profiles", "src", "envs"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return target


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The tiny study run once on local cores (shared by the workflow tests)."""
    if not (SHARED / "xquad-r" / "en.json").is_file():
        pytest.skip("the shared data mirror is not beside the checkout")
    workdir = copy_project(tmp_path_factory.mktemp("study"))
    snakemake(workdir)
    return workdir


@pytest.fixture(scope="session")
def micro_study(tmp_path_factory):
    """The micro study run once on local cores: the reference of the determinism and fault-injection tests."""
    if not (SHARED / "xquad-r" / "en.json").is_file():
        pytest.skip("the shared data mirror is not beside the checkout")
    workdir = copy_project(tmp_path_factory.mktemp("micro"))
    snakemake(workdir, overrides=MICRO_STUDY)
    return workdir
