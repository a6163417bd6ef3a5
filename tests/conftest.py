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


def snakemake(workdir, *args, config="config/tiny.yaml", overrides=None, check=True, execution=("--cores", str(LOCAL_CORES))):
    """Run Snakemake in `workdir` on `config` (a file or a list of files), the shared data mirror and
    `overrides` (a config dict).

    `execution` says how jobs run: on local cores by default, or e.g. through a profile.
    """
    override_file = workdir / "overrides.yaml"
    override_file.write_text(yaml.safe_dump({"data": {"mirror": str(SHARED)}, **(overrides or {})}))
    configs = [config] if isinstance(config, str) else list(config)
    command = [sys.executable, "-m", "snakemake", *execution, *args, "--configfile", *configs, override_file.name]  # --configfile takes the rest
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def copy_project(target):
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, target / name)
    for name in ("workflow", "config", "profiles", "src", "envs"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return target


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The tiny study run once on local cores (shared by the workflow and Slurm tests)."""
    if not (SHARED / "xquad-r" / "en.json").is_file():
        pytest.skip("the shared data mirror is not beside the checkout")
    workdir = copy_project(tmp_path_factory.mktemp("study"))
    snakemake(workdir)
    return workdir
