"""Sentence vectors come from the build (one forward pass per chunk), so ask() encodes only the question."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from qa import Index
from qa.chunk import chunk_document, embedding_text, sentence_spans_in
from qa.clean import boilerplate
from qa.embed import Embedder
from qa.sources import find_files, load
from qa.text import tidy
from seed_questions import ANSWERABLE


def test_every_sentence_span_in_the_embedding_text_reads_back_the_tidied_sentence(seeds_copy):
    found = total = 0
    for f in find_files([seeds_copy]).files:
        doc = load(f)
        for c in chunk_document(doc, boilerplate(doc.text)):
            embedded = embedding_text(c, doc.title)
            spans = sentence_spans_in(embedded, c)
            assert len(spans) == len(c.sentences)
            for (a, b), (sa, sb) in zip(spans, c.sentences):
                total += 1
                if (a, b) != (0, 0):
                    found += 1
                    assert embedded[a:b] == tidy(c.text[sa - c.start : sb - c.start])
            starts = [a for a, b in spans if (a, b) != (0, 0)]
            assert starts == sorted(starts)
    assert found / total > 0.99


def test_ask_encodes_only_the_question_when_the_index_holds_sentence_vectors(seeds_index, monkeypatch):
    encoded: list[str] = []
    original = Embedder.encode

    def counting(self, texts, progress=False):
        encoded.extend(texts)
        return original(self, texts, progress=progress)

    monkeypatch.setattr(Embedder, "encode", counting)
    question = ANSWERABLE[0][0]
    answer = Index(seeds_index.path).ask(question)
    assert answer.passages
    assert encoded == [question]


def test_sentence_vectors_match_a_fresh_forward_pass_and_are_unit_length(seeds_index):
    snap = seeds_index.snapshot()
    doc = snap.documents()[0]
    chunks = snap.doc_chunks(doc.id)[:6]
    stored = snap.chunks([c.id for c in chunks])
    texts = [c.search_text for c in chunks]
    spans = [sentence_spans_in(c.search_text, c) for c in chunks]
    vectors, sentence_vectors = seeds_index.embedder.encode_with_sentences(texts, spans)
    assert np.allclose(vectors, snap.reconstruct([c.id for c in chunks]), atol=1e-5)
    for c, fresh in zip(chunks, sentence_vectors):
        kept = stored[c.id].sentence_vectors
        assert kept.shape == (len(c.sentences), vectors.shape[1])
        ok = ~np.isnan(kept[:, 0])
        assert ok.all()
        assert np.allclose(kept[ok], fresh[ok], atol=2e-3)  # stored as float16
        assert np.allclose(np.linalg.norm(kept[ok], axis=1), 1, atol=2e-3)


def test_torch_and_onnx_give_the_same_sentence_vectors():
    embedder = Embedder.shared()
    if embedder.light() is None or embedder.token_encoder() is None:
        pytest.skip("no ONNX twin or not a plain sentence-transformers model")
    texts = ["Kent: The council was rated good. It had been inadequate in 2017.", "One sentence only here."]
    spans = [[(6, 32), (33, 66)], [(0, 23)]]
    v1, s1 = embedder.light().encode(texts, spans=spans)
    v2, s2 = embedder.token_encoder().encode(texts, spans=spans)
    assert np.allclose(v1, v2, atol=1e-5)
    for a, b in zip(s1, s2):
        assert np.allclose(a, b, atol=1e-5)


def test_a_sentence_cut_off_by_the_model_length_has_no_vector_and_is_encoded_at_ask_time():
    embedder = Embedder.shared()
    long_text = "word " * 400 + "The last sentence is past the model's reach."
    at = long_text.index("The last")
    vectors, (sentences,) = embedder.encode_with_sentences([long_text], [[(0, 20), (at, len(long_text))]])
    assert not np.isnan(sentences[0]).any()
    assert np.isnan(sentences[1]).all()


def test_an_index_written_without_sentence_vectors_still_answers(seeds_index, tmp_path):
    shutil.copytree(seeds_index.path, tmp_path / "index")
    version = (tmp_path / "index" / "CURRENT").read_text().strip()
    db = sqlite3.connect(tmp_path / "index" / version / "index.sqlite")
    db.execute("DROP TABLE sentence_vectors")
    db.commit()
    db.close()
    old = Index(tmp_path / "index")
    question, expected = ANSWERABLE[0]
    answer = old.ask(question)
    assert answer.passages and all(p.answer for p in answer.passages)
    assert old.check() == []
