"""Asking within chosen documents against asking everything, on ~21,000 chunks of real text.

    python benchmarks/filtered_ask.py --index /tmp/qa-filter/index --questions 200 \\
        --vectors-from /tmp/qa-eval/squad-*/index/embeddings.sqlite /tmp/qa-eval/scifact-*/index/embeddings.sqlite

The index holds the 48 SQuAD v1.1 dev articles and the 5,183 BEIR SciFact abstracts as files (as
benchmarks/real_text.py builds it; `--vectors-from` seeds its embedding cache from `qa eval`'s so
the build runs no model). A fixed sample of SQuAD questions is asked four ways, warm, in one run:
everything; within the question's own article (1 document of 5,231); within the SQuAD folder
(48 documents, ~3,600 chunks); within the SciFact folder (5,183 documents, ~17,800 chunks, none of
which answers). Prints p50/p95 per way and recall@5 of the gold answer, everything vs own article.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_text import seed_cache  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default="/tmp/qa-filter/index")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--vectors-from", nargs="*", default=[])
    args = ap.parse_args()

    from qa import Index
    from qa import evaluate as ev
    from qa.settings import eval_cache

    articles = ev.squad_articles()
    squad_docs = ev.squad_documents(articles, list(range(len(articles))), eval_cache() / "squad-docs")
    scifact_docs = ev.scifact_documents(eval_cache() / "scifact-docs")
    index = Path(args.index)
    if not (index / "CURRENT").exists():
        if args.vectors_from:
            seed_cache(index / "embeddings.sqlite", [Path(f) for f in args.vectors_from])
        done = subprocess.run([sys.executable, "-m", "qa.cli", "build", str(squad_docs), str(scifact_docs),
                               "--index", str(index), "--json"], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(done.stderr[-2000:])
    ix = Index(index)
    chunks = ix.snapshot().count()[1]
    sources = {d.source for d in ix.documents()}
    article_source = {i: next(s for s in sources if s.startswith(f"squad-docs/{i:02d}_")) for i in range(len(articles))}
    questions = ev.sample(ev.squad_questions(articles, list(range(len(articles)))), args.questions)
    random.Random(13).shuffle(questions)

    ways = {
        "everything": lambda q: None,
        "own article (1 document)": lambda q: [article_source[q.article]],
        "squad-docs/ (48 documents)": lambda q: ["squad-docs"],
        "scifact-docs/ (5,183 documents)": lambda q: ["scifact-docs"],
    }
    for way in ways.values():  # warm: the model, the snapshot, each choice's chunk ids
        ix.ask(questions[0].text, sources=way(questions[0]))
    times: dict[str, list[float]] = {w: [] for w in ways}
    hits: dict[str, int] = {w: 0 for w in ways}
    for q in questions:
        gold = [" ".join(a.lower().split()) for a in q.answers]
        for name, way in ways.items():  # interleaved, so machine noise falls on every way alike
            t = time.perf_counter()
            answer = ix.ask(q.text, k=5, sources=way(q))
            times[name].append(1000 * (time.perf_counter() - t))
            hits[name] += any(g in " ".join(p.text.lower().split()) for p in answer.passages for g in gold)
    rows = {name: {"p50_ms": round(statistics.median(ts), 1), "p95_ms": round(percentile(ts, 95), 1),
                   "recall@5": round(hits[name] / len(questions), 3)} for name, ts in times.items()}
    print(json.dumps({"chunks": chunks, "documents": len(sources), "questions": len(questions), "rows": rows}, indent=2))
    base = rows["everything"]["p50_ms"]
    for name, row in rows.items():
        print(f"{name:34} p50 {row['p50_ms']:6.1f} ms (x{row['p50_ms'] / base:.2f})  p95 {row['p95_ms']:6.1f} ms  "
              f"recall@5 {row['recall@5']:.3f}")


if __name__ == "__main__":
    main()
