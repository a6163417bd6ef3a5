"""GPU hours of the paper-scale study (config/paper.yaml), estimated from FLOPs and a measured CPU step.

    python perf/paper_estimate.py [--cpu-batch 8] [--steps 3] [--mfu 0.35] [--peak-tflops 989]

No GPU and no download is needed: an XLM-R-base-sized encoder (transformers `XLMRobertaConfig`, random
weights, 278M parameters) runs a few real training steps (our forward, InfoNCE, AdamW) and encoding
batches on this machine's CPU. The measured seconds, set against the FLOPs of the same work, give the
utilisation our code reaches here; the GPU figure assumes `--mfu` of an H100's dense bf16 peak
(989 TFLOP/s; 30-40% is what BERT-base-sized training and inference typically reach). A training step
cannot be faster than launching its kernels: on a GPU a training step packs the queries and the passages into a
row each (`packing`) and attends in blocks of 64 texts (`model.ATTENTION_BLOCK`; 4 blocks a step at batch 100);
counting each block as a padded forward pass of some 450 kernels forward and backward at ~15 us of eager dispatch,
~7 ms (`--dispatch-ms`), bounds it from above; the step time is the larger of the two. Token counts are
assumptions, printed with the results: mMARCO queries 16 and passages 128 XLM-R tokens (MS MARCO passages
average ~60 English words; translations tokenise longer), MIRACL passages 160 (title + paragraph), XQuAD-R
and MLQA-R questions 16 and sentences 40.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from transformers import AutoModel, XLMRobertaConfig

from xlretrieval.model import ATTENTION_BLOCK, BiEncoder
from xlretrieval.training import info_nce

# MIRACL v1.0 corpus sizes (passages, from MIRACL's README; de and yo from the corpus card) and dev queries.
MIRACL_PASSAGES = {
    "ar": 2_061_414,
    "bn": 297_265,
    "de": 15_866_222,
    "en": 32_893_221,
    "es": 10_373_953,
    "fa": 2_207_172,
    "fi": 1_883_509,
    "fr": 14_636_953,
    "hi": 506_264,
    "id": 1_446_315,
    "ja": 6_953_614,
    "ko": 1_486_752,
    "ru": 9_543_918,
    "sw": 131_924,
    "te": 518_079,
    "th": 542_166,
    "yo": 49_043,
    "zh": 4_934_368,
}
MIRACL_QUERIES = 13_495  # dev queries over the 18 languages
MIRACL_JUDGED = 130_000  # judged passages over the 18 languages, approximately (about 10 per query)
# Texts encoded per model for the LAReQA benchmarks (all languages, all articles).
XQUAD_R = {"questions": 13_090, "sentences": 13_014}
MLQA_R = {"questions": 4_199, "sentences": 20_534}
TOKENS = {"query": 16, "passage": 128, "miracl_passage": 160, "sentence": 40}


def forward_flops(config, tokens: float, length: float) -> float:
    """Forward FLOPs of the encoder layers for `tokens` tokens in sequences of `length` (embeddings are lookups)."""
    h, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return layers * tokens * (2 * (4 * h * h + 2 * h * f) + 4 * h * length)


def step_flops(config, batch: int) -> float:
    """One training step: forward and backward (3x forward) of `batch` queries and `batch` passages."""
    return 3 * (forward_flops(config, batch * TOKENS["query"], TOKENS["query"]) + forward_flops(config, batch * TOKENS["passage"], TOKENS["passage"]))


def encoding_flops(config, texts_by_length: dict[int, float]) -> float:
    return sum(forward_flops(config, n * length, length) for length, n in texts_by_length.items())


def random_batch(vocab: int, batch: int, length: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.from_numpy(rng.integers(5, vocab, size=(batch, length)))
    return ids, torch.ones_like(ids)


def measure(batch: int, steps: int, encode_batch: int) -> dict:
    """Seconds per training step (batch queries + batch passages) and per encoding batch, CPU fp32."""
    config = XLMRobertaConfig(vocab_size=250_002, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5)  # xlm-roberta-base
    encoder = BiEncoder(AutoModel.from_config(config), tokenizer=None)
    print(f"parameters: {sum(p.numel() for p in encoder.parameters()) / 1e6:.0f}M, threads: {torch.get_num_threads()}")
    rng = np.random.default_rng(0)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=3e-5, weight_decay=0.01)

    def train_step():
        queries = encoder(*random_batch(config.vocab_size, batch, TOKENS["query"], rng))
        passages = encoder(*random_batch(config.vocab_size, batch, TOKENS["passage"], rng))
        info_nce(queries, passages, 0.05).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    encoder.train()
    train_step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        train_step()
    step = (time.perf_counter() - start) / steps
    encoder.eval()
    ids, mask = random_batch(config.vocab_size, encode_batch, TOKENS["miracl_passage"], rng)
    with torch.inference_mode():
        encoder(ids, mask)
        start = time.perf_counter()
        encoder(ids, mask)
        encode = time.perf_counter() - start
    return {"config": config, "step_s": step, "encode_batch_s": encode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-batch", type=int, default=8, help="pairs per measured CPU step (a multiple of 8)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--encode-batch", type=int, default=16)
    parser.add_argument("--mfu", type=float, default=0.35, help="assumed share of the GPU's peak reached")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="H100 SXM dense bf16")
    parser.add_argument("--batch", type=int, default=100, help="training batch of config/paper.yaml")
    parser.add_argument("--max-steps", type=int, default=5000, help="training.pairs / batch_size of config/paper.yaml")
    parser.add_argument("--miracl-others", type=int, default=1_000_000, help="data.miracl.others (0: whole corpora)")
    parser.add_argument("--models", type=int, default=18, help="models per family (17 fine-tuned + base)")
    parser.add_argument("--dispatch-ms", type=float, default=7.0, help="kernel dispatch per attention block of texts, forward + backward")
    args = parser.parse_args()

    m = measure(args.cpu_batch, args.steps, args.encode_batch)
    config = m["config"]
    cpu_step_flops = step_flops(config, args.cpu_batch)
    cpu_encode_flops = forward_flops(config, args.encode_batch * TOKENS["miracl_passage"], TOKENS["miracl_passage"])
    gpu = args.peak_tflops * 1e12 * args.mfu
    cap = args.miracl_others or None
    miracl_passages = sum(n if cap is None else min(n, cap) for n in MIRACL_PASSAGES.values()) + (MIRACL_JUDGED if cap else 0)
    eval_flops = encoding_flops(
        config,
        {
            TOKENS["miracl_passage"]: miracl_passages,
            TOKENS["query"]: MIRACL_QUERIES + XQUAD_R["questions"] + MLQA_R["questions"],
            TOKENS["sentence"]: XQUAD_R["sentences"] + MLQA_R["sentences"],
        },
    )
    dev_share = 20 / 3 / 250  # 20 forward-only dev batches every 250 steps
    gpu_block = ATTENTION_BLOCK["cuda"]
    blocks = 2 * -(-args.batch // gpu_block)
    gpu_step = max(step_flops(config, args.batch) / gpu, blocks * args.dispatch_ms / 1000)
    train_s = args.max_steps * gpu_step * (1 + dev_share)
    eval_s = eval_flops / gpu
    rows = [
        (
            "CPU training step, measured",
            f"{m['step_s']:.2f} s for {args.cpu_batch} pairs ({cpu_step_flops / m['step_s'] / 1e9:.0f} GFLOP/s achieved)",
        ),
        (
            "CPU encoding, measured",
            f"{m['encode_batch_s']:.2f} s for {args.encode_batch} passages ({cpu_encode_flops / m['encode_batch_s'] / 1e9:.0f} GFLOP/s)",
        ),
        ("FLOPs per training step (batch 100)", f"{step_flops(config, args.batch) / 1e12:.2f} TFLOP"),
        (
            "GPU step time at the assumed MFU",
            f"{step_flops(config, args.batch) / gpu * 1000:.0f} ms ({args.mfu:.0%} of {args.peak_tflops:.0f} TFLOP/s)",
        ),
        ("GPU step time, kernel dispatch bound", f"{blocks * args.dispatch_ms:.0f} ms ({blocks} attention blocks of up to {gpu_block} texts)"),
        ("training, one model, no early stop", f"{train_s / 3600:.2f} GPU h ({args.max_steps} steps of {gpu_step * 1000:.0f} ms, dev loss included)"),
        (
            "MIRACL passages encoded per model",
            f"{miracl_passages / 1e6:.1f}M ({'whole corpora' if cap is None else f'judged + {cap:,} per language'})",
        ),
        ("evaluation, one model (3 benchmarks)", f"{eval_s / 3600:.2f} GPU h"),
        ("one model family (train + evaluate)", f"{((args.models - 1) * train_s + args.models * eval_s) / 3600:.1f} GPU h for {args.models} models"),
        (
            "CPU time of the same work (this machine)",
            f"{(args.models - 1) * args.max_steps * m['step_s'] * args.batch / args.cpu_batch / 86400:.0f} days of training alone",
        ),
    ]
    print(pd.DataFrame(rows, columns=["quantity", "estimate"]).to_string(index=False))


if __name__ == "__main__":
    main()
