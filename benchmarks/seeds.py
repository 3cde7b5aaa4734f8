"""Seed figures for the README: warm ask() latency over 50 calls and the seed-question shares.

    python benchmarks/seeds.py --index index     # an index built over seeds/ (qa build seeds)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from seed_questions import ANSWERABLE, UNANSWERABLE  # noqa: E402

from qa import Index  # noqa: E402


def flat(s: str) -> str:
    return " ".join(s.split()).lower()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default="index")
    ap.add_argument("--calls", type=int, default=50)
    args = ap.parse_args()
    ix = Index(args.index)
    ix.ask("warm up")
    questions = [q for q, _ in ANSWERABLE] * (args.calls // len(ANSWERABLE) + 1)
    times = []
    for q in questions[: args.calls]:
        t = time.perf_counter()
        ix.ask(q)
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"warm ask over {args.calls} calls: median {statistics.median(times) * 1000:.0f} ms, "
          f"p95 {times[int(0.95 * len(times))] * 1000:.0f} ms")
    first = sum(1 for q, exp in ANSWERABLE
                if (a := ix.ask(q)).found and any(flat(e) in flat(a.passages[0].answer) for e in exp))
    print(f"seed questions answered first: {first}/{len(ANSWERABLE)}")
    print(f"unanswerable not found: {sum(not ix.ask(q).found for q in UNANSWERABLE)}/{len(UNANSWERABLE)}")


if __name__ == "__main__":
    main()
