"""Tiny test collections in the BEIR layout (`<root>/<lang>/corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`),
what a `data.collections` entry's `path: <root>/{lang}` points at.

In every language: passages d1..d6 (titled), queries q1..q4 with graded judgements
q1: d1 = 2, d2 = 1; q2: d3 = 1, d4 = 0 (judged non-relevant); q3: d5 = 1; q4: d6 = 0 only (so q4 is no
evaluated query). A parallel collection uses the same query ids for the translations of a question; one
that is not gives each language its own questions under ids that repeat across languages (as MIRACL's do).
"""

from __future__ import annotations

import json
from pathlib import Path

JUDGEMENTS = [("q1", "d1", 2), ("q1", "d2", 1), ("q2", "d3", 1), ("q2", "d4", 0), ("q3", "d5", 1), ("q4", "d6", 0)]
TOPICS = {"d1": "river", "d2": "river bank", "d3": "mountain", "d4": "mountain pass", "d5": "violin", "d6": "comet"}
QUESTIONS = {"q1": "river", "q2": "mountain", "q3": "violin", "q4": "comet"}


def passage(lang: str, docid: str) -> dict:
    return {"_id": docid, "title": f"{TOPICS[docid].title()} ({lang})", "text": f"[{lang}] a passage on the {TOPICS[docid]}, {docid}."}


def question(lang: str, qid: str, parallel: bool) -> str:
    return f"[{lang}] what about the {QUESTIONS[qid]}?" + ("" if parallel else f" ({lang} only)")


def write_beir(root: Path, languages: list[str], parallel: bool, split: str = "test", fillers: int = 0) -> Path:
    """The collection's folders under `root`, each corpus followed by `fillers` unjudged, untitled passages x0, x1, ...;
    returns `root`."""
    for lang in languages:
        folder = root / lang
        (folder / "qrels").mkdir(parents=True, exist_ok=True)
        with open(folder / "corpus.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(passage(lang, docid), ensure_ascii=False) + "\n" for docid in TOPICS)
            out.writelines(json.dumps({"_id": f"x{i}", "title": "", "text": f"[{lang}] filler {i}"}) + "\n" for i in range(fillers))
        with open(folder / "queries.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps({"_id": qid, "text": question(lang, qid, parallel)}) + "\n" for qid in QUESTIONS)
        with open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as out:
            out.write("query-id\tcorpus-id\tscore\n")
            out.writelines(f"{qid}\t{docid}\t{score}\n" for qid, docid, score in JUDGEMENTS)
    return root
