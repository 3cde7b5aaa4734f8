"""Small real files of every format qa reads, made here with the libraries that write them:
used by the format, table, OCR and fuzz tests (and benchmarks/fuzz.py).

Each file holds the same budget table (a header row and more rows than fit one chunk) and a
sentence of prose, so a test can ask for a row and check its header comes with it."""

from __future__ import annotations

import io
from html import escape

AREAS = ["Dover", "Deal", "Sandwich", "Folkestone", "Hythe", "Ashford", "Canterbury", "Whitstable", "Herne Bay",
         "Faversham", "Margate", "Ramsgate", "Broadstairs", "Maidstone", "Tonbridge", "Sevenoaks", "Dartford",
         "Gravesend", "Swanley", "Edenbridge", "Tenterden", "Cranbrook", "Rochester", "Chatham"]
HEADER = ["Area", "Budget 2024", "Budget 2025"]
ROWS = [[area, f"£{7.1 + 0.3 * i:.1f}m", f"£{7.4 + 0.3 * i:.1f}m"] for i, area in enumerate(AREAS)]
PROSE = "The council set the budgets for every area of the district at its meeting in February."
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def table_rows() -> list[list[str]]:
    return [HEADER, *ROWS]


def txt() -> bytes:
    return f"Budgets\n\n{PROSE}\n".encode()


def md() -> bytes:
    return f"# Budgets\n\n{PROSE}\n\n## Notes\n\nFigures are in millions of pounds.\n".encode()


def html() -> bytes:
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in ROWS)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Budgets</title></head><body><main><article>"
            f"<h1>Budgets</h1><p>{PROSE}</p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            "<p>Figures are in millions of pounds and include capital spending.</p></article></main></body></html>").encode()


def docx() -> bytes:
    import docx as python_docx

    d = python_docx.Document()
    d.add_heading("Budgets", 0)
    d.add_paragraph(PROSE)
    table = d.add_table(rows=1, cols=len(HEADER))
    for cell, value in zip(table.rows[0].cells, HEADER):
        cell.text = value
    for row in ROWS:
        for cell, value in zip(table.add_row().cells, row):
            cell.text = value
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def pdf(rows: list[list[str]] | None = None) -> bytes:
    """Prose, then the table drawn with ruled cells (fpdf2), over two pages."""
    from fpdf import FPDF

    doc = FPDF()
    doc.set_title("Budgets")
    doc.add_font("DejaVu", fname=FONT)
    doc.add_font("DejaVu", style="B", fname=FONT.replace("Sans.ttf", "Sans-Bold.ttf"))
    doc.set_font("DejaVu", size=10)
    doc.add_page()
    doc.multi_cell(0, 6, PROSE, new_x="LMARGIN", new_y="NEXT")
    with doc.table() as t:
        for r in table_rows() if rows is None else rows:
            row = t.row()
            for c in r:
                row.cell(c)
    doc.multi_cell(0, 6, "Figures are in millions of pounds and include capital spending.", new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())


def pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Budget overview"
    first.placeholders[1].text = PROSE
    first.notes_slide.notes_text_frame.text = "Remind the committee that Dover's budget rises by thirty thousand pounds."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Budgets by area"
    rows = table_rows()[:8]
    shape = second.shapes.add_table(len(rows), len(HEADER), Inches(0.5), Inches(1.5), Inches(9), Inches(4))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Budgets"
    for row in table_rows():
        sheet.append(row)
    notes = book.create_sheet("Notes")
    notes.append(["Note"])
    notes.append([PROSE])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(delimiter: str = ",") -> bytes:
    import csv

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(table_rows())
    return out.getvalue().encode()


def tsv() -> bytes:
    return csv_bytes("\t")


def epub() -> bytes:
    from ebooklib import epub as ebook

    book = ebook.EpubBook()
    book.set_identifier("budgets-1")
    book.set_title("District Budgets")
    book.set_language("en")
    one = ebook.EpubHtml(title="Introduction", file_name="intro.xhtml", lang="en")
    one.content = f"<html><body><h1>Introduction</h1><p>{PROSE}</p><p>Each area's budget follows in the next chapter.</p></body></html>"
    two = ebook.EpubHtml(title="Budgets by area", file_name="budgets.xhtml", lang="en")
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in ROWS)
    two.content = (f"<html><body><h1>Budgets by area</h1><p>The budgets of the areas are in the table below.</p>"
                   f"<table><tr>{head}</tr>{body}</table></body></html>")
    for chapter in (one, two):
        book.add_item(chapter)
    book.toc = (one, two)
    book.add_item(ebook.EpubNcx())
    book.add_item(ebook.EpubNav())
    book.spine = ["nav", one, two]
    out = io.BytesIO()
    ebook.write_epub(out, book)
    return out.getvalue()


def page_image(lines: list[str], size: tuple[int, int] = (1400, 700), points: int = 30):
    """Black text on a white page (Pillow), one line per entry."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, points)
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((60, 60 + i * int(points * 1.6)), line, fill=0, font=font)
    return image


SCAN_LINES = ["The harbour ferry leaves the stone quay", "at nine every morning from April to October."]


def png() -> bytes:
    out = io.BytesIO()
    page_image(SCAN_LINES).save(out, format="PNG")
    return out.getvalue()


def jpg() -> bytes:
    out = io.BytesIO()
    page_image(SCAN_LINES).save(out, format="JPEG", quality=85)
    return out.getvalue()


def tiff() -> bytes:
    """Two pages: the ferry text, then a line about the lighthouse."""
    out = io.BytesIO()
    first, second = page_image(SCAN_LINES), page_image(["The lighthouse keeper retired in 1987."])
    first.save(out, format="TIFF", save_all=True, append_images=[second])
    return out.getvalue()


def scanned_pdf() -> bytes:
    """An image-only PDF of two pages (Pillow writes each page as a JPEG image, as scanners do)."""
    out = io.BytesIO()
    first, second = page_image(["A page of text about the old mill."]), page_image(SCAN_LINES)
    first.save(out, format="PDF", save_all=True, append_images=[second], resolution=150)
    return out.getvalue()


MAKERS = {
    "txt": txt, "md": md, "html": html, "docx": docx, "pdf": pdf, "pptx": pptx, "xlsx": xlsx, "csv": csv_bytes,
    "tsv": tsv, "epub": epub, "png": png, "jpg": jpg, "tiff": tiff,
}
