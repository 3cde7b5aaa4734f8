"""Indexing speed per format: the same documents written as TXT, Markdown, HTML, PDF, DOCX, PPTX,
XLSX, CSV, EPUB and PNG (OCR).

    python benchmarks/formats.py --docs 20 --paragraphs 6
    python benchmarks/formats.py --docs 3 --paragraphs 2 --formats png   # OCR: seconds per page

PPTX has a slide per paragraph, EPUB a chapter per paragraph; XLSX and CSV hold the paragraphs'
sentences as rows (part, sentence number, sentence); PNG is one page image per paragraph (Pillow,
A4 at 200 dpi, read by OCR). "units" are pages (PDF, PPTX, PNG), rows (XLSX, CSV) or documents.

Each document is `--paragraphs` SQuAD v1.1 dev paragraphs of one article (read from ../shared/data,
synthetic prose when that is absent), under numbered headings. HTML pages carry navigation, a
cookie banner and a footer; PDFs are made with fpdf2 (one paragraph per page); DOCX with
python-docx. Two timings per format, the model loaded before either:
  load   reading the files to text (the loader alone: trafilatura, pypdf, python-docx)
  build  a full build into a fresh index: load, clean, chunk, embed, write (embedding dominates)
"""

from __future__ import annotations

import argparse
import sys
import json
import tempfile
import time
from pathlib import Path

from qa import Index
from qa.embed import Embedder
from qa.sources import SourceFile, load

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ocr.py renders the PNG pages

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-v1.1" / "dev-v1.1.json"


def articles(n: int, paragraphs: int) -> list[tuple[str, list[str]]]:
    if SQUAD.exists():
        data = json.loads(SQUAD.read_text())["data"]
        out = [(a["title"].replace("_", " "), [p["context"] for p in a["paragraphs"][:paragraphs]]) for a in data]
        return [a for a in out if len(a[1]) == paragraphs][:n]
    import random

    rng = random.Random(0)
    words = "river town bridge council market school harbour museum rebuilt opened history people".split()
    return [(f"Article {i}", [" ".join(rng.choice(words) for _ in range(120)) + "." for _ in range(paragraphs)])
            for i in range(n)]


def write_txt(path: Path, title: str, paras: list[str]) -> None:
    path.with_suffix(".txt").write_text(title + "\n\n" + "\n\n".join(paras) + "\n")


def write_md(path: Path, title: str, paras: list[str]) -> None:
    body = "\n\n".join(f"## {n}. Part {n}\n\n{p}" for n, p in enumerate(paras, 1))
    path.with_suffix(".md").write_text(f"# {title}\n\n{body}\n")


def write_html(path: Path, title: str, paras: list[str]) -> None:
    from html import escape

    body = "\n".join(f"<h2>{n}. Part {n}</h2>\n<p>{escape(p)}</p>" for n, p in enumerate(paras, 1))
    path.with_suffix(".html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)} | Site</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/about'>About</a></nav>"
        "<div class='cookie-banner'>We use cookies. By continuing to browse you accept our cookie policy.</div>"
        f"<main><article><h1>{escape(title)}</h1>\n{body}</article></main>"
        "<footer>© 2024 Site Ltd. All rights reserved. <a href='/privacy'>Privacy policy</a></footer></body></html>"
    )


def write_pdf(path: Path, title: str, paras: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.add_font("DejaVu", fname="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf") if Path(
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists() else None
    font = "DejaVu" if "dejavu" in pdf.fonts else "Helvetica"
    pdf.set_font(font, size=11)
    for n, p in enumerate(paras, 1):
        pdf.add_page()
        pdf.start_section(f"{n}. Part {n}")
        text = p if font == "DejaVu" else p.encode("latin-1", "replace").decode("latin-1")
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path.with_suffix(".pdf")))


def write_docx(path: Path, title: str, paras: list[str]) -> None:
    import docx

    d = docx.Document()
    d.add_heading(title, 0)
    for n, p in enumerate(paras, 1):
        d.add_heading(f"{n}. Part {n}", 1)
        d.add_paragraph(p)
    d.save(str(path.with_suffix(".docx")))


def write_pptx(path: Path, title: str, paras: list[str]) -> None:
    from pptx import Presentation

    deck = Presentation()
    deck.core_properties.title = title
    for n, p in enumerate(paras, 1):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"{n}. Part {n}"
        slide.placeholders[1].text = p
    deck.save(str(path.with_suffix(".pptx")))


def sentence_rows(paras: list[str]) -> list[list[str]]:
    import re

    return [[f"Part {n}", str(k), s] for n, p in enumerate(paras, 1)
            for k, s in enumerate(re.split(r"(?<=[.!?])\s+", p), 1) if s]


def write_xlsx(path: Path, title: str, paras: list[str]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.properties.title = title
    sheet = book.active
    sheet.append(["Part", "Sentence", "Text"])
    for row in sentence_rows(paras):
        sheet.append(row)
    book.save(str(path.with_suffix(".xlsx")))


def write_csv(path: Path, title: str, paras: list[str]) -> None:
    import csv

    with open(path.with_suffix(".csv"), "w", newline="") as f:
        csv.writer(f).writerows([["Part", "Sentence", "Text"], *sentence_rows(paras)])


def write_epub(path: Path, title: str, paras: list[str]) -> None:
    from html import escape

    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(path.stem)
    book.set_title(title)
    book.set_language("en")
    chapters = []
    for n, p in enumerate(paras, 1):
        c = epub.EpubHtml(title=f"{n}. Part {n}", file_name=f"part{n}.xhtml", lang="en")
        c.content = f"<html><body><h1>{n}. Part {n}</h1><p>{escape(p)}</p></body></html>"
        book.add_item(c)
        chapters.append(c)
    book.toc = tuple(chapters)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = chapters
    epub.write_epub(str(path.with_suffix(".epub")), book)


def write_png(path: Path, title: str, paras: list[str]) -> None:
    """One A4 page image per paragraph; several paragraphs make a multi-page TIFF instead."""
    from ocr import render

    pages = [render(p, "dejavu/DejaVuSans.ttf", 11)[0] for p in paras]
    if len(pages) == 1:
        pages[0].save(path.with_suffix(".png"))
    else:
        pages[0].save(path.with_suffix(".tiff"), save_all=True, append_images=pages[1:], compression="tiff_deflate")


WRITERS = {"txt": write_txt, "md": write_md, "html": write_html, "pdf": write_pdf, "docx": write_docx,
           "pptx": write_pptx, "xlsx": write_xlsx, "csv": write_csv, "epub": write_epub, "png": write_png}


def units(fmt: str, doc) -> int:
    """Pages (PDF, PPTX, images), rows (XLSX, CSV: lines of the text that are not headers), else 1."""
    if doc.pages:
        return len(doc.pages)
    if fmt in ("xlsx", "csv"):
        return sum(1 for a, b in doc.tables for _ in doc.text[a:b].split("\n")[1:])
    return 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--paragraphs", type=int, default=6)
    ap.add_argument("--formats", default=",".join(WRITERS))
    args = ap.parse_args()

    sample = articles(args.docs, args.paragraphs)
    Embedder.shared(None).encode(["warm up"])
    print(f"{len(sample)} documents per format, {args.paragraphs} paragraphs each")
    print(f"{'format':7} {'files MB':>8} {'text MB':>8} {'units':>6} | {'load docs/s':>11} {'units/s':>8} | "
          f"{'build s':>7} {'CPU s':>6} {'docs/s':>6} {'units/s':>8} {'chunks':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            folder = Path(tmp) / fmt / "docs"
            folder.mkdir(parents=True)
            for i, (title, paras) in enumerate(sample):
                WRITERS[fmt](folder / f"doc{i:04d}", title, paras)
            files = sorted(folder.iterdir())
            file_mb = sum(f.stat().st_size for f in files) / 2**20

            load(SourceFile(files[0], "warm-up"))  # imports and first-call set-up are not timed
            started = time.perf_counter()
            docs = [load(SourceFile(f, f"docs/{f.name}")) for f in files]
            load_s = time.perf_counter() - started
            bad = [d for d in docs if not hasattr(d, "text")]
            assert not bad, bad
            text_mb = sum(len(d.text.encode()) for d in docs) / 2**20
            n_units = sum(units(fmt, d) for d in docs)

            started, cpu = time.perf_counter(), time.process_time()
            report = Index(Path(tmp) / fmt / "ix").build([folder], progress=False)
            build_s, build_cpu = time.perf_counter() - started, time.process_time() - cpu
            assert report.documents == len(files) and not report.problems, report.summary()
            print(f"{fmt:7} {file_mb:8.2f} {text_mb:8.2f} {n_units:6d} | {len(files) / load_s:11.1f} {n_units / load_s:8.2f} | "
                  f"{build_s:7.1f} {build_cpu:6.1f} {len(files) / build_s:6.2f} {n_units / build_s:8.2f} "
                  f"{report.chunks_total:6d}", flush=True)


if __name__ == "__main__":
    main()
