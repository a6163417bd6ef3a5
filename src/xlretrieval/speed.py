"""The speed layer: which fast paths a model takes (`model.kernels`), and the record of those it took.

`auto` takes each fast path where the model's family (`families`) and this machine's torch allow it:

- **packing** (`packing`): a batch's texts in one row without padding, in training and encoding (BERT, RoBERTa, XLM-R);
- **prepacked oneDNN linear layers** (`onednn`): in encoding on a CPU;
- **the study's own dropout masks** (`dropout`): in training on a CPU (the dropout modules', and packed attention's).

`plain` takes none of them: padded batches through transformers' own attention, torch's linear layers and dropout
modules, the library path the fast ones are measured against. Both give the same embeddings within float rounding
(tests/test_kernels.py); training under `plain` draws torch's dropout masks, so its models differ as another seed's do.

`BiEncoder.for_training` and `for_inference` take the paths; `record` is their account of what they took, which
training.json and encoding.json keep under "kernels", with the versions of the libraries that ran them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

KERNELS = ("auto", "plain")
LIBRARIES = ("torch", "transformers", "sentence-transformers")


def check(kernels: str) -> None:
    """A ValueError unless `kernels` is one of `KERNELS`."""
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {KERNELS}, not '{kernels}'")


def record(requested: str, **paths: object) -> dict:
    """What `requested` (one of `KERNELS`) took, path by path, and the installed versions of `LIBRARIES`."""
    return {"requested": requested, **paths, **versions()}


def versions() -> dict[str, str | None]:
    """Each of `LIBRARIES`' installed version (torch's with its build label: 2.13.0+cpu), None where it is not
    installed; read from the package metadata, without importing them."""
    found = {}
    for library in LIBRARIES:
        try:
            found[library] = version(library)
        except PackageNotFoundError:
            found[library] = None
    return found
