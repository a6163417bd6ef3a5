"""What the study knows of each source (languages, licence, reader, what it can be used for), and
fetching LAReQA files with checksum verification.

Four kinds of source, each read by one reader (`xlretrieval.data.readers`) into the same tables:
LAReQA-format JSON files (XQuAD-R, MLQA-R; one file per language, sha256-checked, `download` rule),
mMARCO (training only) and MIRACL (evaluation only), both read from Hugging Face hub dataset
repositories inside the `prepare` job (`xlretrieval.data.hub`), and test collections defined in the
config (evaluation only; local BEIR-layout folders or ir_datasets ids, `xlretrieval.data.collections`).
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..model_tags import SETTINGS
from . import languages

LAREQA = "https://raw.githubusercontent.com/google-research-datasets/lareqa"


@dataclass(frozen=True)
class Source:
    """A source of training and/or evaluation data.

    Each kind gives its `languages` (ISO codes). `settings` are the evaluation settings its ids support
    (cross and multi need question ids that are parallel across languages); `articles` says whether it
    is organised in articles that the seeded evaluation subsets (`evaluation.articles`) and the article
    split (`training.holdout`) choose from.
    """

    name: str
    licence: str
    reader: ClassVar[str]
    trains: ClassVar[bool] = True
    evaluates: ClassVar[bool] = True
    settings: ClassVar[tuple[str, ...]] = SETTINGS
    articles: ClassVar[bool] = False


@dataclass(frozen=True)
class LareqaSource(Source):
    """A LAReQA-format benchmark: one JSON file per language."""

    url_template: str
    sha256: dict[str, str]
    reader: ClassVar[str] = "lareqa"
    articles: ClassVar[bool] = True

    @property
    def languages(self) -> list[str]:
        return sorted(self.sha256)

    def url(self, lang: str) -> str:
        return self.url_template.format(lang=lang)


@dataclass(frozen=True)
class MmarcoSource(Source):
    """mMARCO v2 (`unicamp-dl/mmarco`, Google translations): MS MARCO passage ranking in 14 languages, every
    query and passage translated, so query and passage ids are parallel across languages. Training only."""

    repo: str = "unicamp-dl/mmarco"
    reader: ClassVar[str] = "mmarco"
    evaluates: ClassVar[bool] = False

    @property
    def languages(self) -> list[str]:
        return sorted(languages.MMARCO)


@dataclass(frozen=True)
class MiraclSource(Source):
    """MIRACL v1.0 dev (`miracl/miracl` topics and qrels, `miracl/miracl-corpus` passages): monolingual
    retrieval over each language's Wikipedia; query ids are per language, so only the mono setting exists."""

    topics_repo: str = "miracl/miracl"
    corpus_repo: str = "miracl/miracl-corpus"
    reader: ClassVar[str] = "miracl"
    trains: ClassVar[bool] = False
    settings: ClassVar[tuple[str, ...]] = ("mono",)

    @property
    def languages(self) -> list[str]:
        return sorted(languages.MIRACL)


@dataclass(frozen=True)
class CollectionSource(Source):
    """A test collection defined in the config (`data.collections.<name>`, read by `collections`): evaluation
    only; the cross and multi settings exist only where its query ids are parallel across languages."""

    languages: tuple[str, ...] = ()
    parallel: bool = False
    reader: ClassVar[str] = "collection"
    trains: ClassVar[bool] = False

    @property
    def settings(self) -> tuple[str, ...]:
        return SETTINGS if self.parallel else ("mono",)


SOURCES: dict[str, Source] = {
    "xquad-r": LareqaSource(
        name="xquad-r",
        url_template=LAREQA + "/master/xquad-r/{lang}.json",
        licence="CC BY-SA 4.0",
        sha256={
            "ar": "c52922d3b8ac1ae03ed5ac38647ad59870dca3dda2beefe18ecdc30729acb69d",
            "de": "16fb0f4bf4916154b585a20c24c66074591c9718a1affe764ff4697572328949",
            "el": "163fd43ee785a30eb534ae2061e9eaa766a7ee4e8ffce5e4b422480c150f64b6",
            "en": "7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe",
            "es": "f8e836b2d91009c4363e04315f7ede363eedbbb49c67dda60de6c4aa782f58de",
            "hi": "ea45ba8ae4513d1533b222bebdc02a90bc319c055d3aeea68584a053d2e92872",
            "ru": "7f4dff853538b9a5fcc28c070b8bb983a5c5d190ac747b8e005a1ada9cab18f1",
            "th": "c3a041864c3a9fb0b4dd91cfdf99cf36b411b3e704c58a303c97bc6dc786cfe4",
            "tr": "f3e8c13002bbce154a4578f535f7533cb70f3da08840e6b62735935baec7bd94",
            "vi": "e35926bf5cc6fc6ecbdfca49467aabeb454f08d152d7818143a906bd31dde995",
            "zh": "80c2cde7b9c2fb134c303cbb52f2ba396ead9eb0014aec43993543d2ba9e93ed",
        },
    ),
    # MLQA-R was removed from LAReQA's default branch; pinned to the last commit that has it.
    "mlqa-r": LareqaSource(
        name="mlqa-r",
        url_template=LAREQA + "/354d67d1cd066854cdfbf5ad0e6105528976141d/mlqa-r/{lang}.json",
        licence="CC BY-NC 4.0",
        sha256={
            "ar": "2132fbc03208535c0fe01f2e2c5121d06f9c2aa799af93b0a719dbc105bdf137",
            "de": "ce9454dc5aa6f2d85c23cd6e49cb367fbb7c4c6e62d7f71e355c6b5dae4d0886",
            "en": "fedd9a5cc0848dda80caf84aa36f482adaae230526a3f6e9e86926a93ef3b1e4",
            "es": "70ecba276b8c96a692b120693a595d076ce94ad21d4b28311538a9fcbfe0f9d7",
            "hi": "4dd0fb3c06f737a5481d705bc1dcac7876712a5815c9265908fbb3a0696cb654",
            "vi": "9d3baff6ba03e6793b25594217265ea59a136b9733833dca8a9582a84a78ff85",
            "zh": "57f01d2fff50cf3392805635b01445339f225ad5bf28ba8443b12f8dbd1e69dc",
        },
    ),
    "mmarco": MmarcoSource(name="mmarco", licence="MS MARCO terms (non-commercial research); translations Apache-2.0"),
    "miracl": MiraclSource(name="miracl", licence="Apache-2.0 (topics, judgements); passages from Wikipedia, CC BY-SA 3.0"),
}


class DataError(RuntimeError):
    """A data file is missing, unreachable, malformed or fails its checksum."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(dataset: str, lang: str, dest: Path, mirror: Path | None, url: str, sha256: str | None, timeout: float = 60.0) -> Path:
    """Copy `dataset`/`lang`.json from a local mirror (when it has the file) or download it from `url`,
    then verify its sha256.

    The file lands at `dest` only once verified, so an interrupted or corrupt fetch leaves nothing behind.
    """
    if sha256 is None:
        raise DataError(f"no sha256 is known for {dataset}/{lang}.json: add it under data.datasets.{dataset}.sha256")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(dest.suffix + ".partial")
    origin = Path(mirror) / dataset / f"{lang}.json" if mirror is not None else None
    if origin is not None and origin.is_file():
        shutil.copyfile(origin, partial)
    else:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as error:
            partial.unlink(missing_ok=True)
            mirror_note = f"{origin} does not exist and " if origin is not None else ""
            raise DataError(
                f"{mirror_note}cannot download {url} ({error}): set data.mirror to a directory holding "
                f"{dataset}/{lang}.json, or run where the URL is reachable"
            ) from error
    actual = sha256_of(partial)
    if actual != sha256:
        partial.unlink()
        where = origin if origin is not None and origin.is_file() else url
        raise DataError(
            f"{dataset}/{lang}.json from {where} has sha256 {actual}, expected {sha256}: "
            "the file is corrupt or a different release; delete it and fetch it again"
        )
    partial.replace(dest)
    return dest
