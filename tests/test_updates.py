"""Incremental updates: cost follows the change, and the result equals a full rebuild."""

import random
import shutil
import subprocess
import sys
import threading
import time

import pytest

from corpus_gen import document, write_corpus
from qa import Index, IndexLocked

QUESTIONS = ["When was the library in Dover rebuilt?", "How many people attended the ceremony at the castle?",
             "Which harbour reopened?", "What happened to the museum in Luton?", "When was the canal founded?"]


def state(ix: Index):
    snap = ix.snapshot()
    chunks = {(d.source, c.start, c.end, c.text, c.id) for d in snap.documents() for c in snap.doc_chunks(d.id)}
    tops = [[(p.source, p.start, p.end) for p in ix.ask(q, k=10).passages] for q in QUESTIONS]
    return chunks, tops


def test_unchanged_sources_cost_nothing(tmp_path, make_index):
    write_corpus(tmp_path / "docs", 4)
    ix = make_index(tmp_path / "ix")
    first = ix.build([tmp_path / "docs"], progress=False)
    again = ix.build([tmp_path / "docs"], progress=False)
    assert first.chunks_embedded > 0
    assert again.chunks_embedded == 0 and again.unchanged == 4 and again.version is None
    assert ix.store.current_version() == first.version


def test_renaming_or_moving_a_file_re_embeds_nothing(tmp_path, make_index):
    write_corpus(tmp_path / "docs", 3)
    ix = make_index(tmp_path / "ix")
    ix.build([tmp_path / "docs"], progress=False)
    (tmp_path / "docs" / "sub").mkdir()
    shutil.move(tmp_path / "docs" / "doc0001.txt", tmp_path / "docs" / "sub" / "renamed.txt")
    report = ix.build([tmp_path / "docs"], progress=False)
    assert report.added == ["docs/sub/renamed.txt"] and report.removed == ["docs/doc0001.txt"]
    assert report.chunks_embedded == 0
    assert ix.check() == []


def test_any_sequence_of_changes_gives_the_same_index_as_a_full_rebuild(tmp_path, make_index):
    docs = tmp_path / "docs"
    write_corpus(docs, 8)
    ix = make_index(tmp_path / "ix")
    ix.build([docs], progress=False)
    rng = random.Random(7)
    next_id = 100
    for step in range(6):
        files = sorted(docs.glob("*.txt"))
        action = rng.choice(["add", "edit", "remove", "mixed"])
        if action in ("add", "mixed"):
            (docs / f"doc{next_id:04d}.txt").write_text(document(next_id))
            next_id += 1
        if action in ("edit", "mixed"):
            f = rng.choice(files)
            f.write_text(f.read_text() + document(next_id, 2))
            next_id += 1
        if action in ("remove", "mixed") and len(files) > 3:
            rng.choice(files).unlink()
        ix.build([docs], progress=False)
        assert ix.check() == []
    # Python API too: add a file from elsewhere, then remove it again, then update.
    extra = tmp_path / "elsewhere" / "extra.txt"
    extra.parent.mkdir()
    extra.write_text(document(999))
    assert ix.add([extra]).added == ["elsewhere/extra.txt"]
    assert ix.remove([extra]).removed == ["elsewhere/extra.txt"]
    ix.update()

    full = make_index(tmp_path / "full")
    full.build([docs], progress=False)
    assert state(ix) == state(full)


def test_long_lived_index_picks_up_new_versions_and_old_readers_finish(tmp_path):
    docs = tmp_path / "docs"
    write_corpus(docs, 3)
    reader = Index(tmp_path / "ix")
    reader.build([docs], progress=False)
    old_snapshot = reader.snapshot()
    writer = Index(tmp_path / "ix")
    for n in range(3):  # enough versions that the first one's folder is collected
        (docs / f"new{n}.txt").write_text(f"The zeppelin hangar in Cardington number {n} was painted green in 1931.")
        writer.build([docs], progress=False)
    assert not old_snapshot.folder.exists()
    # a question that started on the old version can still read it
    assert old_snapshot.chunks([c.id for c in old_snapshot.doc_chunks(old_snapshot.documents()[0].id)])
    answer = reader.ask("When was the zeppelin hangar painted green?")
    assert reader.snapshot().version == writer.store.current_version()
    assert answer.passages[0].source.startswith("docs/new")


def test_a_second_build_refuses_or_waits_for_the_lock(tmp_path, store, make_index):
    docs = tmp_path / "docs"
    write_corpus(docs, 2)
    ix = make_index(tmp_path / "ix")
    ix.build([docs], progress=False)
    (docs / "more.txt").write_text(document(50))
    with ix.store.lock():
        with pytest.raises(IndexLocked, match="another build"):
            make_index(tmp_path / "ix").build([docs], progress=False, wait=False)
        if store == "faiss":  # Milvus Lite serves one process per file: the CLI is tried on FAISS
            r = subprocess.run([sys.executable, "-m", "qa.cli", "build", str(docs), "--index", str(tmp_path / "ix"),
                                "--no-wait"], capture_output=True, text=True, timeout=300)
            assert r.returncode == 1 and "another build" in r.stderr
        waited = []
        t = threading.Thread(target=lambda: waited.append(make_index(tmp_path / "ix").build([docs], progress=False, log=waited.append)))
        t.start()
        time.sleep(1.0)
        assert t.is_alive(), "the second build waits while the lock is held"
    t.join(timeout=120)
    assert any("waiting" in str(m) for m in waited)
    assert waited[-1].added == ["docs/more.txt"]
    assert make_index(tmp_path / "ix").check() == []


def test_watch_keeps_the_index_in_step_with_a_folder(tmp_path):
    from qa.watch import watch

    docs = tmp_path / "docs"
    write_corpus(docs, 2)
    ix = Index(tmp_path / "ix")
    stop = threading.Event()
    t = threading.Thread(target=watch, args=(ix, [docs]), kwargs={"debounce": 0.3, "stop": stop, "log": lambda m: None})
    t.start()

    def wait_for(predicate, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if ix.exists() and predicate():
                return True
            time.sleep(0.2)
        return False

    try:
        assert wait_for(lambda: len(ix.documents()) == 2)
        (docs / "otters.txt").write_text("Otters returned to the river Wey in 2019 after fifty years away.")
        assert wait_for(lambda: any(d.source == "docs/otters.txt" for d in ix.documents()))
        (docs / "otters.txt").write_text("Beavers returned to the river Wey in 2021 after four centuries away.")
        assert wait_for(lambda: "Beavers" in (ix.document_text("docs/otters.txt") or ""))
        (docs / "otters.txt").unlink()
        assert wait_for(lambda: all(d.source != "docs/otters.txt" for d in ix.documents()))
    finally:
        stop.set()
        t.join(timeout=30)
    assert ix.check() == []


def test_an_update_tokenizes_only_the_new_chunks_for_bm25(tmp_path, monkeypatch):
    import qa.text

    write_corpus(tmp_path / "docs", 6)
    ix = Index(tmp_path / "ix")
    ix.build([tmp_path / "docs"], progress=False)
    (tmp_path / "docs" / "doc0100.txt").write_text(document(100))
    tokenized: list[str] = []
    original = qa.text.terms
    monkeypatch.setattr(qa.text, "terms", lambda text: tokenized.append(text) or original(text))
    report = ix.build([tmp_path / "docs"], progress=False)
    monkeypatch.undo()
    new_chunks = len(ix.snapshot().doc_chunks(next(d.id for d in ix.snapshot().documents() if d.source.endswith("doc0100.txt"))))
    assert report.added == ["docs/doc0100.txt"]
    assert 0 < len(tokenized) <= new_chunks
    full = Index(tmp_path / "full")
    full.build([tmp_path / "docs"], progress=False)
    assert state(ix) == state(full)
