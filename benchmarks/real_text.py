"""End-to-end build and ask on real text: SQuAD v1.1 dev articles plus the BEIR SciFact abstracts.

    python benchmarks/real_text.py --index /tmp/qa-real/index --questions 200

About 21,000 chunks of real prose (48 Wikipedia articles, 5,183 abstracts), built from files with
`qa build` as a user would (a fresh index and embedding cache unless --keep), then warm `ask()`
latency over a fixed sample of SQuAD questions and SciFact claims. Prints build seconds, chunks/s,
MB of text/s, peak RSS of the build process, index size on disk, and ask p50/p95/p99.
`--vectors-from A.sqlite B.sqlite` seeds the embedding cache from other indexes' caches (e.g. the
`qa eval` indexes under /tmp/qa-eval): the build then does everything but run the model, which
measures what the rest of a build costs at this size; encoder speed is measured on its own.
The documents are written by `qa eval` (`qa.evaluate.squad_documents`, `scifact_documents`).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def seed_cache(target: Path, sources: list[Path]) -> None:
    from qa.stores import EmbeddingCache

    target.parent.mkdir(parents=True, exist_ok=True)
    EmbeddingCache(target).close()  # creates the tables
    db = sqlite3.connect(target)
    for n, source in enumerate(sources):
        db.execute(f"ATTACH DATABASE ? AS s{n}", (str(source),))
        db.execute(f"INSERT OR IGNORE INTO vectors SELECT * FROM s{n}.vectors")
        db.execute(f"INSERT OR IGNORE INTO sentences SELECT * FROM s{n}.sentences")
        db.commit()
        db.execute(f"DETACH DATABASE s{n}")
    db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default="/tmp/qa-real/index")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--keep", action="store_true", help="reuse an existing index (time asks only)")
    ap.add_argument("--vectors-from", nargs="*", default=[], help="embeddings.sqlite files to seed the cache from")
    args = ap.parse_args()

    from qa import evaluate as ev
    from qa.settings import eval_cache

    articles = ev.squad_articles()
    squad_docs = ev.squad_documents(articles, list(range(len(articles))), eval_cache() / "squad-docs")
    scifact_docs = ev.scifact_documents(eval_cache() / "scifact-docs")
    index = Path(args.index)
    text_mb = (folder_mb(squad_docs) + folder_mb(scifact_docs))
    out: dict = {"text_mb": round(text_mb, 2)}
    if not args.keep or not index.exists():
        shutil.rmtree(index, ignore_errors=True)
        if args.vectors_from:
            seed_cache(index / "embeddings.sqlite", [Path(f) for f in args.vectors_from])
            out["vectors_from_cache"] = True
        started = time.perf_counter()
        # A separate process, as a user runs it: its peak RSS is the build's alone.
        done = subprocess.run([sys.executable, "-m", "qa.cli", "build", str(squad_docs), str(scifact_docs),
                               "--index", str(index), "--json"], capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(done.stderr[-2000:])
        report = json.loads(done.stdout)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        out |= {"chunks": report["chunks_total"], "build_s": round(seconds, 1),
                "chunks_per_s": round(report["chunks_total"] / seconds, 1), "mb_per_s": round(text_mb / seconds, 4),
                "build_peak_mb": round(peak)}
    out["disk_mb"] = round(folder_mb(index), 1)

    from qa import Index

    ix = Index(index)
    rng = random.Random(13)
    squad_q = [q["question"] for a in articles for p in a["paragraphs"] for q in p["qas"]]
    claims, _ = ev.scifact_queries("test")
    questions = rng.sample(squad_q, args.questions // 2) + rng.sample(sorted(claims.values()), args.questions - args.questions // 2)
    ix.ask("warm up")
    times = []
    for q in questions:
        t = time.perf_counter()
        ix.ask(q)
        times.append(1000 * (time.perf_counter() - t))
    times.sort()
    out |= {"chunks_indexed": ix.snapshot().count()[1], "questions": len(times),
            "ask_p50_ms": round(statistics.median(times), 1), "ask_p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "ask_p99_ms": round(times[int(0.99 * (len(times) - 1))], 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
