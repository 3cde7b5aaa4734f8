"""Above a size threshold the FAISS index becomes IVF, and removal and consistency keep working."""

import numpy as np

import qa.stores.faiss
from corpus_gen import write_corpus
from qa import Index


def test_large_indexes_switch_to_ivf_and_still_remove_and_check(tmp_path, monkeypatch):
    monkeypatch.setattr(qa.stores.faiss, "EXACT_SEARCH_LIMIT", 20)
    docs = tmp_path / "docs"
    write_corpus(docs, 25, sentences=8)
    ix = Index(tmp_path / "ix")
    report = ix.build([docs], progress=False)
    assert report.chunks_total > 20
    snap = ix.snapshot()
    assert snap.manifest["vector_index"] == "ivf-flat"
    assert ix.check() == []
    answer = ix.ask("When was the library in Dover rebuilt?")
    assert answer.passages
    # removing a document from an IVF index re-embeds nothing and stays consistent
    removed = ix.remove([docs / "doc0003.txt"])
    assert removed.removed == ["docs/doc0003.txt"] and removed.chunks_embedded == 0
    assert ix.check() == []
    snap = ix.snapshot()
    ids = [c.id for d in snap.documents()[:2] for c in snap.doc_chunks(d.id)]
    vectors = snap.reconstruct(ids)
    assert vectors.shape == (len(ids), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)


def test_the_ivf_index_copied_in_slices_holds_every_vector_of_the_flat_one(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    write_corpus(docs, 25, sentences=8)
    flat = Index(tmp_path / "flat")
    flat.build([docs], progress=False)
    monkeypatch.setattr(qa.stores.faiss, "EXACT_SEARCH_LIMIT", 20)
    monkeypatch.setattr(qa.stores.faiss, "_IVF_COPY_ROWS", 7)  # several slices, the last one short
    ivf = Index(tmp_path / "ivf")
    ivf.build([docs], progress=False)
    assert ivf.snapshot().manifest["vector_index"] == "ivf-flat" and ivf.check() == []
    ids = [c.id for d in flat.snapshot().documents() for c in flat.snapshot().doc_chunks(d.id)]
    assert len(ids) > 3 * 7 and len(ids) % 7
    assert ivf.snapshot().vectors.ntotal == len(ids)
    np.testing.assert_array_equal(ivf.snapshot().reconstruct(ids), flat.snapshot().reconstruct(ids))
