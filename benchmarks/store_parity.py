"""SQuAD answer recall on both stores: the same questions through the FAISS and the Milvus Lite index.

    python benchmarks/store_parity.py --limit 300      # a seeded sample of SQuAD dev (split: test)

The FAISS index is the evaluation's own (qa eval squad builds it on first use); the Milvus index is
built from the same documents with vectors taken from the FAISS index's embedding cache, so both
hold identical chunks and vectors and any difference comes from the store (BM25, search).
The Milvus collections are flushed after the build (see --no-flush).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from qa import evaluate as ev
from qa.index import Index
from qa.settings import Settings, eval_cache


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--split", default="test")
    ap.add_argument("--no-flush", action="store_true",
                    help="query Milvus Lite's unsealed write buffer, as after `qa build` (same figures, slower)")
    args = ap.parse_args()
    settings = Settings()
    articles = ev.squad_articles()
    memo = ev.memo_for(settings)
    faiss_ix = ev.squad_index(settings, memo, articles, log=lambda m: None)
    docs = eval_cache() / "squad-docs"
    folder = Path(tempfile.mkdtemp(prefix="qa-parity-"))
    try:
        (folder / "index").mkdir()
        shutil.copy(Path(faiss_ix.path) / "embeddings.sqlite", folder / "index" / "embeddings.sqlite")
        report = Index(folder / "index", chunking=settings.chunk, store=f"milvus://{folder}/squad.db",
                       precision=memo.embedder.precision).build([docs], progress=False, log=lambda m: None)
        milvus_ix = Index(folder / "index", chunking=settings.chunk, search=settings.search, answering=settings.answer,
                          store=f"milvus://{folder}/squad.db", embedder=memo)
        print(report.summary())
        if not args.no_flush:  # one build is one segment either way, so BM25 statistics do not change;
            for name in milvus_ix.store.names.values():  # sealed, Milvus Lite stops rescanning its
                milvus_ix.store.client.flush(name)  # write buffer in Python on every request
        questions = ev.sample(ev.squad_questions(articles, ev.split_articles(len(articles), args.split)), args.limit)
        ev.prepare(faiss_ix, [q.text for q in questions], log=lambda m: None)
        ev.prepare(milvus_ix, [q.text for q in questions], log=lambda m: None)
        rows = {"FAISS": ev.run_squad(faiss_ix, questions).row(), "Milvus Lite": ev.run_squad(milvus_ix, questions).row()}
        keys = [k for k in rows["FAISS"] if k.startswith("recall@") or k in ("sentence_hit@1", "found", "ms_per_question")]
        print(f"SQuAD v1.1 dev, split {args.split}, {len(questions)} questions")
        print(f"{'store':12} " + " ".join(f"{k:>20}" for k in keys))
        for name, row in rows.items():
            print(f"{name:12} " + " ".join(f"{row.get(k)!s:>20}" for k in keys))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
