"""What the short-answer step adds to an ask: the span step alone, and a warm ask with and without it.

    python benchmarks/short_answer_speed.py                       # the seeds (index built in /tmp on first use)
    python benchmarks/short_answer_speed.py --dump /tmp/qa-short/tune.jsonl   # also the span step on SQuAD sentences

Prints wall and CPU milliseconds (CPU time is what the step costs on a machine shared with others).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from qa import Index
from qa.settings import PROJECT_ROOT, ShortAnswerSettings
from qa.span import best_span, load_weights

QUESTIONS = [
    "What was the average social worker caseload in Kent in September 2021?",
    "How much did the council put into increasing social work numbers?",
    "When will the action plan be produced?",
    "Who is Ofsted's National Director for Regulation and Social Care?",
    "How many inspectors carried out the inspection?",
    "Which award was the virtual school the first to receive?",
]


def timed(fn, rounds: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of fn() over rounds (after one warm-up call)."""
    fn()
    wall, cpu = [], []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=Path("/tmp/qa-short-speed-index"))
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--dump", type=Path, default=None, help="a dump from benchmarks/train_short_answer.py")
    args = ap.parse_args()

    weights = load_weights()
    if args.dump and args.dump.exists():
        rows = [json.loads(line) for line in args.dump.read_text(encoding="utf-8").splitlines()][:500]
        firsts = [(r["question"], r["passages"][0]) for r in rows if r["passages"]]

        def spans():
            for question, p in firsts:
                best_span(question, p["sentence"], p["score"], 0.1, weights)

        wall, cpu = timed(spans, 3)
        print(f"span step, {len(firsts)} SQuAD first-passage sentences: {wall / len(firsts):.2f} ms wall, "
              f"{cpu / len(firsts):.2f} ms CPU per sentence")

    with_short = Index(args.index)
    if not with_short.exists():
        with_short.build([PROJECT_ROOT / "seeds"], progress=False)
    without = Index(args.index, short_answers=ShortAnswerSettings(enabled=False))
    for name, ix in (("without short answers", without), ("with short answers", with_short)):
        wall, cpu = timed(lambda: [ix.ask(q) for q in QUESTIONS], args.rounds)
        print(f"warm ask on the seeds, {name}: {wall / len(QUESTIONS):.2f} ms wall, {cpu / len(QUESTIONS):.2f} ms CPU")


if __name__ == "__main__":
    main()
