"""Speed of encoding and training against sentence-transformers and the machine's fp32 peak.

    python benchmarks/speed.py [--texts 1500] [--steps 12] [--out results/speed.tsv]

Measures side by side, in one process, on the same XQuAD-R / MLQA-R texts and batch sizes:
encoding throughput (texts/s, tokens/s) of `xlretrieval.encoding.encode` vs
`SentenceTransformer.encode`; training throughput (pairs/s) of `xlretrieval.training` steps vs a
sentence-transformers MultipleNegativesRankingLoss step on the same batches; and achieved GFLOP/s
as a share of a measured fp32 matmul peak. Prints a table and writes it as TSV.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from xlretrieval import model as bi
from xlretrieval.batching import make_batches
from xlretrieval.data.lareqa import read_dataset
from xlretrieval.data.splits import training_pairs
from xlretrieval.encoding import encode
from xlretrieval.training import info_nce

NAME = "sentence-transformers/all-MiniLM-L6-v2"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def matmul_peak(device: torch.device, size: int = 2048, repeats: int = 10) -> float:
    """Best fp32 GFLOP/s of a square matmul."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
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


def timed(function, repeats: int = 2) -> float:
    function()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-chunks", type=int, nargs="+", default=[bi.TRAINING_CHUNK["cpu"]],
                        help="sequences per forward pass in our training step (model.TRAINING_CHUNK), each timed")
    parser.add_argument("--out", type=Path, default=Path("results/speed.tsv"))
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer, losses

    device = bi.choose_device("auto")
    langs = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
    xquad = read_dataset({lang: DATA / "xquad-r" / f"{lang}.json" for lang in langs})
    rng = np.random.default_rng(0)
    texts = pd.concat([xquad.questions.text, xquad.candidates.text]).to_numpy()
    texts = rng.choice(texts, size=min(args.texts, len(texts)), replace=False).tolist()

    ours = bi.load(NAME, device)
    st = SentenceTransformer(str(bi.resolve(NAME)), device=str(device))
    lengths = np.array([len(ids) for ids in ours.tokenize(texts)["input_ids"]])
    flops = forward_flops(ours, lengths)
    peak = matmul_peak(device)
    t_ours = timed(lambda: encode(ours, texts, 64))
    t_st = timed(lambda: st.encode(texts, batch_size=64))

    mlqa = read_dataset({lang: DATA / "mlqa-r" / f"{lang}.json" for lang in ["ar", "de", "en", "es", "hi", "vi", "zh"]})
    pairs, _ = training_pairs(mlqa, [xquad])
    batches = make_batches(pairs, ["en", "de", "zh", "ar"], 0.5, args.steps * args.batch_size, args.batch_size, 0)
    question = dict(zip(zip(pairs.question_id, pairs.lang), pairs.question))
    passage = dict(zip(pairs.candidate_id, pairs.answer))
    groups = [(
        [question[k] for k in zip(g.question_id, g.question_lang)], [passage[c] for c in g.passage_id]
    ) for _, g in batches.groupby("batch")]
    ours.max_seq_length = st.max_seq_length = 128
    train_lengths = np.array([len(ids) for q, p in groups for ids in ours.tokenize(q + p)["input_ids"]])
    train_flops = 3 * forward_flops(ours, train_lengths)

    def our_steps(chunk: int):
        optimizer = torch.optim.AdamW(ours.parameters(), lr=1e-5)
        for q, p in groups:
            with bi.autocast(device):
                loss = info_nce(ours.embed(q, chunk).float(), ours.embed(p, chunk).float(), 0.05)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    mnrl = losses.MultipleNegativesRankingLoss(st, scale=20.0)

    def st_steps():
        optimizer = torch.optim.AdamW(st.parameters(), lr=1e-5)
        for q, p in groups:
            features = [{k: v.to(device) for k, v in st.tokenize(t).items() if hasattr(v, "to")} for t in (q, p)]
            loss = mnrl(features, None)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    ours.train(), st.train()
    t_train_ours = {chunk: timed(lambda: our_steps(chunk), 1) for chunk in args.train_chunks}
    t_train_st = timed(st_steps, 1)
    n_pairs = len(groups) * args.batch_size
    rows = [
        ("encode", "xlretrieval", len(texts) / t_ours, lengths.sum() / t_ours, flops / t_ours / 1e9),
        ("encode", "sentence-transformers", len(texts) / t_st, lengths.sum() / t_st, flops / t_st / 1e9),
        *[("train", f"xlretrieval (chunks of {chunk})", n_pairs / t, train_lengths.sum() / t, train_flops / t / 1e9)
          for chunk, t in t_train_ours.items()],
        ("train", "sentence-transformers", n_pairs / t_train_st, train_lengths.sum() / t_train_st, train_flops / t_train_st / 1e9),
    ]
    table = pd.DataFrame(rows, columns=["task", "implementation", "items_per_s", "tokens_per_s", "gflops"])
    table["pct_of_peak"] = 100 * table.gflops / peak
    table["speedup_vs_st"] = table.items_per_s / table.groupby("task").items_per_s.transform("last")
    table.insert(0, "device", f"{device.type} ({torch.get_num_threads()} threads)" if device.type == "cpu" else torch.cuda.get_device_name())
    table["fp32_peak_gflops"] = peak
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    print(table.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
