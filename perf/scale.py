"""Search at scale: a synthetic pool of 1M random unit vectors, exact sharded search vs HNSW and IVF.

    python perf/scale.py [--candidates 1000000] [--questions 1000] [--languages 4] [--depth 100]
                               [--indexes exact ivf hnsw] [--shard-size 65536] [--out results/scale.tsv]

Writes the candidate embeddings (float32 .npy, generated and written shard by shard through a memory
map, never whole in memory) and the tables (Parquet) to a temporary folder beside --out. Each question
id is asked in every language and has one answer per language; a question is a noisy copy of its
answer in its own language. Then, each in a fresh process, runs what the `search` rule runs
(`xlretrieval.search.output.search` on memory-mapped embeddings: every setting, TREC runs and exact ranks)
with each index type, and reports wall and CPU time, seconds per phase, peak RSS (ru_maxrss: it
includes the resident pages of the memory-mapped candidate file, which the kernel may drop at any
time), peak anonymous memory (RssAnon, sampled every 20 ms), and the recall@10 and @depth of each
approximate run against exact search, averaged over query sets. Prints a Markdown table and writes
it as TSV.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from xlretrieval.data.benchmark import BenchmarkTables
from xlretrieval.encoding import open_embeddings
from xlretrieval.search.index import IndexSpec
from xlretrieval.search.output import search

GIB = 2**30


def write_pool(folder: Path, candidates: int, questions: int, languages: int, dimension: int, seed: int = 0) -> None:
    """Synthetic tables and embeddings in `folder`: candidates split evenly over the languages."""
    rng = np.random.default_rng(seed)
    langs = [f"l{i}" for i in range(languages)]
    per_lang = candidates // languages
    vectors = open_embeddings(folder / "candidates.npy", per_lang * languages, dimension)
    for start in range(0, len(vectors), 65536):
        block = rng.standard_normal((min(65536, len(vectors) - start), dimension), dtype=np.float32)
        vectors[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    vectors.flush()
    ids = [f"q{i:06d}" for i in range(questions // languages)]
    answers = np.stack([lang * per_lang + rng.choice(per_lang, len(ids), replace=False) for lang in range(languages)])
    asked = vectors[answers.ravel()] + 0.05 * rng.standard_normal((answers.size, dimension), dtype=np.float32)
    np.save(folder / "questions.npy", asked / np.linalg.norm(asked, axis=1, keepdims=True))
    del vectors
    BenchmarkTables(
        pd.DataFrame({"question_id": ids * languages, "lang": np.repeat(langs, len(ids))}),
        pd.DataFrame({"candidate_id": [f"{lang}/{i:07d}" for lang in langs for i in range(per_lang)], "lang": np.repeat(langs, per_lang)}),
        pd.DataFrame(
            {
                "question_id": ids * languages,
                "lang": np.repeat(langs, len(ids)),
                "candidate_id": [f"{langs[a // per_lang]}/{a % per_lang:07d}" for a in answers.ravel()],
            }
        ),
    ).write(folder / "tables")


def anonymous_memory() -> int:
    """Resident anonymous memory of this process (bytes): what it allocated, without mapped files."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def run_search(folder: Path, depth: int, index: IndexSpec) -> dict:
    """In a fresh process: what the `search` rule does, with its time, peak memory and recall."""
    peak = {"anon": 0}
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak["anon"] = max(peak["anon"], anonymous_memory())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    tables = BenchmarkTables.read(folder / "tables")
    questions, candidates = (np.load(folder / f"{name}.npy", mmap_mode="r") for name in ("questions", "candidates"))
    report = search(tables, questions, candidates, depth, folder / "runs" / index.type, tag=index.type, index=index)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    row = {"index": index.type, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}
    row.update({f"{phase}_s": s for phase, s in report.seconds.items()})
    row["peak_rss_gib"] = usage.ru_maxrss * 1024 / GIB
    row["peak_anon_gib"] = max(peak["anon"], anonymous_memory()) / GIB
    for k, group in report.recall.groupby("k"):
        row[f"recall@{k}"] = group.recall.mean()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--languages", type=int, default=4)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--shard-size", type=int, default=IndexSpec().shard_size)
    parser.add_argument("--indexes", nargs="+", default=["exact", "ivf", "hnsw"], choices=["exact", "ivf", "hnsw"])
    parser.add_argument("--out", type=Path, default=Path("results/scale.tsv"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out.parent, prefix="scale-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        write_pool(folder, args.candidates, args.questions, args.languages, args.dimension)
        size = (folder / "candidates.npy").stat().st_size / GIB
        print(
            f"wrote {args.candidates} x {args.dimension} candidate vectors in {args.languages} languages ({size:.2f} GiB) "
            f"in {time.perf_counter() - start:.0f} s; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        rows = []
        for kind in args.indexes:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as fresh:
                rows.append(fresh.submit(run_search, folder, args.depth, IndexSpec(type=kind, shard_size=args.shard_size)).result())
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.insert(1, "candidates", args.candidates)
    table.insert(2, "questions", args.questions)
    table.insert(3, "shard_size", args.shard_size)
    first = ["index", "candidates", "questions", "shard_size", "wall_s", "cpu_s", "read_s", "score_s", "select_s"]
    table = table[first + [c for c in table.columns if c not in first]]
    table.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    print(table.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
