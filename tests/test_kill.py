"""`qa build` killed with SIGKILL at random moments leaves the old index or the new one, never a mix."""

import random
import shutil
import signal
import subprocess
import sys
import time

from corpus_gen import document, write_corpus
from qa import Index

TRIALS = 24


def corpus_state(folder, state: str) -> None:
    """Two states of one folder: B adds, edits and removes documents relative to A."""
    shutil.rmtree(folder, ignore_errors=True)
    write_corpus(folder, 30)
    if state == "B":
        write_corpus(folder, 10, start=100)
        for i in (1, 2, 3):
            p = folder / f"doc{i:04d}.txt"
            p.write_text(p.read_text() + document(500 + i, 3))
        for i in (4, 5):
            (folder / f"doc{i:04d}.txt").unlink()


def fingerprint(ix: Index) -> str | None:
    return ix.store.manifest()["fingerprint"] if ix.exists() else None


def build_cmd(docs, index):
    return [sys.executable, "-m", "qa.cli", "build", str(docs), "--index", str(index)]


def test_sigkill_at_random_moments_never_leaves_a_mixed_index(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "ix"
    fingerprints = {}
    durations = []
    # Warm the embedding cache with both states, then time whole runs of the kind the trials make.
    for state in ("B", "A", "B", "A"):
        corpus_state(docs, state)
        t = time.monotonic()
        subprocess.run(build_cmd(docs, index), check=True, capture_output=True, timeout=600)
        durations.append(time.monotonic() - t)
        fingerprints[state] = fingerprint(Index(index))
    run_time = max(durations[2:])

    rng = random.Random(2026)
    current, outcomes = "A", {"old": 0, "new": 0}
    for trial in range(TRIALS):
        target = "B" if current == "A" else "A"
        corpus_state(docs, target)
        proc = subprocess.Popen(build_cmd(docs, index), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Half the kills anywhere in the run, half late, where the new version is written and swapped.
        delay = rng.uniform(0, run_time) if trial % 2 == 0 else rng.uniform(0.6 * run_time, 1.1 * run_time)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)

        ix = Index(index)
        assert ix.check() == [], f"trial {trial}: inconsistent after kill at {delay:.2f}s"
        fp = fingerprint(ix)
        assert fp in (fingerprints["A"], fingerprints["B"]), f"trial {trial}: neither old nor new"
        got = "B" if fp == fingerprints["B"] else "A"
        outcomes["new" if got == target else "old"] += 1
        docs_in_index = {d.source for d in ix.documents()}
        assert len(docs_in_index) == (38 if got == "B" else 30)
        assert ix.ask("When was the library rebuilt?").passages
        current = got
    # both outcomes happened, so kills really landed before and after the swap
    assert outcomes["old"] > 0 and outcomes["new"] > 0, outcomes
