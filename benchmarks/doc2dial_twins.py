"""How high doc@1 can go on doc2dial for a method that cannot tell two copies of one page apart.

    python benchmarks/doc2dial_twins.py            # all 1,813 turns, qa's conversation mode

Some documents of the shared doc2dial folder are the same web page under two addresses (texts
sharing at least 90 % of their 8-word shingles; one copy often has one more heading line). A
turn grounded in one of them counts for doc@1 only if the first passage comes from that very
file, and nothing a user says tells the copies apart. This script finds those twins, asks every
turn as `qa eval doc2dial` does (its conversation row), and prints:
- doc@1 as the eval counts it, and "up to twin" (the first passage is the gold file or its twin);
- for the twin turns answered up to twin, how often the very file was picked (chance is 0.5);
- the doc@1 a twin-blind method would expect (each twin picked with probability 0.5) if every
  turn with history found its document, first turns (no history) staying as measured, and if
  every turn did;
- the same for a method that always picks the twin more turns are grounded in, and the one
  fewer are: what a fixed choice between copies can swing.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from qa.evaluate import _asked, built_index, doc2dial_turns, eval_data, memo_for, split_dialogues
from qa.settings import Settings

SHINGLE = 8
SAME_PAGE = 0.9


def twins(folder: Path) -> dict[str, str]:
    """File name -> its twin's file name, for texts sharing SAME_PAGE of their shingles."""
    shingles = {}
    for path in sorted(folder.glob("*.txt")):
        words = path.read_text(encoding="utf-8").split()
        shingles[path.name] = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    names = sorted(shingles)
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = len(shingles[a] & shingles[b]) / max(1, min(len(shingles[a]), len(shingles[b])))
            if common >= SAME_PAGE:
                out[a], out[b] = b, a
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="all", choices=["all", "tune", "test"])
    args = ap.parse_args()
    folder = eval_data() / "doc2dial" / "docs"
    twin = twins(folder)
    settings = Settings()
    ix = built_index("doc2dial", folder, settings, memo_for(settings), log=lambda m: print(m, file=sys.stderr))
    turns = split_dialogues(doc2dial_turns(), args.split)
    strict = up_to_twin = 0
    twin_up = twin_strict = 0
    first_up: list[bool] = []
    for t in turns:
        question, history = _asked(t, "conversation")
        answer = ix.ask(question, k=5, history=history)
        shown = {Path(x).name for x in (answer.passages[0].source, *answer.passages[0].also_in)} if answer.passages else set()
        same = bool(answer.passages) and Path(answer.passages[0].source).name == t.doc
        up = same or t.doc in shown or twin.get(t.doc) in shown
        strict += same
        up_to_twin += up
        if t.doc in twin and up:
            twin_up += 1
            twin_strict += same
        if not t.history:
            first_up.append(up)
    n = len(turns)
    twin_turns = [t for t in turns if t.doc in twin]
    pairs = len(twin) // 2
    print(f"{n} turns; {pairs} pairs of twin files ({len(twin)} of {len(list(folder.glob('*.txt')))} files); "
          f"{len(twin_turns)} turns ({len(twin_turns) / n:.3f}) grounded in a twin")
    print(f"doc@1 {strict / n:.3f}; up to twin {up_to_twin / n:.3f}")
    print(f"twin turns found up to twin: {twin_up}; the very file first: {twin_strict} ({twin_strict / max(1, twin_up):.3f})")
    first_rate = sum(first_up) / max(1, len(first_up))
    half = lambda t: 0.5 if t.doc in twin else 1.0  # noqa: E731
    perfect_follow_ups = sum((first_rate if not t.history else 1.0) * half(t) for t in turns) / n
    perfect = sum(half(t) for t in turns) / n
    print(f"first turns (no history): {len(first_up)}, found up to twin {first_rate:.3f}")
    print(f"twin-blind doc@1 expected if every follow-up found its document: {perfect_follow_ups:.3f}; "
          f"if every turn did: {perfect:.3f}")
    grounded = collections.Counter(t.doc for t in turns)
    seen: set[str] = set()
    fewer = more = 0
    for a, b in twin.items():
        if a not in seen:
            seen |= {a, b}
            fewer += min(grounded[a], grounded[b])
            more += max(grounded[a], grounded[b])
    print(f"every turn found, always the twin more turns use: {1 - fewer / n:.3f}; always the other: {1 - more / n:.3f}")


if __name__ == "__main__":
    main()
