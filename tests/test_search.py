"""Retrieval options that act on the fused score."""

import numpy as np
import pytest

from qa.search import Query, retrieve
from qa.settings import SearchSettings
from qa.text import terms

QUESTION = "How many unaccompanied children arrived in Kent?"


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("window", [0, 1])
def test_context_evidence_adds_the_questions_cosine_with_the_mean_of_the_chunks_context(seeds_index, window):
    snapshot = seeds_index.snapshot()
    vector = seeds_index.embedder.encode([QUESTION])[0]
    plain = {h.chunk.id: h.score for h in retrieve(snapshot, Query(QUESTION, tuple(terms(QUESTION)), vector), 20, SearchSettings())}
    weighted = retrieve(snapshot, Query(QUESTION, tuple(terms(QUESTION)), vector), 20, SearchSettings(context_weight=0.5, context_chunks=window))

    assert {h.chunk.id for h in weighted} == set(plain)  # same candidates, other scores
    assert [h.score for h in weighted] == sorted((h.score for h in weighted), reverse=True)
    for hit in weighted:
        chunks = snapshot.doc_chunks(hit.chunk.doc_id)
        at = [c.id for c in chunks].index(hit.chunk.id)
        around = chunks if window == 0 else chunks[max(0, at - window) : at + window + 1]
        context = _unit(snapshot.reconstruct([c.id for c in around]).mean(axis=0))
        assert hit.score == pytest.approx(plain[hit.chunk.id] + 0.5 * float(context @ vector), abs=1e-5)
