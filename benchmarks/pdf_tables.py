"""Does pdfplumber's table extraction help over pypdf's text for PDF tables?

    python benchmarks/pdf_tables.py --docs 6 --rows 30

Generated PDFs (fpdf2), each with prose and one ruled table of `--rows` rows whose columns are
years ("Area | Budget 2023 | Budget 2024 | Budget 2025"), so a value means something only with its
header. Each document is indexed twice: pypdf's page text alone (`TABLE_EXTRACTION = False`:
cells run together, rows joined into wrapped "sentences", the header in one chunk only) and with
pdfplumber's tables (row groups under their header). For every row and one year column:
  chunk with header   the chunk holding the row also holds the header (every header cell)
  top-1 row           asking "What was the <column> for <row>?" the top passage holds the row's value
  top-1 row+header    ... and the header that says which year it is
  answer = row        the highlighted sentence is that row (holds its key and its value)
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from pathlib import Path

from qa import Index
from qa.embed import Embedder
from qa.formats import pdf as pdf_format
from qa.ingest import prepare
from qa.sources import SourceFile, load

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SUBJECTS = [("Area", "Budget"), ("School", "Pupils"), ("Station", "Passengers"), ("Library", "Loans"),
            ("Harbour", "Vessels"), ("Ward", "Voters"), ("Park", "Visitors"), ("Route", "Journeys")]
NAMES = ("Ashby Barton Carlow Denby Elston Fenwick Garston Hatley Irwell Jarrow Kelham Linby Marden Norley Oakham "
         "Pelton Quarry Redmire Selby Thorne Ulley Varley Welby Yarm Zennor Alford Brigg Cawood Dunham Epworth "
         "Fulbeck Gunby Haxey Ingham Kirton Laughton Messingham Normanby Owston Pilham").split()


def table(rng: random.Random, n: int, rows: int):
    subject, measure = SUBJECTS[n % len(SUBJECTS)]
    header = [subject] + [f"{measure} {y}" for y in (2023, 2024, 2025)]
    names = rng.sample(NAMES, rows)
    body = [[name] + [f"{rng.randint(100, 9999):,}" for _ in range(3)] for name in names]
    return header, body


def write(path: Path, header, body) -> None:
    from fpdf import FPDF

    doc = FPDF()
    doc.add_font("DejaVu", fname=FONT)
    doc.add_font("DejaVu", style="B", fname=FONT.replace("Sans.ttf", "Sans-Bold.ttf"))
    doc.set_font("DejaVu", size=10)
    doc.add_page()
    doc.multi_cell(0, 6, f"This report gives the {header[1].split()[0].lower()} figures for each "
                         f"{header[0].lower()} over three years, as recorded by the district council.")
    with doc.table() as t:
        for r in [header, *body]:
            row = t.row()
            for c in r:
                row.cell(c)
    doc.output(str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=6)
    ap.add_argument("--rows", type=int, default=30)
    args = ap.parse_args()
    os.environ["QA_LOAD_BUDGET"] = "0"  # builds load in this process, where TABLE_EXTRACTION is switched
    rng = random.Random(0)
    tables = [table(rng, n, args.rows) for n in range(args.docs)]
    count_tokens = Embedder.shared(None).token_counter()
    print(f"{args.docs} PDFs, {args.rows} rows each; one question per row")
    print(f"{'extraction':22} {'chunk with header':>17} {'top-1 row':>9} {'top-1 row+header':>16} {'answer = row':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        for n, (header, body) in enumerate(tables):
            write(folder / f"table{n}.pdf", header, body)
        for mode in (False, True):
            pdf_format.TABLE_EXTRACTION = mode
            with_header = rows_total = top_row = top_both = answer_row = 0
            for n, (header, body) in enumerate(tables):
                doc = load(SourceFile(folder / f"table{n}.pdf", f"docs/table{n}.pdf"))
                chunks = prepare(doc, Index(Path(tmp) / "unused").chunking, count_tokens).chunks
                for row in body:
                    holding = [c for c in chunks if row[0] in c.text]
                    rows_total += 1
                    with_header += any(all(h in c.text for h in header) for c in holding)
            ix = Index(Path(tmp) / f"ix-{mode}")
            ix.build([folder], progress=False)
            for n, (header, body) in enumerate(tables):
                for k, row in enumerate(body):
                    col = 1 + k % 3
                    q = f"What was the {header[col].split()[0].lower()} figure for {row[0]} in {header[col].split()[1]}?"
                    p = ix.ask(q, k=1).passages[0]
                    hit = p.source == f"docs/table{n}.pdf" and row[0] in p.text and row[col] in p.text
                    top_row += hit
                    top_both += hit and all(h in p.text for h in header)
                    answer_row += hit and row[0] in p.answer and row[col] in p.answer
            name = "pdfplumber tables" if mode else "pypdf text only"
            print(f"{name:22} {with_header / rows_total:17.1%} {top_row / rows_total:9.1%} "
                  f"{top_both / rows_total:16.1%} {answer_row / rows_total:12.1%}", flush=True)
    pdf_format.TABLE_EXTRACTION = True


if __name__ == "__main__":
    main()
