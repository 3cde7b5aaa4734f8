"""Retrieval: dense (inner product on normalized vectors) and BM25, fused by normalized scores.

Every candidate from either retriever is scored by both, so fusion compares like with like:
cosine similarity as it is, BM25 divided by the best BM25 score among the candidates.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from qa.store import Snapshot, StoredChunk

MODES = ("hybrid", "dense", "bm25")
# Stemmed as qa.text.terms() stems them.
QUESTION_WORDS = frozenset(
    """what which who whom whose when where whi how do doe did done were been has have had can could would
    should shall might must i me my you your we our he him his she her it them
    ani some someth anyth""".split()
)


@dataclass(frozen=True)
class SearchSettings:
    mode: str = "hybrid"
    depth: int = 50  # candidates taken from each retriever before fusion
    dense_weight: float = 0.6  # share of the cosine in the fused score; the rest is normalized BM25 (tuned on SQuAD articles 1-24)
    fusion: str = "weighted"  # "weighted": scores as above; "rrf": reciprocal rank fusion (for comparison); "minmax": cosine min-max scaled over the candidates
    rrf_k: int = 60
    # Pseudo-relevance feedback (off while prf_passages is 0): the first prf_passages fused hits
    # expand the query and retrieval runs again. BM25 gets the prf_terms terms most likely in those
    # passages (RM3: term share in a passage, weighted by the passage's fused score), together
    # weighing prf_lexical times the question's own terms; the dense query gets prf_dense times
    # the passages' mean vector added (Rocchio).
    prf_passages: int = 0
    prf_terms: int = 10
    prf_lexical: float = 0.5
    prf_dense: float = 0.0
    # Query normalization: leave question words and pronouns ("what", "did", "his", ...) out of the
    # BM25 query; being rare in prose, they would weigh as much as the words that carry the question.
    # On: SQuAD articles 1-24 recall@5 0.954 -> 0.958, SciFact train unchanged (README "Answer quality").
    drop_question_words: bool = True
    document_weight: float = 0.0  # add this share of the best other passage's score of the same document
    # Share of a candidate's best stored sentence cosine in its dense score (the rest: the chunk's).
    # Off: 0.3 / 0.6 moved SciFact train by +0.001 / -0.001 and SQuAD 1-24 recall@5 by < 0.001.
    sentence_weight: float = 0.0
    # Context evidence (off): add context_weight times the cosine of the question with the mean
    # vector of the chunk's context: its whole document (context_chunks 0) or the chunks within
    # context_chunks places of it. A SciFact lever (an abstract cut in ~3 chunks is one unit of
    # meaning): whole document at 0.6, SciFact train 0.732 -> 0.741 but SQuAD 1-24 recall@5
    # 0.965 -> 0.955, as the article's mean pulls up its passages that do not answer (README).
    context_weight: float = 0.0
    context_chunks: int = 0
    # With a cross-encoder (Index(reranker=PATH), qa ask/serve --reranker): how many of the first
    # hits it re-scores, and its share of their new score (untuned: no cross-encoder ships here).
    rerank_depth: int = 20
    rerank_weight: float = 0.5


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
    if settings.drop_question_words:
        question_terms = [t for t in question_terms if t not in QUESTION_WORDS] or question_terms
    hits = _retrieve(snapshot, question_terms, {}, question_vector, k, settings)
    if settings.prf_passages <= 0 or not hits:
        return hits
    feedback = hits[: settings.prf_passages]
    expansion: dict[str, float] = {}
    if settings.prf_lexical > 0 and settings.mode != "dense":
        expansion = expansion_terms(feedback, settings.prf_terms, settings.prf_lexical * len(question_terms))
    vector = question_vector
    if settings.prf_dense > 0 and settings.mode != "bm25":
        vector = question_vector + settings.prf_dense * snapshot.reconstruct([h.chunk.id for h in feedback]).mean(axis=0)
        vector = (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)
    if not expansion and vector is question_vector:
        return hits
    return _retrieve(snapshot, question_terms, expansion, vector, k, settings)


def expansion_terms(feedback: list[Hit], count: int, total: float) -> dict[str, float]:
    """RM3-style expansion: the `count` terms most probable in the feedback passages, weights summing to `total`."""
    from qa.text import terms

    weight: dict[str, float] = {}
    for h in feedback:
        words = terms(h.chunk.search_text)
        for t in set(words):
            weight[t] = weight.get(t, 0.0) + max(h.score, 0.0) * words.count(t) / len(words)
    chosen = sorted(weight, key=lambda t: (-weight[t], t))[:count]
    norm = sum(weight[t] for t in chosen) or 1.0
    return {t: total * weight[t] / norm for t in chosen if weight[t] > 0}


def _retrieve(
    snapshot: Snapshot,
    question_terms: list[str],
    expansion: dict[str, float],
    question_vector: np.ndarray,
    k: int,
    settings: SearchSettings,
) -> list[Hit]:
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
        for term, w in expansion.items():
            bm25_scores = bm25_scores + w * snapshot.lexical([term])[1]
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
        for term, w in expansion.items():  # here expansion terms re-score the candidates, they add none
            for cid, s in snapshot.lexical_scores([term], candidates).items():
                lexical_hits[cid] = lexical_hits.get(cid, 0.0) + w * s
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
    dense_low, dense_high = 0.0, 1.0
    if settings.fusion == "minmax" and dense_hits:
        dense_low, dense_high = min(dense_hits.values()), max(dense_hits.values())
    hits = []
    for cid in candidates:
        if cid not in chunks:
            continue
        dense = dense_hits.get(cid, 0.0)
        sv = chunks[cid].sentence_vectors
        if settings.sentence_weight > 0 and sv is not None and not np.isnan(sv[:, 0]).all():
            best_sentence = float(np.nanmax(sv.astype(np.float32) @ question_vector))
            dense = (1 - settings.sentence_weight) * dense + settings.sentence_weight * best_sentence
        lexical = lexical_hits.get(cid, 0.0) / best_lexical
        if settings.mode == "dense":
            score = dense
        elif settings.mode == "bm25":
            score = lexical
        elif settings.fusion == "rrf":
            score = rrf.get(cid, 0.0)
        else:
            scaled = (dense - dense_low) / ((dense_high - dense_low) or 1.0)
            score = settings.dense_weight * scaled + (1 - settings.dense_weight) * lexical
        hits.append(Hit(chunks[cid], score, dense, lexical))
    if settings.document_weight > 0:
        hits = _with_document_evidence(hits, settings.document_weight)
    if settings.context_weight > 0 and settings.mode != "bm25":
        hits = _with_context_vectors(snapshot, hits, question_vector, settings.context_weight, settings.context_chunks)
    hits.sort(key=lambda h: (-h.score, h.chunk.id))
    return hits


def _with_document_evidence(hits: list[Hit], weight: float) -> list[Hit]:
    """Add `weight` times the best score of another passage of the same document among the candidates."""
    best: dict[str, list[float]] = {}
    for h in hits:
        top2 = best.setdefault(h.chunk.doc_id, [])
        top2.append(h.score)
        top2.sort(reverse=True)
        del top2[2:]
    out = []
    for h in hits:
        first, *rest = best[h.chunk.doc_id]
        other = first if h.score < first else (rest[0] if rest else 0.0)
        out.append(Hit(h.chunk, h.score + weight * other, h.dense, h.lexical))
    return out


# Context vectors per snapshot (a version never changes): (context_chunks, chunk id) -> unit vector.
_CONTEXT_VECTORS: "weakref.WeakKeyDictionary[Snapshot, dict[tuple[int, int], np.ndarray]]" = weakref.WeakKeyDictionary()


def _with_context_vectors(snapshot: Snapshot, hits: list[Hit], question_vector: np.ndarray, weight: float,
                          window: int) -> list[Hit]:
    """Add `weight` times the cosine of the question with each hit's context vector (see SearchSettings)."""
    cache = _CONTEXT_VECTORS.setdefault(snapshot, {})
    out = []
    for h in hits:
        if (window, h.chunk.id) not in cache:
            chunks = snapshot.doc_chunks(h.chunk.doc_id)
            vectors = snapshot.reconstruct([c.id for c in chunks])
            whole = vectors.mean(axis=0)
            for i, c in enumerate(chunks):
                v = vectors[max(0, i - window) : i + window + 1].mean(axis=0) if window > 0 else whole
                cache[(window, c.id)] = v / (np.linalg.norm(v) or 1.0)
        context = float(cache[(window, h.chunk.id)] @ question_vector)
        out.append(Hit(h.chunk, h.score + weight * context, h.dense, h.lexical))
    return out
