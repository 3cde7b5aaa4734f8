"""What a conversation adds to a warm ask: p50 with and without history, on the seeds.

    python benchmarks/conversation.py --index index      # an index built over seeds/ (qa build seeds)

The seed questions are asked as chats of `--turns` questions each, every question after the first
with the chat so far as history (the earlier questions and qa's answer sentences), as the web chat
and `qa chat` ask them: the earlier questions were encoded when they were asked, so only a new
answer sentence is encoded again. The same questions are also asked without history, interleaved
with the chats so that both see the same machine load. A second figure starts every ask with an
empty memory of turn vectors (every history turn encoded: a script sending a whole history).
Wall-clock figures swing with the machine's load; process CPU time (all threads) is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from seed_questions import ANSWERABLE  # noqa: E402

from qa import Index  # noqa: E402
from qa.converse import TurnVectors  # noqa: E402
from qa.settings import Settings  # noqa: E402


CPU: list[tuple[float, bool]] = []  # (process CPU seconds, with history) of every timed ask


def timed(ix: Index, question: str, history: list[dict] | None):
    started, cpu = time.perf_counter(), time.process_time()
    answer = ix.ask(question, history=history)
    CPU.append((time.process_time() - cpu, bool(history)))
    return time.perf_counter() - started, answer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default="index")
    ap.add_argument("--turns", type=int, default=4, help="questions per chat")
    ap.add_argument("--rounds", type=int, default=5, help="times every chat is asked")
    ap.add_argument("--set", action="append", default=[], help="a conversation setting, e.g. conversation.turns=4")
    args = ap.parse_args()
    ix = Index(args.index, conversation=Settings().with_overrides(args.set).conversation)
    questions = [q for q, _ in ANSWERABLE]
    chats = [questions[i : i + args.turns] for i in range(0, len(questions), args.turns)]
    ix.ask("warm up")
    alone, chatting, cold = [], [], []
    for n in range(args.rounds):
        for chat in chats:
            history: list[dict] = []
            for question in chat:
                if not history:
                    answer = ix.ask(question)
                else:
                    # Alternate which goes first, so that both see the same caches and load.
                    if n % 2:
                        without, _ = timed(ix, question, None)
                        took, answer = timed(ix, question, history)
                    else:
                        took, answer = timed(ix, question, history)
                        without, _ = timed(ix, question, None)
                    alone.append(without)
                    chatting.append(took)
                    remembered = ix._turn_vectors
                    ix._turn_vectors = TurnVectors()  # as if none of the history had been seen
                    cold.append(timed(ix, question, history)[0])
                    CPU.pop()
                    ix._turn_vectors = remembered
                history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer or ""}]
    p50 = {name: 1000 * statistics.median(v) for name, v in (("alone", alone), ("chat", chatting), ("cold", cold))}
    added = 1000 * statistics.median(c - a for c, a in zip(chatting, alone))
    added_cold = 1000 * statistics.median(c - a for c, a in zip(cold, alone))
    print(f"{len(alone)} follow-up questions ({len(alone) // args.rounds} per round, {args.rounds} rounds)")
    print(f"warm ask p50 without history: {p50['alone']:.1f} ms")
    print(f"warm ask p50 with history:    {p50['chat']:.1f} ms (median added per question {added:+.1f} ms)")
    print(f"with history, no turn remembered: {p50['cold']:.1f} ms (median added {added_cold:+.1f} ms)")
    # Process CPU time hardly depends on what else the machine runs: the load-independent figure.
    cpu = {h: [c for c, with_history in CPU if with_history == h] for h in (False, True)}
    paired = 1000 * statistics.median(c - a for c, a in zip(cpu[True], cpu[False]))
    print(f"CPU time p50 without / with history: {1000 * statistics.median(cpu[False]):.1f} / "
          f"{1000 * statistics.median(cpu[True]):.1f} ms (median added per question {paired:+.1f} ms)")


if __name__ == "__main__":
    main()
