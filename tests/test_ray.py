"""`qa build --ray local` embeds on a local Ray instance and gives the same chunks and vectors."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from corpus_gen import write_corpus
from qa import Index


def test_missing_ray_extra_is_named(monkeypatch):
    from qa.ray_embed import RayEncoder

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r'pip install "qa\[ray\]"'):
        RayEncoder("local")(["some text"])


def test_ray_build_gives_the_same_chunks_and_vectors_as_one_process(tmp_path):
    pytest.importorskip("ray", reason='the ray extra is not installed (pip install "qa[ray]")')
    docs = tmp_path / "docs"
    write_corpus(docs, 12, sentences=12)  # a few dozen chunks: small enough for a shared 2-core machine
    # Ray's session folder under a short private root (its socket paths must stay under ~107 bytes),
    # so this run's logs and processes can be told from any other Ray on the machine.
    ray_tmp = Path(tempfile.mkdtemp(prefix="qa-ray-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {"RAY_TMPDIR": str(ray_tmp)}
    try:
        r = subprocess.run(
            [sys.executable, "-m", "qa.cli", "build", str(docs), "--index", str(tmp_path / "ray"), "--ray", "local",
             "--ray-actors", "1", "--json"],
            capture_output=True, text=True, timeout=600, env=env,
        )
        assert r.returncode == 0, r.stderr[-3000:]
        _assert_ray_stayed_local_and_stopped(ray_tmp)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    single = Index(tmp_path / "single")
    single.build([docs], progress=False)
    ray_ix = Index(tmp_path / "ray")

    def chunks(ix):
        snap = ix.snapshot()
        return {c.id: (c.source, c.start, c.end, c.text) for d in snap.documents() for c in snap.doc_chunks(d.id)}

    a, b = chunks(single), chunks(ray_ix)
    assert len(a) >= 20 and a == b
    ids = sorted(a)
    va, vb = single.snapshot().reconstruct(ids), ray_ix.snapshot().reconstruct(ids)
    assert np.abs(va - vb).max() < 1e-5
    sa, sb = single.snapshot().chunks(ids), ray_ix.snapshot().chunks(ids)
    assert all(np.allclose(sa[i].sentence_vectors, sb[i].sentence_vectors, atol=2e-3, equal_nan=True) for i in ids)
    assert all(sb[i].sentence_vectors is not None for i in ids)
    assert ray_ix.ask("When was the library in Dover rebuilt?").passages[0].text == \
        single.ask("When was the library in Dover rebuilt?").passages[0].text


def _assert_ray_stayed_local_and_stopped(ray_tmp: Path) -> None:
    """The local Ray reported no usage stats, served no dashboard, and left no process behind."""
    logs = [p for p in ray_tmp.rglob("session_*/logs/dashboard.log") if not p.parent.parent.is_symlink()]
    assert len(logs) == 1, f"expected one local Ray session under {ray_tmp}, found {logs}"
    log = logs[0].read_text(errors="replace")
    assert "Usage reporting is disabled." in log and "http server disabled." in log
    deadline = time.monotonic() + 20
    while True:
        alive = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline_mentions(pid, str(ray_tmp))]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not alive, f"Ray processes still running after the build: {alive}"


def _cmdline_mentions(pid: str, text: str) -> bool:
    try:
        return text in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
