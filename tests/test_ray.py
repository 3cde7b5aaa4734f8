"""`qa build --ray local` embeds on a local Ray instance and gives the same chunks and vectors."""

import subprocess
import sys

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
    r = subprocess.run(
        [sys.executable, "-m", "qa.cli", "build", str(docs), "--index", str(tmp_path / "ray"), "--ray", "local",
         "--ray-actors", "1", "--json"],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
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
    assert ray_ix.ask("When was the library in Dover rebuilt?").passages[0].text == \
        single.ask("When was the library in Dover rebuilt?").passages[0].text
