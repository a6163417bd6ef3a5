from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


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
