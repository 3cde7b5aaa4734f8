"""Where a warm `Index.ask()` spends its time: question encoding, retrieval, sentence scoring, the rest.

    python benchmarks/ask_breakdown.py --index index --questions 24

Uses the seed questions (tests/seed_questions.py) against an existing index. Each stage is timed
with the ONNX twin (the default for small batches) and with torch (QA_EMBED_BACKEND=torch).
Sentences are encoded at ask time only when the index holds no sentence vectors for them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default="index")
    ap.add_argument("--questions", type=int, default=24)
    args = ap.parse_args()

    from seed_questions import ANSWERABLE

    import qa.answer as answer
    from qa.index import Index
    from qa.search import Query, retrieve
    from qa.text import terms

    ix = Index(args.index)
    questions = [q for q, _ in ANSWERABLE][: args.questions]
    snap = ix.snapshot()
    for backend in ("auto", "torch", "auto", "torch"):
        os.environ["QA_EMBED_BACKEND"] = backend
        e = ix.embedder
        e.encode(["warm up"])
        ix.ask(questions[0])
        stages: dict[str, list[float]] = {"encode question": [], "retrieve": [], "select": [], "whole ask()": []}
        sentences = []
        for q in questions:
            t0 = time.perf_counter()
            qvec = e.encode([q])[0]
            t1 = time.perf_counter()
            hits = retrieve(snap, Query(q, tuple(terms(q)), qvec), 5, ix.search_settings)
            t2 = time.perf_counter()
            counted = []
            answer.select(q, qvec, hits, snap.idf(terms(q)), lambda texts: counted.append(len(texts)) or e.encode(texts), 5,
                          ix.answer_settings)
            t3 = time.perf_counter()
            ix.ask(q)
            t4 = time.perf_counter()
            sentences.append(sum(counted))
            for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                stages[name].append(dt)
        label = "onnx twin" if backend == "auto" else "torch"
        print(f"{label}: median ms — " + ", ".join(f"{k} {1000 * statistics.median(v):.0f}" for k, v in stages.items())
              + f"; {statistics.mean(sentences):.0f} sentences encoded per ask")


if __name__ == "__main__":
    main()
