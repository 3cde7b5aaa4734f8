"""Disk faults: a build that runs out of space fails with a clear message and changes nothing;
a published version is durable (files and folder fsynced) before CURRENT names it.

The full disk is real: a 4 MB tmpfs mounted by the test (needs root; skipped otherwise). The
file-size limit test (RLIMIT_FSIZE in a subprocess, writes past it fail with EFBIG) runs anywhere.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa import Index
from qa.cli import app

RIVER = "River notes\n\nThe river Wenn flows north through the valley of Ash.\n"
RIVER_Q = "Which way does the river Wenn flow?"
LAMPS = "Lamp notes\n\nThe lamplighter of Ormsby lit exactly 212 gas lamps every evening.\n"


def free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def fill(folder: Path, leave: int) -> Path:
    """Take all free space on `folder`'s file system but `leave` bytes."""
    filler = folder / f"filler-{uuid.uuid4().hex}"
    with open(filler, "wb") as fh:
        size = max(0, free_bytes(folder) - leave)
        while size > 0:
            n = min(size, 1 << 20)
            try:
                fh.write(b"\0" * n)
                fh.flush()
            except OSError:
                break
            size -= n
    return filler


def leftovers(index: Path) -> list[str]:
    """Files a failed build must not leave behind: temporary versions and pointers."""
    return sorted(p.name for p in index.iterdir() if p.name.startswith((".tmp-", ".CURRENT.")))


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'}); the RLIMIT_FSIZE test covers this")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_build_on_a_full_disk_fails_clearly_and_the_previous_index_keeps_answering(small_disk):
    docs, index = small_disk / "docs", small_disk / "index"
    docs.mkdir()
    (docs / "river.txt").write_text(RIVER)
    ix = Index(index)
    ix.build([docs], progress=False)
    runner = CliRunner()
    failed, succeeded = [], 0
    # Leave 0 to 90 KB free, so that space runs out at different stages of a build: copying the
    # base version, the embedding cache, the new SQLite rows, FAISS, BM25, manifest, the pointer.
    for step, leave in enumerate(range(0, 90_000, 10_000)):
        (docs / "lamps.txt").write_text(LAMPS + f"On day {step} the lamps were counted again.\n")
        before = ix.store.current_version()
        filler = fill(small_disk, leave)
        try:
            result = runner.invoke(app, ["build", str(docs), "--index", str(index)])
        finally:
            filler.unlink()
        if result.exit_code == 0:
            succeeded += 1
            assert ix.store.current_version() != before
        else:
            assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
            assert "Traceback" not in result.output
            assert "no space left on the device" in result.output, result.output
            assert "previous version of the index is unchanged" in result.output
            assert ix.store.current_version() == before
            failed.append(leave)
        assert leftovers(index) == []
        assert ix.check() == []
        assert ix.ask(RIVER_Q).found  # the version being served keeps answering
    print(f"\nfull disk: {len(failed)} builds failed cleanly (free space {min(failed)}–{max(failed)} bytes), "
          f"{succeeded} succeeded; the previous version answered after each")
    assert len(failed) >= 5  # and the final build below, with space again, succeeds
    result = runner.invoke(app, ["build", str(docs), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "212" in ix.ask("How many gas lamps did the lamplighter of Ormsby light?").passages[0].answer


def test_an_upload_onto_a_full_disk_is_refused_and_leaves_no_partial_file(small_disk, tmp_path):
    from qa.web.uploads import Uploads

    docs, index = small_disk / "docs", small_disk / "index"
    docs.mkdir()
    (docs / "river.txt").write_text(RIVER)
    ix = Index(index)
    ix.build([docs], progress=False)
    upload = tmp_path / "big.txt"
    upload.write_text(LAMPS + "More about the lamps of Ormsby and the people who lit them.\n" * 2000)
    version = ix.store.current_version()
    filler = fill(small_disk, 16384)
    try:
        with pytest.raises(OSError):  # the web page shows this as "rejected — …" (web.add_files)
            Uploads(ix, docs).add([(upload, "big.txt")])
    finally:
        filler.unlink()
    assert sorted(p.name for p in docs.iterdir()) == ["river.txt"]
    assert ix.store.current_version() == version and ix.ask(RIVER_Q).found


def test_a_build_past_the_file_size_limit_fails_clearly_and_changes_nothing(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "river.txt").write_text(RIVER)
    ix = Index(index)
    ix.build([docs], progress=False)
    version = ix.store.current_version()
    # 150 KB of text (few distinct chunks, so little to embed) cannot be written under a 96 KB limit.
    (docs / "lamps.txt").write_text(LAMPS + "The lamps of Ormsby were lit by hand every evening.\n" * 3000)
    limit = 96 * 1024

    def cap():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "build", str(docs), "--index", str(index)],
        capture_output=True, text=True, preexec_fn=cap, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    print(f"\nfile size limit: exit {done.returncode}: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "file size limit" in done.stderr and "previous version of the index is unchanged" in done.stderr
    assert ix.store.current_version() == version and leftovers(index) == []
    assert ix.check() == [] and ix.ask(RIVER_Q).found


def test_a_new_version_is_fsynced_file_by_file_and_by_folder_before_current_names_it(tmp_path, monkeypatch):
    import qa.stores.faiss as store

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "river.txt").write_text(RIVER)
    ix = Index(tmp_path / "index")
    ix.build([docs], progress=False)
    (docs / "lamps.txt").write_text(LAMPS)

    events: list[tuple[str, str]] = []
    real_fsync_path, real_fsync, real_rename, real_replace = store._fsync, os.fsync, os.rename, os.replace
    monkeypatch.setattr(store, "_fsync", lambda p: (events.append(("fsync", str(p))), real_fsync_path(p))[1])
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync-fd", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "rename", lambda a, b: (events.append(("rename", f"{a}>{b}")), real_rename(a, b))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", f"{a}>{b}")), real_replace(a, b))[1])
    report = ix.build([docs], progress=False)
    monkeypatch.undo()

    root = ix.path
    new = root / report.version
    kinds = [e[0] for e in events]
    rename = next(i for i, e in enumerate(events) if e[0] == "rename" and e[1].endswith(f">{new}"))
    tmp = events[rename][1].split(">")[0]
    swap = next(i for i, e in enumerate(events) if e[0] == "replace" and e[1].endswith(f">{root / 'CURRENT'}"))
    synced_before = {e[1] for e in events[:rename] if e[0] == "fsync"}
    files = {str(Path(tmp) / p.relative_to(new)) for p in new.rglob("*")}
    assert files and files <= synced_before, files - synced_before  # every file of the version
    assert tmp in synced_before  # and its folder
    assert ("fsync", str(root)) in events[rename + 1 : swap]  # its name in the index folder
    pointer = events[swap][1].split(">")[0]
    assert ("fsync-fd", pointer) in events[rename:swap]  # the pointer's content
    assert ("fsync", str(root)) in events[swap + 1 :]  # and the swap itself, before build() returns
    assert kinds.count("replace") >= 1


def test_the_embedding_cache_uses_wal_and_published_versions_are_read_only(seeds_index):
    cache = sqlite3.connect(seeds_index.path / "embeddings.sqlite")
    try:
        assert cache.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        cache.close()
    snap = seeds_index.snapshot()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        snap._db.execute("DELETE FROM chunks")
