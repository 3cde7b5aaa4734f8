"""Retrieval: dense (inner product on normalized vectors) and BM25, fused by normalized scores.

Every candidate from either retriever is scored by both, so fusion compares like with like:
cosine similarity as it is, BM25 divided by the best BM25 score among the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.store import Snapshot, StoredChunk

MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class SearchSettings:
    mode: str = "hybrid"
    depth: int = 50  # candidates taken from each retriever before fusion
    dense_weight: float = 0.6  # share of the cosine in the fused score; the rest is normalized BM25 (tuned on SQuAD articles 1-24)
    fusion: str = "weighted"  # "weighted": scores as above; "rrf": reciprocal rank fusion (for comparison)
    rrf_k: int = 60


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float  # fused score, what the ranking uses
    dense: float  # cosine similarity of question and chunk
    lexical: float  # BM25 divided by the best BM25 among candidates (0..1)


def retrieve(
    snapshot: Snapshot,
    question_terms: list[str],
    question_vector: np.ndarray,
    k: int,
    settings: SearchSettings = SearchSettings(),
) -> list[Hit]:
    if settings.mode not in MODES:
        raise ValueError(f"unknown retrieval mode {settings.mode!r}; choose one of {', '.join(MODES)}")
    depth = max(k, settings.depth)
    dense_hits: dict[int, float] = {}
    if settings.mode != "bm25":
        dense_hits = dict(snapshot.dense(question_vector[None, :], depth)[0])

    # A store with its own BM25 search (Milvus) gives the top hits, then scores the other candidates.
    lexical_top = getattr(snapshot, "lexical_top", None) if settings.mode != "dense" else None
    if settings.mode == "dense" or lexical_top is not None:
        bm25_ids, bm25_scores = np.zeros(0, np.int64), np.zeros(0)
    else:
        bm25_ids, bm25_scores = snapshot.lexical(question_terms)
    lexical_hits: dict[int, float] = {}
    if lexical_top is not None:
        lexical_hits = {cid: s for cid, s in lexical_top(question_terms, depth).items() if s > 0}
    if len(bm25_scores) and bm25_scores.max() > 0:
        n = min(depth, len(bm25_scores))
        top = np.argpartition(-bm25_scores, n - 1)[:n]
        lexical_hits = {int(bm25_ids[i]): float(bm25_scores[i]) for i in top if bm25_scores[i] > 0}

    candidates = list(dict.fromkeys([*dense_hits, *lexical_hits]))
    if not candidates:
        return []
    # Fill in the score each candidate did not get from the other retriever.
    missing_dense = [c for c in candidates if c not in dense_hits]
    if missing_dense and settings.mode != "bm25":
        for cid, vec in zip(missing_dense, snapshot.reconstruct(missing_dense)):
            dense_hits[cid] = float(vec @ question_vector)
    if lexical_top is not None:
        lexical_hits.update(snapshot.lexical_scores(question_terms, [c for c in candidates if c not in lexical_hits]))
    if len(bm25_scores):
        rows = np.searchsorted(bm25_ids, np.array(candidates, dtype=np.int64))
        rows = np.clip(rows, 0, len(bm25_ids) - 1)
        for cid, row in zip(candidates, rows):
            if bm25_ids[row] == cid:
                lexical_hits[cid] = float(bm25_scores[row])
    best_lexical = max(lexical_hits.values(), default=0.0) or 1.0

    chunks = snapshot.chunks(candidates)
    rrf: dict[int, float] = {}
    if settings.fusion == "rrf":
        for scores in (dense_hits, lexical_hits):
            for rank, cid in enumerate(sorted(scores, key=lambda c: (-scores[c], c)), 1):
                rrf[cid] = rrf.get(cid, 0.0) + 1 / (settings.rrf_k + rank)
        top = max(rrf.values(), default=1.0)
        rrf = {cid: value / top for cid, value in rrf.items()}
    hits = []
    for cid in candidates:
        if cid not in chunks:
            continue
        dense = dense_hits.get(cid, 0.0)
        lexical = lexical_hits.get(cid, 0.0) / best_lexical
        if settings.mode == "dense":
            score = dense
        elif settings.mode == "bm25":
            score = lexical
        elif settings.fusion == "rrf":
            score = rrf.get(cid, 0.0)
        else:
            score = settings.dense_weight * dense + (1 - settings.dense_weight) * lexical
        hits.append(Hit(chunks[cid], score, dense, lexical))
    hits.sort(key=lambda h: (-h.score, h.chunk.id))
    return hits
