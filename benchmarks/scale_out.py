"""Scale-out measurements: Milvus Lite against FAISS, and Ray Data against single-process embedding.

    python benchmarks/scale_out.py                       # 100k vectors, 200 queries, 1000 texts
    python benchmarks/scale_out.py --vectors 20000 --texts 200 --no-ray   # quicker

Vectors: 384-d, L2-normalized, drawn around 1000 random centres (clustered like sentence
embeddings, so approximate indexes behave as they do on text). Recall@10 is against exact inner
product search in NumPy. Each backend inserts the same vectors in batches of 2000 and answers the
same queries one at a time; p50 is the median per-query latency. Embedding: the bundled MiniLM on
synthetic chunk-sized texts, one process (torch on all cores, then on one thread) against Ray
Data `map_batches` with N embedding actors (one CPU each) on a local Ray; Ray's start-up is
timed separately.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 384


def data(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM)).astype(np.float32)
    x = centres[rng.integers(0, 1000, n)] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32)
    q = centres[rng.integers(0, 1000, queries)] + 0.6 * rng.standard_normal((queries, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, q


def exact(x: np.ndarray, q: np.ndarray, k: int = 10) -> np.ndarray:
    return np.argsort(-(q @ x.T), axis=1)[:, :k]


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def bench_faiss(x, q, truth, kind: str) -> dict:
    import faiss

    from qa.stores.faiss import IVF_NPROBE_SHARE, _new_vector_index, _to_ivf

    ids = np.arange(len(x), dtype=np.int64)
    t = time.perf_counter()
    index = _new_vector_index(DIM)
    for i in range(0, len(x), 2000):
        index.add_with_ids(x[i:i + 2000], ids[i:i + 2000])
    if kind == "ivf":
        index = _to_ivf(index, DIM)  # what FaissStore does above 200k chunks
        faiss.extract_index_ivf(index).nprobe = max(8, int(faiss.extract_index_ivf(index).nlist * IVF_NPROBE_SHARE))
    insert = time.perf_counter() - t
    found, lat = [], []
    for v in q:
        t = time.perf_counter()
        _, i = index.search(v[None, :], 10)
        lat.append(time.perf_counter() - t)
        found.append(i[0].tolist())
    return {"backend": f"FAISS {'IVF-flat' if kind == 'ivf' else 'flat (exact)'}", "insert_per_s": len(x) / insert,
            "query_p50_ms": 1000 * float(np.median(lat)), "recall_at_10": recall(found, truth)}


def bench_milvus(x, q, truth, index_type: str, folder: Path) -> dict:
    from pymilvus import DataType, MilvusClient

    c = MilvusClient(str(folder / f"bench_{index_type.lower()}.db"))
    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    ip = c.prepare_index_params()
    ip.add_index("vector", index_type=index_type, metric_type="IP",
                 params={"M": 16, "efConstruction": 200} if index_type == "HNSW" else {})
    c.create_collection("bench", schema=s, index_params=ip)
    t = time.perf_counter()
    for i in range(0, len(x), 2000):
        c.insert("bench", [{"id": i + j, "vector": v} for j, v in enumerate(x[i:i + 2000].tolist())])
    c.flush("bench")
    c.load_collection("bench")
    c.search("bench", data=[q[0].tolist()], anns_field="vector", limit=10)  # first search builds segment indexes
    insert = time.perf_counter() - t
    params = {"metric_type": "IP", "params": {"ef": 64} if index_type == "HNSW" else {}}
    found, lat = [], []
    for v in q.tolist():
        t = time.perf_counter()
        res = c.search("bench", data=[v], anns_field="vector", limit=10, search_params=params)
        lat.append(time.perf_counter() - t)
        found.append([int(h["id"]) for h in res[0]])
    c.close()
    return {"backend": f"Milvus Lite {index_type}", "insert_per_s": len(x) / insert,
            "query_p50_ms": 1000 * float(np.median(lat)), "recall_at_10": recall(found, truth)}


def bench_embedding(n: int, actors: int) -> list[dict]:
    import ray

    from qa.embed import Embedder
    from qa.ray_embed import RayEncoder, start_local

    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from corpus_gen import document

    texts = [document(i, 5).replace("\n", " ")[:700] for i in range(n)]
    e = Embedder.shared()
    e.encode(texts[:8])  # load the model outside the timing
    t = time.perf_counter()
    single = e.encode(texts)
    t_single = time.perf_counter() - t
    import torch  # the same process with one torch thread, as each Ray actor has (OMP_NUM_THREADS=1)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t = time.perf_counter()
        e.encode(texts)
        t_one = time.perf_counter() - t
    finally:
        torch.set_num_threads(threads)
    t = time.perf_counter()
    start_local(actors)  # offline: no usage stats, no dashboard
    t_start = time.perf_counter() - t
    try:
        t = time.perf_counter()
        distributed = RayEncoder("local", actors=actors)(texts)
        t_ray = time.perf_counter() - t
    finally:
        ray.shutdown()
    diff = float(np.abs(single - distributed).max())
    return [
        {"embedding": f"single process ({threads} torch threads)", "texts": n, "seconds": t_single,
         "texts_per_s": n / t_single},
        {"embedding": "single process (1 torch thread)", "texts": n, "seconds": t_one, "texts_per_s": n / t_one},
        {"embedding": f"Ray Data, {actors} actors (local)", "texts": n, "seconds": t_ray, "texts_per_s": n / t_ray,
         "ray_start_s": t_start, "max_abs_diff_vs_single": diff},
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--no-vectors", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    results: dict = {"vectors": args.vectors, "queries": args.queries}
    if not args.no_vectors:
        x, q = data(args.vectors, args.queries)
        truth = exact(x, q)
        folder = Path(tempfile.mkdtemp(prefix="qa-scale-"))
        try:
            rows = [bench_faiss(x, q, truth, "flat"), bench_faiss(x, q, truth, "ivf"),
                    bench_milvus(x, q, truth, "FLAT", folder), bench_milvus(x, q, truth, "HNSW", folder)]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        results["stores"] = rows
        print(f"{args.vectors} vectors x {DIM} d, {args.queries} queries, k=10")
        print(f"{'backend':24} {'insert/s':>10} {'query p50 ms':>13} {'recall@10':>10}")
        for r in rows:
            print(f"{r['backend']:24} {r['insert_per_s']:10.0f} {r['query_p50_ms']:13.2f} {r['recall_at_10']:10.3f}")
    if not args.no_ray:
        rows = bench_embedding(args.texts, args.actors)
        results["embedding"] = rows
        print(f"\nembedding {args.texts} chunk-sized texts (bundled MiniLM)")
        for r in rows:
            extra = f"  (Ray start {r['ray_start_s']:.1f} s, max |diff| {r['max_abs_diff_vs_single']:.1e})" if "ray_start_s" in r else ""
            print(f"{r['embedding']:32} {r['seconds']:7.1f} s {r['texts_per_s']:7.1f} texts/s{extra}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
