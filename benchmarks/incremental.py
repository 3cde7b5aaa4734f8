"""Full build of N documents vs adding one document and removing one (issue: cost follows the change).

    python benchmarks/incremental.py --docs 500

Documents are SQuAD v1.1 dev paragraphs read from ../shared/data (one paragraph per file), or
synthetic text when that folder is absent. The model is loaded before timing, so both timings
cover the same work: loading, chunking, embedding what is new, writing and swapping a version.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from qa import Index
from qa.embed import Embedder

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-v1.1" / "dev-v1.1.json"


def paragraphs(n: int) -> list[str]:
    if SQUAD.exists():
        data = json.loads(SQUAD.read_text())["data"]
        out = [p["context"] for article in data for p in article["paragraphs"]]
        return out[:n]
    import random

    rng = random.Random(0)
    words = "river town bridge council market school harbour museum rebuilt opened history people".split()
    return [" ".join(rng.choice(words) for _ in range(120)) + "." for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=500)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="qa-incremental-"))
    try:
        texts = paragraphs(args.docs + 1)
        corpus = work / "corpus"
        corpus.mkdir()
        for i, text in enumerate(texts[:-1]):
            (corpus / f"p{i:05d}.txt").write_text(text)
        Embedder.shared().encode(["warm up"])  # model load is not part of either timing

        ix = Index(work / "index")
        t = time.perf_counter()
        full = ix.build([corpus], progress=False)
        full_s = time.perf_counter() - t

        new = corpus / "new.txt"
        new.write_text(texts[-1])
        t = time.perf_counter()
        added = ix.add([new])
        add_s = time.perf_counter() - t

        t = time.perf_counter()
        removed = ix.remove([corpus / "p00000.txt"])
        remove_s = time.perf_counter() - t

        t = time.perf_counter()
        synced = ix.build([corpus], progress=False)
        sync_s = time.perf_counter() - t

        print(f"corpus: {full.documents} documents, {full.chunks_total} chunks ({'SQuAD dev paragraphs' if SQUAD.exists() else 'synthetic'})")
        print(f"full build:          {full_s:8.2f} s  ({full.chunks_embedded} chunks embedded)")
        print(f"add one document:    {add_s:8.2f} s  ({added.chunks_embedded} chunks embedded)  full/add = {full_s / add_s:6.1f}x")
        print(f"remove one document: {remove_s:8.2f} s  ({removed.chunks_embedded} chunks embedded)  full/remove = {full_s / remove_s:6.1f}x")
        print(f"re-sync, no change:  {sync_s:8.2f} s  ({synced.chunks_embedded} chunks embedded, {synced.unchanged} unchanged)")
        assert removed.chunks_embedded == 0 and synced.chunks_embedded == 0
        print("consistency:", "ok" if ix.check() == [] else ix.check())
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
