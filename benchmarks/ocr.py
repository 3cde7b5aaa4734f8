"""OCR accuracy and speed: pages of known text rendered with Pillow, read back through qa's loaders.

    python benchmarks/ocr.py --pages 12            # held-out pages (the figures to report)
    python benchmarks/ocr.py --pages 12 --split tune

Each page is one to three SQuAD v1.1 dev paragraphs (../shared/data; synthetic prose when absent)
typeset on an A4 page at 200 dpi in one of four fonts (DejaVu Sans and Serif, Liberation Sans and
Serif) at 11–12 pt, wrapped to the margins, and saved as a PNG and as an image-only PDF (Pillow).
Both files go through `qa.sources.load` (the image loader and the PDF loader's OCR of scanned
pages). Pages alternate between the splits: tune on `--split tune`, report `--split test`.

Character error rate (CER) = Levenshtein distance / reference length, on text with every run of
whitespace made one space (a line break and a space are the same to a reader); also given with
all whitespace removed (spacing errors apart). Seconds per page are wall time of the whole load.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.sources import SourceFile, load

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-v1.1" / "dev-v1.1.json"
FONTS = ["dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf", "liberation/LiberationSans-Regular.ttf",
         "liberation/LiberationSerif-Regular.ttf"]
DPI = 200
A4 = (round(8.27 * DPI), round(11.69 * DPI))
MARGIN = round(0.9 * DPI)


def paragraphs(n: int) -> list[str]:
    if SQUAD.exists():
        data = json.loads(SQUAD.read_text())["data"]
        return [" ".join(p["context"].split()) for a in data for p in a["paragraphs"]][::7][:n]  # every 7th: many articles
    import random

    rng = random.Random(0)
    words = "river town bridge council market school harbour museum rebuilt opened history people 1912 £4.2m".split()
    return [" ".join(rng.choice(words) for _ in range(90)) + "." for _ in range(n)]


def render(text: str, font_file: str, points: int):
    """The text typeset on a white A4 page; returns the image and the text as laid out."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(f"/usr/share/fonts/truetype/{font_file}", round(points * DPI / 72))
    width = A4[0] - 2 * MARGIN
    lines: list[str] = []
    for para in text.split("\n\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if font.getlength(trial) <= width:
                line = trial
            else:
                lines.append(line)
                line = word
        lines += [line, ""]
    image = Image.new("L", A4, 255)
    draw = ImageDraw.Draw(image)
    step = round(points * DPI / 72 * 1.45)
    y = MARGIN
    kept = []
    for line in lines:
        if y + step > A4[1] - MARGIN:
            break
        draw.text((MARGIN, y), line, fill=0, font=font)
        kept.append(line)
        y += step
    return image, "\n".join(kept)


def levenshtein(a: str, b: str) -> int:
    """Edit distance, one row of the table at a time in NumPy (insertions by a running minimum)."""
    if not a or not b:
        return len(a) or len(b)
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    row = np.arange(len(b) + 1, dtype=np.int64)
    idx = np.arange(len(b) + 1, dtype=np.int64)
    for i, ch in enumerate(a.encode("utf-32-le")[i * 4 : i * 4 + 4] for i in range(len(a))):
        code = np.frombuffer(ch, dtype=np.uint32)[0]
        cand = np.empty_like(row)
        cand[0] = i + 1
        cand[1:] = np.minimum(row[1:] + 1, row[:-1] + (bb != code))
        row = np.minimum.accumulate(cand - idx) + idx
    return int(row[-1])


def cer(reference: str, hypothesis: str, spaces: bool = True) -> tuple[int, int]:
    join = " " if spaces else ""
    ref, hyp = join.join(reference.split()), join.join(hypothesis.split())
    return levenshtein(ref, hyp), len(ref)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--split", choices=["tune", "test"], default="test")
    ap.add_argument("--formats", default="png,pdf")
    args = ap.parse_args()

    texts = paragraphs(6 * args.pages)
    first = 0 if args.split == "tune" else 1
    pages = []
    for k in range(args.pages):  # the same fonts, sizes and lengths in both splits; other texts
        n = 2 * k + first
        body = "\n\n".join(texts[3 * n : 3 * n + 1 + k % 3])
        pages.append((body, FONTS[k % len(FONTS)], 11 + (k // len(FONTS)) % 2))

    load(SourceFile(Path(__file__), "warm-up"))
    totals: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        from qa.formats import ocr

        ocr._ocr_engine()  # model loading is once per build, not per page
        print(f"{args.pages} pages ({args.split} split), A4 at {DPI} dpi")
        print(f"{'format':6} {'font':32} {'pt':>3} {'chars':>6} {'CER %':>6} {'CER no-space %':>14} {'s/page':>7} {'CPU s':>7}")
        for n, (body, font_file, points) in enumerate(pages):
            image, reference = render(body, font_file, points)
            for fmt in args.formats.split(","):
                path = Path(tmp) / f"page{n}.{fmt}"
                image.save(path, **({"resolution": DPI} if fmt == "pdf" else {}))
                started, cpu = time.perf_counter(), time.process_time()
                doc = load(SourceFile(path, f"docs/{path.name}"))
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                got = getattr(doc, "text", "")
                errors, length = cer(reference, got)
                errors_ns, length_ns = cer(reference, got, spaces=False)
                t = totals.setdefault(fmt, [0, 0, 0, 0, 0.0, 0, 0.0])
                t[0] += errors; t[1] += length; t[2] += errors_ns; t[3] += length_ns; t[4] += seconds; t[5] += 1; t[6] += cpu
                print(f"{fmt:6} {font_file:32} {points:3d} {length:6d} {100 * errors / length:6.2f} "
                      f"{100 * errors_ns / length_ns:14.2f} {seconds:7.2f} {cpu:7.2f}")
    for fmt, (e, n, ens, nns, s, count, c) in totals.items():
        print(f"{fmt}: CER {100 * e / n:.2f} % ({e}/{n} characters), without spaces {100 * ens / nns:.2f} %, "
              f"{s / count:.2f} s per page ({c / count:.2f} CPU s, all threads) over {count} pages")


if __name__ == "__main__":
    main()
