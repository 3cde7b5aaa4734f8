"""Mutated files of every format: the shared part of tests/test_fuzz.py and benchmarks/fuzz.py.

Each case is a sample file (tests/format_files.py) cut short, with bytes flipped, or with a block
zeroed, from a seeded generator; it is loaded in a worker under a time budget and classified."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import format_files as F
from qa.loading import Loading
from qa.sources import Problem, SourceFile

MUTATIONS = ("truncate", "flip", "zero")


def mutate(data: bytes, how: str, rng: random.Random) -> bytes:
    if how == "truncate":
        return data[: rng.randrange(1, len(data))]
    out = bytearray(data)
    if how == "flip":
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
    else:  # zero a block
        size = rng.randint(1, max(1, len(out) // 8))
        start = rng.randrange(len(out))
        out[start : start + size] = bytes(len(out[start : start + size]))
    return bytes(out)


@dataclass
class FuzzCounts:
    cases: int = 0
    loaded: int = 0
    skipped: int = 0  # with a reason
    crashes: int = 0  # the loader's process died, or a skip without a reason
    hangs: int = 0  # over the time budget
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)


def fuzz(folder: Path, formats: list[str], per_format: int, seed: int = 0, budget: float = 30) -> FuzzCounts:
    rng = random.Random(seed)
    counts = FuzzCounts()
    started = time.monotonic()
    with Loading(budget=budget, ocr_budget=budget) as loading:
        for fmt in formats:
            original = F.MAKERS[fmt]()
            for n in range(per_format):
                how = MUTATIONS[n % len(MUTATIONS)]
                path = folder / f"case{counts.cases:05d}.{fmt}"
                path.write_bytes(mutate(original, how, rng))
                result = loading.load(SourceFile(path, f"fuzz/{path.name}"))
                counts.cases += 1
                if not isinstance(result, Problem):
                    counts.loaded += 1
                elif "gave up" in result.reason:
                    counts.hangs += 1
                    counts.examples.append(f"{fmt} {how}: {result.reason}")
                elif "crashed" in result.reason or not result.reason.strip():
                    counts.crashes += 1
                    counts.examples.append(f"{fmt} {how}: {result.reason or '(no reason)'}")
                else:
                    counts.skipped += 1
                path.unlink()
    counts.seconds = time.monotonic() - started
    return counts
