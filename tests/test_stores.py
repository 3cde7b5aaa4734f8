"""The storage contract (qa.stores.base), checked on every store directly: no model, small vectors.

A new back-end passes these before the engine tests (test_answers, test_updates, test_build) run
on it through the same `store` fixture.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from conftest import store_spec
from qa.errors import IndexLocked, IndexMissing
from qa.ingest import prepare
from qa.settings import ChunkSettings, LexicalSettings
from qa.sources import SourceFile, load
from qa.stores import IndexedDocument, StoredChunk, StoredDocument, open_store

DIM = 8
TEXTS = {
    "harbour.txt": "Harbour notes\n\nThe harbour of Wenn reopened in 1987 after the storm.\n"
                   "Fishing boats returned to the quay that summer.\n",
    "orchids.txt": "Orchid notes\n\nBee orchids flower on the chalk downs in July.\n"
                   "The orchid meadow lies north of the harbour road.\n",
}


def _open(store: str, tmp_path):
    return open_store(store_spec(store, tmp_path / "ix"), tmp_path / "ix")


def _docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    out = []
    for name, text in TEXTS.items():
        (folder / name).write_text(text)
        doc = load(SourceFile(folder / name, f"docs/{name}"))
        out.append(prepare(doc, ChunkSettings(max_chars=60), None))
    return out


def _vectors(prepared) -> np.ndarray:
    rng = np.random.default_rng(len(prepared.chunks) + len(prepared.doc.text))
    v = rng.normal(size=(len(prepared.chunks), DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _manifest(store) -> dict:
    return {"model": {"name": "test", "path": "none", "dim": DIM, "precision": "fp32"}, "chunker": {},
            "bm25": store.bm25_params(LexicalSettings()), "sources": [], "fingerprint": "x", "built_at": "now"}


def _write(store, prepared_docs, base=None, remove=()) -> str:
    with store.lock():
        writer = store.writer(base, DIM)
        try:
            for doc_id in remove:
                writer.remove([doc_id])
            for p in prepared_docs:
                writer.add(p.doc, list(p.chunks), list(p.search_texts), _vectors(p), "{}", (len(p.doc.text), 1))
            return writer.commit(_manifest(store))
        except BaseException:
            writer.abort()
            raise


def test_an_empty_store_says_so(store, tmp_path):
    s = _open(store, tmp_path)
    assert not s.exists() and s.current_version() is None
    with pytest.raises(IndexMissing):
        s.open()
    with pytest.raises(IndexMissing):
        s.manifest()
    assert set(s.bm25_params(LexicalSettings())) == {"k1", "b"}
    assert all(issubclass(e, BaseException) for e in s.errors)


def test_a_committed_version_reads_back_what_was_written(store, tmp_path):
    s = _open(store, tmp_path)
    prepared = _docs(tmp_path)
    version = _write(s, prepared)
    assert s.exists() and s.current_version() == version and s.manifest()["model"]["dim"] == DIM
    snap = s.open()
    assert snap.version == version
    n_chunks = sum(len(p.chunks) for p in prepared)
    assert snap.count() == (2, n_chunks) and snap.check() == []
    docs = snap.documents()
    assert [d.source for d in docs] == ["docs/harbour.txt", "docs/orchids.txt"]
    assert all(isinstance(d, StoredDocument) for d in docs)
    assert snap.file_stats() == {p.doc.source: (len(p.doc.text), 1) for p in prepared}
    for p in prepared:
        assert snap.document_text(p.doc.source) == snap.document_text(p.doc.id) == p.doc.text
        stored = snap.doc_chunks(p.doc.id)
        assert [c.id for c in stored] == [c.id for c in p.chunks]  # in order
        for c in stored:
            assert isinstance(c, StoredChunk)
            assert p.doc.text[c.start:c.end] == c.text  # the offsets contract, through the store
            assert c.source == p.doc.source and c.title == p.doc.title
        np.testing.assert_allclose(snap.reconstruct([c.id for c in p.chunks]), _vectors(p), atol=1e-6)
    ids = [c.id for p in prepared for c in p.chunks]
    assert set(snap.chunks(ids)) == set(ids)
    assert snap.chunks(ids[:1]) == {ids[0]: snap.doc_chunks(prepared[0].doc.id)[0]}  # read again: the same row
    assert snap.chunks(ids) == snap.chunks(list(reversed(ids)))
    assert snap.document_text("docs/none.txt") is None


def test_recent_chunk_rows_are_bounded_and_come_back_unchanged():
    from qa.stores.base import Recent

    rows = {i: StoredChunk(i, "d", "docs/a.txt", "A", 0, 1, 1, 1, None, "", "x", "x", sentences=((0, 1),))
            for i in range(4)}
    recent = Recent(size=2)
    recent.remember({0: rows[0], 1: rows[1]})
    assert recent.split([0, 1, 3]) == ({0: rows[0], 1: rows[1]}, [3])  # 1 used last
    recent.remember({2: rows[2]})  # so 0, used longest ago, is the one forgotten
    assert recent.split([0, 1, 2]) == ({1: rows[1], 2: rows[2]}, [0])


def test_dense_and_lexical_search_find_the_right_chunks(store, tmp_path):
    s = _open(store, tmp_path)
    prepared = _docs(tmp_path)
    _write(s, prepared)
    snap = s.open()
    target = prepared[1]
    hits = snap.dense_search(_vectors(target)[:1], 3)[0]
    assert hits[0][0] == target.chunks[0].id and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [sc for _, sc in hits] == sorted([sc for _, sc in hits], reverse=True)

    from qa.text import terms

    orchid = terms("orchids")
    found = snap.lexical_search(orchid, 10)
    holders = {c.id for p in prepared for c in p.chunks if "rchid" in p.search_texts[p.chunks.index(c)]}
    assert {cid for cid, sc in found.items() if sc > 0} == holders
    other = next(c.id for c in prepared[0].chunks if c.id not in holders)
    scored = snap.lexical_search(orchid, 1, score_ids=[other])
    assert len([cid for cid, sc in scored.items() if sc > 0]) == 1  # depth 1 picks one holder
    assert scored.get(other, 0.0) == 0.0  # a chunk without the term scores nothing
    idf = snap.idf(terms("orchids harbour summer"))
    assert idf[terms("summer")[0]] > idf[terms("harbour")[0]] > 0  # rarer terms weigh more


def test_a_writer_replaces_removes_and_touches_documents_and_abort_changes_nothing(store, tmp_path):
    s = _open(store, tmp_path)
    prepared = _docs(tmp_path)
    first = _write(s, prepared)
    base = s.open()
    with s.lock():
        writer = s.writer(base, DIM)
        known = writer.documents()
        assert set(known) == {"docs/harbour.txt", "docs/orchids.txt"}
        assert isinstance(known["docs/harbour.txt"], IndexedDocument)
        assert known["docs/harbour.txt"].content_hash == prepared[0].doc.content_hash
        writer.remove([known["docs/harbour.txt"].id])
        writer.abort()
    assert s.current_version() == first and s.open().count()[0] == 2

    second = _write(s, [], base=s.open(), remove=[prepared[0].doc.id])
    assert second != first and s.current_version() == second
    snap = s.open()
    assert [d.source for d in snap.documents()] == ["docs/orchids.txt"] and snap.check() == []
    assert snap.document_text("docs/harbour.txt") is None

    with s.lock():
        writer = s.writer(snap, DIM)
        writer.touch("docs/orchids.txt", (5, 6))
        assert writer.touched
        writer.commit(_manifest(s))
    assert s.open().file_stats() == {"docs/orchids.txt": (5, 6)}


def test_the_writer_lock_is_exclusive(store, tmp_path):
    s = _open(store, tmp_path)
    other = _open(store, tmp_path)
    with s.lock():
        with pytest.raises(IndexLocked):
            with other.lock(wait=False):
                pass
        waited, got = [], []

        def second_writer():
            with other.lock(on_wait=waited.append):
                got.append(True)

        t = threading.Thread(target=second_writer)
        t.start()
        t.join(0.5)
        assert t.is_alive() and waited and not got  # it waits, and says so
    t.join(5)
    assert got == [True]


def test_a_manifest_round_trips_through_the_store(store, tmp_path):
    s = _open(store, tmp_path)
    _write(s, _docs(tmp_path))
    m = s.manifest()
    assert m["counts"] == {"documents": 2, "chunks": s.open().count()[1]}
    assert json.loads(json.dumps(m)) == m


def test_searching_within_documents_returns_their_chunks_not_a_filtered_global_top(store, tmp_path):
    s = _open(store, tmp_path)
    prepared = _docs(tmp_path)
    _write(s, prepared)
    snap = s.open()
    harbour, orchids = prepared
    query = _vectors(harbour)[:1]  # the harbour document's own vector: its chunks lead a global search
    top = [cid for cid, _ in snap.dense_search(query, 2)[0]]
    assert set(top) <= {c.id for c in harbour.chunks}
    within = snap.dense_search(query, 2, doc_ids={orchids.doc.id})[0]
    assert [cid for cid, _ in within] and {cid for cid, _ in within} <= {c.id for c in orchids.chunks}
    assert len(within) == min(2, len(orchids.chunks))

    from qa.text import terms

    harbour_terms = terms("harbour")  # in every harbour chunk (its title) and in one orchid sentence
    inside = snap.lexical_search(harbour_terms, 10, doc_ids={orchids.doc.id})
    assert {cid for cid, sc in inside.items() if sc > 0} == {
        c.id for c, t in zip(orchids.chunks, orchids.search_texts) if "harbour" in t.lower()}
