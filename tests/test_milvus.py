"""What only the Milvus store has: the same scores as a FAISS twin, everything a query server
needs inside Milvus, a killed writer's rows cleaned up, spec parsing, and a Milvus server.

The storage contract (test_stores.py) and the engine tests (test_answers, test_updates,
test_build) run on Milvus Lite through the `store` and `seeds_any_store` fixtures of conftest.py.
"""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason='the milvus extra is not installed (pip install "qa[milvus]")')
pytest.importorskip("milvus_lite", reason='Milvus Lite is not installed (pip install "qa[milvus]")')

from corpus_gen import write_corpus  # noqa: E402
from qa import Index  # noqa: E402
from qa.stores.milvus import LEXICAL, MilvusStore, parse_spec  # noqa: E402


def milvus_spec(folder) -> str:
    return f"milvus://{Path(folder).absolute()}.milvus.db"


def MilvusIndex(path, **kwargs):
    return Index(path, store=kwargs.pop("store", None) or milvus_spec(path), **kwargs)


ON_MILVUS = pytest.mark.parametrize("seeds_any_store", ["milvus"], indirect=True)


# -- Milvus-specific -----------------------------------------------------------------------------
@ON_MILVUS
def test_both_stores_give_the_same_passages_and_scores(seeds_any_store, seeds_copy):
    seeds_index = seeds_any_store
    # The Milvus store keeps its own BM25 k1 and b (qa.stores.milvus.LEXICAL); the twin scores with them.
    faiss = Index(Path(seeds_index.path).parent.parent / "faiss-twin", lexical=LEXICAL)
    shutil.copytree(Path(seeds_index.path), faiss.path, ignore=shutil.ignore_patterns("*.lock"), dirs_exist_ok=True)
    faiss.build([seeds_copy], progress=False, full=True)  # from the cache: same vectors
    for question in ("How much did the council invest in social work?", "What did Ofsted find?"):
        for mode in ("hybrid", "dense", "bm25"):
            m, f = seeds_index.ask(question, mode=mode), faiss.ask(question, mode=mode)
            assert [(p.source, p.start, p.end) for p in m.passages] == [(p.source, p.start, p.end) for p in f.passages]
            assert [round(p.score, 4) for p in m.passages] == [round(p.score, 4) for p in f.passages]
            assert m.found == f.found
    assert seeds_index.snapshot().manifest["bm25"] == {"k1": 1.5, "b": 0.75}


@ON_MILVUS
def test_everything_a_query_server_needs_is_in_milvus(seeds_any_store, seeds_copy):
    seeds_index = seeds_any_store
    snap = seeds_index.snapshot()
    assert snap.folder is None
    assert not list(Path(seeds_index.path).glob("v0*")), "no local version folder"
    assert seeds_index.check() == []
    docs = seeds_index.documents()
    assert len(docs) == len(list(seeds_copy.glob("*")))
    for d in docs:
        assert seeds_index.document_text(d.source) == (seeds_copy.parent / d.source).read_text(encoding="utf-8")
        for c in snap.doc_chunks(d.id):
            assert seeds_index.document_text(d.id)[c.start:c.end] == c.text


def test_a_killed_build_changes_nothing_and_the_next_build_cleans_up(tmp_path):
    docs = tmp_path / "docs"
    write_corpus(docs, 3)
    ix = MilvusIndex(tmp_path / "ix")
    ix.build([docs], progress=False)
    before = ix.store.current_version()
    # A writer that dies after writing rows but before publishing (no abort: as if killed).
    (docs / "extra.txt").write_text("The zeppelin hangar in Cardington was painted green in 1931.")
    with ix.store.lock():
        base = ix.store.open()
        w = ix.store.writer(base, base.manifest["model"]["dim"])
        w.remove([base.documents()[0].id])
        from qa.ingest import prepare
        from qa.settings import ChunkSettings
        from qa.sources import find_files, load

        f = next(f for f in find_files([docs]).files if f.source.endswith("extra.txt"))
        p = prepare(load(f), ChunkSettings(), None)
        w.add(p.doc, list(p.chunks), list(p.search_texts), ix.embedder.encode(list(p.search_texts)), "{}")
    fresh = MilvusIndex(tmp_path / "ix")
    assert fresh.store.current_version() == before
    assert len(fresh.documents()) == 3 and fresh.check() == []
    assert all(p.source != "docs/extra.txt" for p in fresh.ask("When was the zeppelin hangar painted?").passages)
    report = fresh.build([docs], progress=False)
    assert report.added == ["docs/extra.txt"]
    assert fresh.check() == []
    assert fresh.ask("When was the zeppelin hangar painted green?").passages[0].source == "docs/extra.txt"


def test_spec_forms():
    assert parse_spec("milvus:///data/qa.db") == ("/data/qa.db", "qa", True)
    assert parse_spec("milvus://db.internal:19530") == ("http://db.internal:19530", "qa", False)
    assert parse_spec("milvus://db.internal?collection=legal") == ("http://db.internal:19530", "legal", False)
    with pytest.raises(ValueError, match="collection name"):
        parse_spec("milvus://h:1?collection=bad-name")


def test_missing_extra_is_named(monkeypatch, tmp_path):
    from qa.stores import open_store

    monkeypatch.setitem(sys.modules, "pymilvus", None)
    monkeypatch.delitem(sys.modules, "qa.stores.milvus", raising=False)
    with pytest.raises(ImportError, match=r'pip install "qa\[milvus\]"'):
        open_store("milvus:///x.db", tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_uri_uses_the_same_client(tmp_path):
    """milvus://host:port against a Milvus Lite gRPC server (a stand-in for Milvus standalone)."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "data"),
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.3)
        docs = tmp_path / "docs"
        write_corpus(docs, 2)
        (docs / "otters.txt").write_text("Otters returned to the river Wey in 2019 after fifty years away.")
        spec = f"milvus://127.0.0.1:{port}?collection=served"
        ix = Index(tmp_path / "ix", store=spec)
        assert isinstance(ix.store, MilvusStore) and not ix.store.lite
        ix.build([docs], progress=False)
        reader = Index(tmp_path / "other-folder", store=spec)  # another query server: nothing local
        answer = reader.ask("When did otters return to the Wey?")
        assert answer.found and answer.passages[0].source == "docs/otters.txt"
        assert reader.check() == []
        (docs / "otters.txt").unlink()
        ix.build([docs], progress=False)
        assert all(d.source != "docs/otters.txt" for d in reader.documents())
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_cli_build_and_ask_with_store(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.txt").write_text("Gull Point\n\nThe lighthouse on Gull Point was automated in 1987.\n")
    spec = milvus_spec(tmp_path / "ix")
    run = lambda *a: subprocess.run([sys.executable, "-m", "qa.cli", *a], capture_output=True, text=True, timeout=600)  # noqa: E731
    r = run("build", str(docs), "--index", str(tmp_path / "ix"), "--store", spec)
    assert r.returncode == 0, r.stderr
    r = run("ask", "When was the lighthouse automated?", "--index", str(tmp_path / "ix"), "--store", spec, "--json")
    assert r.returncode == 0, r.stderr
    assert '"found": true' in r.stdout and "1987" in r.stdout


def test_non_ascii_terms_and_sources_work_in_milvus_filters(tmp_path):
    # Filters were once built with \u escapes, which Milvus's expression parser rejects.
    docs = tmp_path / "dökümanlar"
    docs.mkdir()
    (docs / "tarih-ö.txt").write_text("Temüjin was proclaimed Genghis Khan at a kurultai in 1206.\n")
    (docs / "other.txt").write_text("The ferry to the island leaves at nine every morning in summer.\n")
    ix = MilvusIndex(tmp_path / "ix")
    ix.build([docs], progress=False)
    answer = ix.ask("When was Temüjin proclaimed Khan?")
    assert answer.passages[0].source == "dökümanlar/tarih-ö.txt"
    assert "1206" in answer.passages[0].answer
    assert "Temüjin" in ix.document_text("dökümanlar/tarih-ö.txt")
    assert ix.check() == []
