"""Retrieval: dense (inner product on normalized vectors) and BM25, fused by normalized scores.

Every candidate from either retriever is scored by both, so fusion compares like with like:
cosine similarity as it is, BM25 divided by the best BM25 score among the candidates.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from qa.errors import InvalidInput
from qa.settings import MODES, SearchSettings
from qa.stores import Snapshot, StoredChunk

# Stemmed as qa.text.terms() stems them.
QUESTION_WORDS = frozenset(
    """what which who whom whose when where whi how do doe did done were been has have had can could would
    should shall might must i me my you your we our he him his she her it them
    ani some someth anyth""".split()
)


@dataclass(frozen=True)
class Query:
    """What retrieval searches for. A single question is its own text, terms and vector; a
    conversation (qa.converse) or a feedback loop may add weighted expansion terms, and priors
    that favour documents and passages."""

    text: str  # what is searched for, as a person would read it
    terms: tuple[str, ...]  # BM25 terms, stemmed as qa.text.terms() makes them (repeats count)
    vector: np.ndarray = field(compare=False, repr=False)  # unit vector of `text`
    expansion: Mapping[str, float] = field(default_factory=dict)  # extra BM25 terms and their weights
    doc_ids: frozenset[str] | None = None  # search only these documents (None: all)
    document_prior: Mapping[str, float] = field(default_factory=dict)  # doc id -> bonus added to its passages' scores
    passage_prior: Mapping[int, float] = field(default_factory=dict)  # chunk id -> bonus; these chunks are candidates too

    @classmethod
    def of(cls, text: str, vector: np.ndarray) -> "Query":
        from qa.text import terms

        return cls(text, tuple(terms(text)), vector)


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float  # fused score, what the ranking uses
    dense: float  # cosine similarity of question and chunk
    lexical: float  # BM25 divided by the best BM25 among candidates (0..1)
    prior: float = 0.0  # the part of `score` a conversation's prior added (qa.converse): ranks, does not make it an answer


def retrieve(snapshot: Snapshot, query: Query, k: int, settings: SearchSettings = SearchSettings()) -> list[Hit]:
    """The best chunks for the query: at least k, fused from dense and BM25 candidates, best first."""
    if settings.mode not in MODES:
        raise InvalidInput(f"unknown retrieval mode {settings.mode!r}; choose one of {', '.join(MODES)}")
    question_terms = list(query.terms)
    if settings.drop_question_words:
        question_terms = [t for t in question_terms if t not in QUESTION_WORDS] or question_terms
    hits = _retrieve(snapshot, question_terms, dict(query.expansion), query.vector, k, settings, query)
    if settings.prf_passages <= 0 or not hits:
        return hits
    feedback = hits[: settings.prf_passages]
    expansion: dict[str, float] = dict(query.expansion)
    if settings.prf_lexical > 0 and settings.mode != "dense":
        for term, weight in expansion_terms(feedback, settings.prf_terms, settings.prf_lexical * len(question_terms)).items():
            expansion[term] = expansion.get(term, 0.0) + weight
    vector = query.vector
    if settings.prf_dense > 0 and settings.mode != "bm25":
        vector = query.vector + settings.prf_dense * snapshot.reconstruct([h.chunk.id for h in feedback]).mean(axis=0)
        vector = (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)
    if expansion == dict(query.expansion) and vector is query.vector:
        return hits
    return _retrieve(snapshot, question_terms, expansion, vector, k, settings, query)


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
    query: Query,
) -> list[Hit]:
    depth = max(k, settings.depth)
    dense_hits: dict[int, float] = {}
    if settings.mode != "bm25":
        dense_hits = dict(snapshot.dense_search(question_vector[None, :], depth, query.doc_ids)[0])
    lexical_hits: dict[int, float] = {}
    if settings.mode != "dense":
        lexical_hits = snapshot.lexical_search(question_terms, depth, [*dense_hits, *query.passage_prior], expansion,
                                               query.doc_ids)

    candidates = list(dict.fromkeys([*dense_hits, *(c for c, s in lexical_hits.items() if s > 0), *query.passage_prior]))
    if not candidates:
        return []
    # Fill in the score each candidate did not get from the other retriever.
    missing_dense = [c for c in candidates if c not in dense_hits]
    if missing_dense and settings.mode != "bm25":
        for cid, vec in zip(missing_dense, snapshot.reconstruct(missing_dense)):
            dense_hits[cid] = float(vec @ question_vector)
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
    if query.document_prior or query.passage_prior:
        hits = [_with_prior(h, query.document_prior.get(h.chunk.doc_id, 0.0) + query.passage_prior.get(h.chunk.id, 0.0))
                for h in hits]
    hits.sort(key=lambda h: (-h.score, h.chunk.id))
    return hits


def _with_prior(hit: Hit, prior: float) -> Hit:
    return Hit(hit.chunk, hit.score + prior, hit.dense, hit.lexical, hit.prior + prior)


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
