"""Issue 7 lever: does document-level evidence lift SciFact to nDCG@10 0.74?

    python benchmarks/document_evidence.py --split train     # choose (wl, wd) here
    python benchmarks/document_evidence.py --split test      # then read the chosen point here

Each SciFact abstract is one short document cut into ~3.4 chunks, so a claim may match the
abstract as a whole better than any one chunk. Over the cached `qa eval scifact` index (built on
first use, as `qa eval` builds it), every retrieved passage's fused score gets
wl × the document's BM25 score (over its whole text, scaled by the best candidate document's) plus
wd × the question's cosine with the document's mean chunk vector; documents are ranked by their
best passage in retrieval order (not `ask()` order, whose sentence re-ranking would blur the
comparison; wl = wd = 0 is the baseline). Prints nDCG@10 for each (wl, wd).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.evaluate import built_index, memo_for, ndcg_at, scifact_documents, scifact_queries
from qa.search import QUESTION_WORDS, Query, _with_context_vectors, retrieve
from qa.settings import Settings, eval_cache
from qa.stores.faiss import _fit_bm25
from qa.text import terms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--lexical", type=float, nargs="*", default=[0.0, 0.1], help="weights wl to try")
    ap.add_argument("--dense", type=float, nargs="*", default=[0.0, 0.3, 0.5, 0.7, 1.0], help="weights wd to try")
    args = ap.parse_args()

    settings = Settings()
    memo = memo_for(settings)
    ix = built_index("scifact", scifact_documents(eval_cache() / "scifact-docs"), settings, memo)
    snap = ix.snapshot()
    docs = snap.documents()
    row_of = {d.id: i for i, d in enumerate(docs)}
    # Documents scored by BM25 as the index scores chunks (same fitting, same k1 and b).
    texts = ((i, " ".join(terms(snap.document_text(d.id)))) for i, d in enumerate(docs))
    doc_bm25 = _fit_bm25(texts, settings.lexical.k1, settings.lexical.b)[1]

    queries, qrels = scifact_queries(args.split)
    qids = sorted(queries, key=int)
    question_vectors = memo.encode([queries[q] for q in qids])
    depth = 400
    search = replace(ix.search_settings, depth=depth)
    grid = [(wl, wd) for wl in args.lexical for wd in args.dense]
    scores: dict[tuple[float, float], list[float]] = {point: [] for point in grid}
    for qvec, qid in zip(question_vectors, qids):
        question_terms = terms(queries[qid])
        hits = retrieve(snap, Query(queries[qid], tuple(question_terms), qvec), depth, search)
        known = [doc_bm25.vocab_dict[t] for t in question_terms if t not in QUESTION_WORDS and t in doc_bm25.vocab_dict]
        doc_lexical = doc_bm25.get_scores_from_ids(known) if known else np.zeros(len(docs))
        rows = np.array([row_of[h.chunk.doc_id] for h in hits])
        top = float(doc_lexical[rows].max()) if len(rows) else 0.0
        lexical_part = doc_lexical[rows] / top if top > 0 else np.zeros(len(rows))
        for wl, wd in grid:
            # The wd part is search.context_weight's whole-document evidence, as ask() adds it.
            with_context = _with_context_vectors(snap, hits, qvec, wd, 0) if wd else hits
            best: dict[str, float] = {}
            for h, s in zip(hits, np.array([h.score for h in with_context]) + wl * lexical_part):
                stem = Path(h.chunk.source).stem
                best[stem] = max(best.get(stem, -np.inf), float(s))
            scores[(wl, wd)].append(ndcg_at(sorted(best, key=lambda d: -best[d]), qrels[qid], 10))
    print(f"SciFact {args.split}, {len(qids)} claims, documents ranked by best passage in retrieval order")
    for (wl, wd), values in scores.items():
        print(f"wl {wl:<4} wd {wd:<4} nDCG@10 {np.mean(values):.4f}")


if __name__ == "__main__":
    main()
