"""A million chunks on one machine: the vector index qa builds above EXACT_SEARCH_LIMIT, and BM25.

    python benchmarks/million.py --n 1000000 --queries 200

Vectors: synthetic, 384-d, normalized: noisy copies (cosine ≈ 0.9) of the ~24k real MiniLM vectors
of SQuAD sentences, questions and chunks that `qa eval squad` leaves in its cache (random centres
when that cache is absent). Queries are 200 other real vectors, held out of the centres. The IVF index is made by
`qa.stores.faiss._to_ivf`, exactly as a commit above the limit makes it, and searched with the nprobe
`Snapshot` sets; recall@10 is measured against exact inner-product search (IndexFlatIP).
Also: an nprobe sweep, SQ8 compression (IVF + 8-bit scalar quantizer: a quarter of the memory),
removal of ids, and BM25 (bm25s) built over a million synthetic passages drawn from SQuAD's word
frequencies, queried with real SQuAD questions (the work `Snapshot.lexical` does per question).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-v1.1" / "dev-v1.1.json"


def real_vectors() -> np.ndarray | None:
    """Real all-MiniLM-L6-v2 vectors of SQuAD sentences, questions and chunks remembered by `qa eval`."""
    import sqlite3

    from qa.settings import eval_cache

    CACHE = eval_cache()

    found = []
    for f in [CACHE / "vectors.sqlite", *CACHE.glob("squad-*/index/embeddings.sqlite")]:
        if f.exists():
            db = sqlite3.connect(f"file:{f}?mode=ro", uri=True)
            found += [np.frombuffer(b, dtype=np.float32) for (b,) in db.execute("SELECT vector FROM vectors")]
            db.close()
    vectors = np.unique(np.array([v for v in found if v.shape == (384,)], dtype=np.float32), axis=0)
    return vectors if len(vectors) >= 1000 else None


def synthetic(n: int, centres: np.ndarray, rng: np.random.Generator, cosine: float = 0.9) -> np.ndarray:
    """n normalized vectors, each a centre plus Gaussian noise, at about `cosine` to its centre."""
    dim = centres.shape[1]
    spread = np.sqrt(1 / cosine**2 - 1) / np.sqrt(dim)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = centres[rng.integers(0, len(centres), m)] + spread * rng.standard_normal((m, dim), dtype=np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


def one_by_one(index, queries: np.ndarray, k: int = 50) -> tuple[np.ndarray, list[float]]:
    """Search one query at a time (as ask() does), depth 50 like SearchSettings.depth."""
    ids, times = [], []
    for q in queries:
        t = time.perf_counter()
        _, i = index.search(q[None, :], k)
        times.append(time.perf_counter() - t)
        ids.append(i[0])
    return np.array(ids), times


def ms(times: list[float], p: int) -> float:
    return round(1000 * float(np.percentile(times, p)), 2)


def vector_part(n: int, n_queries: int, log) -> dict:
    import faiss

    from qa.stores.faiss import IVF_NPROBE_SHARE, _to_ivf

    rng = np.random.default_rng(0)
    dim = 384
    t = time.perf_counter()
    real = real_vectors()
    if real is not None:  # held-out real vectors ask; the index holds noisy copies of the others
        real = real[rng.permutation(len(real))]
        queries, vectors = real[:n_queries].copy(), synthetic(n, real[n_queries:], rng)
        out_source = f"{len(real) - n_queries} real MiniLM vectors of SQuAD text as centres, {n_queries} other real ones as queries"
    else:
        c = rng.standard_normal((20_000, dim), dtype=np.float32)
        c /= np.linalg.norm(c, axis=1, keepdims=True)
        vectors = synthetic(n + n_queries, c, rng)
        queries, vectors = vectors[:n_queries], vectors[n_queries:]
        out_source = "20,000 random centres"
    log(out_source)
    ids = np.arange(1, n + 1, dtype=np.int64)
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    flat.add_with_ids(vectors, ids)
    log(f"{n} vectors made and added to the exact index in {time.perf_counter() - t:.1f} s")
    out: dict = {"n": n, "dim": dim, "queries": n_queries, "vectors": out_source}

    t = time.perf_counter()
    _, truth = flat.search(queries, 10)
    log(f"exact ground truth in {time.perf_counter() - t:.1f} s")
    _, exact_times = one_by_one(flat, queries[:20])
    out["exact"] = {"p50_ms": ms(exact_times, 50), "bytes_per_vector": 4 * dim}

    t = time.perf_counter()
    ivf = _to_ivf(flat, dim)
    out["ivf_build_s"] = round(time.perf_counter() - t, 1)
    del flat
    log(f"IVF (qa.stores.faiss._to_ivf, nlist {ivf.nlist}) built in {out['ivf_build_s']} s")
    default_nprobe = max(8, int(ivf.nlist * IVF_NPROBE_SHARE))
    sweep = []
    for nprobe in sorted({8, 16, 32, 64, default_nprobe, 2 * default_nprobe}):
        ivf.nprobe = nprobe
        found, times = one_by_one(ivf, queries)
        row = {"nprobe": nprobe, "recall@10": round(recall_at(found, truth), 4), "p50_ms": ms(times, 50),
               "p95_ms": ms(times, 95), "p99_ms": ms(times, 99)}
        sweep.append(row)
        log(f"IVF-Flat nlist {ivf.nlist} {json.dumps(row)}")
    out["ivf_flat"] = {"nlist": ivf.nlist, "default_nprobe": default_nprobe, "sweep": sweep,
                       "memory_mb": round((ivf.ntotal * (4 * dim + 8)) / 1e6, 1)}

    # Removal keeps working on IVF (incremental updates): remove 1,000 ids, they are gone.
    gone = ids[:1000]
    t = time.perf_counter()
    removed = ivf.remove_ids(gone)
    out["remove_1000_ms"] = round(1000 * (time.perf_counter() - t), 1)
    ivf.nprobe = default_nprobe
    _, after = ivf.search(queries[:50], 50)
    out["removed"] = int(removed)
    out["removed_ids_returned"] = int(np.isin(after, gone).sum())

    # SQ8: the same coarse quantizer, vectors stored as 8-bit codes (384 B instead of 1,536 B).
    t = time.perf_counter()
    sq = faiss.IndexIVFScalarQuantizer(ivf.quantizer, dim, ivf.nlist, faiss.ScalarQuantizer.QT_8bit,
                                       faiss.METRIC_INNER_PRODUCT)
    sq.train(vectors[rng.choice(n, size=min(n, 100_000), replace=False)])
    sq.set_direct_map_type(faiss.DirectMap.Hashtable)
    sq.add_with_ids(vectors, ids)
    out["sq8_build_s"] = round(time.perf_counter() - t, 1)
    sq8 = []
    for nprobe in sorted({default_nprobe, 2 * default_nprobe}):
        sq.nprobe = nprobe
        found, times = one_by_one(sq, queries)
        sq8.append({"nprobe": nprobe, "recall@10": round(recall_at(found, truth), 4), "p50_ms": ms(times, 50),
                    "p95_ms": ms(times, 95)})
        log(f"IVF-SQ8 {json.dumps(sq8[-1])}")
    out["ivf_sq8"] = {"sweep": sq8, "memory_mb": round(sq.ntotal * (dim + 8) / 1e6, 1)}
    return out


def bm25_part(n: int, n_queries: int, tokens: int, log) -> dict:
    import bm25s

    from qa.text import terms

    data = json.loads(SQUAD.read_text())["data"]
    counts = Counter(t for a in data for p in a["paragraphs"] for t in terms(p["context"]))
    words = np.array(list(counts))
    p = np.array([counts[w] for w in words], dtype=np.float64)
    p /= p.sum()
    rng = np.random.default_rng(1)
    t = time.perf_counter()
    corpus = [list(words[rng.choice(len(words), size=tokens, p=p)]) for _ in range(n)] if n <= 20_000 else None
    if corpus is None:  # sample word ids in bulk: a million passages of `tokens` words
        drawn = rng.choice(len(words), size=(n, tokens), p=p)
        corpus = [list(words[row]) for row in drawn]
    log(f"{n} passages of {tokens} words drawn in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    bm25 = bm25s.BM25()
    bm25.index(corpus, show_progress=False)
    build_s = time.perf_counter() - t
    del corpus
    questions = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    questions = [questions[i] for i in np.random.default_rng(2).choice(len(questions), n_queries, replace=False)]
    times = []
    for q in questions:
        t = time.perf_counter()
        known = [bm25.vocab_dict[w] for w in terms(q) if w in bm25.vocab_dict]
        if known:
            scores = np.asarray(bm25.get_scores_from_ids(known), dtype=np.float32)
            np.argpartition(-scores, 49)[:50]
        times.append(time.perf_counter() - t)
    out = {"n": n, "tokens_per_passage": tokens, "index_s": round(build_s, 1), "p50_ms": ms(times, 50),
           "p95_ms": ms(times, 95), "p99_ms": ms(times, 99)}
    log(f"BM25 {json.dumps(out)}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--bm25-tokens", type=int, default=60)
    ap.add_argument("--skip-bm25", action="store_true")
    ap.add_argument("--skip-vectors", action="store_true")
    args = ap.parse_args()
    log = lambda m: print(m, flush=True)  # noqa: E731
    result = {}
    if not args.skip_vectors:
        result["vectors"] = vector_part(args.n, args.queries, log)
    if not args.skip_bm25:
        result["bm25"] = bm25_part(args.n, args.queries, args.bm25_tokens, log)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
