"""Fuzzing every loader: mutated files (cut short, bytes flipped, a block zeroed) of every format.

    python benchmarks/fuzz.py --per-format 40 --ocr-per-format 8

Sample files come from tests/format_files.py; each mutated file is loaded in a worker process
under a time budget (tests/fuzz_files.py) and counted: loaded, skipped with a reason, crashed
(the loader's process died, or a skip without a reason), hung (over the budget).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz_files import fuzz  # noqa: E402

FORMATS = ["txt", "md", "html", "docx", "pdf", "pptx", "xlsx", "csv", "tsv", "epub"]
OCR_FORMATS = ["png", "jpg", "tiff"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-format", type=int, default=40)
    ap.add_argument("--ocr-per-format", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=60)
    args = ap.parse_args()
    print(f"{'format':6} {'cases':>5} {'loaded':>6} {'skipped':>7} {'crashes':>7} {'hangs':>5} {'s':>6}")
    total = [0, 0, 0, 0, 0, 0.0]
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in FORMATS + OCR_FORMATS:
            n = args.ocr_per_format if fmt in OCR_FORMATS else args.per_format
            c = fuzz(Path(tmp), [fmt], n, seed=args.seed, budget=args.budget)
            print(f"{fmt:6} {c.cases:5d} {c.loaded:6d} {c.skipped:7d} {c.crashes:7d} {c.hangs:5d} {c.seconds:6.1f}", flush=True)
            for e in c.examples:
                print(f"    {e}")
            for i, v in enumerate((c.cases, c.loaded, c.skipped, c.crashes, c.hangs, c.seconds)):
                total[i] += v
    print(f"{'all':6} {total[0]:5d} {total[1]:6d} {total[2]:7d} {total[3]:7d} {total[4]:5d} {total[5]:6.1f}")


if __name__ == "__main__":
    main()
