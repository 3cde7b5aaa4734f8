"""`qa bench`: build throughput, warm ask() latency, peak memory, index size and cold `qa ask` time,
at several corpus sizes, for qa and — in the same run, on the same passages and the same model
folder — txtai (Embeddings, faiss backend, hybrid scoring) and LangChain's FAISS vector store.

The corpus is SQuAD v1.1 dev: the first N articles as text files (one per article). Every system
is measured in its own fresh process (so peak memory is its own), one after the other:
    build  — from the files to an index saved on disk, model load included (libraries imported first);
    query  — `ask()` / `search()` for a fixed seeded sample of the articles' questions, k=5, warm;
    recall — share of those questions with a gold answer string in the top 5 passages.
The peers index exactly the passages qa's chunker cuts (their embedding text, title included),
so build and quality compare the engines, not the chunking.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYSTEMS = ("qa", "qa-int8", "txtai", "langchain")  # qa-int8: qa with --precision int8


# -- corpus ---------------------------------------------------------------------------------------
def make_corpus(articles: int, folder: Path, questions: int, data: Path | None = None) -> tuple[Path, Path]:
    """The first `articles` SQuAD dev articles as files, and a JSON file of sampled questions."""
    from qa import evaluate as ev

    path = (data / "squad-v1.1" / "dev-v1.1.json") if data else None
    all_articles = ev.squad_articles(path)
    keep = list(range(min(articles, len(all_articles))))
    docs = ev.squad_documents(all_articles, keep, folder / "docs")
    qs = ev.sample(ev.squad_questions(all_articles, keep), questions)
    qfile = folder / "questions.json"
    qfile.write_text(json.dumps([{"q": q.text, "answers": list(q.answers)} for q in qs]))
    return docs, qfile


def passages(docs: Path) -> list[tuple[int, str, str]]:
    """(id, embedding text, passage text) of every chunk qa cuts from the files (qa.ingest, as a build does)."""
    from qa.embed import Embedder
    from qa.ingest import prepare_folder
    from qa.settings import ChunkSettings

    out = []
    for prepared in prepare_folder([docs], ChunkSettings(), Embedder.shared().token_counter()):
        for chunk, search_text in zip(prepared.chunks, prepared.search_texts):
            out.append((len(out), search_text, chunk.text))
    return out


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))]


# -- one system, in its own process ------------------------------------------------------------------
def _qa_system(docs: Path, index: Path, precision: str = "fp32"):
    from qa.index import Index

    ix = Index(index, precision=precision)
    ix.build([docs], progress=False, log=lambda m: None)
    chunks = ix.stats()["chunks"]
    return chunks, lambda q: [p.text for p in ix.ask(q, k=5).passages]


def _txtai_system(docs: Path, index: Path):
    from txtai import Embeddings

    from qa.embed import bundled_model_path

    rows = passages(docs)
    texts = {i: text for i, _, text in rows}
    emb = Embeddings(path=str(bundled_model_path()), method="sentence-transformers", backend="faiss",
                     content=True, hybrid=True)
    emb.index([(i, search_text, None) for i, search_text, _ in rows])
    emb.save(str(index))
    return len(rows), lambda q: [texts[int(r["id"])] for r in emb.search(q, 5)]


def _langchain_system(docs: Path, index: Path):
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    from qa.embed import bundled_model_path

    rows = passages(docs)
    emb = HuggingFaceEmbeddings(model_name=str(bundled_model_path()), model_kwargs={"device": "cpu", "local_files_only": True},
                                encode_kwargs={"normalize_embeddings": True, "batch_size": 32})
    store = FAISS.from_texts([t for _, t, _ in rows], emb, metadatas=[{"text": text} for _, _, text in rows])
    store.save_local(str(index))
    return len(rows), lambda q: [d.metadata["text"] for d in store.similarity_search(q, k=5)]


def worker(system: str, docs: Path, index: Path, qfile: Path) -> dict:
    """Build and query one system; returns the measurements (run in a fresh process)."""
    import sentence_transformers  # noqa: F401  (imports are not part of any system's build time)

    if system == "txtai":
        import txtai  # noqa: F401
    elif system == "langchain":
        import langchain_community.vectorstores  # noqa: F401
        import langchain_huggingface  # noqa: F401
    if system.startswith("qa"):  # the ONNX graphs are exported once per machine, like a model download
        from qa import onnx_embed
        from qa.embed import bundled_model_path

        onnx_embed.export(bundled_model_path(), "int8" if system == "qa-int8" else "fp32")
    make = {"qa": _qa_system, "qa-int8": lambda d, i: _qa_system(d, i, "int8"),
            "txtai": _txtai_system, "langchain": _langchain_system}[system]
    started = time.perf_counter()
    chunks, search = make(docs, index)
    build_s = time.perf_counter() - started
    questions = json.loads(qfile.read_text())
    search(questions[0]["q"])  # warm-up
    times, hits = [], 0
    for q in questions:
        t = time.perf_counter()
        texts = search(q["q"])
        times.append(time.perf_counter() - t)
        gold = [_norm(a) for a in q["answers"]]
        hits += any(g in _norm(text) for text in texts for g in gold)
    text_mb = _folder_bytes(docs) / 1e6
    return {
        "system": system, "chunks": chunks, "text_mb": round(text_mb, 3), "build_s": round(build_s, 2),
        "chunks_per_s": round(chunks / build_s, 1), "mb_per_s": round(text_mb / build_s, 4),
        "p50_ms": round(1000 * percentile(times, 50), 1), "p95_ms": round(1000 * percentile(times, 95), 1),
        "p99_ms": round(1000 * percentile(times, 99), 1), "recall@5": round(hits / len(questions), 4),
        "questions": len(questions), "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "disk_mb": round(_folder_bytes(index) / 1e6, 2),
    }


def cold_ask(index: Path, question: str, runs: int = 3, env: dict | None = None) -> list[float]:
    """Wall time of fresh `qa ask` processes against `index` (the CLI as a user runs it)."""
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qa.cli", "ask", "--index", str(index), question], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        out.append(time.perf_counter() - t)
    return out


def run(sizes: list[int], systems: list[str], questions: int = 100, cold_runs: int = 3, log=print,
        work: Path | None = None) -> list[dict]:
    rows = []
    root = Path(work or tempfile.mkdtemp(prefix="qa-bench-"))
    try:
        for n in sizes:
            folder = root / f"squad-{n}"
            docs, qfile = make_corpus(n, folder, questions)
            for system in systems:
                index = folder / f"index-{system}"
                shutil.rmtree(index, ignore_errors=True)
                cmd = [sys.executable, "-m", "qa.bench", system, str(docs), str(index), str(qfile)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    why = (done.stderr.strip().splitlines() or ["no output"])[-1]
                    hint = ' (the peers need: pip install -e ".[bench]")' if "No module named" in why else ""
                    log(f"{system} at {n} articles failed: {why}{hint}")
                    continue
                row = {"articles": n, **json.loads(done.stdout.strip().splitlines()[-1])}
                if system.startswith("qa") and cold_runs:
                    q = json.loads(qfile.read_text())[0]["q"]
                    cold = cold_ask(index, q, cold_runs)
                    row["cold_ask_s"] = round(statistics.median(cold), 2)
                rows.append(row)
                log(json.dumps(row))
    finally:
        if work is None:
            shutil.rmtree(root, ignore_errors=True)
    return rows


def table(rows: list[dict]) -> str:
    cols = ["articles", "system", "chunks", "build_s", "chunks_per_s", "mb_per_s", "p50_ms", "p95_ms", "p99_ms",
            "recall@5", "peak_mb", "disk_mb", "cold_ask_s"]
    lines = [" | ".join(cols), " | ".join("---" for _ in cols)]
    for r in rows:
        lines.append(" | ".join(str(r.get(c, "")) for c in cols))
    by_size: dict[int, dict[str, dict]] = {}
    for r in rows:
        by_size.setdefault(r["articles"], {})[r["system"]] = r
    for n, group in by_size.items():
        for mine, ours in group.items():
            for peer, theirs in group.items():
                if not mine.startswith("qa") or peer.startswith("qa"):
                    continue
                lines.append(
                    f"{n} articles, {mine}/{peer}: build throughput ×{ours['chunks_per_s'] / theirs['chunks_per_s']:.2f}, "
                    f"query p50 ×{ours['p50_ms'] / theirs['p50_ms']:.2f} (lower is faster), "
                    f"recall@5 {ours['recall@5']:.3f} vs {theirs['recall@5']:.3f}"
                )
    return "\n".join(lines)


if __name__ == "__main__":  # the worker: python -m qa.bench SYSTEM DOCS INDEX QUESTIONS
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the peers' loaders would otherwise ask the hub
    result = worker(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    print(json.dumps(result))
