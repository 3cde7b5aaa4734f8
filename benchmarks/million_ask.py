"""A whole `Index.ask()` over about a million chunks: real text plus filler, the encoder stubbed.

    python benchmarks/million_ask.py --index /tmp/qa-million/index --chunks 1000000 --questions 200 \
        --vectors-from /tmp/qa-eval/squad-*/index/embeddings.sqlite /tmp/qa-eval/scifact-*/index/embeddings.sqlite

Encoding a million chunks takes hours on 2 cores, so the build's encoder is replaced: the 48 SQuAD
dev articles and 5,183 SciFact abstracts get their real vectors from the `qa eval` embedding
caches (`--vectors-from`, the default int8 ones), and filler files — sentences of words drawn from
SQuAD's word frequencies — get noisy copies of real vectors (cosine ~0.9, as benchmarks/million.py)
for the chunk and each sentence. Everything else is the real build (load, clean, chunk, SQLite,
BM25, the FAISS IVF index chosen by size) and the real `ask()`, questions encoded by the model.
Prints build time, peak RSS, disk, and ask p50/p95/p99 over SQuAD questions and SciFact claims, with
recall@5 of the SQuAD questions (a gold answer in the top 5 passages) among a million distractors.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from million import real_vectors, synthetic  # noqa: E402
from real_text import folder_mb, seed_cache  # noqa: E402


class NoisyCopies:
    """Stands in for the encoder of a build: noisy copies of real vectors, for chunks and sentences."""

    def __init__(self, centres: np.ndarray, seed: int = 0):
        self.centres = centres
        self.rng = np.random.default_rng(seed)
        self.texts = 0

    def __call__(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.encode_with_sentences(texts, [[] for _ in texts])[0]

    def encode_with_sentences(self, texts, spans, progress: bool = False):
        self.texts += len(texts)
        vectors = synthetic(len(texts), self.centres, self.rng)
        sentences = [synthetic(len(s), self.centres, self.rng) if s else None for s in spans]
        return vectors, sentences


def write_filler(folder: Path, chars: int, articles: list[dict], files: int, seed: int = 7) -> None:
    """Files of sentences made of words drawn from SQuAD's word frequencies (BM25 sees a real vocabulary)."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = Counter(w for a in articles for p in a["paragraphs"] for w in p["context"].split())
    words = list(counts)
    weights = np.array([counts[w] for w in words], dtype=np.float64)
    rng = np.random.default_rng(seed)
    per_file = chars // files
    for n in range(files):
        drawn = rng.choice(len(words), size=per_file // 6, p=weights / weights.sum())
        lengths = rng.integers(8, 25, size=len(drawn) // 8 + 1)
        out, i = [], 0
        for length in lengths:
            if i >= len(drawn):
                break
            sentence = " ".join(words[j] for j in drawn[i : i + length]).rstrip(".,;:") + "."
            out.append(sentence[0].upper() + sentence[1:])
            i += length
        paragraphs = [" ".join(out[k : k + 6]) for k in range(0, len(out), 6)]
        (folder / f"filler{n:06d}.txt").write_text(f"Filler document {n}\n\n" + "\n\n".join(paragraphs) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default="/tmp/qa-million/index")
    ap.add_argument("--chunks", type=int, default=1_000_000, help="about this many chunks in all")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--keep", action="store_true", help="reuse an existing index (time asks only)")
    ap.add_argument("--vectors-from", nargs="*", default=[], help="embeddings.sqlite files with the real texts' vectors")
    args = ap.parse_args()

    from qa import Index
    from qa import evaluate as ev
    from qa.settings import eval_cache

    articles = ev.squad_articles()
    squad_docs = ev.squad_documents(articles, list(range(len(articles))), eval_cache() / "squad-docs")
    scifact_docs = ev.scifact_documents(eval_cache() / "scifact-docs")
    index = Path(args.index)
    filler = index.parent / "filler"
    out: dict = {}
    if not args.keep or not index.exists():
        shutil.rmtree(index, ignore_errors=True)
        real_chunks = 21_400  # what the real files cut into (benchmarks/real_text.py)
        # ~590 new characters per 700-character chunk (one sentence of overlap)
        filler_chars = max(0, args.chunks - real_chunks) * 590
        if not filler.exists():
            write_filler(filler, filler_chars, articles, files=max(1, filler_chars // 60_000))
        if args.vectors_from:
            seed_cache(index / "embeddings.sqlite", [Path(f) for f in args.vectors_from])
        centres = real_vectors()
        encoder = NoisyCopies(centres)
        started = time.perf_counter()
        ix = Index(index, bulk_encode=encoder)
        report = ix.build([squad_docs, scifact_docs, filler], progress=False, log=lambda m: print(m, file=sys.stderr, flush=True))
        seconds = time.perf_counter() - started
        out |= {"chunks": report.chunks_total, "stub_encoded": encoder.texts, "build_s": round(seconds, 1),
                "chunks_per_s": round(report.chunks_total / seconds, 1),
                "build_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "text_mb": round(folder_mb(squad_docs) + folder_mb(scifact_docs) + folder_mb(filler), 1)}
        print(json.dumps(out), file=sys.stderr, flush=True)
    out["disk_mb"] = round(folder_mb(index), 1)

    ix = Index(index)
    snap = ix.snapshot()
    out["chunks_indexed"] = snap.count()[1]
    rng = random.Random(13)
    squad = [(q["question"], [a["text"] for a in q["answers"]]) for a in articles for p in a["paragraphs"] for q in p["qas"]]
    claims, _ = ev.scifact_queries("test")
    squad_sample = rng.sample(squad, args.questions // 2)
    questions = [q for q, _ in squad_sample] + rng.sample(sorted(claims.values()), args.questions - args.questions // 2)
    ix.ask("warm up")
    times, hits = [], 0
    for n, q in enumerate(questions):
        t = time.perf_counter()
        answer = ix.ask(q)
        times.append(1000 * (time.perf_counter() - t))
        if n < len(squad_sample):
            gold = [" ".join(g.lower().split()) for g in squad_sample[n][1]]
            hits += any(g in " ".join(p.text.lower().split()) for p in answer.passages[:5] for g in gold)
    times.sort()
    out |= {"questions": len(times), "ask_p50_ms": round(statistics.median(times), 1),
            "ask_p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "ask_p99_ms": round(times[int(0.99 * (len(times) - 1))], 1),
            "squad_recall@5": round(hits / max(1, len(squad_sample)), 3),
            "ask_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
