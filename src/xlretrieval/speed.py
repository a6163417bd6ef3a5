"""The speed layer: which fast paths a model takes (`model.kernels`), decided in one pure function, and the record of
those that ran.

`auto` takes each fast path where the model's family (`families`) and this machine allow it:

- **packing** (`packing`): a batch's texts in one row without padding, attention in packed blocks (`packing.ATTENTION`),
  in training and encoding (BERT, RoBERTa, XLM-R);
- **prepacked oneDNN linear layers** (`onednn`): in encoding on a CPU whose torch runs them in the model's dtype;
- **the study's own dropout masks** (`dropout`): in training on a CPU (the dropout modules', and packed attention's);
- **fused AdamW** (one kernel for every parameter's update): in training, on a device torch has it for.

`plain` takes none of them: padded batches through transformers' own attention, torch's linear layers, dropout modules
and AdamW loop, the library path the fast ones are measured against. Both give the same embeddings within float
rounding (tests/test_kernels.py); training under `plain` draws torch's dropout masks, so its models differ as another
seed's do.

`plan` decides; `BiEncoder.prepare` applies a plan once (`for_training`, `for_inference`) and records what ran, read
back from the prepared model (`record`): training.json and encoding.json keep it under "kernels", with the versions of
the libraries that ran it and the paths the plan expected that did not run ("missing", logged as warnings too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from .families import Family

log = logging.getLogger(__name__)

KERNELS = ("auto", "plain")
MODES = ("training", "inference")
LIBRARIES = ("torch", "transformers", "sentence-transformers")
FUSED_ADAMW_DEVICES = ("cpu", "cuda", "mps")  # where torch 2.13 has a fused AdamW kernel


@dataclass(frozen=True)
class KernelsPlan:
    """The fast paths one preparation of a model takes (`plan`)."""

    requested: str  # model.kernels: auto or plain
    mode: str  # training or inference
    packing: bool  # texts packed in one row, attention in packed blocks
    own_dropout: bool  # the study's dropout masks (training on a CPU)
    onednn_prepack: bool  # linear layers prepacked for oneDNN (inference on a CPU)
    fused_adamw: bool  # AdamW as one kernel (training)

    def expected(self) -> dict[str, bool]:
        """The paths this plan takes in its mode, as the record names them."""
        if self.mode == "training":
            return {"packing": self.packing, "dropout": self.own_dropout, "fused_adamw": self.fused_adamw}
        return {"packing": self.packing, "onednn_prepack": self.onednn_prepack}


def check(kernels: str) -> None:
    """A ValueError unless `kernels` is one of `KERNELS`."""
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {KERNELS}, not '{kernels}'")


def plan(kernels: str, family: Family, device: str, mode: str, onednn: bool = False) -> KernelsPlan:
    """The fast paths `kernels` takes for a model of `family` on a `device` ("cpu", "cuda", ...) in `mode` (training or
    inference); `onednn`: whether oneDNN's prepacked linear layers run here in the model's dtype (`onednn.expected`)."""
    check(kernels)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not '{mode}'")
    auto, training = kernels == "auto", mode == "training"
    return KernelsPlan(
        requested=kernels,
        mode=mode,
        packing=auto and family.packable,
        own_dropout=auto and training and device == "cpu",
        onednn_prepack=auto and not training and device == "cpu" and family.prepack and onednn,
        fused_adamw=auto and training and device in FUSED_ADAMW_DEVICES,
    )


def record(plan: KernelsPlan, ran: dict[str, bool]) -> dict:
    """What a preparation under `plan` ran (`ran`: path -> taken, read back from the model; training's dropout as "own"
    or "torch"), the installed versions of `LIBRARIES`, and "missing": the paths the plan expected that did not run
    (each logged as a warning: under `auto` a missing path is an upgrade or a machine without it, never silent)."""
    missing = [path for path, expected in plan.expected().items() if expected and not ran.get(path)]
    for path in missing:
        log.warning("model.kernels: %s: the fast path '%s' was expected here but did not run (see docs/speed.md)", plan.requested, path)
    shown = {path: ("own" if taken else "torch") if path == "dropout" else bool(taken) for path, taken in ran.items()}
    return {"requested": plan.requested, **shown, **versions(), "missing": missing}


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
