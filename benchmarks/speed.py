"""Speed of encoding and training in fp32 and bf16 against sentence-transformers and the machine's peaks.

    python benchmarks/speed.py [--texts 1000] [--steps 12] [--train-chunks 8 16 32] [--out results/speed.tsv]

Prints the CPU model (or GPU) and its native bf16 features, then measures side by side, in one process,
on the same XQuAD-R / MLQA-R texts and batches, in each precision the device runs natively (fp32, and
bf16 where `precision.native_bf16` says so): encoding throughput (texts/s, tokens/s) of
`xlretrieval.encoding.encode` vs `SentenceTransformer.encode` (bf16: both with bf16 weights; ours also
under bf16 autocast with fp32 weights), with the largest embedding difference from our fp32 vectors;
training throughput (pairs/s) of `xlretrieval.training` steps (bf16: autocast, fp32 weights and
optimiser) vs a sentence-transformers MultipleNegativesRankingLoss step on the same batches; and the
achieved GFLOP/s as a share of the matching matmul peak (fp32 or bf16, both measured). Writes the
table as TSV.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from xlretrieval import model as bi
from xlretrieval import precision
from xlretrieval.batching import make_batches
from xlretrieval.data.lareqa import read_dataset
from xlretrieval.data.splits import training_pairs
from xlretrieval.encoding import encode
from xlretrieval.training import info_nce

NAME = "sentence-transformers/all-MiniLM-L6-v2"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """Best GFLOP/s of a square matmul in `dtype`."""
    a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def forward_flops(encoder: bi.BiEncoder, lengths: np.ndarray) -> float:
    """Forward FLOPs of the transformer layers for sequences of the given (unpadded) lengths."""
    cfg = encoder.transformer.config
    h, f, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    per_token = 2 * (4 * h * h + 2 * h * f)
    attention = 4 * h * (lengths.astype(float) ** 2)
    return float(layers * (per_token * lengths.sum() + attention.sum()))


def timed(function, repeats: int = 2) -> tuple[float, object]:
    """Best wall time of `repeats` calls after a warm-up, and the last call's result."""
    result = function()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def training_groups(steps: int, batch_size: int) -> list[tuple[list[str], list[str]]]:
    """(questions, passages) of `steps` hybrid batches over four MLQA-R languages."""
    mlqa = read_dataset({lang: DATA / "mlqa-r" / f"{lang}.json" for lang in ["ar", "de", "en", "es", "hi", "vi", "zh"]})
    xquad = read_dataset({lang: DATA / "xquad-r" / f"{lang}.json" for lang in ["en"]})
    pairs, _ = training_pairs(mlqa, [xquad])
    batches = make_batches(pairs, ["en", "de", "zh", "ar"], 0.5, steps * batch_size, batch_size, 0)
    question = dict(zip(zip(pairs.question_id, pairs.lang), pairs.question))
    passage = dict(zip(pairs.candidate_id, pairs.answer))
    return [([question[k] for k in zip(g.question_id, g.question_lang)], [passage[c] for c in g.passage_id])
            for _, g in batches.groupby("batch")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--max-seq-length", type=int, default=512, help="encoding truncation (evaluation.max_seq_length)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-chunks", type=int, nargs="+", default=None,
                        help="sequences per forward pass in our training step, each timed (default: model.TRAINING_CHUNK)")
    parser.add_argument("--out", type=Path, default=Path("results/speed.tsv"))
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer, losses

    device = bi.choose_device("auto")
    precisions = ["fp32", "bf16"] if precision.native_bf16(device) else ["fp32"]
    print(f"{precision.describe(device)}, {torch.get_num_threads()} threads: measuring {', '.join(precisions)}")
    peaks = {p: matmul_peak(device, DTYPES[p]) for p in precisions}
    langs = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
    xquad = read_dataset({lang: DATA / "xquad-r" / f"{lang}.json" for lang in langs})
    texts = pd.concat([xquad.questions.text, xquad.candidates.text]).to_numpy()
    texts = np.random.default_rng(0).choice(texts, size=min(args.texts, len(texts)), replace=False).tolist()
    groups = training_groups(args.steps, args.batch_size)
    rows, reference = [], None

    def row(task, p, implementation, seconds, items, tokens, flops, difference=np.nan):
        rows.append((task, p, implementation, items / seconds, tokens / seconds, flops / seconds / 1e9, difference))

    for p in precisions:
        ours = bi.load(NAME, device, args.max_seq_length, precision=p).for_inference()
        lengths = np.array([len(ids) for ids in ours.tokenize(texts)["input_ids"]])
        flops = forward_flops(ours, lengths)
        st = SentenceTransformer(str(bi.resolve(NAME)), device=str(device), model_kwargs={"dtype": DTYPES[p]})
        st.max_seq_length = args.max_seq_length
        variants = {"xlretrieval": lambda: encode(ours, texts, 64),
                    "sentence-transformers": lambda: st.encode(texts, batch_size=64)}
        if p == "bf16":
            autocast = bi.load(NAME, device, args.max_seq_length, precision=p).eval()  # fp32 weights, bf16 products
            variants["xlretrieval (autocast)"] = lambda: encode(autocast, texts, 64)
        for implementation, function in variants.items():
            seconds, vectors = timed(function)
            reference = vectors if reference is None else reference
            row("encode", p, implementation, seconds, len(texts), lengths.sum(), flops, np.abs(vectors - reference).max())

        ours = bi.load(NAME, device, 128, precision=p).train()
        train_lengths = np.array([len(ids) for q, passages in groups for ids in ours.tokenize(q + passages)["input_ids"]])
        train_flops, n_pairs = 3 * forward_flops(ours, train_lengths), len(groups) * args.batch_size

        def our_steps(chunk: int):
            optimizer = torch.optim.AdamW(ours.parameters(), lr=1e-5)
            for q, passages in groups:
                with ours.autocast():
                    loss = info_nce(ours.embed(q, chunk), ours.embed(passages, chunk), 0.05)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()

        for chunk in args.train_chunks or [bi.TRAINING_CHUNK[device.type, p]]:
            row("train", p, f"xlretrieval (chunks of {chunk})", timed(lambda: our_steps(chunk), 1)[0], n_pairs, train_lengths.sum(), train_flops)
        st = SentenceTransformer(str(bi.resolve(NAME)), device=str(device))
        st.max_seq_length = 128
        mnrl = losses.MultipleNegativesRankingLoss(st, scale=20.0)
        st.train()

        def st_steps():
            optimizer = torch.optim.AdamW(st.parameters(), lr=1e-5)
            for q, passages in groups:
                features = [{k: v.to(device) for k, v in st.tokenize(t).items() if hasattr(v, "to")} for t in (q, passages)]
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=p == "bf16"):
                    loss = mnrl(features, None)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()

        row("train", p, "sentence-transformers", timed(st_steps, 1)[0], n_pairs, train_lengths.sum(), train_flops)

    table = pd.DataFrame(rows, columns=["task", "precision", "implementation", "items_per_s", "tokens_per_s", "gflops",
                                        "max_abs_diff_vs_fp32"])
    table["pct_of_peak"] = 100 * table.gflops / table.precision.map(peaks)
    same = table.groupby(["task", "precision"]).items_per_s
    table["speedup_vs_st"] = table.items_per_s / table.task.map(
        table[table.implementation == "sentence-transformers"].set_index(["task", "precision"]).items_per_s.to_dict().get
        and (lambda t: np.nan)) if False else table.items_per_s / same.transform(
        lambda x: x[table.loc[x.index, "implementation"] == "sentence-transformers"].iloc[0])
    fp32 = table[table.precision == "fp32"].groupby("task").items_per_s.first()
    table["speedup_vs_fp32"] = table.items_per_s / table.task.map(fp32)
    table.insert(0, "device", precision.describe(device))
    table["peak_gflops"] = table.precision.map(peaks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    print(table.drop(columns="device").to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
